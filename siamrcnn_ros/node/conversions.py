"""Our messages <-> the tracker's arrays (pure functions: no node, no clock, no state).

Conventions (README, "Messages"): boxes are xyxy float pixels of the source image, every output carries
the source image's header unchanged, presence is ``present`` + ``confidence`` in [0, 1].

Two mappings need a documented choice:

* Tracklet ids: TDPA numbers a target's tracklets from 0 (``0`` is the first-frame tracklet), while
  ``Track.selected_tracklet_id == 0`` means "no tracklet". Message ids are therefore tracker ids + 1
  (``tracklet_msg_id``): the first-frame tracklet is 1 in the messages.
* ``dp_score``: TDPA's θ is ``-inf`` for a tracklet that no track from the first-frame tracklet reaches
  (Eq. 1). Messages carry float32 and many consumers (JSON, YAML, plotting) choke on infinities, so it is
  sent as ``UNREACHABLE_DP_SCORE``, the lowest finite float32 (-3.4028235e38), which still sorts below
  every reachable score; finite scores beyond float32's range are clipped to it.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from builtin_interfaces.msg import Duration, Time

from siamrcnn_ros.msg import Box, Track, TrackArray, Tracklet
from siamrcnn_ros.tracking.records import TrackResult

FLOAT32_MAX = float(np.finfo(np.float32).max)
UNREACHABLE_DP_SCORE = -FLOAT32_MAX
"""``Tracklet.dp_score`` of a tracklet that no track from the first-frame tracklet reaches (θ = -inf)."""


# --- time ---------------------------------------------------------------------------------------------

def stamp_to_ns(stamp: Time) -> int:
    """``builtin_interfaces/Time`` -> integer nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


NS_PER_S = 1_000_000_000
MAX_FUTURE_S = 86_400.0
"""A stamp further than this ahead of the node's clock (seconds) is refused (``check_stamp``)."""


class InvalidStampError(ValueError):
    """A header stamp that is not a valid ROS time for the node; ``kind`` = ``'stamp'`` (the diagnostics key)."""

    kind = 'stamp'


def check_stamp(stamp: Time, now_ns: int = 0) -> int:
    """A message's header stamp checked once, at the node's input; returns it in integer nanoseconds (>= 0).

    ROS times are >= 0 (``rclpy.time.Time`` and ``rclcpp::Time`` refuse negative ones) with ``nanosec`` below one
    second. A stamp far in the future of the node's clock (a corrupt field, a year-2038 value) would make the
    next normal frame look like a jump back in time and clear every target, so it is refused too.

    Args:
        stamp: ``builtin_interfaces/Time``.
        now_ns: the node's clock (ROS time, ns); 0 = unknown (sim time before the first /clock): no future check.

    Raises:
        InvalidStampError: ``sec < 0``, ``nanosec >= 10**9``, or more than ``MAX_FUTURE_S`` ahead of ``now_ns``.
    """
    sec, nanosec = int(stamp.sec), int(stamp.nanosec)
    if sec < 0:
        raise InvalidStampError(f'stamp sec = {sec} is negative: ROS times start at 0 (1970-01-01)')
    if nanosec >= NS_PER_S:
        raise InvalidStampError(f'stamp nanosec = {nanosec} is not below 10^9 (sec = {sec})')
    stamp_ns = sec * NS_PER_S + nanosec
    if now_ns > 0 and stamp_ns - now_ns > MAX_FUTURE_S * NS_PER_S:
        raise InvalidStampError(f'stamp {sec}.{nanosec:09d} s is {(stamp_ns - now_ns) / NS_PER_S / 86_400:.0f} days '
                                f'ahead of the node\'s clock ({now_ns / NS_PER_S:.0f} s); more than '
                                f'{MAX_FUTURE_S / 3600:.0f} h ahead is refused')
    return stamp_ns


def ns_to_stamp(nanoseconds: int) -> Time:
    """Integer nanoseconds (>= 0) -> ``builtin_interfaces/Time``."""
    if nanoseconds < 0:
        raise ValueError(f'a stamp must be >= 0 ns, got {nanoseconds}')
    sec, nanosec = divmod(int(nanoseconds), 1_000_000_000)
    return Time(sec=sec, nanosec=nanosec)


def seconds_to_duration(seconds: float) -> Duration:
    """Seconds (finite, >= 0; negatives from clock steps are clamped to 0) -> ``builtin_interfaces/Duration``."""
    if not math.isfinite(seconds):
        raise ValueError(f'duration must be finite, got {seconds}')
    sec, nanosec = divmod(max(0, round(seconds * 1e9)), 1_000_000_000)
    return Duration(sec=int(sec), nanosec=int(nanosec))


# --- boxes --------------------------------------------------------------------------------------------

def box_to_msg(box: np.ndarray) -> Box:
    """``[4]`` xyxy pixels -> ``Box`` (float32 fields)."""
    x0, y0, x1, y1 = (float(v) for v in np.asarray(box, dtype=np.float64).reshape(4))
    return Box(x_min=x0, y_min=y0, x_max=x1, y_max=y1)


def box_from_msg(box: Box) -> np.ndarray:
    """``Box`` -> ``[4]`` float64 xyxy pixels, unchecked."""
    return np.array([box.x_min, box.y_min, box.x_max, box.y_max], dtype=np.float64)


# --- tracking results ---------------------------------------------------------------------------------

def tracklet_msg_id(tracker_id: int) -> int:
    """Tracker tracklet id (0 = first-frame tracklet) -> message id (>= 1; 0 means "none" in Track)."""
    return int(tracker_id) + 1


def dp_score_to_msg(theta: float) -> float:
    """TDPA's θ -> ``Tracklet.dp_score``: ``-inf`` and anything below float32's range -> ``UNREACHABLE_DP_SCORE``."""
    if math.isnan(theta):
        raise ValueError('dp score θ is NaN')
    return float(min(max(theta, -FLOAT32_MAX), FLOAT32_MAX))


StartStamp = Callable[[int], Time]
"""Maps a target-local frame index to the stamp of that frame (zero ``Time`` when no longer known)."""


def tracklet_to_msg(tracker_id: int, box: np.ndarray, similarity: float, theta: float, start_frame: int,
                    length: int, selected: bool, start_stamp: StartStamp) -> Tracklet:
    """One tracklet as a ``Tracklet`` message (ids shifted by one, θ mapped as documented above)."""
    return Tracklet(id=tracklet_msg_id(tracker_id), box=box_to_msg(box), similarity=float(similarity),
                    dp_score=dp_score_to_msg(float(theta)), start_stamp=start_stamp(int(start_frame)),
                    length=max(1, int(length)), selected=bool(selected))


def result_to_track(result: TrackResult, *, target_id: int, header: object, latency_s: float,
                    start_stamp: StartStamp) -> Track:
    """A ``TrackResult`` as a ``Track`` message (state ``TRACKING`` when present, else ``LOST``).

    Args:
        result: the tracker's answer for the frame.
        target_id: the target's id, >= 1.
        header: the source image's header, copied unchanged.
        latency_s: arrival of the source image at the node to publication, seconds (Track.latency).
        start_stamp: stamps of the target's frames by frame index, for ``Tracklet.start_stamp``.

    The mask fields stay empty here (``outputs.frame_tracks`` fills them from the Box2Seg masks). Distractors are
    ordered by ``dp_score``, highest first, ties by id; the selected tracklet is only referenced by
    ``selected_tracklet_id`` (Track.msg keeps it out of the list), so ``Tracklet.selected`` is false there.
    """
    track = Track(header=header, target_id=int(target_id), present=bool(result.present),
                  confidence=float(np.clip(result.confidence, 0.0, 1.0)) if result.present else 0.0,
                  box=box_to_msg(result.box), latency=seconds_to_duration(latency_s))
    track.state = Track.STATE_TRACKING if result.present else Track.STATE_LOST
    if result.selected is not None:
        track.selected_tracklet_id = tracklet_msg_id(result.selected.tracklet_id)
    table = result.distractors
    order = sorted(range(len(table)), key=lambda i: (-float(table.theta[i]), int(table.tracklet_ids[i])))
    track.distractors = [
        tracklet_to_msg(table.tracklet_ids[i], table.boxes[i], table.similarity[i], table.theta[i],
                        table.start_frames[i], table.lengths[i], False, start_stamp)
        for i in order
    ]
    return track


def status_track(*, target_id: int, header: object, state: int, latency_s: float = 0.0) -> Track:
    """A ``Track`` without a result: ``STATE_IDLE`` (target cleared) or ``STATE_INITIALIZING`` (waiting for
    its frame); every other field zero/empty, as Track.msg specifies."""
    if state not in (Track.STATE_IDLE, Track.STATE_INITIALIZING):
        raise ValueError(f'status_track is for STATE_IDLE or STATE_INITIALIZING, got state {state}')
    return Track(header=header, target_id=int(target_id), state=state, latency=seconds_to_duration(latency_s))


def track_array(header: object, tracks: list[Track]) -> TrackArray:
    """All targets of one frame, ordered by target id, IDLE ones left out (TrackArray.msg)."""
    kept = sorted((track for track in tracks if track.state != Track.STATE_IDLE), key=lambda t: t.target_id)
    return TrackArray(header=header, tracks=kept)
