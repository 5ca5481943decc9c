"""The demo's ROS side in its own process (real rclpy, its own context): a camera that plays the clip's frames as
``sensor_msgs/Image``, the user who sets the target through ``~/set_target``, and a consumer of ``~/tracks``.

Pacing (why the results do not depend on the machine's load): the next frame is published only after the
node's ``TrackArray`` for the previous one has arrived, so the node processes every frame, in order, and drops
none. Its image subscription is best effort, keep last 1 (a camera's newest frame); if a frame is lost in
transport, it is published again with the same stamp after ``resend_s`` (counted as a resend).

Stamps increase by one 30 Hz period per frame from the wall clock at the start, as a camera's would.
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable

import numpy as np
import rclpy
from lifecycle_msgs.msg import State
from lifecycle_msgs.srv import GetState
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from siamrcnn_ros.demo.node_process import NODE_NAME, NodeProcess
from siamrcnn_ros.msg import Box, TrackArray
from siamrcnn_ros.node.conversions import ns_to_stamp, stamp_to_ns
from siamrcnn_ros.node.images import rgb_to_image_msg
from siamrcnn_ros.srv import SetTarget

FRAME_PERIOD_NS = 33_333_333  # 30 Hz
CAMERA_FRAME_ID = 'demo_camera'
DOMAIN_IDS = range(1, 102)
"""DDS domains usable on Linux with the default port mapping (ROS 2 docs: 0-101; 0 is everyone's default)."""
DISCOVERY_WAIT_S = 1.0
RELIABLE = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100, reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)


class Player:
    """The player node ``siamrcnn_demo_player`` on DDS domain ``domain_id`` (discovery on this machine only:
    ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`` is set by ``scripts/in-env`` and for the node process).

    Args:
        domain_id: ``ROS_DOMAIN_ID`` shared with the node.
        image_topic: the topic the node's ``image`` input is remapped to.
    """

    def __init__(self, domain_id: int, image_topic: str) -> None:
        self.domain_id = domain_id
        self.resends = 0
        self._context = Context()
        # Ctrl-C stays Python's KeyboardInterrupt, so the demo's cleanup (stopping the node) runs.
        rclpy.init(context=self._context, domain_id=domain_id, signal_handler_options=SignalHandlerOptions.NO)
        self._node = rclpy.create_node('siamrcnn_demo_player', context=self._context)
        self._executor = SingleThreadedExecutor(context=self._context)
        self._executor.add_node(self._node)
        self._arrays: dict[int, TrackArray] = {}
        self._image_pub = self._node.create_publisher(
            Image, image_topic, QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
        self._tracks_sub = self._node.create_subscription(TrackArray, f'/{NODE_NAME}/tracks', self._on_array,
                                                          RELIABLE)
        self._set_target = self._node.create_client(SetTarget, f'/{NODE_NAME}/set_target')
        self._get_state = self._node.create_client(GetState, f'/{NODE_NAME}/get_state')

    @classmethod
    def on_free_domain(cls, image_topic: str, domain_id: int | None = None, attempts: int = 8) -> Player:
        """A player on ``domain_id``, or on a random domain where no other ROS node is seen (so concurrent runs
        on this machine, demos or tests, do not hear each other)."""
        if domain_id is not None:
            return cls(domain_id, image_topic)
        rng = random.Random()
        for _ in range(attempts):
            player = cls(rng.choice(DOMAIN_IDS), image_topic)
            player._spin_for(DISCOVERY_WAIT_S)
            if not player.other_nodes():
                return player
            player.close()
        raise RuntimeError(f'found other ROS nodes on {attempts} random DDS domains; pass --domain-id')

    def other_nodes(self) -> list[str]:
        """Names of the ROS nodes discovered on this domain besides the player."""
        names = self._node.get_node_names_and_namespaces()
        return [f'{ns.rstrip("/")}/{name}' for name, ns in names if name != self._node.get_name()]

    def close(self) -> None:
        self._executor.shutdown()
        self._node.destroy_node()
        rclpy.try_shutdown(context=self._context)

    def __enter__(self) -> Player:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- waiting ------------------------------------------------------------------------------------------------

    def _on_array(self, msg: TrackArray) -> None:
        self._arrays.setdefault(stamp_to_ns(msg.header.stamp), msg)  # a resent frame may be answered twice

    def _spin_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._executor.spin_once(timeout_sec=0.02)

    def _spin_until(self, condition: Callable[[], bool], timeout: float, what: str, node: NodeProcess) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            node.check_running(f'while waiting for {what}')
            if time.monotonic() > deadline:
                raise TimeoutError(f'timed out after {timeout:.0f} s waiting for {what}\n{node.log_tail()}')
            self._executor.spin_once(timeout_sec=0.02)

    def wait_active(self, node: NodeProcess, timeout: float) -> None:
        """Until the node reports the lifecycle state ``active`` (model loaded, subscriptions made) and the image
        and ``~/tracks`` connections are matched both ways.

        Raises:
            NodeError: the node process ended (its log tail in the message).
            TimeoutError: not active within ``timeout`` s.
        """
        deadline = time.monotonic() + timeout
        self._spin_until(lambda: self._get_state.service_is_ready(), timeout, 'the node to start', node)
        while True:
            future = self._get_state.call_async(GetState.Request())
            self._spin_until(future.done, max(1.0, deadline - time.monotonic()), 'the lifecycle state', node)
            if future.result().current_state.id == State.PRIMARY_STATE_ACTIVE:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f'the node did not become active within {timeout:.0f} s\n{node.log_tail()}')
            self._spin_for(0.2)
        self._spin_until(lambda: self._image_pub.get_subscription_count() > 0
                         and self._tracks_sub.get_publisher_count() > 0,
                         max(1.0, deadline - time.monotonic()), 'the image and ~/tracks connections', node)

    # --- the demo's traffic ---------------------------------------------------------------------------------------

    def set_target(self, box_xyxy: np.ndarray, stamp_ns: int, node: NodeProcess, timeout: float) -> int:
        """Asks the node (``~/set_target``) to track ``box_xyxy`` (``[4]`` pixels) drawn on the frame stamped
        ``stamp_ns``; the reply comes once the request is queued, so a frame published afterwards carries it.

        Returns:
            the target id the node gave.

        Raises:
            RuntimeError: the node refused the target (its reason in the message).
        """
        x0, y0, x1, y1 = (float(v) for v in box_xyxy)
        request = SetTarget.Request(header=Header(stamp=ns_to_stamp(stamp_ns), frame_id=CAMERA_FRAME_ID),
                                    target_id=0, box=Box(x_min=x0, y_min=y0, x_max=x1, y_max=y1))
        self._spin_until(self._set_target.service_is_ready, timeout, 'the set_target service', node)
        future = self._set_target.call_async(request)
        self._spin_until(future.done, timeout, 'the set_target reply', node)
        answer = future.result()
        if not answer.success:
            raise RuntimeError(f'the node refused the target box {[x0, y0, x1, y1]}: {answer.message}')
        return int(answer.target_id)

    def play_frame(self, rgb: np.ndarray, stamp_ns: int, node: NodeProcess, timeout: float,
                   resend_s: float) -> TrackArray:
        """Publishes one ``[H, W, 3]`` uint8 RGB frame and returns the node's ``TrackArray`` for it.

        Raises:
            NodeError: the node process ended.
            TimeoutError: no answer within ``timeout`` s (resends included).
        """
        message = rgb_to_image_msg(rgb, Header(stamp=ns_to_stamp(stamp_ns), frame_id=CAMERA_FRAME_ID))
        deadline = time.monotonic() + timeout
        while stamp_ns not in self._arrays:
            self._image_pub.publish(message)
            resend_at = min(deadline, time.monotonic() + resend_s)
            try:
                self._spin_until(lambda: stamp_ns in self._arrays, resend_at - time.monotonic(),
                                 f'the Track messages of the frame stamped {stamp_ns} ns', node)
            except TimeoutError:
                if time.monotonic() >= deadline:
                    raise
                self.resends += 1
        return self._arrays.pop(stamp_ns)


def frame_stamps(start_ns: int, count: int) -> list[int]:
    """``count`` increasing stamps (ns), one 30 Hz period apart from ``start_ns``."""
    return [start_ns + i * FRAME_PERIOD_NS for i in range(count)]
