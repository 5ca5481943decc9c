"""The node's per-image path, from a camera message to a buffered ``Frame``: one code path for the live node
(``node.py``, on the executor thread) and for ``siamrcnn-replay`` (``tools/replay_stream.py``, synchronously).

``ImageIntake.accept`` does, in this order: check the stamp (``conversions.check_stamp``), convert the
message (``images.image_msg_to_rgb``), reset the stream on a stamp that goes back (a looped bag) or a new image
size (a new camera mode: the session's targets are cleared and must be set again), count the images missing
from the stamps (``diagnostics.StampGaps``), number the frame and push it into the frame buffer. A refused
message is reported to ``problem`` with its reason and loses nothing else. What happens next differs only in
when: the node hands the frame to its worker thread, replay tracks it at once (``TrackingSession.process``).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from siamrcnn_ros.node.conversions import InvalidStampError, check_stamp
from siamrcnn_ros.node.diagnostics import StampGaps
from siamrcnn_ros.node.frame_buffer import Frame, FrameBuffer
from siamrcnn_ros.node.images import InvalidImageError, image_msg_to_rgb, image_notes
from siamrcnn_ros.node.session import TrackingSession

Problem = Callable[[str, str], None]


@dataclass(frozen=True)
class Accepted:
    """A message that became a frame.

    Attributes:
        frame: the buffered frame (RGB image, stamp in ns, the message's header, arrival time, index).
        notes: ``(kind, text)`` for what was accepted with a remark (``images.image_notes``: e.g. a
            big-endian 16-bit image).
        missing: images missing before this one, from the stamps (``StampGaps.observe``).
    """

    frame: Frame
    notes: list[tuple[str, str]] = field(default_factory=list)
    missing: int = 0


class ImageIntake:
    """Camera messages -> frames of one stream (module docstring). Used from one thread.

    Args:
        session: the tracking session (``reset`` on a new stream).
        frames: the recent frames (pushed; cleared on a new stream).
        problem: reports refused messages and stream resets as ``(kind, message)``.
    """

    def __init__(self, session: TrackingSession, frames: FrameBuffer, problem: Problem) -> None:
        self._session = session
        self._frames = frames
        self._problem = problem
        self._gaps = StampGaps()
        self._last_stamp_ns: int | None = None
        self._last_size: tuple[int, int] | None = None
        self._index = 0

    def accept(self, msg: Any, max_pixels: int, arrival: float, now_ns: int = 0) -> Accepted | None:
        """One ``sensor_msgs/Image`` or ``CompressedImage``: its frame, or None when it was refused.

        Args:
            msg: the message.
            max_pixels: larger images are refused (the node's ``max_image_pixels``, which may change at runtime).
            arrival: when it arrived (monotonic seconds; ``Frame.arrival_s``).
            now_ns: the node's clock (ROS time, ns) for the stamp's future check; 0 = no check (replay of a bag,
                sim time before the first /clock).
        """
        try:  # the stamp first: every later step (buffer, jump-back reset, outputs) relies on a valid one
            stamp_ns = check_stamp(msg.header.stamp, now_ns)
        except InvalidStampError as error:
            self._problem(error.kind, f'image rejected: {error}')
            return None
        try:
            rgb = image_msg_to_rgb(msg, max_pixels)
        except InvalidImageError as error:
            self._problem(error.kind, f'image rejected (stamp {stamp_ns} ns): {error}')
            return None
        size = (int(rgb.shape[0]), int(rgb.shape[1]))
        if self._last_stamp_ns is not None and stamp_ns < self._last_stamp_ns:
            self._reset_stream('stamp_backwards', f'image stamp jumped back from {self._last_stamp_ns} ns to '
                                                  f'{stamp_ns} ns (a looped bag?)')
        elif self._last_size is not None and size != self._last_size:
            self._reset_stream('resolution_change', f'image size changed from {self._last_size[1]}x'
                                                    f'{self._last_size[0]} to {size[1]}x{size[0]}')
        self._last_stamp_ns, self._last_size = stamp_ns, size
        missing = self._gaps.observe(stamp_ns)
        frame = Frame(stamp_ns, rgb, msg.header, arrival, self._index)
        self._index += 1
        self._frames.push(frame)
        return Accepted(frame, list(image_notes(msg)), missing)

    def restart(self) -> None:
        """Forget the stream (a new activation): no previous stamp, size or gap history; frames count from 0."""
        self._last_stamp_ns, self._last_size, self._index = None, None, 0
        self._gaps.reset()

    def _reset_stream(self, kind: str, reason: str) -> None:
        cleared = self._session.reset()
        self._frames.clear()
        self.restart()
        self._problem(kind, f'{reason}: reset: frames dropped, targets {cleared or "(none)"} cleared; set the '
                            f'target again')
