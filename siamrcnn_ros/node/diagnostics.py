"""What the node reports on /diagnostics: rates, latency, dropped frames, state, device, rejected inputs.

``Health`` collects the numbers from the callback threads and the worker (thread-safe, bounded windows, so
memory stays constant on a stream that runs for days); ``diagnostic_status`` turns one ``HealthSnapshot``
into a ``diagnostic_msgs/DiagnosticStatus`` (a pure function). The level is WARN while something needs a
user's attention: a CUDA request that fell back to the CPU (never silent, SPEC §7), no image for a while
(usually a QoS or topic-name mismatch), or inputs rejected in the last ``RECENT_S`` seconds.
"""
from __future__ import annotations

import statistics
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue

PROBLEM_KINDS = (
    'encoding',  # an image encoding the node does not convert
    'size',  # zero, huge, or odd-width image size
    'data',  # data shorter than step x height, or a step shorter than a row
    'decode',  # pixels the converter or the JPEG/PNG decoder could not read
    'box',  # NaN/inf, zero-area, or out-of-image target box
    'target_stamp',  # a target for a stamp no buffered frame has (used the nearest), or before any image
    'target_limit',  # more targets than max_targets, or an unknown target id to clear
    'stamp',  # a header stamp that is no valid ROS time (negative, nanosec >= 1e9, far ahead of the clock)
    'stamp_backwards',  # the image stamp jumped back (looped bag): reset
    'resolution_change',  # the image size changed mid-stream: reset
    'click',  # a click outside the image, behind the camera, or in a frame that cannot be transformed
    'processing',  # an exception while tracking a frame
    'mask',  # an exception in Box2Seg on a frame (its tracks went out without masks)
)
NOTE_KINDS = (
    'extra_data',  # an image with more data than step x height (accepted; the rest ignored)
    'bigendian_8bit',  # is_bigendian on an encoding with 8-bit components (accepted; ignored)
)
LOG_EVERY_S = 5.0
"""Rate limit of the warning lines, per kind of problem."""
RECENT_S = 10.0
"""Problems younger than this keep the status at WARN."""
WINDOW = 50
"""Frames in the rate and latency windows."""


@dataclass(frozen=True)
class HealthSnapshot:
    """The numbers at one moment. Rates in Hz, times in seconds; ``None`` when there is no data yet."""

    images_received: int
    frames_processed: int
    frames_dropped: int
    input_rate_hz: float | None
    output_rate_hz: float | None
    processing_s: float | None
    stamp_latency_mean_s: float | None
    stamp_latency_max_s: float | None
    seconds_since_image: float | None
    problems: dict[str, int] = field(default_factory=dict)
    recent_problems: int = 0
    last_problem: str = ''
    images_lost: int = 0
    recent_images_lost: int = 0
    images_missing: int = 0
    notes: dict[str, int] = field(default_factory=dict)
    last_note: str = ''


def _rate(times: deque[float]) -> float | None:
    if len(times) < 2 or times[-1] <= times[0]:
        return None
    return (len(times) - 1) / (times[-1] - times[0])


class Health:
    """Counters and bounded windows, fed from any thread. Times are ``time.monotonic()`` seconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forgets everything (on activate)."""
        with self._lock:
            self._images = 0
            self._processed = 0
            self._dropped = 0
            self._input_times: deque[float] = deque(maxlen=WINDOW)
            self._output_times: deque[float] = deque(maxlen=WINDOW)
            self._processing: deque[float] = deque(maxlen=WINDOW)
            self._latency: deque[float] = deque(maxlen=WINDOW)
            self._problems: Counter[str] = Counter({kind: 0 for kind in PROBLEM_KINDS})
            self._problem_times: deque[float] = deque(maxlen=1000)
            self._last_problem = ''
            self._last_image: float | None = None
            self._lost = 0
            self._lost_times: deque[tuple[float, int]] = deque(maxlen=1000)
            self._missing = 0
            self._notes: Counter[str] = Counter({kind: 0 for kind in NOTE_KINDS})
            self._last_note = ''

    def image_received(self, now: float) -> None:
        with self._lock:
            self._images += 1
            self._input_times.append(now)
            self._last_image = now

    def images_lost(self, count: int, now: float | None = None) -> None:
        """``count`` images the DDS reader knows it lost (sample-lost events: e.g. fragments of a large image that
        never all arrived over a best-effort link)."""
        if count <= 0:
            return
        with self._lock:
            self._lost += count
            self._lost_times.append((time.monotonic() if now is None else now, count))

    def images_missing(self, count: int) -> None:
        """``count`` images missing from the camera's rate (``StampGaps``), lost anywhere before the node."""
        with self._lock:
            self._missing += count

    def note(self, kind: str, message: str) -> None:
        """Counts one input accepted with a note of ``kind`` (one of ``NOTE_KINDS``)."""
        if kind not in NOTE_KINDS:
            raise ValueError(f'unknown note kind {kind!r}; one of {NOTE_KINDS}')
        with self._lock:
            self._notes[kind] += 1
            self._last_note = f'{kind}: {message}'

    def frame_dropped(self) -> None:
        with self._lock:
            self._dropped += 1

    def frame_processed(self, now: float, processing_s: float, stamp_latency_s: float | None) -> None:
        """One frame through the tracker: its processing time and the latency from its stamp to publication."""
        with self._lock:
            self._processed += 1
            self._output_times.append(now)
            self._processing.append(processing_s)
            if stamp_latency_s is not None:
                self._latency.append(stamp_latency_s)

    def problem(self, kind: str, message: str, now: float | None = None) -> None:
        """Counts one rejected input or failure of ``kind`` (one of ``PROBLEM_KINDS``)."""
        if kind not in PROBLEM_KINDS:
            raise ValueError(f'unknown problem kind {kind!r}; one of {PROBLEM_KINDS}')
        with self._lock:
            self._problems[kind] += 1
            self._problem_times.append(time.monotonic() if now is None else now)
            self._last_problem = f'{kind}: {message}'

    def snapshot(self, now: float) -> HealthSnapshot:
        with self._lock:
            latency = list(self._latency)
            return HealthSnapshot(
                images_received=self._images,
                frames_processed=self._processed,
                frames_dropped=self._dropped,
                input_rate_hz=_rate(self._input_times),
                output_rate_hz=_rate(self._output_times),
                processing_s=sum(self._processing) / len(self._processing) if self._processing else None,
                stamp_latency_mean_s=sum(latency) / len(latency) if latency else None,
                stamp_latency_max_s=max(latency) if latency else None,
                seconds_since_image=None if self._last_image is None else now - self._last_image,
                problems=dict(self._problems),
                recent_problems=sum(1 for t in self._problem_times if now - t <= RECENT_S),
                last_problem=self._last_problem,
                images_lost=self._lost,
                recent_images_lost=sum(count for t, count in self._lost_times if now - t <= RECENT_S),
                images_missing=self._missing,
                notes=dict(self._notes),
                last_note=self._last_note,
            )


class ProblemLog:
    """Counts each problem in ``Health`` and logs it, at most once per ``every_s`` seconds per kind, with the
    number of lines held back since: a stream of bad messages gives one clear line, not a flood.

    Args:
        health: where problems are counted (for /diagnostics).
        warn: writes one log line (the node logger's ``warning``).
        every_s: the rate limit per kind, seconds.
    """

    def __init__(self, health: Health, warn: Callable[[str], object], every_s: float = LOG_EVERY_S) -> None:
        self._health = health
        self._warn = warn
        self._every_s = every_s
        self._last: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def __call__(self, kind: str, message: str) -> None:
        self._health.problem(kind, message)
        self.log(kind, message)

    def log(self, kind: str, message: str, every_s: float | None = None) -> bool:
        """Logs ``message`` unless one of ``kind`` was logged in the last ``every_s`` s; returns whether it did."""
        now = time.monotonic()
        every_s = self._every_s if every_s is None else every_s
        with self._lock:
            last, held_back = self._last.get(kind, (-float('inf'), 0))
            if now - last < every_s:
                self._last[kind] = (last, held_back + 1)
                return False
            self._last[kind] = (now, 0)
        more = f' ({held_back} more of this kind in the last {now - last:.0f} s)' if held_back else ''
        self._warn(message + more)
        return True


class StampGaps:
    """Images missing from a camera stream, from the gaps between consecutive stamps (any cause: DDS, network,
    the driver). The camera's period is the median of the last ``window`` stamp differences; a difference of more
    than ``factor`` periods counts ``round(difference / period) - 1`` missing images.

    Args:
        window: stamp differences kept (a bounded window).
        factor: how many periods make a gap.
        min_samples: differences needed before gaps are counted.
    """

    def __init__(self, window: int = 30, factor: float = 1.5, min_samples: int = 5) -> None:
        self._differences: deque[int] = deque(maxlen=window)
        self._factor = factor
        self._min_samples = min_samples
        self._last: int | None = None

    def reset(self) -> None:
        """A new stream (stamps jumped back, new resolution, activation)."""
        self._differences.clear()
        self._last = None

    def observe(self, stamp_ns: int) -> int:
        """The next image's stamp (ns); returns the images missing before it (0 when none or not known yet)."""
        last, self._last = self._last, stamp_ns
        if last is None or stamp_ns <= last:
            return 0
        difference = stamp_ns - last
        missing = 0
        if len(self._differences) >= self._min_samples:
            period = statistics.median(self._differences)
            if difference > self._factor * period:
                missing = max(0, round(difference / period) - 1)
        self._differences.append(difference)
        return missing


def _fmt(value: float | None, scale: float = 1.0, digits: int = 1) -> str:
    return 'n/a' if value is None else f'{value * scale:.{digits}f}'


def diagnostic_status(snapshot: HealthSnapshot, *, name: str, state: str, device: str, targets: int,
                      device_warning: str = '', no_image_for_s: float | None = None) -> DiagnosticStatus:
    """One ``DiagnosticStatus`` for the node.

    Args:
        snapshot: the numbers.
        name: the status name, e.g. ``'siamrcnn_node: tracker'``; ``hardware_id`` is the device.
        state: lifecycle state (``unconfigured``, ``inactive``, ``active``, ``finalized``).
        device: the device the model actually runs on (``cpu``, ``cuda:0``; ``''`` before configure).
        targets: targets tracked now.
        device_warning: why the device differs from the request (CUDA -> CPU fallback); makes the level WARN.
        no_image_for_s: set while active and no image came for longer than the warning threshold: seconds since
            the last image (or activation); makes the level WARN.
    """
    warnings = []
    if device_warning:
        warnings.append(device_warning)
    if no_image_for_s is not None:
        warnings.append(f'no image received for {no_image_for_s:.0f} s: check the image topic remapping and its QoS')
    if snapshot.recent_images_lost:
        warnings.append(f'{snapshot.recent_images_lost} images lost by DDS in the last {RECENT_S:.0f} s (images over '
                        f'512 KiB: give the camera\'s process the package\'s Fast DDS profile, README)')
    if snapshot.recent_problems:
        warnings.append(f'{snapshot.recent_problems} inputs rejected or failed in the last {RECENT_S:.0f} s '
                        f'(last: {snapshot.last_problem})')
    level = DiagnosticStatus.WARN if warnings else DiagnosticStatus.OK
    message = '; '.join(warnings) if warnings else (f'{state}, tracking {targets} target(s) on {device}'
                                                      if state == 'active' else state)
    values = {
        'state': state,
        'device': device or 'none',
        'targets': str(targets),
        'images received': str(snapshot.images_received),
        'frames processed': str(snapshot.frames_processed),
        'frames dropped': str(snapshot.frames_dropped),
        'input rate (Hz)': _fmt(snapshot.input_rate_hz),
        'processing rate (Hz)': _fmt(snapshot.output_rate_hz),
        'processing time (ms)': _fmt(snapshot.processing_s, 1000.0),
        'latency from stamp, mean (ms)': _fmt(snapshot.stamp_latency_mean_s, 1000.0),
        'latency from stamp, max (ms)': _fmt(snapshot.stamp_latency_max_s, 1000.0),
        'seconds since last image': _fmt(snapshot.seconds_since_image),
        'images lost by DDS': str(snapshot.images_lost),
        'images missing (stamp gaps)': str(snapshot.images_missing),
        **{f'rejected: {kind}': str(count) for kind, count in snapshot.problems.items()},
        'last problem': snapshot.last_problem or 'none',
        **{f'accepted with a note: {kind}': str(count) for kind, count in snapshot.notes.items()},
        'last note': snapshot.last_note or 'none',
    }
    return DiagnosticStatus(level=level, name=name, message=message, hardware_id=device or 'none',
                            values=[KeyValue(key=key, value=value) for key, value in values.items()])
