"""The messages of one processed frame: Track per target, TrackArray, debug image (pure functions).

Every message carries the source image's header unchanged (SPEC §7): consumers match results to images by
stamp, and outputs never carry ``now()``.
"""
from __future__ import annotations

import numpy as np

from siamrcnn_ros.drawing import draw_frame_info, draw_mask, draw_result
from siamrcnn_ros.msg import Track, TrackArray
from siamrcnn_ros.node.conversions import ns_to_stamp, result_to_track, status_track, track_array
from siamrcnn_ros.node.masks import mask_fields
from siamrcnn_ros.node.session import FrameOutcome


def frame_tracks(outcome: FrameOutcome, latency_s: float) -> list[Track]:
    """One ``Track`` per target on this frame, ordered by id: results (``TRACKING``/``LOST``), requests waiting
    for their frame (``INITIALIZING``) and targets cleared since the last frame (``IDLE``, once). Targets with a
    mask in ``outcome.masks`` carry it in ``mask`` / ``mask_roi`` (``masks.mask_fields``); tracklet start stamps
    come from ``outcome.start_stamps``."""
    header = outcome.frame.header
    tracks = [
        result_to_track(result, target_id=target_id, header=header, latency_s=latency_s,
                        start_stamp=lambda index, i=target_id: ns_to_stamp(outcome.start_stamp_ns(i, index)))
        for target_id, result in outcome.results.items()
    ]
    for track in tracks:  # Box2Seg masks of the present targets (none when masks are off)
        if track.target_id in outcome.masks:
            track.mask, track.mask_roi = mask_fields(outcome.masks[track.target_id], header)
    tracks += [status_track(target_id=i, header=header, state=Track.STATE_INITIALIZING, latency_s=latency_s)
               for i in outcome.initializing if i not in outcome.results]
    tracks += [status_track(target_id=i, header=header, state=Track.STATE_IDLE, latency_s=latency_s)
               for i in outcome.cleared]
    return sorted(tracks, key=lambda track: track.target_id)


def frame_track_array(outcome: FrameOutcome, tracks: list[Track]) -> TrackArray:
    """The frame's ``TrackArray`` (targets that are set; IDLE ones left out)."""
    return track_array(outcome.frame.header, tracks)


def debug_image(outcome: FrameOutcome, rate_hz: float | None) -> np.ndarray:
    """``[H, W, 3]`` uint8 RGB: the frame with every target (mask tint, box, confidence or "absent", distractors)
    and a status line (targets and their states, processing rate)."""
    image = outcome.frame.image
    for target_id in sorted(outcome.masks):
        image = draw_mask(image, outcome.masks[target_id])
    for target_id, result in sorted(outcome.results.items()):
        image = draw_result(image, result, target_id=target_id)
    if image is outcome.frame.image:
        image = image.copy()  # never draw on the buffered frame: a later target may start on it
    states = [f'#{i} {"tracking" if r.present else "lost"}' for i, r in sorted(outcome.results.items())]
    states += [f'#{i} initializing' for i in outcome.initializing]
    rate = '' if rate_hz is None else f' | {rate_hz:.1f} Hz'
    draw_frame_info(image, (', '.join(states) or 'no target: click the object or send a target') + rate)
    return image
