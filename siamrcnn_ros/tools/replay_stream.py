"""The node's per-image path, run synchronously: what ``siamrcnn_node`` does with one camera message.

``ReplayStream.process`` does, in one call and in this order, what the node splits between its image
callback and its worker thread (``node.py``), through the same code: ``intake.ImageIntake.accept`` (stamp,
conversion, reset on a stamp that goes back or a size change, the frame buffer), the target requests,
``TrackingSession.process`` and the frame's Track and TrackArray messages (``outputs``). Nothing is dropped and
nothing waits, so the same images and requests always give the same messages.
"""
from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

from siamrcnn_ros.boxes import InvalidBoxError
from siamrcnn_ros.msg import Track, TrackArray
from siamrcnn_ros.node.frame_buffer import FrameBuffer
from siamrcnn_ros.node.intake import ImageIntake
from siamrcnn_ros.node.outputs import frame_track_array, frame_tracks
from siamrcnn_ros.node.session import FrameOutcome, TargetLimitError, TrackingSession
from siamrcnn_ros.tools.replay_inputs import BagTarget
from siamrcnn_ros.tracking.tracker import TrackerSettings

MAX_WARNINGS = 20
"""Problem lines printed per kind (each one is counted all the same)."""


class Problems:
    """Counts problems by kind and prints the first ``MAX_WARNINGS`` of each kind; a session's ``problem``."""

    def __init__(self, prefix: str = 'siamrcnn-replay') -> None:
        self._prefix = prefix
        self.counts: Counter[str] = Counter()

    def __call__(self, kind: str, message: str) -> None:
        self.counts[kind] += 1
        if self.counts[kind] <= MAX_WARNINGS:
            tqdm.write(f'{self._prefix}: warning: {message}', file=sys.stderr)
            if self.counts[kind] == MAX_WARNINGS:
                tqdm.write(f'{self._prefix}: (further {kind} problems are only counted)', file=sys.stderr)


@dataclass
class FrameMessages:
    """One processed image: the session's outcome and the messages the node would publish for it.

    Attributes:
        outcome: results of the targets on this frame (``outcome.frame.image`` is the RGB frame).
        tracks: one Track per target, ordered by id (``~/track``).
        array: the frame's TrackArray (``~/tracks``).
    """

    outcome: FrameOutcome
    tracks: list[Track]
    array: TrackArray


class ReplayStream:
    """One camera stream tracked frame by frame, as the node would (module docstring).

    Args:
        model: the re-detector (``build_model``), on its device.
        settings: tracker settings of the targets.
        max_targets: targets tracked at once.
        max_pixels: larger images are refused (the node's ``max_image_pixels``).
        problems: reports refused images and requests, stream resets: ``(kind, message)``.
        record_latency: put the processing time in ``Track.latency``; else 0 (reproducible output).
    """

    def __init__(self, model: object, settings: TrackerSettings, max_targets: int, max_pixels: int,
                 problems: Problems, record_latency: bool = False) -> None:
        self._frames = FrameBuffer(1)  # every request starts on the frame being processed (replay_inputs)
        self._session = TrackingSession(model, settings, max_targets, self._frames, problems)
        self._max_pixels = max_pixels
        self._problems = problems
        self._record_latency = record_latency
        self._intake = ImageIntake(self._session, self._frames, problems)

    def process(self, msg: Any, targets: Sequence[BagTarget] = (), name: str = 'image') -> FrameMessages | None:
        """Tracks one ``sensor_msgs/Image`` or ``CompressedImage`` after starting ``targets`` on it.

        Returns:
            The frame's messages, or ``None`` when the image was refused (reported to ``problems``; the targets
            meant to start on it are refused too).
        """
        start = time.monotonic()
        accepted = self._intake.accept(msg, self._max_pixels, start)
        if accepted is None:
            for target in targets:
                self._problems('target_frame', f'{target} refused: its image ({name}) was skipped')
            return None
        frame = accepted.frame
        for target in targets:
            try:
                self._session.request_box(target.target_id, target.box, 0)  # 0: the newest frame, this one
            except (InvalidBoxError, TargetLimitError) as error:
                self._problems(error.kind, f'{target} refused: {error}')
        outcome = self._session.process(frame)
        latency = time.monotonic() - start if self._record_latency else 0.0
        tracks = frame_tracks(outcome, latency)
        return FrameMessages(outcome, tracks, frame_track_array(outcome, tracks))
