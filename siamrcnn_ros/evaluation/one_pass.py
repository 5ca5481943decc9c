"""One-pass evaluation (OPE) of OTB, LaSOT and similar benchmarks: success, precision and
normalised precision curves per sequence, and their average over a dataset (SPEC §8).

Definitions followed (the official LaSOT MATLAB toolkit and pytracking, which agree on these; the
got10k toolkit's OTB experiment computes the same curves):

- The first frame's prediction is replaced by the ground truth (it is the given box); the frame
  stays in the sequence.
- Predictions with a NaN or a size <= 0 take the previous frame's box (``repair_predictions``).
- A frame is scored only if its ground truth is valid (``valid_ground_truth``: all four numbers
  > 0, not absent); every other frame counts as a failure at every threshold (IoU -1, centre error
  inf), and the denominator is the full sequence length.
- Success curve: fraction of frames with IoU **>** t for t = 0, 0.05, ..., 1 (21 values, so a frame
  with IoU 0 fails even at t = 0); AUC = mean of the curve.
- Precision curve: fraction of frames with centre error **<=** t px, t = 0..50; score at 20 px.
- Normalised precision curve (LaSOT): same with the normalised centre error, t = 0, 0.01, ..., 0.5;
  score at t = 0.20 (the official toolkit ranks by ``rank_idx = 21``; pytracking and pysot too).
- Dataset scores: curves averaged over sequences, then the score read off the mean curve.

Where the public toolkits disagree (we follow SPEC §8, i.e. the first choice each time):

- Invalid but not absent ground truth (a coordinate <= 0, e.g. a box touching the left border at
  x = 0): pytracking counts a precision failure; the official LaSOT MATLAB toolkit sets the centre
  error to -1, which passes every threshold, i.e. counts a precision *success*.
- The LaSOT MATLAB toolkit drops sequences whose whole curve is 0 from the average
  (``aa(sum(aa, 2) > eps, :)`` in ``plot_draw_save.m``); pytracking and we keep them.
- Normalised precision: the got10k toolkit's LaSOT experiment (in versions after the 0.1.3 installed
  here, which has none) reports the mean of the curve over 0..0.5 (here ``normalized_precision_auc``)
  instead of the value at 0.20, and ignores the absent flags (it drops only NaN ground truth).
- The got10k toolkit's OTB experiment does not repair predictions or invalidate ground truth.
"""
from __future__ import annotations

from collections.abc import Sequence as SequenceOf
from dataclasses import dataclass

import numpy as np

from siamrcnn_ros.evaluation.overlap import (
    center_error,
    iou_xywh,
    normalized_center_error,
    repair_predictions,
    valid_ground_truth,
)

SUCCESS_THRESHOLDS = np.linspace(0.0, 1.0, 21)  # IoU
PRECISION_THRESHOLDS = np.arange(51, dtype=np.float64)  # pixels
NORMALIZED_PRECISION_THRESHOLDS = np.arange(51, dtype=np.float64) / 100.0  # fraction of the ground-truth size
SCORE_INDEX = 20  # 20 px on the precision curve, 0.20 on the normalised one


@dataclass(frozen=True, eq=False)
class OnePassCurves:
    """Success, precision and normalised precision curves of one sequence or their dataset average.

    Attributes:
        success: ``[21]`` fraction of frames with IoU > ``SUCCESS_THRESHOLDS``.
        precision: ``[51]`` fraction of frames with centre error <= ``PRECISION_THRESHOLDS`` px.
        normalized_precision: ``[51]`` same for ``NORMALIZED_PRECISION_THRESHOLDS``.
        num_sequences: 1 for a sequence, the number averaged for a dataset.
        num_frames: frames counted (all sequences).
    """

    success: np.ndarray
    precision: np.ndarray
    normalized_precision: np.ndarray
    num_sequences: int
    num_frames: int

    @property
    def auc(self) -> float:
        """Area under the success curve: its mean over the 21 thresholds."""
        return float(np.mean(self.success))

    @property
    def precision_20(self) -> float:
        """Precision at 20 px."""
        return float(self.precision[SCORE_INDEX])

    @property
    def normalized_precision_20(self) -> float:
        """Normalised precision at 0.20 (LaSOT's reported score)."""
        return float(self.normalized_precision[SCORE_INDEX])

    @property
    def normalized_precision_auc(self) -> float:
        """Mean of the normalised precision curve over 0..0.5: the got10k toolkit's LaSOT number."""
        return float(np.mean(self.normalized_precision))


def one_pass_curves(boxes: np.ndarray, ground_truth: np.ndarray, absent: np.ndarray | None = None) -> OnePassCurves:
    """Curves of one sequence.

    Args:
        boxes: ``[N, 4]`` xywh predictions, one per frame (row 0 is replaced by the ground truth).
        ground_truth: ``[N, 4]`` xywh.
        absent: ``[N]`` bool, frames where the benchmark marks the target absent, or None.

    Returns:
        ``OnePassCurves`` with ``num_sequences == 1``.

    Raises:
        ValueError: shapes disagree, or the sequence is empty.
    """
    prediction = np.asarray(boxes, dtype=np.float64)
    truth = np.asarray(ground_truth, dtype=np.float64)
    if prediction.shape != truth.shape or prediction.ndim != 2 or prediction.shape[1] != 4:
        raise ValueError(f'boxes and ground_truth must both be [N, 4], got {prediction.shape} and {truth.shape}')
    if len(truth) == 0:
        raise ValueError('cannot evaluate an empty sequence')
    prediction = repair_predictions(prediction)
    prediction[0] = truth[0]
    valid = valid_ground_truth(truth, absent)

    ious = np.full(len(truth), -1.0)
    errors = np.full(len(truth), np.inf)
    normalized_errors = np.full(len(truth), np.inf)
    ious[valid] = iou_xywh(prediction[valid], truth[valid])
    errors[valid] = center_error(prediction[valid], truth[valid])
    normalized_errors[valid] = normalized_center_error(prediction[valid], truth[valid])
    return OnePassCurves(
        success=(ious[:, None] > SUCCESS_THRESHOLDS[None, :]).mean(axis=0),  # [21]
        precision=(errors[:, None] <= PRECISION_THRESHOLDS[None, :]).mean(axis=0),  # [51]
        normalized_precision=(normalized_errors[:, None] <= NORMALIZED_PRECISION_THRESHOLDS[None, :]).mean(axis=0),
        num_sequences=1,
        num_frames=len(truth),
    )


def average_curves(per_sequence: SequenceOf[OnePassCurves]) -> OnePassCurves:
    """Dataset curves: the mean of the sequences' curves, every sequence weighing the same
    (an input that is itself an average weighs its ``num_sequences``)."""
    if not per_sequence:
        raise ValueError('no sequences to average')
    weights = [c.num_sequences for c in per_sequence]
    return OnePassCurves(
        success=np.average([c.success for c in per_sequence], axis=0, weights=weights),
        precision=np.average([c.precision for c in per_sequence], axis=0, weights=weights),
        normalized_precision=np.average([c.normalized_precision for c in per_sequence], axis=0, weights=weights),
        num_sequences=sum(c.num_sequences for c in per_sequence),
        num_frames=sum(c.num_frames for c in per_sequence),
    )
