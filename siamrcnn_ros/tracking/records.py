"""Plain data passed into and out of the tracking components: detections, references, results.

Boxes are ``xyxy`` float64 pixels of the full-resolution image (see ``siamrcnn_ros.boxes``).
Features are an opaque per-detection payload (for the model: RoI features, a tensor ``[D, 256, 7, 7]``);
the tracking components only keep, index and release them, never look inside. Any object with
``len()`` and integer indexing of the first dimension works: a torch tensor, a NumPy array, a list.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

Features = Any
"""Per-detection payload, first dimension = detections (e.g. torch ``[D, 256, 7, 7]``), or ``None``."""


def as_boxes(boxes: Any, name: str = 'boxes') -> np.ndarray:
    """A float64 copy of ``boxes`` checked to be ``[N, 4]``; ``ValueError`` naming the shape otherwise."""
    out = np.array(boxes, dtype=np.float64)  # a copy: the caller may reuse its buffer
    if out.ndim != 2 or out.shape[1] != 4:
        raise ValueError(f'{name} must have shape [N, 4] (xyxy pixels), got {out.shape}')
    return out


def as_scores(values: Any, length: int, name: str) -> np.ndarray:
    """A float64 copy of ``values`` checked to be ``[length]``; ``ValueError`` naming the shape otherwise."""
    out = np.array(values, dtype=np.float64)
    if out.shape != (length,):
        raise ValueError(f'{name} must have shape [{length}] (one per detection), got {out.shape}')
    return out


def detached_row(row: Any) -> Any:
    """A copy of one payload row that does not keep the rest of its frame's batch alive.

    Indexing a torch tensor or NumPy array gives a view of the whole batch; a copy lets it go.
    Other payloads (list elements) are returned as they are.
    """
    if hasattr(row, 'clone'):  # torch.Tensor
        return row.clone()
    if isinstance(row, np.ndarray):
        return row.copy()
    return row


@dataclass(frozen=True)
class Detections:
    """The re-detections of one frame (Alg. 1, line 4), as TDPA consumes them.

    Attributes:
        boxes: ``[D, 4]`` float64 xyxy pixels.
        ff_scores: ``[D]`` float64, re-detection score against the first-frame template, in [0, 1].
        ff_tracklet_scores: ``[D]`` float64, pair score against the latest detection of the first-frame
            tracklet (``References.ff_box`` / ``ff_features``), in [0, 1].
        features: payload with first dimension ``D`` (RoI features), or ``None``.
    """

    boxes: np.ndarray
    ff_scores: np.ndarray
    ff_tracklet_scores: np.ndarray
    features: Features = None

    def __post_init__(self) -> None:
        boxes = as_boxes(self.boxes)
        n = boxes.shape[0]
        ff = as_scores(self.ff_scores, n, 'ff_scores')
        fft = as_scores(self.ff_tracklet_scores, n, 'ff_tracklet_scores')
        if not (np.isfinite(ff).all() and np.isfinite(fft).all()):
            raise ValueError(f'ff_scores and ff_tracklet_scores must be finite, got {ff} and {fft}')
        if self.features is not None and len(self.features) != n:
            raise ValueError(f'features must have one entry per detection ({n}), got {len(self.features)}')
        object.__setattr__(self, 'boxes', boxes)
        object.__setattr__(self, 'ff_scores', ff)
        object.__setattr__(self, 'ff_tracklet_scores', fft)

    def __len__(self) -> int:
        return self.boxes.shape[0]

    @classmethod
    def empty(cls) -> Detections:
        """No detection in this frame (``D = 0``)."""
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros(0))


@dataclass(frozen=True)
class References:
    """What the pair scorer needs for the next frame (Alg. 1, line 6, and the ff_tracklet_score).

    Attributes:
        tracklet_ids: ``[R]`` int64, the active tracklets in the order of the rows of the next
            pair-score matrix ``[R, D_next]``.
        boxes: ``[R, 4]`` float64 xyxy pixels, the latest detection of each active tracklet.
        features: payload ``[R, ...]`` of those detections (the object passed in), or ``None``.
        ff_box: ``[4]`` float64 xyxy pixels, the latest detection of the first-frame tracklet ``a_ff``.
        ff_features: that detection's payload row, or ``None``.
    """

    tracklet_ids: np.ndarray
    boxes: np.ndarray
    features: Features
    ff_box: np.ndarray
    ff_features: Features

    def __len__(self) -> int:
        return self.tracklet_ids.shape[0]


@dataclass(frozen=True)
class TrackletInfo:
    """One tracklet as the outside sees it.

    Attributes:
        tracklet_id: unique within one ``init``; ``0`` is the first-frame tracklet ``a_ff``.
        box: ``[4]`` float64 xyxy pixels of its latest detection.
        present: whether it has a detection in the current frame.
        theta: dynamic-programming score θ (Eq. 1, §3.3); ``-inf`` where no track from ``a_ff`` reaches it.
        similarity: ``ff_score`` of its latest detection, in [0, 1].
        start_frame: frame index of its first detection (the ``init`` frame is 0).
        length: number of detections (one per frame from start to end).
    """

    tracklet_id: int
    box: np.ndarray
    present: bool
    theta: float
    similarity: float
    start_frame: int
    length: int


@dataclass(frozen=True)
class TrackletTable:
    """Several tracklets as arrays (the distractors), row ``i`` describes one tracklet.

    Attributes:
        tracklet_ids: ``[K]`` int64.
        boxes: ``[K, 4]`` float64 xyxy pixels of the latest detections.
        theta: ``[K]`` float64 dynamic-programming scores (``-inf`` where unreachable from ``a_ff``).
        similarity: ``[K]`` float64 ``ff_score`` of the latest detections.
        start_frames: ``[K]`` int64.
        lengths: ``[K]`` int64.
    """

    tracklet_ids: np.ndarray
    boxes: np.ndarray
    theta: np.ndarray
    similarity: np.ndarray
    start_frames: np.ndarray
    lengths: np.ndarray

    def __len__(self) -> int:
        return self.tracklet_ids.shape[0]

    @classmethod
    def empty(cls) -> TrackletTable:
        return cls(np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0), np.zeros(0),
                   np.zeros(0, np.int64), np.zeros(0, np.int64))


@dataclass(frozen=True)
class TrackResult:
    """The tracker's answer for one frame.

    Attributes:
        frame: frame index (the ``init`` frame is 0).
        box: ``[4]`` float64 xyxy pixels; when the object is absent, the most recent box of the
            selected tracklet (paper §3.3: benchmarks that need a box in every frame use it).
        present: whether the object is judged visible in this frame.
        confidence: presence confidence in [0, 1]; 0 when absent.
        selected: the tracklet the box comes from (TDPA's ``â``), ``None`` for selectors without tracklets.
        distractors: the other tracklets with a detection in this frame.
    """

    frame: int
    box: np.ndarray
    present: bool
    confidence: float
    selected: TrackletInfo | None
    distractors: TrackletTable
