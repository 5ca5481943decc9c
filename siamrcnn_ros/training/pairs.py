"""Reference / target frame pairs for training the re-detection head (SPEC §4, paper §3.2).

A pair is one object of one video seen in two frames: the head learns to re-detect, in the target
frame, the object whose template comes from the reference frame. Both frames must show the object
(a finite box of positive area) and lie at most ``max_frame_gap`` frames apart. A one-frame video
(COCO-like still images) gives the same frame twice; the two copies are augmented independently.

Sampling is a pure function of ``(seed, step, index)``: resuming at step ``s`` draws exactly the pairs
an uninterrupted run would have drawn, with no sampler state to save.

The videos are ``AnnotatedVideo`` objects (``siamrcnn_ros.datasets.videos``); anything with the same
fields works (``frames``, ``boxes [O, N, 4]``, ``visible(obj)``, ``read_frame(i)``, ``name``).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Pair:
    """One training pair.

    Attributes:
        video: the ``AnnotatedVideo`` both frames come from.
        obj: index of the target object in ``video.object_ids``.
        reference: frame index of the reference (template) frame.
        target: frame index of the target (search) frame; equals ``reference`` for one-frame videos.
        companions: indices of further objects visible in both frames that also serve as references
            against the same target frame (``PairSettings.objects_per_pair``); empty by default.
    """

    video: Any
    obj: int
    reference: int
    target: int
    companions: tuple[int, ...] = ()

    @property
    def objects(self) -> tuple[int, ...]:
        """The reference objects: ``obj`` first, then the companions."""
        return (self.obj, *self.companions)

    @property
    def reference_box(self) -> np.ndarray:
        """``[4]`` float64 xyxy pixels of the object in the reference frame."""
        return np.asarray(self.video.boxes[self.obj, self.reference], dtype=np.float64)

    @property
    def reference_boxes(self) -> np.ndarray:
        """``[M, 4]`` float64 xyxy pixels of ``objects`` in the reference frame."""
        return np.asarray(self.video.boxes[list(self.objects), self.reference], dtype=np.float64).reshape(-1, 4)

    def target_boxes(self) -> tuple[np.ndarray, tuple[int, ...]]:
        """All visible objects' boxes in the target frame and the row of each of ``objects`` among them.

        Returns:
            ``([K, 4] float64 xyxy pixels, rows)``: every object with a visible box in the target frame (the
            other objects are the distractors the head must reject) and, for ``obj`` and each companion, its row.

        Raises:
            ValueError: one of ``objects`` is not visible in the target frame.
        """
        boxes = np.asarray(self.video.boxes[:, self.target], dtype=np.float64)  # [O, 4]
        visible = visible_boxes(boxes)  # [O]
        missing = [obj for obj in self.objects if not visible[obj]]
        if missing:
            raise ValueError(f'objects {missing} are not visible in frame {self.target} of {self.video.name!r}')
        return boxes[visible], tuple(int(np.count_nonzero(visible[:obj])) for obj in self.objects)


class PairSampler:
    """Draws pairs from several datasets (lists of videos) with given weights, deterministically.

    A draw picks a dataset by weight, a video uniformly among its videos that have an object visible
    at all, an object uniformly among that video's visible objects, a reference frame uniformly among
    the object's visible frames, and a target frame uniformly among its visible frames within
    ``max_frame_gap`` of the reference (the reference itself included only when it is the only one).

    Args:
        datasets: one sequence of videos per dataset.
        weights: relative probability of each dataset (positive), same length as ``datasets``.
        max_frame_gap: the largest ``|target - reference|``.
        seed: with ``(step, index)`` decides every draw.
        objects_per_pair: the drawn object plus up to this many minus one companions, drawn uniformly among the
            other objects visible in both frames (drawn after everything else, so 1 gives the same pairs).

    Raises:
        ValueError: no dataset, a dataset without any visible object, bad weights or gap.
    """

    def __init__(self, datasets: Sequence[Sequence[Any]], weights: Sequence[float], *, max_frame_gap: int,
                 seed: int, objects_per_pair: int = 1) -> None:
        if not datasets:
            raise ValueError('need at least one dataset of videos, got none')
        if len(weights) != len(datasets):
            raise ValueError(f'need one weight per dataset: {len(datasets)} datasets, {len(weights)} weights')
        if any(not w > 0 for w in weights):
            raise ValueError(f'dataset weights must be > 0, got {list(weights)}')
        if max_frame_gap < 0:
            raise ValueError(f'max_frame_gap must be >= 0, got {max_frame_gap}')
        if objects_per_pair < 1:
            raise ValueError(f'objects_per_pair must be >= 1, got {objects_per_pair}')
        self.max_frame_gap = int(max_frame_gap)
        self.objects_per_pair = int(objects_per_pair)
        self.seed = int(seed)
        # Per dataset: (video, [(object index, visible frame indices)]) for the videos with anything visible.
        self._entries: list[list[tuple[Any, list[tuple[int, np.ndarray]]]]] = []
        for number, videos in enumerate(datasets):
            entries = []
            for video in videos:
                objects = [(obj, np.flatnonzero(visible_boxes(np.asarray(video.boxes[obj], dtype=np.float64))))
                           for obj in range(len(video.boxes))]
                objects = [(obj, frames) for obj, frames in objects if len(frames)]
                if objects:
                    entries.append((video, objects))
            if not entries:
                raise ValueError(f'dataset {number} has no video with a visible object ({len(videos)} videos)')
            self._entries.append(entries)
        total = float(sum(weights))
        self._probabilities = np.array([w / total for w in weights], dtype=np.float64)

    def sample(self, step: int, index: int) -> Pair:
        """The ``index``-th pair of training step ``step`` (the same for the same seed, step and index)."""
        rng = np.random.default_rng([self.seed, int(step), int(index)])
        entries = self._entries[int(rng.choice(len(self._entries), p=self._probabilities))]
        video, objects = entries[int(rng.integers(len(entries)))]
        obj, frames = objects[int(rng.integers(len(objects)))]
        reference = int(frames[rng.integers(len(frames))])
        near = frames[(np.abs(frames - reference) <= self.max_frame_gap) & (frames != reference)]
        target = int(near[rng.integers(len(near))]) if len(near) else reference
        companions: tuple[int, ...] = ()
        if self.objects_per_pair > 1:
            both = visible_boxes(np.asarray(video.boxes[:, [reference, target]], dtype=np.float64)).all(axis=1)
            both[obj] = False
            candidates = np.flatnonzero(both)
            chosen = rng.permutation(len(candidates))[:self.objects_per_pair - 1]
            companions = tuple(int(candidates[i]) for i in chosen)
        return Pair(video=video, obj=obj, reference=reference, target=target, companions=companions)

    def batch(self, step: int, size: int) -> list[Pair]:
        """The ``size`` pairs of training step ``step``."""
        return [self.sample(step, index) for index in range(size)]


def visible_boxes(boxes: np.ndarray) -> np.ndarray:
    """``[..., 4]`` xyxy -> ``[...]`` bool: finite with positive width and height (the AnnotatedVideo rule)."""
    finite = np.isfinite(boxes).all(axis=-1)
    with np.errstate(invalid='ignore'):
        return finite & (boxes[..., 2] > boxes[..., 0]) & (boxes[..., 3] > boxes[..., 1])
