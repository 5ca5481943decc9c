"""TDPA's inputs, recorded once from a tracker run and replayed under other settings.

What TDPA receives at frame ``t`` is the frame's re-detections (boxes, ``ff_scores``,
``ff_tracklet_scores``) and their pair scores against the previous frame's detections. None of it
depends on the settings that only score tracks (``w_ff``, ``w_loc``, ``max_gap``, ``unary_offset``,
``rival_weight``): every detection of a frame ends up in exactly one tracklet, so the references of
frame ``t`` are all detections of frame ``t - 1`` whatever the tracklets are (``tdpa.py``), and the
tracker adds the same boxes to the RPN proposals. Only ``ff_tracklet_scores`` follow the first-frame
tracklet's latest detection, which the association settings decide (``ASSOCIATION_FIELDS``). A
recording therefore replays *exactly* under any settings with the same association fields, in
under a millisecond per frame instead of a network pass: that is how ``benchmarks/tdpa_sweep.py`` tunes TDPA.

    tracker = Tracker(model, TrackerSettings(tdpa=settings), selector_factory=recording_selector)
    ... track ...
    inputs = tracker.selector.inputs                  # a TDPAInputs
    inputs.save('ellipse-1.npz'); inputs = TDPAInputs.load('ellipse-1.npz')
    results = replay(inputs, dataclasses.replace(settings, w_loc=0.0))
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from siamrcnn_ros.tracking.records import Detections, Features, TrackResult
from siamrcnn_ros.tracking.settings import TDPASettings
from siamrcnn_ros.tracking.tdpa import TDPA
from siamrcnn_ros.tracking.tracker import TrackerSettings

ASSOCIATION_FIELDS = ('alpha', 'beta', 'ff_min_score')
"""``TDPASettings`` fields that change what TDPA is fed (through the first-frame tracklet): a replay must
use the recording's values."""

PER_FRAME_ARRAYS = ('counts', 'image_sizes', 'boxes', 'ff_scores', 'ff_tracklet_scores', 'pair_scores')
"""``TDPAInputs`` fields that grow by one entry (or block) per ``update``, in file and recording order."""


@dataclass
class TDPAInputs:
    """Everything one TDPA received from ``init`` on, frame by frame, without the feature payloads.

    Attributes:
        settings: the settings of the recorded run (its association fields bind every replay).
        first_box: ``[4]`` float64 xyxy pixels given to ``init``.
        counts: ``[T]`` int64 detections ``D_t`` of each frame after the first.
        image_sizes: ``[T, 2]`` int64 ``(height, width)`` pixels of each of those frames.
        boxes: ``[ΣD, 4]`` float64 xyxy pixels, the frames' detections one after the other.
        ff_scores: ``[ΣD]`` float64, in [0, 1].
        ff_tracklet_scores: ``[ΣD]`` float64, in [0, 1].
        pair_scores: ``[Σ R_t·D_t]`` float64, each frame's ``[R_t, D_t]`` matrix flattened row by row
            (``R_t = D_{t-1}``, ``R_1 = 1``: the first box); −inf where gated out.
    """

    settings: TDPASettings
    first_box: np.ndarray
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    image_sizes: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64))
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    ff_scores: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ff_tracklet_scores: np.ndarray = field(default_factory=lambda: np.zeros(0))
    pair_scores: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __len__(self) -> int:
        """Frames after the first (= ``update`` calls)."""
        return int(self.counts.shape[0])

    def frames(self) -> Iterator[tuple[Detections, np.ndarray, tuple[int, int]]]:
        """``(detections, pair_scores [R, D], (height, width))`` of each update, in order."""
        box_at = pair_at = 0
        rows = 1
        for count, size in zip(self.counts.tolist(), self.image_sizes.tolist(), strict=True):
            span = slice(box_at, box_at + count)
            detections = Detections(self.boxes[span], self.ff_scores[span], self.ff_tracklet_scores[span])
            pairs = self.pair_scores[pair_at:pair_at + rows * count].reshape(rows, count)
            yield detections, pairs, (int(size[0]), int(size[1]))
            box_at, pair_at, rows = box_at + count, pair_at + rows * count, count

    def save(self, path: str | Path) -> None:
        """Writes an ``.npz`` (plain arrays, no pickle); the settings go in as JSON."""
        arrays = {name: getattr(self, name) for name in ('first_box', *PER_FRAME_ARRAYS)}
        arrays['settings_json'] = np.array(json.dumps(dataclasses.asdict(self.settings)))
        np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> TDPAInputs:
        """Reads what ``save`` wrote; ``ValueError`` naming the file when it is not such a recording."""
        try:
            with np.load(path, allow_pickle=False) as data:
                settings = TDPASettings(**json.loads(str(data['settings_json'])))
                inputs = cls(settings, *(np.array(data[name]) for name in ('first_box', *PER_FRAME_ARRAYS)))
        except (KeyError, TypeError, json.JSONDecodeError) as error:
            raise ValueError(f'{path} is not a TDPA input recording: {error}') from error
        expected_pairs = int(np.dot(np.concatenate(([1], inputs.counts[:-1])), inputs.counts)) if len(inputs) else 0
        if inputs.boxes.shape != (int(inputs.counts.sum()), 4) or inputs.pair_scores.shape != (expected_pairs,):
            raise ValueError(f'{path}: the arrays do not match the per-frame counts')
        return inputs


class RecordingTDPA(TDPA):
    """A ``TDPA`` that also keeps its inputs (``inputs``), for ``replay``. Same results as ``TDPA``.

    Memory grows with the stream (about 50 bytes per detection plus 8 per pair score): for offline
    runs on finite videos, not for the node.
    """

    def __init__(self, settings: TDPASettings | None = None) -> None:
        super().__init__(settings)
        self._first_box: np.ndarray | None = None
        self._parts: dict[str, list[np.ndarray]] = {}

    @property
    def inputs(self) -> TDPAInputs:
        """The inputs since the last ``init`` (assembled on each access)."""
        if self._first_box is None:
            raise RuntimeError('RecordingTDPA.init(box) must be called before its inputs exist')
        inputs = TDPAInputs(self.settings, self._first_box.copy())
        if self._parts['counts']:
            for name, parts in self._parts.items():
                setattr(inputs, name, np.concatenate(parts))
            inputs.boxes = inputs.boxes.reshape(-1, 4)
        return inputs

    def init(self, box: np.ndarray, features: Features = None) -> TrackResult:
        result = super().init(box, features)
        self._first_box = np.array(box, dtype=np.float64).reshape(4)
        self._parts = {name: [] for name in PER_FRAME_ARRAYS}
        return result

    def update(self, detections: Detections, pair_scores: np.ndarray, image_size: tuple[int, int]) -> TrackResult:
        result = super().update(detections, pair_scores, image_size)  # validates the inputs first
        parts = self._parts
        parts['counts'].append(np.array([len(detections)], dtype=np.int64))
        parts['image_sizes'].append(np.array([image_size], dtype=np.int64).reshape(1, 2))
        parts['boxes'].append(detections.boxes)
        parts['ff_scores'].append(detections.ff_scores)
        parts['ff_tracklet_scores'].append(detections.ff_tracklet_scores)
        parts['pair_scores'].append(np.array(pair_scores, dtype=np.float64).ravel())
        return result


def recording_selector(settings: TrackerSettings) -> RecordingTDPA:
    """The ``selector_factory`` of a ``Tracker`` / ``MultiTracker`` whose targets record their TDPA inputs.

    Raises:
        ValueError: ``settings.variant`` is not ``'tdpa'`` (only TDPA has inputs to record).
    """
    if settings.variant != 'tdpa':
        raise ValueError(f"only the 'tdpa' variant records its inputs, got {settings.variant!r}")
    return RecordingTDPA(settings.tdpa)


def replay(inputs: TDPAInputs, settings: TDPASettings | None = None) -> list[TrackResult]:
    """TDPA's results on recorded inputs: frame 0 (``init``) and one per recorded update.

    Args:
        inputs: the recording.
        settings: the settings to replay with; the recording's by default. Their ``ASSOCIATION_FIELDS``
            must equal the recording's (``ValueError`` otherwise): with others, TDPA would have been fed
            other ``ff_tracklet_scores``.

    Returns:
        ``len(inputs) + 1`` results, identical to those of a live TDPA with these settings on the same
        stream.
    """
    settings = inputs.settings if settings is None else settings
    changed = [name for name in ASSOCIATION_FIELDS if getattr(settings, name) != getattr(inputs.settings, name)]
    if changed:
        recorded = {name: getattr(inputs.settings, name) for name in changed}
        raise ValueError(f'cannot replay with other {", ".join(changed)} than recorded ({recorded}): they change '
                         "the first-frame tracklet and so TDPA's inputs; record again with those values")
    tdpa = TDPA(settings)
    results = [tdpa.init(inputs.first_box)]
    results.extend(tdpa.update(detections, pairs, size) for detections, pairs, size in inputs.frames())
    return results
