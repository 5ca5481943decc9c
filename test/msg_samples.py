"""Sample messages of every siamrcnn_ros type with a non-default value in every field, and a
field-by-field comparison, shared by the DDS and the bag round-trip tests."""
from __future__ import annotations

from typing import Any

from builtin_interfaces.msg import Duration, Time
from sensor_msgs.msg import Image, RegionOfInterest
from std_msgs.msg import Header

from siamrcnn_ros.msg import Box, TargetRequest, Track, TrackArray, Tracklet
from siamrcnn_ros.srv import ClearTarget, SetTarget


def _header(sec: int) -> Header:
    return Header(stamp=Time(sec=sec, nanosec=123_456_789), frame_id='camera_color_optical_frame')


def _tracklet(tracklet_id: int, selected: bool) -> Tracklet:
    return Tracklet(
        id=tracklet_id,
        box=Box(x_min=10.5, y_min=20.25, x_max=110.75, y_max=220.5),
        similarity=0.625,
        dp_score=-3.5 + tracklet_id,
        start_stamp=Time(sec=1_700_000_000, nanosec=42),
        length=17 + tracklet_id,
        selected=selected,
    )


def _track(target_id: int) -> Track:
    mask_data = bytes([0, 255, 255, 0, 255, 0])
    return Track(
        header=_header(1_700_000_123),
        target_id=target_id,
        state=Track.STATE_TRACKING,
        present=True,
        confidence=0.875,
        box=Box(x_min=1.5, y_min=2.5, x_max=3.5, y_max=4.5),
        selected_tracklet_id=2**40 + 7,
        distractors=[_tracklet(3, True), _tracklet(4, True)],
        mask=Image(
            header=_header(1_700_000_123), height=2, width=3, encoding='mono8',
            is_bigendian=1, step=3, data=mask_data,
        ),
        mask_roi=RegionOfInterest(x_offset=11, y_offset=12, height=2, width=3, do_rectify=True),
        latency=Duration(sec=1, nanosec=250_000_000),
    )


def sample_messages() -> dict[str, Any]:
    """One instance per message type, keyed by the ROS type name ('siamrcnn_ros/msg/Track')."""
    return {
        'siamrcnn_ros/msg/Box': Box(x_min=-1.25, y_min=0.5, x_max=640.0, y_max=480.0),
        'siamrcnn_ros/msg/Tracklet': _tracklet(9, True),
        'siamrcnn_ros/msg/Track': _track(5),
        'siamrcnn_ros/msg/TrackArray': TrackArray(header=_header(1_700_000_456), tracks=[_track(1), _track(2)]),
        'siamrcnn_ros/msg/TargetRequest': TargetRequest(
            header=_header(1_700_000_789), target_id=3, box=Box(x_min=5.0, y_min=6.0, x_max=70.0, y_max=80.0),
        ),
    }


def sample_set_target_request() -> SetTarget.Request:
    return SetTarget.Request(
        header=_header(1_700_000_999), target_id=4, box=Box(x_min=8.0, y_min=9.0, x_max=10.0, y_max=11.0),
    )


def sample_set_target_response() -> SetTarget.Response:
    return SetTarget.Response(success=True, message='target 4 set', target_id=4)


def sample_clear_target_request() -> ClearTarget.Request:
    return ClearTarget.Request(target_id=6)


def sample_clear_target_response() -> ClearTarget.Response:
    return ClearTarget.Response(success=True, message='cleared target 6')


def _fields(msg: Any) -> list[str]:
    """Field names of a message, from rclpy (get_fields_and_field_types) or a rosbags dataclass."""
    if hasattr(msg, 'get_fields_and_field_types'):
        return list(msg.get_fields_and_field_types())
    return [name for name in msg.__dataclass_fields__ if name != '__msgtype__']


def _is_message(value: Any) -> bool:
    return hasattr(value, 'get_fields_and_field_types') or hasattr(value, '__dataclass_fields__')


def _leaf(value: Any) -> Any:
    """A comparable form of a leaf: bytes, arrays and sequences become lists."""
    if isinstance(value, (bytes, bytearray)):
        return list(value)
    if hasattr(value, 'tolist'):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return list(value)
    return value


def field_differences(expected: Any, actual: Any, path: str = '') -> list[str]:
    """Every leaf field where ``actual`` differs from ``expected``, as 'path: expected != actual'.

    Works across representations (rclpy message classes and rosbags dataclasses), so a bag read
    back by rosbags can be compared with the rclpy message that was written.
    """
    differences: list[str] = []
    for name in _fields(expected):
        where = f'{path}.{name}' if path else name
        exp, act = getattr(expected, name), getattr(actual, name, '<missing>')
        if _is_message(exp):
            differences += field_differences(exp, act, where)
        elif isinstance(exp, list) and exp and _is_message(exp[0]):
            if not isinstance(act, (list, tuple)) or len(act) != len(exp):
                differences.append(f'{where}: {len(exp)} elements != {act!r}')
                continue
            for i, (e, a) in enumerate(zip(exp, act, strict=False)):
                differences += field_differences(e, a, f'{where}[{i}]')
        elif _leaf(exp) != _leaf(act):
            differences.append(f'{where}: {_leaf(exp)!r} != {_leaf(act)!r}')
    return differences


def default_fields(msg: Any, path: str = '') -> list[str]:
    """Leaf fields of ``msg`` that still hold their type's default (0, '', False, empty)."""
    defaults = type(msg)()
    found: list[str] = []
    for name in _fields(msg):
        where = f'{path}.{name}' if path else name
        value = getattr(msg, name)
        if _is_message(value):
            found += default_fields(value, where)
        elif isinstance(value, list) and value and _is_message(value[0]):
            for i, element in enumerate(value):
                found += default_fields(element, f'{where}[{i}]')
        elif _leaf(value) == _leaf(getattr(defaults, name)):
            found.append(where)
    return found
