"""Masks for tracked targets (SPEC §5, paper §3.4): the tracker's boxes of one frame through one Box2Seg call.

``segment_targets`` takes the frame and the ``TrackResult`` of every target (``Tracker.update`` /
``MultiTracker.step``) and returns one mask per present target plus the frame's label map, where
overlapping masks are resolved with the smaller mask on top (``combine_masks``). Absent targets get no
mask: the tracker's box then only says where the target was last seen.

The tracker's box may reach outside the image; it is clipped to the image first (the object's visible
part is what the mask covers, and Box2Seg was trained on boxes of visible object parts). A box with
less than ``MIN_SIDE_PX`` of width or height left inside the image gets no mask either.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from siamrcnn_ros.box2seg.combine import combine_masks
from siamrcnn_ros.box2seg.predictor import Box2Seg
from siamrcnn_ros.tracking.records import TrackResult

MIN_SIDE_PX = 1.0
"""A present target's box needs at least this width and height (pixels) inside the image to get a mask."""


@dataclass(frozen=True, eq=False)
class TargetMasks:
    """The masks of one frame's targets.

    Attributes:
        masks: ``{target_id: [H, W] bool mask, or None}`` for every target given; None when the target is
            absent (or its box lies outside the image).
        labels: ``[H, W]`` int32 label map: the target id where that target's mask is on top (the smaller
            mask wins where masks overlap), 0 elsewhere.
    """

    masks: dict[int, np.ndarray | None]
    labels: np.ndarray


def mask_box(box: np.ndarray, image_size: tuple[int, int]) -> np.ndarray | None:
    """The box Box2Seg segments for a tracker box: ``[4]`` float64 xyxy clipped to the image, or None when
    less than ``MIN_SIDE_PX`` of width or height (or a non-finite coordinate) is left.

    Args:
        box: ``[4]`` xyxy pixels.
        image_size: ``(H, W)`` pixels.
    """
    height, width = image_size
    box = np.asarray(box, dtype=np.float64).reshape(4)
    if not np.isfinite(box).all():
        return None
    clipped = np.clip(box, 0.0, [width, height, width, height])
    if clipped[2] - clipped[0] < MIN_SIDE_PX or clipped[3] - clipped[1] < MIN_SIDE_PX:
        return None
    return clipped


def segment_targets(box2seg: Box2Seg, image: np.ndarray, results: Mapping[int, TrackResult]) -> TargetMasks:
    """One mask per present target, all boxes of the frame in one ``Box2Seg.predict`` call.

    Args:
        box2seg: the mask network (``build_box2seg``).
        image: ``[H, W, 3]`` uint8 RGB, the frame the results belong to.
        results: ``{target_id: result}`` of this frame; ids >= 1 (they become the label map's values).

    Returns:
        ``TargetMasks`` with an entry for every id of ``results`` (in its order).

    Raises:
        ValueError: a malformed image, or a target id < 1.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f'image must be [H, W, 3] uint8 RGB, got shape {image.shape} and dtype {image.dtype}')
    ids = [int(target_id) for target_id in results]
    if any(target_id < 1 for target_id in ids):
        raise ValueError(f'target ids must be >= 1 (0 is the background), got {ids}')
    size = (int(image.shape[0]), int(image.shape[1]))
    boxes = {target_id: mask_box(result.box, size) if result.present else None
             for target_id, result in results.items()}
    segmented = [target_id for target_id, box in boxes.items() if box is not None]
    masks: dict[int, np.ndarray | None] = dict.fromkeys(ids)
    if not segmented:
        return TargetMasks(masks=masks, labels=np.zeros(size, np.int32))
    predicted = box2seg.predict(image, np.stack([boxes[target_id] for target_id in segmented]))  # [N, H, W]
    masks.update(zip(segmented, predicted, strict=True))
    return TargetMasks(masks=masks, labels=combine_masks(predicted, segmented))
