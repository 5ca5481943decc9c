"""DAVIS scores of a mask result folder: per object J, F and J_box over the scored frames, their
mean / recall / decay statistics, and the dataset averages (SPEC §8; the DAVIS 2017
semi-supervised protocol).

Per object of each sequence (an object is scored on every scored frame, also where the truth has
no pixel of it: an empty prediction there scores 1, anything else 0):

* mean: average over the scored frames;
* recall: fraction of scored frames with a value > 0.5;
* decay: mean of the first quarter of the scored frames minus the mean of the last quarter (the
  toolkit's 4 bins, whose edges are shared by neighbouring bins).

Dataset: every statistic averaged over all objects of all sequences (not over sequences), and
J&F = (J mean + F mean) / 2.

A box tracker's result folder (``results`` layout, no mask PNGs) is scored too, on J_box only:
its box against the box of the ground-truth mask (one scored object per sequence); J and F are NaN.

Scored frames: the DAVIS 2017 semi-supervised evaluation leaves out the first frame (its mask is
given to the tracker) and the last one; ``frames='davis'`` does the same. ``'after_first'`` keeps
the last frame (the tracking benchmarks' convention), ``'all'`` scores every frame.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from siamrcnn_ros.boxes import xywh_to_xyxy
from siamrcnn_ros.evaluation.mask_ground_truth import MaskSequence
from siamrcnn_ros.evaluation.mask_results import read_mask_result
from siamrcnn_ros.evaluation.masks import (
    DAVIS_BOUNDARY_THRESHOLD,
    box_similarity,
    contour_accuracy,
    region_similarity,
)
from siamrcnn_ros.evaluation.results import read_results

FRAME_SELECTIONS = ('davis', 'after_first', 'all')
DECAY_BINS = 4
RECALL_THRESHOLD = 0.5


def scored_frames(num_frames: int, frames: str = 'davis') -> np.ndarray:
    """``[T]`` int64 indices of the frames scored in a sequence of ``num_frames`` (see the module docstring)."""
    if frames not in FRAME_SELECTIONS:
        raise ValueError(f'frames must be one of {FRAME_SELECTIONS}, got {frames!r}')
    if num_frames < 0:
        raise ValueError(f'num_frames must be >= 0, got {num_frames}')
    start = 0 if frames == 'all' else 1
    stop = num_frames - 1 if frames == 'davis' else num_frames
    return np.arange(start, max(stop, start), dtype=np.int64)


@dataclass(frozen=True)
class FrameStatistics:
    """Mean, recall (share > 0.5) and decay (first quarter minus last quarter) of per-frame values."""

    mean: float
    recall: float
    decay: float


def frame_statistics(values: np.ndarray) -> FrameStatistics:
    """DAVIS statistics of ``[T]`` per-frame values in frame order (all NaN when ``T = 0`` or a
    value is NaN, i.e. not measured).

    The decay bins: edges ``e_i = round(i (T - 1) / 4)``, ``i = 0..4``, halves rounded up; bin i
    holds frames ``e_i..e_{i+1}`` inclusive, so neighbouring bins share their edge frame (the
    DAVIS toolkit's binning).
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f'values must be [T], got shape {values.shape}')
    if values.size == 0 or np.isnan(values).any():
        return FrameStatistics(math.nan, math.nan, math.nan)
    edges = np.floor(np.linspace(0, len(values) - 1, DECAY_BINS + 1) + 0.5).astype(np.int64)  # [5]
    first = values[edges[0]:edges[1] + 1]
    last = values[edges[-2]:edges[-1] + 1]
    return FrameStatistics(mean=float(values.mean()), recall=float(np.mean(values > RECALL_THRESHOLD)),
                           decay=float(first.mean() - last.mean()))


@dataclass(frozen=True, eq=False)
class ObjectEvaluation:
    """One object of one sequence: per-frame J, F and J_box over the scored frames.

    Attributes:
        sequence: the sequence name.
        object_id: the dataset's name of the object.
        frames: ``[T]`` int64 indices of the scored frames.
        j, f, j_box: ``[T]`` float64 per-frame values.
    """

    sequence: str
    object_id: str
    frames: np.ndarray
    j: np.ndarray
    f: np.ndarray
    j_box: np.ndarray

    @property
    def j_statistics(self) -> FrameStatistics:
        return frame_statistics(self.j)

    @property
    def f_statistics(self) -> FrameStatistics:
        return frame_statistics(self.f)


def evaluate_mask_sequence(sequence: MaskSequence, read_prediction: Callable[[int], np.ndarray],
                           frames: str = 'davis',
                           bound_th: float = DAVIS_BOUNDARY_THRESHOLD) -> list[ObjectEvaluation]:
    """Scores every object of ``sequence`` on its scored frames.

    Args:
        sequence: the ground truth.
        read_prediction: frame index -> ``[H, W]`` integer result mask (k = the k-th object of
            ``sequence.object_values``, 0 = background), e.g. ``read_mask_result`` bound to a folder.
        frames: which frames to score, one of ``FRAME_SELECTIONS``.
        bound_th: F's boundary tolerance (``masks.boundary_tolerance``).

    Returns:
        One ``ObjectEvaluation`` per object, in ``sequence.object_values`` order.

    Raises:
        ValueError: no frame left to score, a result mask of another size than the annotation, or
            a result value above the number of objects (the DAVIS toolkit refuses those too; an
            object the result never shows simply scores 0 where the truth has it).
    """
    indices = scored_frames(len(sequence), frames)
    if indices.size == 0:
        raise ValueError(f'sequence {sequence.name!r}: {len(sequence)} frames leave none to score '
                         f'with frames={frames!r}')
    count = len(sequence.object_values)
    scores = np.zeros((3, count, len(indices)))  # [J/F/J_box, O, T]
    for column, frame in enumerate(indices):
        truth = sequence.read_truth(int(frame))
        prediction = np.asarray(read_prediction(int(frame)))
        if prediction.shape != truth.shape:
            raise ValueError(f'sequence {sequence.name!r}, frame {frame}: result mask is {prediction.shape}, '
                             f'the annotation {truth.shape}')
        if prediction.size and (prediction.min() < 0 or prediction.max() > count):
            raise ValueError(f'sequence {sequence.name!r}, frame {frame}: result values '
                             f'{int(prediction.min())}..{int(prediction.max())}, but only objects 1..{count} exist')
        void = truth == sequence.void_value if sequence.void_value is not None else None
        for k, value in enumerate(sequence.object_values):
            predicted, true = prediction == k + 1, truth == value
            scores[0, k, column] = region_similarity(predicted, true, void)
            scores[1, k, column] = contour_accuracy(predicted, true, void, bound_th)
            scores[2, k, column] = box_similarity(predicted, true, void)
    return [ObjectEvaluation(sequence=sequence.name, object_id=object_id, frames=indices, j=scores[0, k],
                             f=scores[1, k], j_box=scores[2, k])
            for k, object_id in enumerate(sequence.object_ids)]


def evaluate_box_sequence(sequence: MaskSequence, boxes: np.ndarray, frames: str = 'davis') -> list[ObjectEvaluation]:
    """J_box of a box tracker's boxes against the masks of the sequence's one scored object.

    Args:
        sequence: the ground truth, with exactly one scored object (e.g. the synthetic target).
        boxes: ``[N', 4]`` float xyxy pixels, ``N' >= N``; a row with NaN or no area means "no
            box" (scores 1 where the object has no pixel, else 0).
        frames: which frames to score, one of ``FRAME_SELECTIONS``.

    Returns:
        One ``ObjectEvaluation`` whose ``j`` and ``f`` are NaN (a box has no region or contour).

    Raises:
        ValueError: several scored objects, too few boxes, or no frame left to score.
    """
    if len(sequence.object_values) != 1:
        raise ValueError(f'sequence {sequence.name!r}: box results hold one object, but {len(sequence.object_values)} '
                         'are scored (score the target only)')
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or len(boxes) < len(sequence):
        raise ValueError(f'sequence {sequence.name!r}: need [N >= {len(sequence)}, 4] boxes, got shape {boxes.shape}')
    indices = scored_frames(len(sequence), frames)
    if indices.size == 0:
        raise ValueError(f'sequence {sequence.name!r}: {len(sequence)} frames leave none to score '
                         f'with frames={frames!r}')
    with np.errstate(invalid='ignore'):
        empty = ~((boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1]))  # [N'], NaN compares False
    boxes = np.where(empty[:, None], np.nan, boxes)  # [N', 4]
    j_box = np.array([box_similarity(boxes[t], sequence.read_truth(int(t)) == sequence.object_values[0])
                      for t in indices])
    nan = np.full(len(indices), np.nan)
    return [ObjectEvaluation(sequence=sequence.name, object_id=sequence.object_ids[0], frames=indices, j=nan,
                             f=nan.copy(), j_box=j_box)]


@dataclass(frozen=True, eq=False)
class MaskEvaluation:
    """A mask result folder's DAVIS scores over a dataset.

    Attributes:
        tracker: the result folder's name.
        sequences: the sequence names, in evaluation order.
        objects: every scored object of every sequence.
    """

    tracker: str
    sequences: list[str]
    objects: list[ObjectEvaluation]

    def summary(self) -> dict[str, float]:
        """Counts (``frames``: scored frames over all sequences) and the headline numbers, each
        averaged over objects: ``davis_j_mean``, ``davis_j_recall``,
        ``davis_j_decay``, the same for ``f``, ``davis_jf`` (J&F) and ``davis_j_box``."""
        scored = {o.sequence: len(o.frames) for o in self.objects}  # objects of a sequence share its frames
        scores: dict[str, float] = {'sequences': len(self.sequences), 'objects': len(self.objects),
                                    'frames': sum(scored.values())}
        for name in ('j', 'f'):
            statistics = [getattr(o, f'{name}_statistics') for o in self.objects]
            for field in ('mean', 'recall', 'decay'):
                scores[f'davis_{name}_{field}'] = _mean(getattr(s, field) for s in statistics)
        scores['davis_jf'] = (scores['davis_j_mean'] + scores['davis_f_mean']) / 2
        scores['davis_j_box'] = _mean(float(o.j_box.mean()) for o in self.objects)
        return scores

    def to_json(self) -> dict[str, object]:
        """Summary and per-object statistics as plain JSON types (NaN -> None)."""
        per_object = []
        for o in self.objects:
            j, f = o.j_statistics, o.f_statistics
            per_object.append({'sequence': o.sequence, 'object': o.object_id, 'frames': len(o.frames),
                               'j_mean': j.mean, 'j_recall': j.recall, 'j_decay': j.decay, 'f_mean': f.mean,
                               'f_recall': f.recall, 'f_decay': f.decay, 'j_box': float(o.j_box.mean())})
        return {'tracker': self.tracker, 'summary': _finite(self.summary()),
                'per_object': [_finite(row) for row in per_object]}


def evaluate_mask_folder(results_dir: str | Path, sequences: Iterable[MaskSequence], frames: str = 'davis',
                         bound_th: float = DAVIS_BOUNDARY_THRESHOLD) -> MaskEvaluation:
    """Scores ``results_dir`` on ``sequences`` (any iterable, e.g. a progress bar): a sequence with
    PNGs in ``<results_dir>/<sequence>/`` as masks (``mask_results`` layout), else its box result
    file (``results`` layout) on J_box only.

    Raises:
        FileNotFoundError: a scored frame's result PNG is missing, or a sequence has neither (the
            message names the expected files).
        ValueError: see ``evaluate_mask_sequence`` and ``evaluate_box_sequence``; or no sequence.
    """
    results_dir = Path(results_dir)
    names, objects = [], []
    for sequence in sequences:
        names.append(sequence.name)
        if any((results_dir / sequence.name).glob('*.png')):
            objects.extend(evaluate_mask_sequence(
                sequence, lambda frame, name=sequence.name: read_mask_result(results_dir, name, frame), frames,
                bound_th))
            continue
        try:
            boxes, _ = read_results(results_dir, sequence.name)
        except FileNotFoundError as error:
            raise FileNotFoundError(f'no mask result for sequence {sequence.name!r} '
                                    f'({results_dir / sequence.name}/00000.png, ...), and {error}') from None
        objects.extend(evaluate_box_sequence(sequence, xywh_to_xyxy(boxes), frames))
    if not names:
        raise ValueError(f'{results_dir.name}: no sequences to evaluate')
    return MaskEvaluation(tracker=results_dir.name, sequences=names, objects=objects)


def _mean(values: Iterable[float]) -> float:
    """Mean, NaN for no values (or when one is NaN: a box-only result has no J or F)."""
    values = list(values)
    return float(np.mean(values)) if values else math.nan


def _finite(row: dict[str, object]) -> dict[str, object]:
    """NaN and infinities as None, for JSON."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
