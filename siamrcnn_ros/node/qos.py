"""QoS of the node's subscriptions, and what to tell a user when no image arrives (pure functions).

A QoS mismatch is the first thing users hit (issue 5): a reliable subscriber never hears a best-effort
publisher, and DDS says nothing. The image subscription is therefore best effort by default (REP 2003
sensor-data QoS; it also receives from the reliable publishers most camera drivers use), and when no image
has arrived for a while ``no_image_message`` explains the likely cause from the publishers on the topic.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from siamrcnn_ros.node.parameters import ImageQoSSettings

RELIABILITY = {'best_effort': ReliabilityPolicy.BEST_EFFORT, 'reliable': ReliabilityPolicy.RELIABLE}


def image_qos(settings: ImageQoSSettings) -> QoSProfile:
    """The image subscription's profile: keep last ``depth``, the configured reliability, volatile."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=settings.depth,
                      reliability=RELIABILITY[settings.reliability], durability=DurabilityPolicy.VOLATILE)


# Track outputs are small (a few hundred bytes) and one of them (the IDLE Track after a clear) is sent only
# once: a reliable writer keeps this many for a consumer that lags (several seconds of frames and targets).
TRACK_OUTPUT_DEPTH = 100


def reliable_qos(depth: int = 10) -> QoSProfile:
    """Commands (targets, clicks) and outputs: reliable, keep last ``depth``, volatile."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth, reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)


def latest_only_qos() -> QoSProfile:
    """camera_info: only the newest matters; best effort so it matches any publisher."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.BEST_EFFORT,
                      durability=DurabilityPolicy.VOLATILE)


DDS_PROFILE_VARIABLES = ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE')
"""Where Fast DDS 3 (Kilted and later) and Fast DDS 2 (Humble, Jazzy) read a participant profile (XML) from."""
DDS_PROFILE = 'fastdds_profile.xml'
"""The package's profile, in ``config/`` (source tree) and ``share/siamrcnn_ros/config`` (installed)."""


def dds_profile_note(environ: Mapping[str, str] | None = None) -> str:
    """One log line on the Fast DDS profile of this process (``environ``: default ``os.environ``).

    Images over 512 KiB need a larger shared-memory segment than Fast DDS's default in the PUBLISHING process
    (``config/fastdds_profile.xml``); the node's own profile covers its outputs (the debug image).
    """
    environ = os.environ if environ is None else environ
    rmw = environ.get('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
    if rmw != 'rmw_fastrtps_cpp':
        return f'DDS: {rmw} (the Fast DDS profile {DDS_PROFILE} does not apply)'
    for name in DDS_PROFILE_VARIABLES:
        if environ.get(name):
            return f'DDS: Fast DDS profile {environ[name]} (from {name})'
    return (f'DDS: no Fast DDS profile ({DDS_PROFILE_VARIABLES[0]} unset): the node\'s debug images over 512 KiB '
            f'do not reach best-effort viewers in other processes; set it to the package\'s config/{DDS_PROFILE} '
            f'here and in the camera driver\'s process (README)')


def _policy_name(value: Any) -> str:
    return getattr(value, 'name', str(value)).lower()


def no_image_message(topic: str, waited_s: float, subscriber: ImageQoSSettings, publishers: Sequence[Any]) -> str:
    """The log line for "no image on ``topic`` for ``waited_s`` seconds", with the likely cause.

    Args:
        topic: the resolved image topic.
        waited_s: seconds since activation or the last image.
        subscriber: the image subscription's QoS settings.
        publishers: ``Node.get_publishers_info_by_topic(topic)`` (each has ``node_name``, ``node_namespace``,
            ``topic_type`` and ``qos_profile``).
    """
    head = f'no image received on {topic} for {waited_s:.0f} s'
    if not publishers:
        return (f'{head}: nothing publishes on that topic. Check the camera driver runs and remap the input, '
                f'e.g. --ros-args -r image:=/camera/image_raw (compressed input: compressed_input:=true)')
    described, best_effort = [], []
    for info in publishers:
        name = f'{info.node_namespace.rstrip("/")}/{info.node_name}'
        reliability = _policy_name(info.qos_profile.reliability)
        described.append(f'{name} ({info.topic_type}, {reliability})')
        if info.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT:
            best_effort.append(name)
    listing = ', '.join(described)
    if subscriber.reliability == 'reliable' and best_effort:
        return (f'{head}: QoS mismatch: this node subscribes RELIABLE but {", ".join(best_effort)} publish(es) '
                f'BEST_EFFORT, so DDS delivers nothing. Set image_qos.reliability to best_effort. '
                f'Publishers: {listing}')
    wrong_type = [info.topic_type for info in publishers if info.topic_type != 'sensor_msgs/msg/Image']
    if wrong_type:
        return f'{head}: the topic carries {wrong_type[0]}, not sensor_msgs/msg/Image. Publishers: {listing}'
    return (f'{head} although publishers exist with compatible QoS ({listing}): they may not be publishing, or '
            f'DDS drops large messages (/diagnostics counts images lost by DDS; images over 512 KiB need the '
            f'package\'s Fast DDS profile config/{DDS_PROFILE} in the camera\'s process, README), or check '
            f'ROS_DOMAIN_ID and ROS_AUTOMATIC_DISCOVERY_RANGE')
