"""Masks for tracked targets: ``segment_targets`` on hand-built tracker results, and ``siamrcnn-track --masks``.

The tests use a real checkpoint whose network fills each box's crop window (``box2seg_fixtures``), so they
check the plumbing (which targets get masks, where they lie, the label map, the DAVIS files); the shipped
checkpoint's mask quality is tested in ``test_box2seg_shipped.py``. The track tool runs the shipped demo
re-detector on the CPU.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from box2seg_fixtures import window_mask, write_filling_checkpoint

from siamrcnn_ros.box2seg import build_box2seg, segment_targets
from siamrcnn_ros.boxes import xywh_to_xyxy
from siamrcnn_ros.drawing import draw_mask
from siamrcnn_ros.evaluation.mask_results import read_mask_result
from siamrcnn_ros.evaluation.results import read_results
from siamrcnn_ros.model.default_weights import BOX2SEG_SHIPPED, resolve_box2seg_checkpoint, shipped_box2seg_checkpoint
from siamrcnn_ros.tools.track import main as track_main
from siamrcnn_ros.tracking.records import TrackletTable, TrackResult

SIZE = (60, 80)  # (H, W)


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_filling_checkpoint(tmp_path_factory.mktemp('box2seg') / 'filling.safetensors')


@pytest.fixture(scope='module')
def box2seg(checkpoint: Path):
    return build_box2seg(checkpoint=checkpoint, device='cpu')


def result(box: list[float], present: bool = True) -> TrackResult:
    return TrackResult(frame=1, box=np.array(box, dtype=np.float64), present=present,
                       confidence=0.9 if present else 0.0, selected=None, distractors=TrackletTable.empty())


def test_present_targets_get_masks_absent_ones_none_and_the_smaller_mask_lies_on_top(box2seg) -> None:
    image = np.full((*SIZE, 3), 90, np.uint8)
    big, small = [10.0, 10.0, 50.0, 50.0], [30.0, 30.0, 40.0, 40.0]
    out = segment_targets(box2seg, image, {3: result(big), 7: result(small), 9: result(small, present=False)})
    assert list(out.masks) == [3, 7, 9]
    assert out.masks[9] is None
    for target_id, box in ((3, big), (7, small)):
        assert out.masks[target_id].shape == SIZE
        assert out.masks[target_id].dtype == np.bool_
        np.testing.assert_array_equal(out.masks[target_id], window_mask(np.array(box), SIZE))
    assert out.labels.dtype == np.int32
    assert set(np.unique(out.labels)) == {0, 3, 7}
    np.testing.assert_array_equal(out.labels == 7, out.masks[7])  # the smaller mask wins the overlap
    np.testing.assert_array_equal(out.labels == 3, out.masks[3] & ~out.masks[7])


def test_boxes_are_clipped_to_the_image_and_boxes_outside_get_no_mask(box2seg) -> None:
    image = np.zeros((*SIZE, 3), np.uint8)
    out = segment_targets(box2seg, image, {1: result([60.0, -20.0, 120.0, 30.0]), 2: result([90.0, 70.0, 99.0, 80.0]),
                                           3: result([np.nan, 0.0, 5.0, 5.0])})
    np.testing.assert_array_equal(out.masks[1], window_mask(np.array([60.0, 0.0, 80.0, 30.0]), SIZE))
    assert out.masks[2] is None
    assert out.masks[3] is None
    empty = segment_targets(box2seg, image, {1: result([5.0, 5.0, 20.0, 20.0], present=False)})
    assert empty.masks == {1: None}
    assert not empty.labels.any()


def test_bad_input_is_refused_with_the_value(box2seg) -> None:
    with pytest.raises(ValueError, match=r'\[H, W, 3\] uint8'):
        segment_targets(box2seg, np.zeros(SIZE, np.uint8), {1: result([5.0, 5.0, 20.0, 20.0])})
    with pytest.raises(ValueError, match=r'target ids must be >= 1'):
        segment_targets(box2seg, np.zeros((*SIZE, 3), np.uint8), {0: result([5.0, 5.0, 20.0, 20.0])})


def test_the_mask_tint_colours_only_the_mask() -> None:
    image = np.zeros((4, 5, 3), np.uint8)
    mask = np.zeros((4, 5), bool)
    mask[1:3, 2:4] = True
    tinted = draw_mask(image, mask, colour=(0, 200, 0), opacity=0.5)
    assert (tinted[mask] == [0, 100, 0]).all()
    assert not tinted[~mask].any()
    assert draw_mask(image, None) is image
    with pytest.raises(ValueError, match='mask of shape'):
        draw_mask(image, np.zeros((3, 3), bool))


def test_the_shipped_box2seg_checkpoint_is_found_by_name(tmp_path: Path) -> None:
    assert shipped_box2seg_checkpoint([tmp_path]) is None
    (tmp_path / BOX2SEG_SHIPPED).write_bytes(b'x')
    assert resolve_box2seg_checkpoint('default', [tmp_path]) == tmp_path / BOX2SEG_SHIPPED
    assert resolve_box2seg_checkpoint('', [tmp_path]) == tmp_path / BOX2SEG_SHIPPED
    assert resolve_box2seg_checkpoint('none', [tmp_path]) is None
    assert resolve_box2seg_checkpoint(None, [tmp_path]) is None
    assert resolve_box2seg_checkpoint('~/b.safetensors') == Path.home() / 'b.safetensors'


def test_track_tool_writes_davis_masks_around_the_box(tmp_path: Path, checkpoint: Path, capsys) -> None:
    sequence = tmp_path / 'blob'
    sequence.mkdir()
    frames = 3
    for index in range(frames):  # a bright square moving right on a dark background
        image = np.full((120, 160, 3), 30, np.uint8)
        image[40:80, 40 + 4 * index:80 + 4 * index] = (220, 200, 60)
        cv2.imwrite(str(sequence / f'{index + 1:08d}.jpg'), image)
    masks, video = tmp_path / 'masks', tmp_path / 'blob.mp4'
    status = track_main([str(sequence), '--box', '40,40,40,40', '--device', 'cpu', '--no-progress',
                         '--output-dir', str(tmp_path / 'out'), '--masks', str(masks),
                         '--box2seg-checkpoint', str(checkpoint), '--video', str(video)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert str(masks / 'blob') in captured.out
    assert 'Box2Seg' not in captured.err  # a checkpoint was given: no random-weights warning
    assert sorted(p.name for p in (masks / 'blob').iterdir()) == [f'{i:05d}.png' for i in range(frames)]
    boxes, _ = read_results(tmp_path / 'out', 'blob')
    for index in range(frames):
        labels = read_mask_result(masks, 'blob', index)
        assert labels.shape == (120, 160)
        assert set(np.unique(labels)) <= {0, 1}
        box = xywh_to_xyxy(boxes[index])
        if index == 0:  # the init frame: the target is present in the given box
            assert labels[40:80, 40:80].all()
        if labels.any():  # present: the mask is the window around the tracked box, nothing elsewhere
            np.testing.assert_array_equal(labels == 1, window_mask(box, (120, 160)))
    capture = cv2.VideoCapture(str(video))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == frames
    capture.release()


def test_track_tool_warns_when_the_masks_have_random_weights(tmp_path: Path, capsys) -> None:
    sequence = tmp_path / 'still'
    sequence.mkdir()
    cv2.imwrite(str(sequence / '00000001.jpg'), np.full((48, 64, 3), 100, np.uint8))
    status = track_main([str(sequence), '--box', '10,10,20,20', '--device', 'cpu', '--no-progress',
                         '--output-dir', str(tmp_path / 'out'), '--masks', str(tmp_path / 'masks'),
                         '--box2seg-checkpoint', 'none'])
    assert status == 0
    assert 'the mask network has random weights' in capsys.readouterr().err
    assert read_mask_result(tmp_path / 'masks', 'still', 0).shape == (48, 64)
