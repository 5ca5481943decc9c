"""Our ``TrackArray`` -> ``vision_msgs/Detection2DArray``, for planners that expect the standard type.

vision_msgs (4.x) has no field for presence, distractors or masks (SPEC §7), so the node publishes it as
well as, not instead of, its own messages, and only where vision_msgs is installed. The field layout
used here (vision_msgs 4.x, ROS 2 Humble and later)::

    Detection2DArray{header, detections[]}
    Detection2D{header, results[], bbox, id}
        results[i]: ObjectHypothesisWithPose{hypothesis: ObjectHypothesis{class_id, score}, pose}
        bbox: BoundingBox2D{center: Pose2D{position: Point2D{x, y}, theta}, size_x, size_y}

Mapping: one detection per target that has a box (``TRACKING`` or ``LOST``); ``id`` = the target id as
a string; one hypothesis with ``class_id`` = ``TARGET_CLASS_ID`` and ``score`` = the presence confidence
(0 when the target is absent); box centre and size in source-image pixels, ``theta`` 0 (axis-aligned);
every header = the source image's header.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from siamrcnn_ros.msg import Track, TrackArray

TARGET_CLASS_ID = 'siamrcnn_target'
"""``ObjectHypothesis.class_id`` of every detection: the tracker follows instances, not classes."""


@dataclass(frozen=True)
class VisionTypes:
    """The vision_msgs message classes the conversion builds (stand-ins with the same layout in tests)."""

    detection_array: type
    detection: type
    hypothesis_with_pose: type


def load_vision_types() -> VisionTypes | None:
    """The vision_msgs classes, or ``None`` when vision_msgs is not installed (then no ~/detections)."""
    try:
        from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose
    except ImportError:
        return None
    return VisionTypes(Detection2DArray, Detection2D, ObjectHypothesisWithPose)


def tracks_to_detections(tracks: TrackArray, types: VisionTypes) -> Any:
    """``TrackArray`` -> ``Detection2DArray`` (see the module docstring for the field mapping)."""
    out = types.detection_array()
    out.header = tracks.header
    detections = []
    for track in tracks.tracks:
        if track.state not in (Track.STATE_TRACKING, Track.STATE_LOST):
            continue
        detection = types.detection()
        detection.header = tracks.header
        detection.id = str(track.target_id)
        box = track.box
        detection.bbox.center.position.x = (float(box.x_min) + float(box.x_max)) / 2.0
        detection.bbox.center.position.y = (float(box.y_min) + float(box.y_max)) / 2.0
        detection.bbox.center.theta = 0.0
        detection.bbox.size_x = float(box.x_max) - float(box.x_min)
        detection.bbox.size_y = float(box.y_max) - float(box.y_min)
        hypothesis = types.hypothesis_with_pose()
        hypothesis.hypothesis.class_id = TARGET_CLASS_ID
        hypothesis.hypothesis.score = float(track.confidence) if track.present else 0.0
        detection.results = [hypothesis]
        detections.append(detection)
    out.detections = detections
    return out
