"""The shipped Box2Seg checkpoint (``checkpoints/box2seg.safetensors``): small, found by default, and it
segments objects of a synthetic video it was not trained on better than their filled boxes do.

The video comes from a tiny world with a seed of its own (the checkpoint saw only the default world's
training split). J per object and frame is the masks' IoU (``evaluation.masks.region_similarity``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from siamrcnn_ros.box2seg import build_box2seg
from siamrcnn_ros.box2seg.checkpoints import read_box2seg_checkpoint
from siamrcnn_ros.datasets.synthetic_videos import read_synthetic_videos
from siamrcnn_ros.evaluation.masks import box_masks, region_similarity
from siamrcnn_ros.model.default_weights import shipped_box2seg_checkpoint
from siamrcnn_ros.synthetic import make_world
from siamrcnn_ros.synthetic.settings import PRESETS

MIN_PIXELS = 16  # objects hidden behind others (fewer visible pixels) are left out, as in training


@pytest.fixture(scope='module')
def shipped() -> Path:
    path = shipped_box2seg_checkpoint()
    assert path is not None, 'checkpoints/box2seg.safetensors is missing'
    return path


def test_the_shipped_checkpoint_is_small_and_loads_by_default(shipped: Path) -> None:
    assert shipped.stat().st_size <= 10 * 1024 * 1024  # the limit
    stored = read_box2seg_checkpoint(shipped)
    assert stored.config.backbone == 'mobilenet_v3_large'
    assert build_box2seg(device='cpu').config == stored.config  # no checkpoint argument: the shipped one


def test_masks_from_ground_truth_boxes_beat_the_filled_boxes_on_an_unseen_video(tmp_path: Path) -> None:
    make_world(tmp_path, PRESETS['tiny'].with_overrides(train=0, val=0, test=1, long_term=0, seed=4242))
    video = read_synthetic_videos(tmp_path, 'test')[0]
    box2seg = build_box2seg(device='cpu')
    ours, filled = [], []
    for frame in range(0, len(video), 3):
        truth = video.read_mask(frame)  # [H, W] int32, k + 1 = object k
        image = video.read_frame(frame)
        rows = [k for k in range(len(video.object_ids))
                if video.visible(k)[frame] and np.count_nonzero(truth == k + 1) >= MIN_PIXELS]
        boxes = video.boxes[rows, frame]  # [R, 4] xyxy pixels
        masks = box2seg.predict(image, boxes)  # [R, H, W] bool
        for k, mask, inside in zip(rows, masks, box_masks(boxes, truth.shape), strict=True):
            ours.append(region_similarity(mask, truth == k + 1))
            filled.append(region_similarity(inside, truth == k + 1))
    assert len(ours) >= 20
    assert np.mean(ours) >= 0.75, np.mean(ours)
    assert np.mean(ours) >= np.mean(filled) + 0.05, (np.mean(ours), np.mean(filled))
