"""GOT-10k scores: average overlap (AO) and success rates SR0.5 / SR0.75 (SPEC §8).

Follows the official got10k toolkit (``ExperimentGOT10k.report`` / ``_evaluate``, version 0.1.3
installed here, tested against it):

- per sequence, the first frame is dropped (it is the given box) and so are frames with
  ``cover == 0`` (``Sequence.absent`` of the GOT-10k layout);
- both boxes are bounded to the image as the toolkit's ``rect_iou(..., bound=(W, H))`` does
  (``got10k_bound_boxes``; optional, on when the image size is given);
- the IoUs of all kept frames of all sequences (and of all repetitions) are pooled: AO is their
  mean, SR_t the fraction with IoU **>** t. Every frame weighs the same, so long sequences weigh
  more than short ones (unlike the OTB/LaSOT average over sequences).

The toolkit's own SR is only SR0.5; SR0.75 is the same rule at 0.75 (as the evaluation server
reports it). The success curve here has the toolkit's 101 thresholds.
"""
from __future__ import annotations

from collections.abc import Sequence as SequenceOf
from dataclasses import dataclass

import numpy as np

from siamrcnn_ros.evaluation.overlap import iou_xywh

GOT10K_THRESHOLDS = np.linspace(0.0, 1.0, 101)


@dataclass(frozen=True, eq=False)
class Got10kScores:
    """Pooled GOT-10k scores.

    Attributes:
        ao: average overlap, mean IoU over the pooled frames.
        sr50: fraction of pooled frames with IoU > 0.5.
        sr75: fraction with IoU > 0.75.
        success_curve: ``[101]`` fraction with IoU > ``GOT10K_THRESHOLDS``.
        num_frames: frames pooled.
    """

    ao: float
    sr50: float
    sr75: float
    success_curve: np.ndarray
    num_frames: int


def got10k_bound_boxes(boxes: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """Boxes bounded to the image exactly as the got10k toolkit's ``rect_iou(bound=...)``.

    ``x, y`` are clamped into ``[0, W] x [0, H]`` first, then ``w, h`` into ``[0, W - x]``,
    ``[0, H - y]``. A box reaching past the left or top edge is therefore *moved* inside, keeping
    its width, rather than cropped: ``(-5, 0, 20, 10)`` becomes ``(0, 0, 20, 10)``, not
    ``(0, 0, 15, 10)``. We reproduce this because it is what the benchmark's scores use.

    Args:
        boxes: ``[N, 4]`` xywh pixels.
        image_size: ``(width, height)`` pixels.

    Returns:
        ``[N, 4]`` float64, a copy.
    """
    width, height = image_size
    bounded = np.array(boxes, dtype=np.float64, copy=True)
    bounded[:, 0] = np.clip(bounded[:, 0], 0.0, width)
    bounded[:, 1] = np.clip(bounded[:, 1], 0.0, height)
    bounded[:, 2] = np.clip(bounded[:, 2], 0.0, width - bounded[:, 0])
    bounded[:, 3] = np.clip(bounded[:, 3], 0.0, height - bounded[:, 1])
    return bounded


def got10k_frame_ious(boxes: np.ndarray, ground_truth: np.ndarray, absent: np.ndarray | None = None,
                      image_size: tuple[int, int] | None = None) -> np.ndarray:
    """IoUs of the frames GOT-10k scores in one sequence.

    Args:
        boxes: ``[N, 4]`` xywh predictions.
        ground_truth: ``[N, 4]`` xywh.
        absent: ``[N]`` bool, True where ``cover == 0``; None keeps every frame.
        image_size: ``(width, height)``; when given, boxes are bounded as the toolkit does.

    Returns:
        ``[M]`` float64 IoUs of frames 1..N-1 that are not absent.

    Raises:
        ValueError: shapes disagree, or a kept frame has no ground truth (the GOT-10k test split,
            whose ground truth only the evaluation server has).
    """
    prediction = np.asarray(boxes, dtype=np.float64)
    truth = np.asarray(ground_truth, dtype=np.float64)
    if prediction.shape != truth.shape or prediction.ndim != 2 or prediction.shape[1] != 4:
        raise ValueError(f'boxes and ground_truth must both be [N, 4], got {prediction.shape} and {truth.shape}')
    keep = np.ones(len(truth), dtype=bool)
    keep[:1] = False
    if absent is not None:
        keep &= ~np.asarray(absent, dtype=bool)
    if np.isnan(truth[keep]).any():
        raise ValueError('ground truth is unknown (NaN) in frames GOT-10k scores: '
                         'the test split is evaluated by the GOT-10k server only')
    prediction, truth = prediction[keep], truth[keep]
    if image_size is not None:
        prediction, truth = got10k_bound_boxes(prediction, image_size), got10k_bound_boxes(truth, image_size)
    return iou_xywh(prediction, truth)


def got10k_scores(ious: SequenceOf[np.ndarray]) -> Got10kScores:
    """AO, SR0.5, SR0.75 over the IoUs of all sequences (``got10k_frame_ious`` each), pooled.

    Raises:
        ValueError: no frame at all.
    """
    pooled = np.concatenate([np.asarray(v, dtype=np.float64).ravel() for v in ious]) if ious else np.zeros(0)
    if pooled.size == 0:
        raise ValueError('no frames to score')
    return Got10kScores(
        ao=float(np.mean(pooled)),
        sr50=float(np.mean(pooled > 0.5)),
        sr75=float(np.mean(pooled > 0.75)),
        success_curve=(pooled[:, None] > GOT10K_THRESHOLDS[None, :]).mean(axis=0),  # [101]
        num_frames=int(pooled.size),
    )
