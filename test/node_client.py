"""An outside client of ``siamrcnn_node`` for the tests of issue 18: the node runs in its own OS process, this
process talks to it only through ROS (topics, services, /diagnostics), as a client written elsewhere would.

``NodeClient`` starts the node (package params file, CPU, ``image`` remapped to ``IMAGE_TOPIC``), waits until it
is active, and offers: images published reliable (depth 100, so that none is lost before it reaches the node),
target requests by topic and service, raw parameter service calls, and what the node published (Track messages and
the latest /diagnostics values of the node).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from lifecycle_msgs.msg import State
from lifecycle_msgs.srv import GetState
from node_processes import NODE_NAME, call, interrupt, node_log_tail, spin_until, start_node, wait_active
from rcl_interfaces.srv import SetParameters
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from siamrcnn_ros.msg import Box, TargetRequest, Track, TrackArray
from siamrcnn_ros.node.images import rgb_to_image_msg
from siamrcnn_ros.srv import SetTarget

IMAGE_TOPIC = '/camera/image_raw'
TIMEOUT_S = 90.0
RELIABLE = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)


def box_msg(box: tuple[float, float, float, float]) -> Box:
    """xyxy pixels -> ``Box``."""
    return Box(x_min=float(box[0]), y_min=float(box[1]), x_max=float(box[2]), y_max=float(box[3]))


def iou(a: list[float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two xyxy boxes (pixels)."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


class NodeClient:
    """The node in its own process plus this process's ROS endpoints (see the module docstring).

    Args:
        log_dir: where the node's stdout/stderr go.
        ros_args: extra ``--ros-args`` for the node (``-p name:=value``).
    """

    def __init__(self, log_dir: Path, *ros_args: str) -> None:
        self.process = start_node(log_dir, '-r', f'image:={IMAGE_TOPIC}', '-p', 'debug_image:=false', *ros_args)
        self.log_dir = log_dir
        rclpy.init()
        self.node = rclpy.create_node('outside_client')
        self.tracks: list[Track] = []
        self.arrays: list[TrackArray] = []
        self.diagnostics: dict[str, str] = {}
        self.diagnostics_seen = 0
        self.node.create_subscription(Track, f'{NODE_NAME}/track', self.tracks.append, RELIABLE)
        self.node.create_subscription(TrackArray, f'{NODE_NAME}/tracks', self.arrays.append, RELIABLE)
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, 10)
        self.image_pub = self.node.create_publisher(Image, IMAGE_TOPIC, RELIABLE)
        self.target_pub = self.node.create_publisher(TargetRequest, 'target', RELIABLE)
        self.set_target_client = self.node.create_client(SetTarget, f'{NODE_NAME}/set_target')
        self.set_parameters_client = self.node.create_client(SetParameters, f'{NODE_NAME}/set_parameters')
        self.get_state_client = self.node.create_client(GetState, f'{NODE_NAME}/get_state')
        try:
            wait_active(self.node, self.process, timeout=TIMEOUT_S)
            self.spin_until(lambda: self.image_pub.get_subscription_count() > 0
                            and self.target_pub.get_subscription_count() > 0
                            and self.node.count_publishers(f'{NODE_NAME}/track') > 0,
                            'the node to match our endpoints')
        except BaseException:
            self.close()  # no node process or rclpy context left behind for the next test
            raise

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith(f'{NODE_NAME}:'):
                self.diagnostics = {kv.key: kv.value for kv in status.values}
                self.diagnostics['message'] = status.message
                self.diagnostics_seen += 1

    def spin_until(self, condition: Any, what: str, timeout: float = TIMEOUT_S) -> None:
        assert self.process.poll() is None, f'the node process ended:\n{node_log_tail(self.process)}'
        try:
            spin_until(self.node, lambda: condition() or self.process.poll() is not None, timeout, what)
        except AssertionError as error:
            raise AssertionError(f'{error}; node log:\n{node_log_tail(self.process)}') from None
        assert self.process.poll() is None, f'the node process ended while waiting for {what}:\n' \
                                            f'{node_log_tail(self.process)}'

    def settle(self, seconds: float) -> None:
        """Spins this process's node for ``seconds``."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            rclpy.spin_once(self.node, timeout_sec=0.01)

    def fresh_diagnostics(self) -> dict[str, str]:
        """The node's diagnostics values of a message published after this call (waits for one, 1 Hz)."""
        seen = self.diagnostics_seen
        self.spin_until(lambda: self.diagnostics_seen >= seen + 2, 'a fresh /diagnostics message')
        return dict(self.diagnostics)

    def publish_image(self, rgb: np.ndarray, sec: int, nanosec: int = 0) -> Image:
        msg = rgb_to_image_msg(rgb, Header(frame_id='cam'))
        msg.header.stamp.sec, msg.header.stamp.nanosec = sec, nanosec
        self.image_pub.publish(msg)
        return msg

    def processed(self, sec: int, nanosec: int = 0) -> bool:
        """Whether a TrackArray for the image stamped ``(sec, nanosec)`` has arrived."""
        return any((a.header.stamp.sec, a.header.stamp.nanosec) == (sec, nanosec) for a in self.arrays)

    def send_and_wait(self, rgb: np.ndarray, sec: int, nanosec: int = 0) -> None:
        """Publishes one image and waits until the node has published its TrackArray."""
        self.publish_image(rgb, sec, nanosec)
        self.spin_until(lambda: self.processed(sec, nanosec), f'the output of the image stamped {sec} s')

    def set_target(self, box: tuple[float, float, float, float], target_id: int = 0,
                   stamp: tuple[int, int] = (0, 0)) -> SetTarget.Response:
        request = SetTarget.Request(target_id=target_id, box=box_msg(box))
        request.header.stamp.sec, request.header.stamp.nanosec = stamp
        return call(self.node, self.set_target_client, request, TIMEOUT_S)

    def set_parameters(self, parameters: list) -> Any:
        """A raw ``SetParameters`` call (``rcl_interfaces/Parameter`` messages, as a hand-written client sends
        them); ``None`` when no answer comes within 20 s (e.g. the node died)."""
        assert self.process.poll() is None, f'the node process ended:\n{node_log_tail(self.process)}'
        assert self.set_parameters_client.wait_for_service(timeout_sec=TIMEOUT_S)
        future = self.set_parameters_client.call_async(SetParameters.Request(parameters=parameters))
        deadline = time.monotonic() + 20.0
        while not future.done() and time.monotonic() < deadline and self.process.poll() is None:
            rclpy.spin_once(self.node, timeout_sec=0.05)
        return future.result() if future.done() else None

    def alive_and_active(self) -> bool:
        """The node process runs and answers ``get_state`` with ``active``."""
        if self.process.poll() is not None:
            return False
        state = call(self.node, self.get_state_client, GetState.Request(), TIMEOUT_S)
        return state.current_state.id == State.PRIMARY_STATE_ACTIVE

    def tracks_of(self, target_id: int) -> list[Track]:
        return [t for t in self.tracks if t.target_id == target_id]

    def close(self) -> int:
        """Stops the node (SIGINT) and this process's ROS; returns the node's exit status."""
        try:
            self.node.destroy_node()
        finally:
            rclpy.try_shutdown()
        return interrupt(self.process)

    def log(self) -> str:
        return (self.log_dir / 'node.err').read_text(errors='replace')
