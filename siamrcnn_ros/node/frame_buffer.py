"""A bounded buffer of the most recent camera frames, looked up by stamp.

A target request carries the stamp of the image the user drew the box on (TargetRequest.msg). By
the time it arrives the tracker has usually moved on by a few frames, so the node keeps the last
``capacity`` converted frames and starts the target on the buffered frame with that stamp, or on
the nearest one. The buffer holds a fixed number of frames, so memory stays bounded on a stream
that runs for days (SPEC §7, "Long-running").

Thread safety: the image callback pushes, the service callbacks and the worker thread look up; one
lock guards the deque.
"""
from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One converted camera frame.

    Attributes:
        stamp_ns: the source image's header stamp, integer nanoseconds (ROS time, sim or wall).
        image: ``[H, W, 3]`` uint8 RGB pixels.
        header: the source image's ``std_msgs/Header``, copied unchanged onto every output computed
            from this frame (opaque here).
        arrival_s: ``time.monotonic()`` seconds when the message reached the node (for the latency
            reported in Track.latency: arrival to publication).
        index: position of the frame in the stream since the last reset (0, 1, ...).
    """

    stamp_ns: int
    image: np.ndarray = field(repr=False)
    header: Any = field(repr=False)
    arrival_s: float
    index: int

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)`` in pixels."""
        return int(self.image.shape[0]), int(self.image.shape[1])


class FrameBuffer:
    """The last ``capacity`` frames in arrival order (stamps non-decreasing; the node resets on a jump back).

    Args:
        capacity: number of frames kept, >= 1; the oldest is dropped when a new one is pushed.
    """

    def __init__(self, capacity: int) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f'capacity must be an int >= 1 (frames), got {capacity!r}')
        self._frames: deque[Frame] = deque(maxlen=capacity)
        self._lock = threading.Lock()

    @property
    def capacity(self) -> int:
        return self._frames.maxlen or 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._frames)

    def push(self, frame: Frame) -> None:
        """Appends ``frame``; its stamp must not be older than the newest one's (``ValueError`` otherwise)."""
        with self._lock:
            if self._frames and frame.stamp_ns < self._frames[-1].stamp_ns:
                raise ValueError(f'frame stamp {frame.stamp_ns} ns is older than the newest buffered one '
                                 f'({self._frames[-1].stamp_ns} ns): clear() the buffer on a jump back in time')
            self._frames.append(frame)

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()

    def newest(self) -> Frame | None:
        """The most recent frame, or ``None`` when the buffer is empty."""
        with self._lock:
            return self._frames[-1] if self._frames else None

    def nearest(self, stamp_ns: int) -> tuple[Frame, int] | None:
        """The buffered frame whose stamp is closest to ``stamp_ns``, and the difference (frame - asked) in ns.

        Ties go to the newer frame (the tracker then has fewer frames to catch up on). ``None`` when empty.
        """
        with self._lock:
            if not self._frames:
                return None
            best = min(reversed(self._frames), key=lambda frame: abs(frame.stamp_ns - stamp_ns))
            return best, best.stamp_ns - stamp_ns

    def stamps(self) -> list[int]:
        """Stamps of the buffered frames, oldest first, nanoseconds."""
        with self._lock:
            return [frame.stamp_ns for frame in self._frames]
