"""Example consumer of siamrcnn_node: turn towards the tracked target, and stop when it is gone.

    python examples/follow_target.py --ros-args -r cmd_vel:=/robot/cmd_vel -p target_id:=1

Subscribes to ``siamrcnn_node/track`` (siamrcnn_ros/Track; relative, so a node in the tracker's namespace
finds it) and ``camera/camera_info`` (remap both as needed). For every Track of ``target_id`` it publishes:

* ``~/bearing`` (geometry_msgs/Vector3Stamped): unit ray from the camera to the box centre, in the camera's
  optical frame (header of the Track, hence of the image): TF turns it into any frame a planner works in;
* ``~/roi`` (sensor_msgs/RegionOfInterest): the box in whole pixels, clipped to the image, e.g. to crop
  the depth image for a grasp;
* ``cmd_vel`` (geometry_msgs/Twist): turn in place towards the target, ``angular.z = gain * yaw`` (REP 103:
  positive = left), clipped to ``max_turn_rate``, for a camera looking along the robot's x axis.

It acts only on a confident sighting: state TRACKING, present, confidence >= ``min_confidence``. Any other
Track (LOST, IDLE, INITIALIZING, low confidence) gets a zero Twist and no bearing or ROI, and so does
silence: no Track of the target for ``timeout_s`` (tracker stopped, link lost) stops the robot as well.
The maths is in plain functions (``follow_command``), tested without ROS.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import rclpy
from geometry_msgs.msg import Twist, Vector3Stamped
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, RegionOfInterest

from siamrcnn_ros.msg import Track

OPENCV_DISTORTION = ('plumb_bob', 'rational_polynomial')
"""CameraInfo distortion models that OpenCV's ``undistortPoints`` implements."""


@dataclass(frozen=True)
class Camera:
    """What the maths needs of a ``sensor_msgs/CameraInfo``.

    Attributes:
        k: ``[3, 3]`` intrinsics of the raw image. p: ``[3, 4]`` projection of the rectified image.
        d: distortion coefficients of ``distortion_model``. width, height: image size, pixels.
        rectified: the tracker sees the rectified image (``image_rect``): use ``p``, no distortion.
    """

    k: np.ndarray
    p: np.ndarray
    d: np.ndarray
    distortion_model: str
    width: int
    height: int
    rectified: bool = False

    @classmethod
    def from_msg(cls, msg: Any, rectified: bool = False) -> Camera:
        return cls(np.asarray(msg.k, dtype=np.float64).reshape(3, 3), np.asarray(msg.p, dtype=np.float64).reshape(3, 4),
                   np.asarray(msg.d, dtype=np.float64), msg.distortion_model, int(msg.width), int(msg.height),
                   rectified)


@dataclass(frozen=True)
class FollowCommand:
    """What to publish for one confident sighting.

    Attributes:
        ray: ``[3]`` unit vector towards the box centre, camera optical frame (x right, y down, z forward).
        yaw: horizontal angle of the ray from the optical axis, radians, positive to the left (REP 103).
        turn_rate: ``Twist.angular.z``, rad/s.
        roi: ``(x_offset, y_offset, width, height)`` whole pixels inside the image.
    """

    ray: np.ndarray
    yaw: float
    turn_rate: float
    roi: tuple[int, int, int, int]


def pixel_ray(u: float, v: float, camera: Camera) -> np.ndarray:
    """Pixel ``(u, v)`` -> ``[3]`` unit ray in the optical frame (undistorted with ``k``, ``d``; or through ``p``)."""
    if camera.rectified or not np.any(camera.d) or camera.distortion_model not in OPENCV_DISTORTION:
        matrix = camera.p[:, :3] if camera.rectified else camera.k
        fx, fy, cx, cy = matrix[0, 0], matrix[1, 1], matrix[0, 2], matrix[1, 2]
        if fx <= 0 or fy <= 0:
            raise ValueError(f'camera_info has no focal length (fx={fx}, fy={fy})')
        x, y = (u - cx) / fx, (v - cy) / fy
    else:
        x, y = cv2.undistortPoints(np.array([[[u, v]]], dtype=np.float64), camera.k, camera.d).reshape(2)
    ray = np.array([x, y, 1.0])
    return ray / np.linalg.norm(ray)


def box_roi(box: tuple[float, float, float, float], width: int, height: int) -> tuple[int, int, int, int] | None:
    """xyxy pixels -> ``(x_offset, y_offset, width, height)``: the whole pixels it touches, clipped; None if empty."""
    x0, y0 = max(0, math.floor(box[0])), max(0, math.floor(box[1]))
    x1, y1 = min(width, math.ceil(box[2])), min(height, math.ceil(box[3]))
    return (x0, y0, x1 - x0, y1 - y0) if x1 > x0 and y1 > y0 else None


def follow_command(track: Any, camera: Camera, min_confidence: float, gain: float,
                   max_turn_rate: float) -> FollowCommand | None:
    """The command for one Track, or ``None`` when the robot must not act on it (see the module docstring)."""
    confident = track.state == Track.STATE_TRACKING and track.present and track.confidence >= min_confidence
    box = (track.box.x_min, track.box.y_min, track.box.x_max, track.box.y_max)
    if not confident or not all(math.isfinite(c) for c in box):
        return None
    roi = box_roi(box, camera.width, camera.height)
    if roi is None:
        return None
    ray = pixel_ray((box[0] + box[2]) / 2, (box[1] + box[3]) / 2, camera)
    yaw = math.atan2(-ray[0], ray[2])  # optical x points right; REP 103 yaw is positive to the left
    return FollowCommand(ray, yaw, float(np.clip(gain * yaw, -max_turn_rate, max_turn_rate)), roi)


class FollowTarget(Node):
    """The node of the module docstring."""

    def __init__(self) -> None:
        super().__init__('follow_target')
        self._target_id = self.declare_parameter('target_id', 1).value
        self._min_confidence = self.declare_parameter('min_confidence', 0.5).value
        self._gain = self.declare_parameter('gain', 1.0).value
        self._max_turn_rate = self.declare_parameter('max_turn_rate', 0.5).value
        self._timeout_s = self.declare_parameter('timeout_s', 0.5).value
        self._rectified = self.declare_parameter('rectified', False).value
        self._camera: Camera | None = None
        self._acting_since: float | None = None  # monotonic time of the last non-zero command
        self._bearing = self.create_publisher(Vector3Stamped, '~/bearing', 10)
        self._roi = self.create_publisher(RegionOfInterest, '~/roi', 10)
        self._cmd = self.create_publisher(Twist, 'cmd_vel', 10)
        self.create_subscription(Track, 'siamrcnn_node/track', self._on_track,
                                 QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        self.create_subscription(CameraInfo, 'camera/camera_info', self._on_camera_info, qos_profile_sensor_data)
        self.create_timer(0.1, self._watchdog)

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self._camera = Camera.from_msg(msg, self._rectified)

    def _on_track(self, track: Track) -> None:
        if track.target_id != self._target_id:
            return
        if self._camera is None:
            self.get_logger().warning('no camera_info yet: not acting', throttle_duration_sec=5.0)
            self.stop()
            return
        try:
            command = follow_command(track, self._camera, self._min_confidence, self._gain, self._max_turn_rate)
        except ValueError as error:
            self.get_logger().warning(f'not acting: {error}', throttle_duration_sec=5.0)
            command = None
        if command is None:
            self.stop()
            return
        bearing = Vector3Stamped(header=track.header)
        bearing.vector.x, bearing.vector.y, bearing.vector.z = (float(c) for c in command.ray)
        self._bearing.publish(bearing)
        x, y, w, h = command.roi
        self._roi.publish(RegionOfInterest(x_offset=x, y_offset=y, width=w, height=h, do_rectify=False))
        twist = Twist()
        twist.angular.z = command.turn_rate
        self._cmd.publish(twist)
        self._acting_since = time.monotonic()

    def stop(self) -> None:
        """Publishes a zero Twist: stand still."""
        self._cmd.publish(Twist())
        self._acting_since = None

    def _watchdog(self) -> None:
        if self._acting_since is not None and time.monotonic() - self._acting_since > self._timeout_s:
            self.get_logger().warning(f'no Track of target {self._target_id} for {self._timeout_s} s: stopping')
            self.stop()


def main() -> int:
    rclpy.init(args=sys.argv)
    node = FollowTarget()
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if rclpy.ok():
            node.stop()  # leave the robot standing still
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
