"""The node never dies on a message: over a thousand malformed images, targets and clicks, then normal tracking.

This process sends, to a node running in its own OS process: images with wrong encodings, short data, short
rows, zero and huge sizes, undecodable compressed data; targets with NaN/inf/zero-area/out-of-image boxes,
before any image, for unknown stamps, beyond max_targets; clicks outside the image, without camera_info,
behind the camera; stamps jumping back and a resolution change. Afterwards the node must still be active,
must have counted every malformed image in /diagnostics, and must track a target set on the next valid frames.
The image subscription is reliable with depth 100 here (a parameter), so that no malformed message is lost
before it reaches the node and the counts can be compared exactly.
"""
from __future__ import annotations

import math
import time
from collections import Counter

import numpy as np
import pytest

pytest.importorskip('rclpy', reason='needs rclpy: run the tests through scripts/in-env')
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Point, PointStamped
from lifecycle_msgs.msg import State
from lifecycle_msgs.srv import GetState
from node_camera import camera_info
from node_processes import NODE_NAME, call, interrupt, spin_until, start_node, wait_active
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header
from video_frames import bikes_frames

from siamrcnn_ros.msg import Box, TargetRequest, Track
from siamrcnn_ros.node.conversions import ns_to_stamp, stamp_to_ns
from siamrcnn_ros.node.images import rgb_to_image_msg
from siamrcnn_ros.srv import SetTarget

pytestmark = [pytest.mark.ros, pytest.mark.slow]
IMAGE_TOPIC = '/camera/image_raw'
MALFORMED_IMAGES = 1000
TIMEOUT_S = 120.0
RELIABLE = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)


def malformed_images() -> list[tuple[str, Image | CompressedImage]]:
    """``(diagnostics kind, message)`` pairs, cycling through the ways an image can be broken."""
    rng = np.random.default_rng(0)

    def raw(**fields: object) -> Image:
        msg = Image(header=Header(frame_id='cam'), height=8, width=8, encoding='rgb8', step=24, data=bytes(192))
        for name, value in fields.items():
            setattr(msg, name, value)
        return msg

    kinds = [
        ('encoding', lambda: raw(encoding='32FC1')),
        ('encoding', lambda: raw(encoding='')),
        ('encoding', lambda: raw(encoding='jpeg')),
        ('data', lambda: raw(data=bytes(int(rng.integers(0, 191))))),
        ('data', lambda: raw(step=10)),
        ('size', lambda: raw(width=0, step=0, data=b'')),
        ('size', lambda: raw(height=0, data=b'')),
        ('size', lambda: raw(width=4_000_000_000, height=4_000_000_000, step=4_000_000_000)),
        ('size', lambda: raw(encoding='yuv422', width=7, step=14, data=bytes(112))),
        ('decode', lambda: CompressedImage(header=Header(frame_id='cam'), format='jpeg',
                                           data=rng.integers(0, 255, 64, dtype=np.uint8).tobytes())),
        ('data', lambda: CompressedImage(header=Header(frame_id='cam'), format='png', data=b'')),
    ]
    return [(kinds[i % len(kinds)][0], kinds[i % len(kinds)][1]()) for i in range(MALFORMED_IMAGES)]


BOX = Box(x_min=250.0, y_min=80.0, x_max=330.0, y_max=200.0)
NO_AREA_OR_NOT_FINITE = [(math.nan, 0.0, 10.0, 10.0), (0.0, 0.0, math.inf, 10.0), (-math.inf, 0.0, 10.0, 10.0),
                         (5.0, 5.0, 5.0, 30.0), (50.0, 5.0, 10.0, 30.0)]
OUTSIDE = [(700.0, 10.0, 800.0, 50.0), (-90.0, -90.0, -10.0, -10.0)]


def target(box: tuple[float, float, float, float], stamp_ns: int = 0) -> TargetRequest:
    return TargetRequest(header=Header(stamp=ns_to_stamp(stamp_ns)), target_id=0,
                         box=Box(x_min=box[0], y_min=box[1], x_max=box[2], y_max=box[3]))


class Observer:
    def __init__(self) -> None:
        self.diagnostics: dict[str, str] = {}
        self.tracks: list[Track] = []

    def on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith(f'{NODE_NAME}:'):
                self.diagnostics = {kv.key: kv.value for kv in status.values}

    def rejected(self, kind: str) -> int:
        return int(self.diagnostics.get(f'rejected: {kind}', 0))


def test_malformed_inputs_do_not_stop_the_node(ros_domain_id: int, tmp_path) -> None:
    node_process = start_node(tmp_path, '-r', f'image:={IMAGE_TOPIC}', '-p', 'image_qos.reliability:=reliable',
                              '-p', 'image_qos.depth:=100', '-p', 'compressed_input:=true', '-p', 'max_targets:=2',
                              '-p', 'debug_image:=false')
    rclpy.init()
    try:
        node = rclpy.create_node('fuzz_test')
        wait_active(node, node_process, timeout=TIMEOUT_S)
        observer = Observer()
        node.create_subscription(DiagnosticArray, '/diagnostics', observer.on_diagnostics, 10)
        node.create_subscription(Track, f'{NODE_NAME}/track', observer.tracks.append, 100)
        publishers = {
            'image': node.create_publisher(Image, IMAGE_TOPIC, RELIABLE),
            'compressed': node.create_publisher(CompressedImage, f'{IMAGE_TOPIC}/compressed', RELIABLE),
            'target': node.create_publisher(TargetRequest, 'target', RELIABLE),
            'pixel': node.create_publisher(Point, f'{IMAGE_TOPIC}_mouse_left', RELIABLE),
            'point': node.create_publisher(PointStamped, '/clicked_point', RELIABLE),
            'info': node.create_publisher(CameraInfo, '/camera/camera_info', RELIABLE),
        }
        spin_until(node, lambda: all(p.get_subscription_count() > 0 for p in publishers.values()), TIMEOUT_S,
                   'the node to subscribe to every input')
        sent = _fuzz(node, publishers, observer)
        expected = {kind: count for kind, count in sent.items() if count}
        spin_until(node, lambda: all(observer.rejected(k) >= n for k, n in expected.items()), TIMEOUT_S,
                   f'diagnostics to count {expected}')
        counted = {kind: observer.rejected(kind) for kind in expected}
        for kind in ('encoding', 'size', 'data', 'decode'):
            assert counted[kind] == sent[kind], f'{kind}: sent {sent[kind]}, diagnostics counted {counted[kind]}'
        assert sum(sent.values()) >= 1000

        # Still alive and active, and it tracks on the next valid frames.
        state = call(node, node.create_client(GetState, f'{NODE_NAME}/get_state'), GetState.Request(), TIMEOUT_S)
        assert state.current_state.id == State.PRIMARY_STATE_ACTIVE
        _tracks_after_the_fuzz(node, publishers, observer)
        node.destroy_node()
    finally:
        rclpy.shutdown()
        status = interrupt(node_process)
    assert node_process.poll() is not None
    assert status == 0, (tmp_path / 'node.err').read_text()


def _fuzz(node: rclpy.node.Node, publishers: dict, observer: Observer) -> Counter:
    """Publishes everything malformed, paced so the reliable queues never overflow; returns counts by kind."""
    sent: Counter[str] = Counter()
    frames = bikes_frames(3)

    def valid(index: int, stamp_ns: int, rgb: np.ndarray | None = None) -> Image:
        return rgb_to_image_msg(frames[index] if rgb is None else rgb, Header(stamp=ns_to_stamp(stamp_ns),
                                                                             frame_id='cam'))

    # Before any image: boxes with NaN/inf or no area are refused at once; a valid box stamped 1 ns and one
    # outside the (unknown) image wait for the first frame, which starts the first (nearest frame, a warning)
    # and refuses the second. A 3-D click cannot be projected without camera_info.
    for index, box in enumerate(NO_AREA_OR_NOT_FINITE * 10):
        publishers['target'].publish(target(box))
        if index % 5 == 4:
            _settle(node, 0.05)  # the node's target subscription keeps the last 10 requests
    publishers['target'].publish(target((250.0, 80.0, 330.0, 200.0), stamp_ns=1))
    publishers['target'].publish(target(OUTSIDE[0]))
    sent['box'] += 10 * len(NO_AREA_OR_NOT_FINITE) + 1
    sent['target_stamp'] += 1
    publishers['point'].publish(PointStamped(header=Header(frame_id='cam'), point=Point(z=1.0)))
    sent['click'] += 1
    _settle(node)
    publishers['image'].publish(valid(0, 10_000_000_000))
    publishers['info'].publish(camera_info(Header(frame_id='cam'), 272, 640))
    spin_until(node, lambda: observer.rejected('box') == sent['box'], TIMEOUT_S, 'the first frame to be processed')
    # With a frame: boxes outside it are refused at once; a stamp no frame has gets the nearest frame (a
    # warning); a third target is one more than max_targets (2).
    for index, box in enumerate(OUTSIDE * 10):
        publishers['target'].publish(target(box))
        if index % 5 == 4:
            _settle(node, 0.05)
    sent['box'] += 10 * len(OUTSIDE)
    publishers['target'].publish(target((250.0, 80.0, 330.0, 200.0), stamp_ns=99_000_000_000))
    sent['target_stamp'] += 1
    publishers['target'].publish(target((250.0, 80.0, 330.0, 200.0)))
    sent['target_limit'] += 1
    for index, (kind, msg) in enumerate(malformed_images()):
        publishers['compressed' if isinstance(msg, CompressedImage) else 'image'].publish(msg)
        sent[kind] += 1
        if index % 20 == 19:
            _settle(node, 0.02)
    for x, y in ((-5.0, 10.0), (10.0, 5000.0), (math.nan, 1.0)):
        publishers['pixel'].publish(Point(x=x, y=y))
        sent['click'] += 1
    publishers['point'].publish(PointStamped(header=Header(frame_id='cam'), point=Point(z=-1.0)))  # behind
    sent['click'] += 1
    _settle(node, 1.0)
    publishers['image'].publish(valid(1, 11_000_000_000))
    _settle(node, 1.0)
    publishers['image'].publish(valid(2, 5_000_000_000))  # stamp jumps back: reset
    sent['stamp_backwards'] += 1
    _settle(node, 1.0)
    publishers['image'].publish(valid(0, 6_000_000_000, frames[0][::2, ::2].copy()))  # resolution change: reset
    sent['resolution_change'] += 1
    _settle(node, 1.0)
    return sent


def _settle(node: rclpy.node.Node, seconds: float = 0.3) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.01)


def _tracks_after_the_fuzz(node: rclpy.node.Node, publishers: dict, observer: Observer) -> None:
    frames = bikes_frames(4)
    first_stamp = time.time_ns()
    observer.tracks.clear()
    answer = None
    for index in range(200):  # ~20 s of frames at 10 Hz at most
        stamp_ns = first_stamp + index * 100_000_000
        publishers['image'].publish(rgb_to_image_msg(frames[index % 4], Header(stamp=ns_to_stamp(stamp_ns),
                                                                               frame_id='cam')))
        if index == 3:
            client = node.create_client(SetTarget, f'{NODE_NAME}/set_target')
            answer = call(node, client, SetTarget.Request(target_id=0, box=BOX), TIMEOUT_S)
            assert answer.success, answer.message
        _settle(node, 0.1)
        if sum(t.target_id == answer.target_id for t in observer.tracks if answer) >= 3:
            break
    ours = [t for t in observer.tracks if answer and t.target_id == answer.target_id]
    assert len(ours) >= 3, 'the node did not track after the fuzz'
    first = ours[0]
    assert first.state == Track.STATE_TRACKING  # the frame the target starts on: the given box, confidence 1
    assert [first.box.x_min, first.box.y_min, first.box.x_max, first.box.y_max] == [250.0, 80.0, 330.0, 200.0]
    stamps = [stamp_to_ns(t.header.stamp) for t in ours]
    assert all(first_stamp <= s for s in stamps)
    assert stamps == sorted(set(stamps))
    assert all(t.state in (Track.STATE_TRACKING, Track.STATE_LOST) for t in ours)
