"""Long-term tracking scores that use the target's absence: VOT-LT precision / recall / F over
confidence thresholds, and OxUvA TPR / TNR / MaxGM over predicted-present flags (SPEC §8).

VOT-LT (LTB35; vot-toolkit ``vot.analysis.longterm``, tested against it):

- thresholds: all frames' confidences of all sequences, NaN dropped, sorted in descending order;
  with more than ``resolution - 2`` of them, ``resolution - 2`` taken at evenly spaced ranks
  ``round(linspace(d, n - d, resolution - 2))``, ``d = floor(n / (resolution - 2))``; otherwise all.
  ``+inf`` is put first and ``-inf`` last (``determine_thresholds``, resolution 100);
- per sequence and threshold t: the frames with confidence >= t; Pr(t) = their mean overlap,
  Re(t) = their overlap sum / number of frames where the target is visible. Overlap is 0 where
  the target is absent. No frame above t: Pr = 1, Re = 0;
- Pr and Re averaged over sequences; F = 2 Pr Re / (Pr + Re) (0 when both are 0); the reported
  Pr, Re, F are at the threshold of maximal F (the first one when tied).

Differences from the vot-toolkit: it rasterises rounded boxes clipped to the image (equal values
for integer boxes inside the image; tested) and scores an *empty* predicted region in an absent
frame as overlap 1, where we score 0 (our trackers always report a box; absence is expressed by a
low confidence). A sequence without visible frames makes its recall 0/0 there; we set 0. The
toolkit's stored trajectories carry frame 0 as an initialisation marker (overlap 0, confidence 0);
we score the frames we are given (``evaluate`` passes frames 1..N-1). ``average='frame'`` pools
frames of all sequences instead of averaging per sequence, the variant SPEC §8 attributes to
pytracking; it is not the VOT-LT definition.

OxUvA (the OxUvA toolkit's ``assess.py``):

- per frame: TP = target present, predicted present and IoU >= 0.5; FN = present and not TP;
  TN = absent and predicted absent; FP = absent and predicted present. Boxes are clipped to the
  image before the IoU when the image size is given (``iou_clip``);
- counts summed over all frames of all sequences; TPR = TP / (TP + FN), TNR = TN / (TN + FP);
- MaxGM = max over p in [0, 1] of sqrt(((1 - p) TPR) ((1 - p) TNR + p)) (closed form).
"""
from __future__ import annotations

import math
from collections.abc import Sequence as SequenceOf
from dataclasses import dataclass

import numpy as np

from siamrcnn_ros.evaluation.overlap import clip_boxes_to_image, iou_xywh


@dataclass(frozen=True, eq=False)
class LongTermCurves:
    """VOT-LT curves over the confidence thresholds and the scores at the best one.

    Attributes:
        thresholds: ``[T]`` confidence thresholds, ``+inf`` first, ``-inf`` last.
        precision, recall, f_score: ``[T]`` curves.
        best_index: index of the maximal F.
    """

    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f_score: np.ndarray
    best_index: int

    @property
    def best_precision(self) -> float:
        return float(self.precision[self.best_index])

    @property
    def best_recall(self) -> float:
        return float(self.recall[self.best_index])

    @property
    def best_f_score(self) -> float:
        return float(self.f_score[self.best_index])

    @property
    def best_threshold(self) -> float:
        return float(self.thresholds[self.best_index])


@dataclass(frozen=True)
class OxuvaCounts:
    """Frame counts of OxUvA; they add up over sequences (``+``)."""

    tp: int = 0
    fn: int = 0
    tn: int = 0
    fp: int = 0

    def __add__(self, other: OxuvaCounts) -> OxuvaCounts:
        return OxuvaCounts(self.tp + other.tp, self.fn + other.fn, self.tn + other.tn, self.fp + other.fp)

    @property
    def tpr(self) -> float:
        """TP / (TP + FN); NaN without present frames."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else math.nan

    @property
    def tnr(self) -> float:
        """TN / (TN + FP); NaN without absent frames."""
        return self.tn / (self.tn + self.fp) if self.tn + self.fp else math.nan

    @property
    def max_gm(self) -> float:
        return max_geometric_mean(self.tpr, self.tnr)


def vot_lt_thresholds(confidences: np.ndarray, resolution: int = 100) -> np.ndarray:
    """Confidence thresholds of the VOT-LT analysis (``determine_thresholds``).

    Args:
        confidences: confidences of all frames of all sequences, any shape.
        resolution: number of thresholds including ``+inf`` and ``-inf`` (VOT: 100).

    Returns:
        ``[T]`` float64, descending, ``T <= resolution``.
    """
    if resolution < 3:
        raise ValueError(f'resolution must be >= 3, got {resolution}')
    scores = np.asarray(confidences, dtype=np.float64).ravel()
    scores = np.sort(scores[~np.isnan(scores)])[::-1]
    inner = resolution - 2
    if len(scores) > inner:
        step = len(scores) // inner
        # np.round rounds half to even, as the toolkit's np.round does.
        ranks = np.round(np.linspace(step, len(scores) - step, num=inner)).astype(int)
        scores = scores[ranks]
    return np.concatenate([[np.inf], scores, [-np.inf]])


def long_term_overlaps(boxes: np.ndarray, ground_truth: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """``[N]`` IoU per frame with 0 where the target is not visible (``visible`` ``[N]`` bool)."""
    overlaps = np.zeros(len(ground_truth))
    visible = np.asarray(visible, dtype=bool)
    overlaps[visible] = iou_xywh(np.asarray(boxes)[visible], np.asarray(ground_truth)[visible])
    return np.nan_to_num(overlaps, nan=0.0)


def precision_recall_curve(overlaps: np.ndarray, confidences: np.ndarray, num_visible: int,
                           thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pr(t) and Re(t) of one sequence (or of pooled frames).

    Args:
        overlaps: ``[N]`` IoU per frame, 0 where the target is absent.
        confidences: ``[N]`` the tracker's confidence per frame.
        num_visible: frames where the target is visible.
        thresholds: ``[T]`` from ``vot_lt_thresholds``.

    Returns:
        ``([T], [T])`` precision and recall.
    """
    overlaps = np.asarray(overlaps, dtype=np.float64)
    confidences = np.asarray(confidences, dtype=np.float64)
    if overlaps.shape != confidences.shape:
        raise ValueError(f'overlaps and confidences must match, got {overlaps.shape} and {confidences.shape}')
    selected = confidences[None, :] >= np.asarray(thresholds)[:, None]  # [T, N]
    count = selected.sum(axis=1)
    total = (selected * overlaps[None, :]).sum(axis=1)
    precision = np.where(count > 0, total / np.maximum(count, 1), 1.0)
    recall = total / num_visible if num_visible > 0 else np.zeros(len(thresholds))
    return precision, np.where(count > 0, recall, 0.0)


def vot_lt_curves(sequences: SequenceOf[tuple[np.ndarray, np.ndarray, int]], resolution: int = 100,
                  average: str = 'sequence') -> LongTermCurves:
    """VOT-LT precision, recall and F over a dataset.

    Args:
        sequences: per sequence ``(overlaps [N], confidences [N], num_visible)``.
        resolution: thresholds as in ``vot_lt_thresholds``.
        average: ``'sequence'`` (VOT-LT: Pr and Re averaged over sequences) or ``'frame'``
            (frames pooled over all sequences).
    """
    if not sequences:
        raise ValueError('no sequences to score')
    if average not in ('sequence', 'frame'):
        raise ValueError(f"average must be 'sequence' or 'frame', got {average!r}")
    thresholds = vot_lt_thresholds(np.concatenate([np.asarray(c, dtype=np.float64) for _, c, _ in sequences]),
                                   resolution)
    if average == 'frame':
        overlaps = np.concatenate([np.asarray(o, dtype=np.float64) for o, _, _ in sequences])
        confidences = np.concatenate([np.asarray(c, dtype=np.float64) for _, c, _ in sequences])
        precision, recall = precision_recall_curve(overlaps, confidences, sum(v for _, _, v in sequences),
                                                   thresholds)
    else:
        curves = [precision_recall_curve(o, c, v, thresholds) for o, c, v in sequences]
        precision = np.mean([p for p, _ in curves], axis=0)
        recall = np.mean([r for _, r in curves], axis=0)
    denominator = precision + recall
    f_score = np.where(denominator > 0, 2 * precision * recall / np.where(denominator > 0, denominator, 1.0), 0.0)
    return LongTermCurves(thresholds=thresholds, precision=precision, recall=recall, f_score=f_score,
                          best_index=int(np.argmax(f_score)))


def oxuva_counts(boxes: np.ndarray, predicted_present: np.ndarray, ground_truth: np.ndarray, present: np.ndarray,
                 image_size: tuple[int, int] | None = None, iou_threshold: float = 0.5) -> OxuvaCounts:
    """OxUvA counts of one sequence's scored frames.

    Args:
        boxes: ``[N, 4]`` xywh predictions.
        predicted_present: ``[N]`` bool, the tracker's present flag.
        ground_truth: ``[N, 4]`` xywh (any value where absent).
        present: ``[N]`` bool, the target is present.
        image_size: ``(width, height)``: boxes are clipped to the image first (OxUvA's ``iou_clip``).
        iou_threshold: IoU for a true positive (OxUvA: 0.5, inclusive).
    """
    flags = np.asarray(predicted_present, dtype=bool)
    present = np.asarray(present, dtype=bool)
    prediction = np.asarray(boxes, dtype=np.float64)
    truth = np.asarray(ground_truth, dtype=np.float64)
    if not (len(flags) == len(present) == len(prediction) == len(truth)):
        raise ValueError(f'lengths differ: boxes {len(prediction)}, predicted_present {len(flags)}, '
                         f'ground_truth {len(truth)}, present {len(present)}')
    if image_size is not None:
        prediction, truth = clip_boxes_to_image(prediction, image_size), clip_boxes_to_image(truth, image_size)
    ious = np.zeros(len(truth))
    both = present & flags
    ious[both] = iou_xywh(prediction[both], truth[both])
    tp = int(np.sum(both & (ious >= iou_threshold)))
    return OxuvaCounts(tp=tp, fn=int(np.sum(present)) - tp, tn=int(np.sum(~present & ~flags)),
                       fp=int(np.sum(~present & flags)))


def max_geometric_mean(tpr: float, tnr: float) -> float:
    """OxUvA's MaxGM: max over p in [0, 1] of sqrt(((1 - p) TPR) ((1 - p) TNR + p)).

    g(p) = (1 - p)(TNR + p (1 - TNR)) is a concave parabola for TNR < 1 with its peak at
    p* = (1 - 2 TNR) / (2 (1 - TNR)); the maximum is at p* clipped to [0, 1].
    NaN if either rate is NaN.
    """
    if math.isnan(tpr) or math.isnan(tnr):
        return math.nan
    peak = 0.0 if tnr >= 1.0 else min(max((1.0 - 2.0 * tnr) / (2.0 * (1.0 - tnr)), 0.0), 1.0)
    return math.sqrt((1.0 - peak) * tpr * ((1.0 - peak) * tnr + peak))


def presence_roc_auc(confidences: np.ndarray, present: np.ndarray) -> float:
    """ROC AUC of the confidence as a detector of the target's presence: the probability that a frame where
    the target is present gets a higher confidence than one where it is absent (ties count one half).

    Args:
        confidences: ``[N]`` float, the tracker's confidence per frame (NaN frames are dropped).
        present: ``[N]`` bool, the target is visible in the ground truth.

    Returns:
        the AUC in [0, 1] (0.5: no information), or NaN when one of the two classes has no frame.
    """
    confidences = np.asarray(confidences, dtype=np.float64)
    present = np.asarray(present, dtype=bool)
    if confidences.shape != present.shape or confidences.ndim != 1:
        raise ValueError(f'confidences and present must be [N] alike, got {confidences.shape} and {present.shape}')
    valid = ~np.isnan(confidences)
    confidences, present = confidences[valid], present[valid]
    positives, negatives = int(present.sum()), int((~present).sum())
    if positives == 0 or negatives == 0:
        return math.nan
    # Mann-Whitney U from average ranks (ties share their mean rank).
    order = np.argsort(confidences, kind='mergesort')
    ranks = np.empty(len(confidences))
    sorted_values = confidences[order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])  # [G] first index of each tie
    ends = np.r_[starts[1:], len(sorted_values)]
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + end + 1) / 2.0  # mean of ranks start+1 .. end
    u = ranks[present].sum() - positives * (positives + 1) / 2.0
    return float(u / (positives * negatives))


class PresencePool:
    """Per-frame confidences and ground-truth presence pooled over sequences, for one ``presence_roc_auc``.

    Frame 0 of each sequence (where the box is given) is left out; sequences without absence labels add
    nothing.
    """

    def __init__(self) -> None:
        self._confidences: list[np.ndarray] = []
        self._present: list[np.ndarray] = []

    def add(self, confidences: np.ndarray, absent: np.ndarray | None) -> None:
        """One sequence: ``confidences`` ``[T]`` float per frame from frame 0 on, ``absent`` its ``[>= T]`` bool
        ground truth (None: not labelled)."""
        if absent is None:
            return
        confidences = np.asarray(confidences, dtype=np.float64)
        if len(absent) < len(confidences):
            raise ValueError(f'{len(confidences)} confidences for {len(absent)} labelled frames')
        self._confidences.append(confidences[1:])
        self._present.append(~np.asarray(absent, dtype=bool)[1:len(confidences)])

    def roc_auc(self) -> float:
        """``presence_roc_auc`` of all frames added (NaN when nothing was added or one class is missing)."""
        if not self._confidences:
            return math.nan
        return presence_roc_auc(np.concatenate(self._confidences), np.concatenate(self._present))
