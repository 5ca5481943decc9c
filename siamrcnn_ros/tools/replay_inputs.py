"""What ``siamrcnn-replay`` reads from a bag: the image topic, the target requests, and which frame each starts on.

Targets in a replay start on the frame they were drawn on. The live node receives a ``TargetRequest``
some frames after that frame and catches up from its frame buffer (``TrackingSession``); offline, every
frame is at hand, so the replay schedules each request onto its frame before tracking begins:

* a request with a stamp starts on the image whose header stamp is nearest to it (ties: the image
  recorded nearest to the request, then the earlier one);
* a request with a zero stamp ("the newest frame", TargetRequest.msg) starts on the last image recorded
  at or before the request's bag time (the first image when it precedes them all).

So the result does not depend on when the request happened to arrive, and the frame it was drawn on gets
a Track (the ``init`` result) like every later one.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from rclpy.serialization import deserialize_message
from rosbags.interfaces import TopicInfo
from rosbags.rosbag2 import Reader
from sensor_msgs.msg import CompressedImage, Image

from siamrcnn_ros.msg import TargetRequest
from siamrcnn_ros.node.conversions import box_from_msg, stamp_to_ns

IMAGE_TYPES: dict[str, type] = {'sensor_msgs/msg/Image': Image, 'sensor_msgs/msg/CompressedImage': CompressedImage}
"""Bag message types the replay tracks in -> their rclpy classes."""
TARGET_TYPE = 'siamrcnn_ros/msg/TargetRequest'


@dataclass(frozen=True)
class BagTarget:
    """One target request, from the bag's target topic or the command line.

    Attributes:
        time_ns: bag (receive) time of the request, nanoseconds.
        stamp_ns: stamp of the image the box was drawn on, nanoseconds; 0 = the newest image at ``time_ns``.
        target_id: target id; 0 = the lowest free one (``TargetRequest.TARGET_ID_AUTO``).
        box: ``[4]`` float64 xyxy pixels of that image.
    """

    time_ns: int
    stamp_ns: int
    target_id: int
    box: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class ImageIndex:
    """Where the images of the image topic are, in bag order.

    Attributes:
        times_ns: ``[N]`` bag (receive) times, nanoseconds.
        stamps_ns: ``[N]`` header stamps, nanoseconds.
    """

    times_ns: np.ndarray
    stamps_ns: np.ndarray

    def __len__(self) -> int:
        return len(self.times_ns)


def describe_topics(topics: Mapping[str, TopicInfo]) -> str:
    """``'/a (sensor_msgs/msg/Image, 5), /b (...)'``: the bag's topics for error messages."""
    return ', '.join(f'{name} ({info.msgtype}, {info.msgcount})' for name, info in sorted(topics.items())) or 'none'


def pick_topic(topics: Mapping[str, TopicInfo], wanted: str | None, types: Sequence[str], option: str) -> str | None:
    """The topic to read: ``wanted`` if given (checked), else the only topic of one of ``types``.

    Args:
        topics: the bag's topics (``Reader.topics``).
        wanted: the topic the user named, or ``None``.
        types: acceptable message types (``'pkg/msg/Type'``).
        option: the command-line option naming the topic (for the messages).

    Returns:
        The topic name; ``None`` when ``wanted`` is ``None`` and the bag has no topic of those types.

    Raises:
        ValueError: ``wanted`` is not in the bag or has another type; several candidate topics.
    """
    if wanted is not None:
        if wanted not in topics:
            raise ValueError(f'topic {wanted} ({option}) is not in the bag; its topics: {describe_topics(topics)}')
        if topics[wanted].msgtype not in types:
            raise ValueError(f'topic {wanted} ({option}) has type {topics[wanted].msgtype}, not {" or ".join(types)}')
        return wanted
    candidates = sorted(name for name, info in topics.items() if info.msgtype in types)
    if len(candidates) > 1:
        raise ValueError(f'the bag has several {" / ".join(types)} topics ({", ".join(candidates)}): choose one with '
                         f'{option}')
    return candidates[0] if candidates else None


def message_class(msgtype: str) -> type:
    """The rclpy class of an image or target message type (``'pkg/msg/Type'``)."""
    return TargetRequest if msgtype == TARGET_TYPE else IMAGE_TYPES[msgtype]


def read_raw(reader: Reader, topic: str) -> Iterator[tuple[int, bytes]]:
    """``(bag time ns, CDR bytes)`` of one topic, in bag order."""
    for _connection, time_ns, raw in reader.messages(reader.topics[topic].connections):
        yield time_ns, bytes(raw)


def read_messages(reader: Reader, topic: str) -> Iterator[tuple[int, object]]:
    """``(bag time ns, rclpy message)`` of one topic, in bag order (decoded by rclpy, as a subscriber would)."""
    cls = message_class(reader.topics[topic].msgtype)
    for time_ns, raw in read_raw(reader, topic):
        yield time_ns, deserialize_message(raw, cls)


def index_images(reader: Reader, topic: str) -> ImageIndex:
    """Bag times and header stamps of every image of ``topic`` (one pass over the topic)."""
    times, stamps = [], []
    for time_ns, msg in read_messages(reader, topic):
        times.append(time_ns)
        stamps.append(stamp_to_ns(msg.header.stamp))
    return ImageIndex(np.array(times, dtype=np.int64), np.array(stamps, dtype=np.int64))


def read_targets(reader: Reader, topic: str) -> list[BagTarget]:
    """Every ``TargetRequest`` of ``topic``, in bag order."""
    return [BagTarget(time_ns, stamp_to_ns(msg.header.stamp), int(msg.target_id), box_from_msg(msg.box))
            for time_ns, msg in read_messages(reader, topic)]


def target_frame(images: ImageIndex, target: BagTarget) -> int:
    """Index of the image ``target`` starts on (rules in the module docstring); ``ValueError`` without images."""
    if len(images) == 0:
        raise ValueError('there are no images to start a target on')
    if target.stamp_ns:
        # Exact integer keys: (stamp distance, bag-time distance, index).
        stamp_gap = np.abs(images.stamps_ns - target.stamp_ns)
        time_gap = np.abs(images.times_ns - target.time_ns)
        return int(np.lexsort((np.arange(len(images)), time_gap, stamp_gap))[0])
    before = np.flatnonzero(images.times_ns <= target.time_ns)
    return int(before[-1]) if before.size else 0


def schedule_targets(images: ImageIndex, targets: Sequence[BagTarget]) -> dict[int, list[BagTarget]]:
    """``{image index: [targets starting on it, in request order]}``."""
    schedule: dict[int, list[BagTarget]] = {}
    for target in targets:
        schedule.setdefault(target_frame(images, target), []).append(target)
    return schedule
