"""Per-frame box measures of the benchmarks: IoU, centre error, normalised centre error.

Boxes are ``[N, 4]`` float ``(x, y, w, h)`` pixels at this interface, as the benchmark files and
toolkits use them (convert the package's xyxy boxes with ``siamrcnn_ros.boxes.xyxy_to_xywh``).

Conventions, and how the public toolkits relate to them:

- IoU is continuous: a box covers ``[x, x + w) x [y, y + h)``, no ``+1``. This is the got10k
  toolkit's ``rect_iou`` (which adds ``eps`` to the union, a 1e-16 relative difference) and
  pytracking's. OTB's MATLAB ``calcRectInt`` writes boxes as pixel ranges ``right = x + w - 1`` and
  adds ``+1`` to the intersection width, but the two cancel: ``min(x + w - 1) - max(x) + 1 =
  min(x + w) - max(x)``, and the areas are ``w * h``, so it is numerically the same IoU for every
  box (tested). The VOT toolkit rasterises rounded boxes and clips them to the image: the same
  value for integer boxes inside the image, different otherwise.
- Centres are ``x + (w - 1) / 2`` as in the OTB and LaSOT toolkits (and got10k, pytracking). The
  ``-1/2`` cancels in every difference of two centres, so centre errors equal those of the
  continuous centres ``x + w / 2``.
"""
from __future__ import annotations

import numpy as np


def _as_boxes(boxes: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(boxes, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(f'{name} must be [N, 4] xywh boxes, got shape {array.shape}')
    return array


def _check_pair(boxes1: np.ndarray, boxes2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    first, second = _as_boxes(boxes1, 'boxes1'), _as_boxes(boxes2, 'boxes2')
    if first.shape != second.shape:
        raise ValueError(f'boxes1 and boxes2 must have the same shape, got {first.shape} and {second.shape}')
    return first, second


def iou_xywh(boxes1: np.ndarray, boxes2: np.ndarray) -> np.ndarray:
    """Row-wise intersection over union of two box lists.

    Args:
        boxes1, boxes2: ``[N, 4]`` xywh pixels; a negative width or height is an empty box.

    Returns:
        ``[N]`` float64 in ``[0, 1]``; 0 where the union is empty; NaN where a box has NaN.
    """
    first, second = _check_pair(boxes1, boxes2)
    size1 = np.clip(first[:, 2:], 0.0, None)  # [N, 2]
    size2 = np.clip(second[:, 2:], 0.0, None)  # [N, 2]
    low = np.maximum(first[:, :2], second[:, :2])  # [N, 2]
    high = np.minimum(first[:, :2] + size1, second[:, :2] + size2)  # [N, 2]
    intersection = np.prod(np.clip(high - low, 0.0, None), axis=1)
    union = np.prod(size1, axis=1) + np.prod(size2, axis=1) - intersection
    with np.errstate(invalid='ignore', divide='ignore'):
        iou = np.where(union > 0, intersection / np.where(union > 0, union, 1.0), 0.0)
    # Rounding can put identical boxes a hair above 1, which would pass the success threshold 1.0.
    iou = np.minimum(iou, 1.0)
    iou[np.isnan(first).any(axis=1) | np.isnan(second).any(axis=1)] = np.nan
    return iou


def clip_boxes_to_image(boxes: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """``[N, 4]`` xywh cropped to ``[0, W] x [0, H]`` (parts outside removed; outside boxes become empty)."""
    width, height = image_size
    boxes = _as_boxes(boxes, 'boxes')
    low = np.clip(boxes[:, :2], 0.0, [width, height])  # [N, 2]
    high = np.clip(boxes[:, :2] + boxes[:, 2:], 0.0, [width, height])  # [N, 2]
    return np.concatenate([low, np.clip(high - low, 0.0, None)], axis=1)


def box_centers(boxes: np.ndarray) -> np.ndarray:
    """``[N, 4]`` xywh -> ``[N, 2]`` centres ``(x + (w - 1) / 2, y + (h - 1) / 2)``, the OTB/LaSOT convention."""
    array = _as_boxes(boxes, 'boxes')
    return array[:, :2] + (array[:, 2:] - 1.0) / 2.0


def center_error(boxes1: np.ndarray, boxes2: np.ndarray) -> np.ndarray:
    """Row-wise Euclidean distance of box centres in pixels: ``[N, 4]`` xywh twice -> ``[N]`` float64."""
    first, second = _check_pair(boxes1, boxes2)
    return np.linalg.norm(box_centers(first) - box_centers(second), axis=1)


def normalized_center_error(boxes: np.ndarray, ground_truth: np.ndarray) -> np.ndarray:
    """Centre error with each axis divided by the ground-truth size (LaSOT's normalised precision).

    ``sqrt(((cx - cx_gt) / w_gt)^2 + ((cy - cy_gt) / h_gt)^2)``, as the LaSOT toolkit and
    pytracking compute it (they divide both centres by ``w_gt, h_gt`` before subtracting, the same).

    Args:
        boxes: ``[N, 4]`` xywh predictions.
        ground_truth: ``[N, 4]`` xywh; rows with ``w`` or ``h`` <= 0 give ``inf``.

    Returns:
        ``[N]`` float64, unitless.
    """
    prediction, truth = _check_pair(boxes, ground_truth)
    size = truth[:, 2:]  # [N, 2]
    difference = box_centers(prediction) - box_centers(truth)  # [N, 2]
    with np.errstate(invalid='ignore', divide='ignore'):
        error = np.linalg.norm(difference / np.where(size > 0, size, np.nan), axis=1)
    error[(size <= 0).any(axis=1)] = np.inf
    return error


def valid_ground_truth(ground_truth: np.ndarray, absent: np.ndarray | None = None) -> np.ndarray:
    """Frames whose ground truth can be scored, as the LaSOT toolkit decides.

    A box is valid only if all four numbers are finite and > 0 (official LaSOT/OTB MATLAB
    toolkits: ``sum(rect_anno > 0, 2) == 4``) and the frame is not marked absent.

    Args:
        ground_truth: ``[N, 4]`` xywh.
        absent: ``[N]`` bool or None.

    Returns:
        ``[N]`` bool.
    """
    truth = _as_boxes(ground_truth, 'ground_truth')
    with np.errstate(invalid='ignore'):
        valid = (truth > 0).all(axis=1)
    if absent is not None:
        flags = np.asarray(absent, dtype=bool)
        if flags.shape != (len(truth),):
            raise ValueError(f'absent must be [{len(truth)}] bool, got shape {flags.shape}')
        valid &= ~flags
    return valid


def repair_predictions(boxes: np.ndarray) -> np.ndarray:
    """Predictions as the OTB and LaSOT toolkits score them.

    Rows with a NaN or with ``w <= 0`` or ``h <= 0`` take the previous frame's (repaired) box
    (``calc_seq_err_robust.m``; pytracking does the same for zero sizes). Row 0 is left alone:
    it is replaced by the ground truth anyway.

    Returns:
        ``[N, 4]`` float64, a copy.
    """
    repaired = _as_boxes(boxes, 'boxes').copy()
    with np.errstate(invalid='ignore'):
        broken = np.isnan(repaired).any(axis=1) | (repaired[:, 2] <= 0) | (repaired[:, 3] <= 0)
    for index in np.flatnonzero(broken):
        if index > 0:
            repaired[index] = repaired[index - 1]
    return repaired
