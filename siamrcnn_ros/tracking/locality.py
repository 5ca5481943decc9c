"""Box geometry normalised by the image size: the location score of Eq. 1, beside the spatial distance of SPEC §2
(``boxes.spatial_distance``, one function for NumPy and torch, re-exported here).

Both represent a box as ``(cx, cy, w, h)`` with ``cx`` and ``w`` divided by the image width and ``cy``
and ``h`` by the image height (paper §3.3, "To measure the spatial distance of two detections").
Image sizes are ``(height, width)`` in pixels, the order of ``image.shape[:2]`` and torchvision's
``image_sizes``.
"""
from __future__ import annotations

import numpy as np

from siamrcnn_ros import boxes
from siamrcnn_ros.boxes import spatial_distance, xyxy_to_cxcywh


def image_scale(image_size: tuple[int, int]) -> np.ndarray:
    """``(height, width)`` -> ``[4]`` float64 ``(width, height, width, height)``, the divisor of cxcywh
    (``boxes.image_scale``; ``ValueError`` for a size without two positive finite values)."""
    return np.array(boxes.image_scale(image_size))


def normalized_cxcywh(boxes: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """``[..., 4]`` xyxy pixels -> ``[..., 4]`` float64 ``(cx, cy, w, h)`` as fractions of the image size."""
    return xyxy_to_cxcywh(np.asarray(boxes, dtype=np.float64)) / image_scale(image_size)


def location_score(end_boxes: np.ndarray, start_boxes: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """Location score between tracklets ending with ``end_boxes`` and tracklets starting with ``start_boxes``.

    ``loc_score(b, a) = -mean over (cx, cy, w, h) of |end box of b - start box of a|``, normalised by the
    image size (Eq. 1 and §3.3; the reference code takes the mean of the four absolute differences).

    Args:
        end_boxes: ``[B, 4]`` xyxy pixels, the last box of each earlier tracklet.
        start_boxes: ``[A, 4]`` xyxy pixels, the first box of each later tracklet.
        image_size: ``(height, width)`` in pixels.

    Returns:
        ``[A, B]`` float64, <= 0; entry ``[i, j]`` scores ``end_boxes[j]`` followed by ``start_boxes[i]``.
    """
    ends = normalized_cxcywh(end_boxes, image_size)
    starts = normalized_cxcywh(start_boxes, image_size)
    return -np.abs(starts[:, None, :] - ends[None, :, :]).mean(axis=-1)  # [A, B, 4] -> [A, B]


__all__ = ['image_scale', 'location_score', 'normalized_cxcywh', 'spatial_distance']
