"""Evaluating a tracker's result folder against a dataset: per sequence, then aggregated per
benchmark family (OTB/LaSOT average over sequences; GOT-10k, VOT-LT thresholds and OxUvA pooled
as their toolkits do; see the metric modules for each definition)."""
from __future__ import annotations

import math
from collections.abc import Iterable
from collections.abc import Sequence as SequenceOf
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from siamrcnn_ros.datasets.sequence import Sequence
from siamrcnn_ros.evaluation.got10k_metrics import Got10kScores, got10k_frame_ious, got10k_scores
from siamrcnn_ros.evaluation.long_term import (
    LongTermCurves,
    OxuvaCounts,
    long_term_overlaps,
    oxuva_counts,
    vot_lt_curves,
)
from siamrcnn_ros.evaluation.one_pass import OnePassCurves, average_curves, one_pass_curves
from siamrcnn_ros.evaluation.overlap import clip_boxes_to_image
from siamrcnn_ros.evaluation.results import read_results, read_times

METRICS = ('success', 'precision', 'norm_precision', 'got10k', 'vot_lt', 'oxuva')
_ONE_PASS = {'success', 'precision', 'norm_precision'}
_NEED_IMAGE_SIZE = {'got10k', 'vot_lt', 'oxuva'}


@dataclass(frozen=True, eq=False)
class LongTermFrames:
    """What VOT-LT needs of one sequence: ``[M]`` overlaps (0 where absent), ``[M]`` confidences, visible count."""

    overlaps: np.ndarray
    confidences: np.ndarray
    num_visible: int


@dataclass(frozen=True, eq=False)
class SequenceEvaluation:
    """One sequence's per-frame results for each requested metric family (None where not requested)."""

    name: str
    num_frames: int
    one_pass: OnePassCurves | None
    got10k_ious: np.ndarray | None
    long_term: LongTermFrames | None
    oxuva: OxuvaCounts | None


@dataclass(frozen=True, eq=False)
class TrackerEvaluation:
    """A result folder's scores over a dataset (None where a metric family was not requested)."""

    tracker: str
    sequences: list[SequenceEvaluation]
    one_pass: OnePassCurves | None
    got10k: Got10kScores | None
    vot_lt: LongTermCurves | None
    oxuva: OxuvaCounts | None
    fps: float | None

    def summary(self) -> dict[str, float]:
        """The headline numbers, flat (keys present only for the requested metrics)."""
        scores: dict[str, float] = {'sequences': len(self.sequences),
                                    'frames': sum(s.num_frames for s in self.sequences)}
        if self.one_pass is not None:
            scores.update(success_auc=self.one_pass.auc, precision_20=self.one_pass.precision_20,
                          norm_precision_20=self.one_pass.normalized_precision_20)
        if self.got10k is not None:
            scores.update(got10k_ao=self.got10k.ao, got10k_sr50=self.got10k.sr50, got10k_sr75=self.got10k.sr75)
        if self.vot_lt is not None:
            scores.update(vot_lt_precision=self.vot_lt.best_precision, vot_lt_recall=self.vot_lt.best_recall,
                          vot_lt_f=self.vot_lt.best_f_score)
        if self.oxuva is not None:
            scores.update(oxuva_tpr=self.oxuva.tpr, oxuva_tnr=self.oxuva.tnr, oxuva_maxgm=self.oxuva.max_gm)
        if self.fps is not None:
            scores['fps'] = self.fps
        return scores

    def to_json(self) -> dict[str, object]:
        """Summary, curves and per-sequence one-pass scores as plain JSON types (NaN -> None)."""
        data: dict[str, object] = {'tracker': self.tracker, 'summary': _plain(self.summary())}
        curves: dict[str, object] = {}
        if self.one_pass is not None:
            curves.update(success=self.one_pass.success.tolist(), precision=self.one_pass.precision.tolist(),
                          norm_precision=self.one_pass.normalized_precision.tolist())
        if self.got10k is not None:
            curves['got10k_success'] = self.got10k.success_curve.tolist()
        if self.vot_lt is not None:
            curves.update(vot_lt_thresholds=_plain(self.vot_lt.thresholds.tolist()),
                          vot_lt_precision=self.vot_lt.precision.tolist(), vot_lt_recall=self.vot_lt.recall.tolist(),
                          vot_lt_f=self.vot_lt.f_score.tolist())
        data['curves'] = curves
        data['per_sequence'] = {
            s.name: _plain({'frames': s.num_frames, **({'success_auc': s.one_pass.auc,
                                                        'precision_20': s.one_pass.precision_20,
                                                        'norm_precision_20': s.one_pass.normalized_precision_20}
                                                       if s.one_pass is not None else {})})
            for s in self.sequences}
        return data


def check_metrics(metrics: Iterable[str]) -> tuple[str, ...]:
    """The metric names, validated against ``METRICS``."""
    names = tuple(metrics)
    unknown = [m for m in names if m not in METRICS]
    if unknown or not names:
        raise ValueError(f'metrics must be a non-empty subset of {METRICS}, got {list(names)}')
    return names


def evaluate_sequence(sequence: Sequence, boxes: np.ndarray, confidences: np.ndarray | None,
                      metrics: SequenceOf[str] = METRICS, image_size: tuple[int, int] | None = None,
                      presence_threshold: float = 0.0) -> SequenceEvaluation:
    """Per-frame results of one sequence.

    Args:
        sequence: with ground truth (``absent`` used where the benchmark gives it).
        boxes: ``[N', 4]`` xywh predictions, ``N' >= N``; extra rows are ignored (the LaSOT
            toolkit does the same for ``monkey-17``).
        confidences: ``[N']`` presence confidences, needed by ``vot_lt`` and ``oxuva``.
        metrics: names from ``METRICS``.
        image_size: ``(width, height)``; boxes are bounded to the image for ``got10k`` (the
            toolkit's way), ``vot_lt`` and ``oxuva`` (cropped), as those toolkits do.
        presence_threshold: OxUvA's predicted-present flag is ``confidence > presence_threshold``
            (the trackers here report confidence 0 exactly when they judge the target absent).

    Raises:
        ValueError: no ground truth, fewer predictions than frames, or a missing confidence.
    """
    metrics = check_metrics(metrics)
    truth = sequence.ground_truth
    if truth is None:
        raise ValueError(f'sequence {sequence.name!r} has no ground truth to evaluate against')
    boxes = np.asarray(boxes, dtype=np.float64)
    if len(boxes) < len(truth):
        raise ValueError(f'sequence {sequence.name!r}: {len(boxes)} result boxes for {len(truth)} frames')
    boxes = boxes[:len(truth)]
    if confidences is not None:
        confidences = np.asarray(confidences, dtype=np.float64)[:len(truth)]
    elif {'vot_lt', 'oxuva'} & set(metrics):
        raise ValueError(f'sequence {sequence.name!r}: vot_lt and oxuva need a confidence file')
    absent = sequence.absent if sequence.absent is not None else np.zeros(len(truth), dtype=bool)
    with np.errstate(invalid='ignore'):
        visible = ~absent & np.isfinite(truth).all(axis=1) & (truth[:, 2] > 0) & (truth[:, 3] > 0)

    one_pass = one_pass_curves(boxes, truth, sequence.absent) if _ONE_PASS & set(metrics) else None
    ious = got10k_frame_ious(boxes, truth, sequence.absent, image_size) if 'got10k' in metrics else None
    long_term = oxuva = None
    # Frame 0 is the given box: the long-term scores start at frame 1.
    later = slice(1, None)
    if 'vot_lt' in metrics:
        scored = boxes if image_size is None else clip_boxes_to_image(boxes, image_size)
        long_term = LongTermFrames(overlaps=long_term_overlaps(scored[later], truth[later], visible[later]),
                                   confidences=confidences[later], num_visible=int(visible[later].sum()))
    if 'oxuva' in metrics:
        oxuva = oxuva_counts(boxes[later], confidences[later] > presence_threshold, np.nan_to_num(truth[later]),
                             visible[later], image_size)
    return SequenceEvaluation(name=sequence.name, num_frames=len(truth), one_pass=one_pass, got10k_ious=ious,
                              long_term=long_term, oxuva=oxuva)


def aggregate(tracker: str, sequences: SequenceOf[SequenceEvaluation], fps: float | None = None,
              vot_lt_average: str = 'sequence') -> TrackerEvaluation:
    """Dataset scores from per-sequence results."""
    if not sequences:
        raise ValueError(f'{tracker}: no sequences to aggregate')
    one_pass = average_curves([s.one_pass for s in sequences]) if sequences[0].one_pass is not None else None
    got10k = got10k_scores([s.got10k_ious for s in sequences]) if sequences[0].got10k_ious is not None else None
    vot_lt = None
    if sequences[0].long_term is not None:
        vot_lt = vot_lt_curves([(s.long_term.overlaps, s.long_term.confidences, s.long_term.num_visible)
                                for s in sequences], average=vot_lt_average)
    oxuva = None
    if sequences[0].oxuva is not None:
        oxuva = sum((s.oxuva for s in sequences), OxuvaCounts())
    return TrackerEvaluation(tracker=tracker, sequences=list(sequences), one_pass=one_pass, got10k=got10k,
                             vot_lt=vot_lt, oxuva=oxuva, fps=fps)


def evaluate_results_folder(results_dir: str | Path, sequences: Iterable[Sequence],
                            metrics: SequenceOf[str] = METRICS, presence_threshold: float = 0.0) -> TrackerEvaluation:
    """Reads ``results_dir`` (either result layout, see ``results``) and scores it on ``sequences``.

    The frame rate is the mean over sequences of (frames / tracking time) of frames 1..N-1 where
    time files exist (the got10k toolkit's way), else None. ``sequences`` may be wrapped in a
    progress bar (any iterable).

    Raises:
        FileNotFoundError: a sequence's result file is missing (the message names it).
    """
    results_dir = Path(results_dir)
    metrics = check_metrics(metrics)
    evaluations, speeds = [], []
    for sequence in sequences:
        boxes, confidences = read_results(results_dir, sequence.name)
        image_size = None
        if _NEED_IMAGE_SIZE & set(metrics):
            height, width = sequence.read_frame(0).shape[:2]
            image_size = (width, height)
        evaluations.append(evaluate_sequence(sequence, boxes, confidences, metrics, image_size, presence_threshold))
        times = read_times(results_dir, sequence.name)
        if times is not None and len(times) > 1 and np.sum(times[1:]) > 0:
            speeds.append((len(times) - 1) / float(np.sum(times[1:])))
    fps = float(np.mean(speeds)) if speeds else None
    return aggregate(results_dir.name, evaluations, fps)


def _plain(value: object) -> object:
    """JSON-safe: NaN and infinities become None, NumPy scalars Python numbers."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value
