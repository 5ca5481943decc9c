"""The node's tracking state without ROS: target ids, pending requests, the trackers, per-target frame stamps.

Threads: the ROS callbacks (executor thread) *request* changes: ``request_box``, ``request_click``,
``request_clear``, ``reset``. They assign and check target ids at once (so a service can answer with the
id) and queue a command. The worker thread alone touches the trackers: ``process(frame)`` applies the
queued commands in order, then tracks the frame. So the trackers need no lock and a request never waits
for inference.

Target frames (TargetRequest.msg): a box carries the stamp of the frame it was drawn on. ``process``
starts it on the buffered frame with that stamp or the nearest one: ``MultiTracker.add`` on an older
frame, then the normal step on the current one (issue 5). A zero stamp means the current frame.

Runtime TDPA changes: a target's tracklet graph was built under the values it started with, so a change
applies to targets set afterwards. One ``MultiTracker`` holds every target with the settings it started with;
a frame costs one backbone pass whatever the mix of settings and clicks (a click is resolved on the frame's
features before the step uses them).

Masks (Box2Seg, ``mask.enabled``): with a ``Box2Seg`` set (``set_box2seg``), ``process`` segments every
present target of the frame after tracking, in one batched call (``box2seg.segment_targets``). A failure
there is reported as a ``mask`` problem and the frame goes out without masks: tracking never depends on it.
"""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from siamrcnn_ros.box2seg.predictor import Box2Seg
from siamrcnn_ros.box2seg.tracking import segment_targets
from siamrcnn_ros.boxes import check_xyxy, clip_xyxy
from siamrcnn_ros.model.siamrcnn import FrameFeatures
from siamrcnn_ros.node.clicks import InvalidClickError, check_pixel
from siamrcnn_ros.node.frame_buffer import Frame, FrameBuffer
from siamrcnn_ros.tracking.records import TrackResult
from siamrcnn_ros.tracking.tracker import MultiTracker, TrackerSettings

STAMP_HISTORY = 300
"""Frames per target whose stamps are kept beyond those referenced by live tracklets (bounded memory)."""


class TargetLimitError(ValueError):
    """A request beyond ``max_targets`` or for an unknown target; ``kind`` is the diagnostics key."""

    kind = 'target_limit'


@dataclass(frozen=True)
class _AddBox:
    target_id: int
    box: np.ndarray
    stamp_ns: int  # 0 = the current frame
    settings: TrackerSettings
    sequence: int  # order of the request; only the newest request for an id is applied


@dataclass(frozen=True)
class _AddClick:
    target_id: int
    pixel: tuple[float, float]
    settings: TrackerSettings
    sequence: int


@dataclass(frozen=True)
class _Remove:
    target_ids: tuple[int, ...]


Problem = Callable[[str, str], None]
"""Reports ``(kind, message)``: a rejected request or a degraded one (logged and counted by the node)."""


@dataclass
class FrameOutcome:
    """What ``process`` did with one frame.

    Attributes:
        frame: the frame.
        results: ``{target_id: result}`` of every tracked target on this frame.
        initializing: ids whose request waits for a frame (``STATE_INITIALIZING``).
        cleared: ids removed since the previous frame, and ids whose box request was refused on this frame (its
            first image) with no target left under the id (``STATE_IDLE`` once; the reason is a ``box`` problem).
        masks: ``{target_id: [H, W] bool}`` Box2Seg mask of each present target (empty when masks are off).
        start_stamps: ``{target_id: {frame_index: stamp ns}}``: for each result, the stamps of the target's frames
            that its selected tracklet and its distractors start on (what ``Tracklet.start_stamp`` needs).
    """

    frame: Frame
    results: dict[int, TrackResult] = field(default_factory=dict)
    initializing: list[int] = field(default_factory=list)
    cleared: list[int] = field(default_factory=list)
    masks: dict[int, np.ndarray] = field(default_factory=dict)
    start_stamps: dict[int, dict[int, int]] = field(default_factory=dict)

    def start_stamp_ns(self, target_id: int, frame_index: int) -> int:
        """Stamp (ns) of the ``frame_index``-th frame of ``target_id`` among ``start_stamps``; 0 when unknown."""
        return self.start_stamps.get(target_id, {}).get(frame_index, 0)


class TrackingSession:
    """Targets and trackers of one activation of the node.

    Args:
        model: the re-detector (``SiamRCNN``), on its device.
        settings: tracker settings for targets set from now on (``set_tracker_settings`` changes them).
        max_targets: targets tracked at once (``set_max_targets``).
        frames: the node's recent frames (looked up for targets drawn on older frames).
        problem: reports rejected or degraded requests as ``(kind, message)``.
        box2seg: the mask network on the model's device, or None (no masks); ``set_box2seg`` changes it.
    """

    def __init__(self, model: object, settings: TrackerSettings, max_targets: int, frames: FrameBuffer,
                 problem: Problem, box2seg: Box2Seg | None = None) -> None:
        self._trackers = MultiTracker(model, settings)
        self._frames = frames
        self._problem = problem
        self._lock = threading.Lock()
        self._settings = settings
        self._max_targets = max_targets
        self._box2seg = box2seg
        self._commands: deque[_AddBox | _AddClick | _Remove] = deque()
        self._active: set[int] = set()  # ids the worker has started (guarded by _lock)
        self._pending: set[int] = set()  # ids requested, not started yet (guarded by _lock)
        self._sequence = 0  # requests so far (guarded by _lock)
        self._latest: dict[int, int] = {}  # id -> sequence of its newest unapplied request (guarded by _lock)
        self._refused: list[int] = []  # worker only: ids refused while processing the current frame
        self._deferred: list[_AddBox] = []  # worker only: boxes for a frame newer than the current one
        self._stamps: dict[int, dict[int, int]] = {}  # worker only: target -> frame index -> stamp ns
        self._shown: set[int] = set()  # worker only: ids last reported with a state other than IDLE
        self._frame_features: FrameFeatures | None = None  # worker only: the processed frame's features

    # --- requests (any thread) --------------------------------------------------------------------------

    def set_tracker_settings(self, settings: TrackerSettings) -> None:
        with self._lock:
            self._settings = settings

    def set_max_targets(self, max_targets: int) -> None:
        with self._lock:
            self._max_targets = max_targets

    def set_box2seg(self, box2seg: Box2Seg | None) -> None:
        """Masks from the next processed frame on with this network (None: no masks)."""
        with self._lock:
            self._box2seg = box2seg

    @property
    def target_ids(self) -> list[int]:
        """Ids set (tracked or waiting for their frame)."""
        with self._lock:
            return sorted(self._active | self._pending)

    def target_settings(self) -> dict[int, TrackerSettings]:
        """The settings each tracked target started with (worker thread)."""
        return {target_id: self._trackers.settings_of(target_id) for target_id in self._trackers.target_ids}

    def _reserve(self, target_id: int) -> int:
        """Picks (0 -> lowest free >= 1) and checks an id under the lock; marks it pending."""
        if isinstance(target_id, bool) or not isinstance(target_id, (int, np.integer)) or target_id < 0:
            raise TargetLimitError(f'target_id must be an integer >= 0, got {target_id!r}')
        taken = self._active | self._pending
        if target_id == 0:
            target_id = next(i for i in range(1, len(taken) + 2) if i not in taken)
        if target_id not in taken and len(taken) >= self._max_targets:
            raise TargetLimitError(f'already tracking {len(taken)} targets (max_targets = {self._max_targets}); '
                                   f'clear one first')
        self._pending.add(int(target_id))
        return int(target_id)

    def request_box(self, target_id: int, box: np.ndarray, stamp_ns: int) -> tuple[int, str]:
        """Queues "track ``box`` (xyxy pixels) drawn on the frame stamped ``stamp_ns`` (0 = newest)".

        The box is checked against the buffered frame it will start on when there is one (else when the first
        frame arrives). Returns ``(target id, a note on the frame used)``.

        Raises:
            InvalidBoxError: NaN/inf, zero area, or outside that frame.
            TargetLimitError: ``max_targets`` reached, or a negative id.
        """
        box = np.asarray(box, dtype=np.float64).reshape(4)
        found = self._frames.nearest(stamp_ns) if stamp_ns else None
        frame = found[0] if found else self._frames.newest()
        if frame is not None:
            check_xyxy(box, frame.size)
            note = 'starts on the newest frame' if not stamp_ns else \
                f'starts on the frame stamped {frame.stamp_ns} ns ({(frame.stamp_ns - stamp_ns) / 1e6:+.1f} ms from ' \
                f'the requested stamp)'
        else:
            check_xyxy(box, (1 << 30, 1 << 30))  # no frame yet: only NaN/inf and area can be checked
            note = ('waits for the first image (checked against it then: a box outside it is refused with an IDLE '
                    'Track for the id and the reason in /diagnostics)')
        with self._lock:
            target_id = self._reserve(target_id)
            self._commands.append(_AddBox(target_id, box, int(stamp_ns), self._settings, self._next(target_id)))
        return target_id, note

    def _next(self, target_id: int) -> int:
        """A new request for ``target_id`` (under the lock): it supersedes any earlier one not applied yet."""
        self._sequence += 1
        self._latest[target_id] = self._sequence
        return self._sequence

    def request_click(self, pixel: tuple[float, float]) -> int:
        """Queues "track the object at this pixel" on the frame processed next; returns the new target id."""
        with self._lock:
            target_id = self._reserve(0)
            self._commands.append(_AddClick(target_id, (float(pixel[0]), float(pixel[1])), self._settings,
                                            self._next(target_id)))
        return target_id

    def request_clear(self, target_id: int) -> list[int]:
        """Queues removal of ``target_id`` (0 = all); returns the ids cleared.

        Raises:
            TargetLimitError: no target with that id.
        """
        with self._lock:
            known = self._active | self._pending
            if target_id != 0 and target_id not in known:
                raise TargetLimitError(f'no target with id {target_id} (tracking {sorted(known)})')
            ids = sorted(known) if target_id == 0 else [int(target_id)]
            self._active -= set(ids)
            self._pending -= set(ids)
            for target_id in ids:
                self._latest.pop(target_id, None)
            self._commands.append(_Remove(tuple(ids)))
        return ids

    def reset(self) -> list[int]:
        """Clears every target (stamps jumped back, resolution changed); returns the ids cleared."""
        return self.request_clear(0)

    # --- the worker thread --------------------------------------------------------------------------------

    def process(self, frame: Frame) -> FrameOutcome:
        """Applies the queued requests, then tracks ``frame`` (the worker's newest frame)."""
        outcome = FrameOutcome(frame)
        with self._lock:
            commands = list(self._commands)
            self._commands.clear()
        adds: dict[int, tuple[np.ndarray, TrackerSettings]] = {}
        deferred, self._deferred = self._deferred, []
        self._refused = []
        self._frame_features = None  # the frame's backbone pass, made once when a click or the step needs it
        for command in deferred + commands:
            if isinstance(command, _Remove):
                for target_id in command.target_ids:
                    adds.pop(target_id, None)
                    self._stamps.pop(target_id, None)
                self._deferred = [d for d in self._deferred if d.target_id not in command.target_ids]
                self._drop(command.target_ids)
                outcome.cleared.extend(command.target_ids)
            elif isinstance(command, _AddBox):
                self._apply_box(command, frame, adds)
            else:
                self._apply_click(command, frame, adds)
        for target_id in adds:
            self._stamps.pop(target_id, None)  # a replaced target starts a new frame count
        if adds or self._trackers.target_ids:
            try:
                outcome.results = self._trackers.step(
                    self._features(frame), add={target_id: box for target_id, (box, _) in adds.items()},
                    settings={target_id: settings for target_id, (_, settings) in adds.items()})
            except Exception:
                with self._lock:  # the step may have dropped targets: keep the ids in line with the trackers
                    self._pending -= set(adds)
                    self._active &= set(self._trackers.target_ids)
                raise
            finally:
                self._frame_features = None
        with self._lock:
            started = set(adds) & self._pending
            self._pending -= started
            self._active |= started
            # An id cleared while its request was in flight is gone from both sets: drop its tracker.
            orphans = [i for i in self._trackers.target_ids if i not in self._active]
            initializing = sorted(self._pending)
            box2seg = self._box2seg
        if orphans:
            self._drop(orphans)
            for target_id in orphans:
                outcome.results.pop(target_id, None)
                self._stamps.pop(target_id, None)
            outcome.cleared.extend(orphans)
        for target_id, result in outcome.results.items():
            self._remember_stamp(target_id, result, frame.stamp_ns)
            starts = {int(i) for i in result.distractors.start_frames}
            if result.selected is not None:
                starts.add(result.selected.start_frame)
            known = self._stamps[target_id]
            outcome.start_stamps[target_id] = {i: known[i] for i in sorted(starts) if i in known}
        if box2seg is not None and outcome.results:
            outcome.masks = self._segment(box2seg, frame, outcome.results)
        outcome.initializing = initializing
        # IDLE once per clear, for ids the consumers saw, unless the id is in use again already.
        refused = {i for i in self._refused if i not in self._trackers.target_ids}  # nothing left under the id
        outcome.cleared = sorted(((set(outcome.cleared) & self._shown) | refused) - set(outcome.results)
                                 - set(initializing))
        self._shown = (self._shown - set(outcome.cleared)) | set(outcome.results) | set(initializing)
        return outcome

    def _segment(self, box2seg: Box2Seg, frame: Frame, results: dict[int, TrackResult]) -> dict[int, np.ndarray]:
        try:
            masks = segment_targets(box2seg, frame.image, results).masks
        except Exception as error:  # e.g. out of GPU memory: the tracks still go out, without masks
            self._problem('mask', f'Box2Seg failed on the frame stamped {frame.stamp_ns} ns: '
                                  f'{type(error).__name__}: {error}; sending it without masks')
            return {}
        return {target_id: mask for target_id, mask in masks.items() if mask is not None}

    def _features(self, frame: Frame) -> FrameFeatures:
        if self._frame_features is None:
            self._frame_features = self._trackers.extract(frame.image)
        return self._frame_features

    def _drop(self, target_ids: Iterable[int]) -> None:
        """Stops tracking those of ``target_ids`` that are tracked (worker thread)."""
        tracked = set(self._trackers.target_ids)
        self._trackers.remove([target_id for target_id in target_ids if target_id in tracked])

    def start_stamp_ns(self, target_id: int, frame_index: int) -> int:
        """Stamp (ns) of the ``frame_index``-th frame of ``target_id``; 0 when it is no longer known."""
        return self._stamps.get(target_id, {}).get(frame_index, 0)

    def _release(self, target_id: int) -> None:
        with self._lock:
            self._pending.discard(target_id)

    def _wanted(self, command: _AddBox | _AddClick) -> bool:
        """Whether ``command`` is still the newest request for its id: neither cleared nor superseded by a later
        request (the later one wins, whatever frames the two were drawn on)."""
        with self._lock:
            return self._latest.get(command.target_id) == command.sequence

    def _applied(self, command: _AddBox | _AddClick) -> None:
        """``command`` was applied or refused: forget it as the id's newest request (bounded memory)."""
        with self._lock:
            if self._latest.get(command.target_id) == command.sequence:
                del self._latest[command.target_id]

    def _apply_box(self, command: _AddBox, frame: Frame, adds: dict[int, tuple[np.ndarray, TrackerSettings]]) -> None:
        if not self._wanted(command):  # cleared, or superseded by a later request for the id
            return
        target_frame = frame
        if command.stamp_ns:
            found = self._frames.nearest(command.stamp_ns)
            if found is None:
                self._problem('target_stamp', f'target {command.target_id}: no buffered frame for stamp '
                                              f'{command.stamp_ns} ns; starting it on the current frame')
            else:
                target_frame, delta = found
                if target_frame.stamp_ns > frame.stamp_ns:
                    self._deferred.append(command)  # its frame is still waiting for the worker
                    return
                if delta:
                    self._problem('target_stamp', f'target {command.target_id}: no buffered frame has stamp '
                                                  f'{command.stamp_ns} ns; using the nearest one '
                                                  f'({delta / 1e6:+.1f} ms)')
        self._applied(command)
        try:
            box = clip_xyxy(check_xyxy(command.box, target_frame.size), target_frame.size)
        except ValueError as error:
            self._problem('box', f'target {command.target_id} refused on the frame stamped {target_frame.stamp_ns} ns '
                                 f'(the box could not be checked before it arrived): {error}')
            self._release(command.target_id)
            self._refused.append(command.target_id)
            return
        if target_frame.stamp_ns == frame.stamp_ns:
            adds[command.target_id] = (box, command.settings)
            return
        adds.pop(command.target_id, None)
        self._drop([command.target_id])
        self._trackers.add(target_frame.image, {command.target_id: box}, settings=command.settings)
        self._stamps[command.target_id] = {0: target_frame.stamp_ns}
        with self._lock:
            if command.target_id in self._pending:  # else cleared meanwhile: process() drops the orphan
                self._pending.discard(command.target_id)
                self._active.add(command.target_id)

    def _apply_click(self, command: _AddClick, frame: Frame,
                     adds: dict[int, tuple[np.ndarray, TrackerSettings]]) -> None:
        if not self._wanted(command):
            return
        self._applied(command)
        try:
            pixel = check_pixel(command.pixel[0], command.pixel[1], frame.size)
        except InvalidClickError as error:
            self._problem('click', str(error))
            self._release(command.target_id)
            return
        box = self._trackers.box_at_point(self._features(frame), pixel)
        if box is None:
            self._problem('click', f'no object proposal contains the clicked pixel ({pixel[0]:.0f}, {pixel[1]:.0f})')
            self._release(command.target_id)
            return
        adds[command.target_id] = (clip_xyxy(box, frame.size), command.settings)

    def _remember_stamp(self, target_id: int, result: TrackResult, stamp_ns: int) -> None:
        stamps = self._stamps.setdefault(target_id, {})
        stamps[result.frame] = stamp_ns
        keep = {int(i) for i in result.distractors.start_frames}
        if result.selected is not None:
            keep.add(result.selected.start_frame)
        oldest = result.frame - STAMP_HISTORY
        for index in [i for i in stamps if i < oldest and i not in keep]:
            del stamps[index]
