"""The received ``Track`` messages as plain per-frame records (NumPy, no ROS types), and back to the tracker's
``TrackResult`` for drawing with ``siamrcnn_ros.drawing.draw_result``.

Ids are the messages' own: tracklet ids start at 1 (``Tracklet.msg``), so the video's distractor labels match
what a ROS consumer sees. ``dp_score`` comes back as TDPA's θ (the lowest float32 = unreachable = ``-inf``).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from siamrcnn_ros.msg import Track
from siamrcnn_ros.node.conversions import UNREACHABLE_DP_SCORE, box_from_msg, stamp_to_ns
from siamrcnn_ros.tracking.records import TrackletTable, TrackResult

STATE_NAMES = {Track.STATE_IDLE: 'IDLE', Track.STATE_INITIALIZING: 'INITIALIZING',
               Track.STATE_TRACKING: 'TRACKING', Track.STATE_LOST: 'LOST'}


@dataclass(frozen=True, eq=False)
class TrackRecord:
    """One ``Track`` message of the demo's target.

    Attributes:
        frame: index of the frame in the clip (0 = the frame the target was set on).
        stamp_ns: the stamp of that frame's image (the message's header stamp).
        state: ``Track.STATE_*``.
        present: the target is judged visible.
        confidence: presence confidence in [0, 1] (0 when absent).
        box: ``[4]`` float64 xyxy pixels (when absent: the last box where the target was seen).
        selected_tracklet_id: the tracklet selected as the target (0 = none).
        distractor_ids: ``[K]`` int64 tracklet ids of the distractors, highest ``dp_score`` first.
        distractor_boxes: ``[K, 4]`` float64 xyxy pixels.
        distractor_similarity: ``[K]`` float64 similarity to the template.
        distractor_dp_scores: ``[K]`` float64 θ (``-inf`` where unreachable).
        distractor_start_frames: ``[K]`` int64 clip frame where each started (-1 when its stamp is not a clip frame).
        distractor_lengths: ``[K]`` int64 detections per tracklet.
        latency_s: ``Track.latency``: arrival of the image at the node to publication, seconds.
    """

    frame: int
    stamp_ns: int
    state: int
    present: bool
    confidence: float
    box: np.ndarray
    selected_tracklet_id: int
    distractor_ids: np.ndarray
    distractor_boxes: np.ndarray
    distractor_similarity: np.ndarray
    distractor_dp_scores: np.ndarray
    distractor_start_frames: np.ndarray
    distractor_lengths: np.ndarray
    latency_s: float

    @property
    def state_name(self) -> str:
        return STATE_NAMES.get(self.state, str(self.state))

    def to_track_result(self) -> TrackResult:
        """The record as the tracker's ``TrackResult`` (no selected-tracklet details: the message has only its id)."""
        distractors = TrackletTable(tracklet_ids=self.distractor_ids, boxes=self.distractor_boxes,
                                    theta=self.distractor_dp_scores, similarity=self.distractor_similarity,
                                    start_frames=self.distractor_start_frames, lengths=self.distractor_lengths)
        return TrackResult(frame=self.frame, box=self.box, present=self.present, confidence=self.confidence,
                           selected=None, distractors=distractors)


def record_from_track(track: Track, frame_of_stamp: Mapping[int, int]) -> TrackRecord:
    """A ``Track`` message -> ``TrackRecord``.

    Args:
        track: the message.
        frame_of_stamp: clip frame index by image stamp (ns); the message's own stamp must be in it.

    Raises:
        ValueError: the message's stamp is not one of the clip's frames.
    """
    stamp = stamp_to_ns(track.header.stamp)
    if stamp not in frame_of_stamp:
        raise ValueError(f'a Track carries the stamp {stamp} ns, which no played frame had')
    tracklets = list(track.distractors)
    boxes = np.array([box_from_msg(t.box) for t in tracklets], dtype=np.float64).reshape(-1, 4)  # [K, 4]
    dp_scores = np.array([-np.inf if t.dp_score <= UNREACHABLE_DP_SCORE else t.dp_score for t in tracklets],
                         dtype=np.float64)
    return TrackRecord(
        frame=frame_of_stamp[stamp], stamp_ns=stamp, state=int(track.state), present=bool(track.present),
        confidence=float(track.confidence), box=box_from_msg(track.box),
        selected_tracklet_id=int(track.selected_tracklet_id),
        distractor_ids=np.array([t.id for t in tracklets], dtype=np.int64),
        distractor_boxes=boxes,
        distractor_similarity=np.array([t.similarity for t in tracklets], dtype=np.float64),
        distractor_dp_scores=dp_scores,
        distractor_start_frames=np.array([frame_of_stamp.get(stamp_to_ns(t.start_stamp), -1) for t in tracklets],
                                         dtype=np.int64),
        distractor_lengths=np.array([t.length for t in tracklets], dtype=np.int64),
        latency_s=track.latency.sec + track.latency.nanosec * 1e-9,
    )
