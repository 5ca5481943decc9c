"""Per-frame mask measures of the DAVIS benchmark (SPEC §8), on NumPy boolean masks.

* J, region similarity: the IoU of the predicted and ground-truth masks.
* F, contour accuracy: the F-measure of the two masks' boundary pixels, a boundary pixel counting as
  matched when the other mask has a boundary pixel within a tolerance of ``bound_th`` times the
  image diagonal (DAVIS: 0.008, rounded up to whole pixels).
* J_box: the IoU of the two masks' bounding boxes (or of a predicted box and the ground-truth
  mask's box), the box-level counterpart used to compare with box trackers.

The conventions follow the DAVIS 2017 evaluation toolkit, so that numbers compare with published
ones: both masks empty scores 1 (J, F and J_box); a boundary pixel is one that differs from its
right, lower or lower-right neighbour (those inside the image); with no predicted boundary precision
is 1, with no ground-truth boundary recall is 1. Pixels of an optional ``void`` mask are left out
(see ``mask_ground_truth`` for DAVIS's value 255).
"""
from __future__ import annotations

import math

import cv2
import numpy as np

DAVIS_BOUNDARY_THRESHOLD = 0.008


def _check_masks(prediction: np.ndarray, truth: np.ndarray,
                 void: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The masks as ``[H, W]`` bool arrays of one shape (void too, when given)."""
    prediction, truth = np.asarray(prediction), np.asarray(truth)
    if prediction.ndim != 2 or prediction.shape != truth.shape:
        raise ValueError(f'masks must be [H, W] of one shape, got prediction {prediction.shape} '
                         f'and truth {truth.shape}')
    if void is not None:
        void = np.asarray(void)
        if void.shape != truth.shape:
            raise ValueError(f'void mask must have the masks\' shape {truth.shape}, got {void.shape}')
        void = void.astype(bool)
    return prediction.astype(bool), truth.astype(bool), void


def region_similarity(prediction: np.ndarray, truth: np.ndarray, void: np.ndarray | None = None) -> float:
    """J: IoU of two masks.

    Args:
        prediction, truth: ``[H, W]`` masks (nonzero = object).
        void: optional ``[H, W]`` mask of pixels to ignore.

    Returns:
        In [0, 1]; 1 when both masks are empty (outside ``void``), as the DAVIS toolkit scores it.
    """
    prediction, truth, void = _check_masks(prediction, truth, void)
    scored = np.ones_like(truth) if void is None else ~void
    union = int(np.count_nonzero((prediction | truth) & scored))
    if union == 0:
        return 1.0
    return int(np.count_nonzero(prediction & truth & scored)) / union


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """Boundary pixels of a mask: those whose value differs from the right, lower or lower-right
    neighbour (only the neighbours inside the image are compared, so the image border is no boundary).

    This marks the pixel on the upper-left side of each transition, foreground or background: a
    ``k x k`` square away from the border has ``4 k`` boundary pixels. Same map as the DAVIS
    toolkit's ``seg2bmap`` at the mask's own resolution.

    Args:
        mask: ``[H, W]`` (nonzero = object).

    Returns:
        ``[H, W]`` bool.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f'mask must be [H, W], got shape {mask.shape}')
    mask = mask.astype(bool)
    boundary = np.zeros_like(mask)
    boundary[:, :-1] |= mask[:, :-1] != mask[:, 1:]  # right neighbour
    boundary[:-1, :] |= mask[:-1, :] != mask[1:, :]  # lower neighbour
    boundary[:-1, :-1] |= mask[:-1, :-1] != mask[1:, 1:]  # lower-right neighbour
    return boundary


def boundary_tolerance(shape: tuple[int, int], bound_th: float = DAVIS_BOUNDARY_THRESHOLD) -> int:
    """The matching distance of F in pixels: ``ceil(bound_th * diagonal)``, or ``bound_th`` itself
    when it is >= 1 (then read as pixels, as the toolkit does).

    Args:
        shape: ``(H, W)`` of the masks.
        bound_th: fraction of the image diagonal (DAVIS: 0.008), or pixels when >= 1.
    """
    if not (math.isfinite(bound_th) and bound_th >= 0):
        raise ValueError(f'bound_th must be a finite number >= 0, got {bound_th}')
    if bound_th >= 1:
        return math.ceil(bound_th)
    return math.ceil(bound_th * math.hypot(shape[0], shape[1]))


def disk(radius: int) -> np.ndarray:
    """``[2r + 1, 2r + 1]`` uint8 structuring element: 1 where ``dy^2 + dx^2 <= r^2``."""
    if radius < 0:
        raise ValueError(f'radius must be >= 0, got {radius}')
    offsets = np.arange(-radius, radius + 1)
    return ((offsets[:, None] ** 2 + offsets[None, :] ** 2) <= radius**2).astype(np.uint8)  # [2r+1, 2r+1]


def boundary_precision_recall(prediction: np.ndarray, truth: np.ndarray, void: np.ndarray | None = None,
                              bound_th: float = DAVIS_BOUNDARY_THRESHOLD) -> tuple[float, float]:
    """Precision (share of predicted boundary pixels near a true one) and recall (share of true
    boundary pixels near a predicted one), "near" meaning within a disk of radius
    ``boundary_tolerance(shape, bound_th)``.

    Empty boundaries, as in the DAVIS toolkit: none predicted -> precision 1 (recall 0 unless the
    truth has none either); none in the truth -> recall 1.

    Args:
        prediction, truth: ``[H, W]`` masks (nonzero = object).
        void: optional ``[H, W]`` mask of ignored pixels, removed from both masks first.
        bound_th: see ``boundary_tolerance``.
    """
    prediction, truth, void = _check_masks(prediction, truth, void)
    if void is not None:
        prediction, truth = prediction & ~void, truth & ~void
    predicted_boundary, true_boundary = boundary_map(prediction), boundary_map(truth)
    num_predicted, num_true = int(np.count_nonzero(predicted_boundary)), int(np.count_nonzero(true_boundary))
    if num_predicted == 0 or num_true == 0:
        return (1.0, 0.0 if num_true else 1.0) if num_predicted == 0 else (0.0, 1.0)
    kernel = disk(boundary_tolerance(truth.shape, bound_th))
    near_true = cv2.dilate(true_boundary.astype(np.uint8), kernel).astype(bool)  # [H, W]
    near_predicted = cv2.dilate(predicted_boundary.astype(np.uint8), kernel).astype(bool)  # [H, W]
    precision = int(np.count_nonzero(predicted_boundary & near_true)) / num_predicted
    recall = int(np.count_nonzero(true_boundary & near_predicted)) / num_true
    return precision, recall


def contour_accuracy(prediction: np.ndarray, truth: np.ndarray, void: np.ndarray | None = None,
                     bound_th: float = DAVIS_BOUNDARY_THRESHOLD) -> float:
    """F: the harmonic mean of ``boundary_precision_recall`` (0 when both are 0); 1 when both masks
    are empty."""
    precision, recall = boundary_precision_recall(prediction, truth, void, bound_th)
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def mask_box(mask: np.ndarray) -> np.ndarray:
    """The tight box of a mask's pixels.

    Args:
        mask: ``[H, W]`` (nonzero = object).

    Returns:
        ``[4]`` float64 xyxy pixels, continuous (a single pixel at column x, row y is
        ``(x, y, x + 1, y + 1)``); all NaN for an empty mask.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f'mask must be [H, W], got shape {mask.shape}')
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return np.full(4, np.nan)
    cols = np.flatnonzero(mask.any(axis=0))
    return np.array([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1], dtype=np.float64)


def box_masks(boxes: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Boxes filled as masks (the inverse of ``mask_box`` for whole pixels): the baseline a mask must beat.

    Args:
        boxes: ``[N, 4]`` float xyxy pixels.
        size: ``(H, W)`` of the image.

    Returns:
        ``[N, H, W]`` bool: the pixels whose centres lie in each box.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    height, width = size
    ys, xs = np.arange(height) + 0.5, np.arange(width) + 0.5
    inside_x = (xs[None] >= boxes[:, 0:1]) & (xs[None] < boxes[:, 2:3])  # [N, W]
    inside_y = (ys[None] >= boxes[:, 1:2]) & (ys[None] < boxes[:, 3:4])  # [N, H]
    return inside_y[:, :, None] & inside_x[:, None, :]


def box_iou_xyxy(box1: np.ndarray, box2: np.ndarray) -> float:
    """IoU of two ``[4]`` xyxy boxes; an all-NaN box means "no box": 1 when both are missing, 0
    when one is."""
    box1, box2 = np.asarray(box1, dtype=np.float64), np.asarray(box2, dtype=np.float64)
    if box1.shape != (4,) or box2.shape != (4,):
        raise ValueError(f'boxes must be [4] xyxy, got shapes {box1.shape} and {box2.shape}')
    missing1, missing2 = bool(np.isnan(box1).any()), bool(np.isnan(box2).any())
    if missing1 or missing2:
        return 1.0 if missing1 and missing2 else 0.0
    width = min(box1[2], box2[2]) - max(box1[0], box2[0])
    height = min(box1[3], box2[3]) - max(box1[1], box2[1])
    intersection = max(width, 0.0) * max(height, 0.0)
    area1 = max(box1[2] - box1[0], 0.0) * max(box1[3] - box1[1], 0.0)
    area2 = max(box2[2] - box2[0], 0.0) * max(box2[3] - box2[1], 0.0)
    union = area1 + area2 - intersection
    return float(intersection / union) if union > 0 else 0.0


def box_similarity(prediction: np.ndarray, truth: np.ndarray, void: np.ndarray | None = None) -> float:
    """J_box: IoU of the bounding boxes of the two masks (``void`` pixels removed from both first).

    ``prediction`` may also be a ``[4]`` xyxy box (all NaN = no box), e.g. a box tracker's output
    scored against the ground-truth mask. Both empty -> 1, one empty -> 0.
    """
    truth = np.asarray(truth)
    if truth.ndim != 2:
        raise ValueError(f'truth must be an [H, W] mask, got shape {truth.shape}')
    prediction = np.asarray(prediction)
    if prediction.shape == (4,):
        _, truth, void = _check_masks(truth, truth, void)
        return box_iou_xyxy(prediction, mask_box(truth if void is None else truth & ~void))
    prediction, truth, void = _check_masks(prediction, truth, void)
    if void is not None:
        prediction, truth = prediction & ~void, truth & ~void
    return box_iou_xyxy(mask_box(prediction), mask_box(truth))
