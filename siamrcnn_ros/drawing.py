"""Drawing tracking results on images (annotated videos of ``siamrcnn-track``, the node's debug image).

The target is drawn in green while present, in grey with "absent" while the tracker reports it gone
(at its last known box); distractor tracklets are thin orange boxes labelled with their ids; a
target's Box2Seg mask is a translucent tint in the target colour.
Images are ``[H, W, 3]`` uint8 RGB; boxes xyxy pixels.
"""
from __future__ import annotations

import cv2
import numpy as np

from siamrcnn_ros.tracking.records import TrackResult

TARGET_COLOUR = (40, 220, 40)  # RGB
ABSENT_COLOUR = (160, 160, 160)
DISTRACTOR_COLOUR = (255, 150, 30)
TEXT_COLOUR = (255, 255, 255)
MASK_OPACITY = 0.45


def _corners(box: np.ndarray, width: int, height: int) -> tuple[tuple[int, int], tuple[int, int]]:
    x0, y0, x1, y1 = np.round(np.asarray(box, dtype=np.float64)).astype(np.int64)
    xs = np.clip([x0, x1], 0, width - 1)
    ys = np.clip([y0, y1], 0, height - 1)
    return (int(xs[0]), int(ys[0])), (int(xs[1]), int(ys[1]))


def _label(image: np.ndarray, text: str, corner: tuple[int, int], colour: tuple[int, int, int]) -> None:
    scale = max(0.4, min(image.shape[:2]) / 900)
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    x, y = corner
    y = max(y, h + base + 2)
    cv2.rectangle(image, (x, y - h - base - 2), (x + w + 2, y), colour, thickness=-1)
    cv2.putText(image, text, (x + 1, y - base), cv2.FONT_HERSHEY_SIMPLEX, scale, TEXT_COLOUR, 1, cv2.LINE_AA)


def draw_result(image: np.ndarray, result: TrackResult, target_id: int | None = None,
                draw_distractors: bool = True) -> np.ndarray:
    """Returns a copy of ``image`` with ``result`` drawn on it.

    Args:
        image: ``[H, W, 3]`` uint8 RGB.
        result: one frame's tracking result (target box xyxy pixels, presence, distractors).
        target_id: shown in the label when given (several targets on one image).
        draw_distractors: draw the other live tracklets as well.
    """
    out = np.ascontiguousarray(image).copy()
    height, width = out.shape[:2]
    thick = max(1, round(min(height, width) / 240))
    if draw_distractors:
        for tracklet_id, box in zip(result.distractors.tracklet_ids, result.distractors.boxes, strict=True):
            p0, p1 = _corners(box, width, height)
            cv2.rectangle(out, p0, p1, DISTRACTOR_COLOUR, max(1, thick // 2))
            _label(out, f'{int(tracklet_id)}', p0, DISTRACTOR_COLOUR)
    p0, p1 = _corners(result.box, width, height)
    colour = TARGET_COLOUR if result.present else ABSENT_COLOUR
    cv2.rectangle(out, p0, p1, colour, thick + 1)
    prefix = '' if target_id is None else f'#{target_id} '
    text = f'{prefix}{result.confidence:.2f}' if result.present else f'{prefix}absent'
    _label(out, text, p0, colour)
    return out


def draw_frame_info(image: np.ndarray, text: str) -> np.ndarray:
    """Writes ``text`` (e.g. frame index and rate) in the top-left corner of ``image``, in place; returns it."""
    _label(image, text, (0, 0), (0, 0, 0))
    return image


def draw_mask(image: np.ndarray, mask: np.ndarray | None, colour: tuple[int, int, int] = TARGET_COLOUR,
              opacity: float = MASK_OPACITY) -> np.ndarray:
    """Returns a copy of ``image`` tinted with ``colour`` where ``mask`` is set (``image`` itself when
    ``mask`` is None or empty: nothing to draw).

    Args:
        image: ``[H, W, 3]`` uint8 RGB.
        mask: ``[H, W]`` bool (or 0/nonzero), the same size as ``image``; None = no mask.
        colour: RGB tint.
        opacity: weight of the tint in ``[0, 1]``.
    """
    if mask is None:
        return image
    mask = np.asarray(mask).astype(bool, copy=False)
    if mask.shape != image.shape[:2]:
        raise ValueError(f'mask of shape {mask.shape} for an image of shape {image.shape}')
    if not mask.any():
        return image
    out = np.ascontiguousarray(image).copy()
    tint = np.asarray(colour, dtype=np.float32)
    out[mask] = np.round(out[mask] * (1.0 - opacity) + tint * opacity).astype(np.uint8)
    return out
