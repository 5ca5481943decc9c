"""A camera process for the node tests: streams real frames (bikes.mp4) as sensor_msgs/Image at a fixed rate.

Usage: ``python node_camera.py TOPIC SECONDS RATE_HZ STAMPS_JSON``. Publishes ``TOPIC`` (rgb8, reliable, as
most camera drivers do; the node's best-effort subscription receives it) stamped with wall-clock time, and
``<namespace>/camera_info`` (frame ``camera_optical``, a pinhole with f = 500 px at the image centre). Cycles
through the first frames of the video with ever increasing stamps. Writes every published stamp (ns) to
``STAMPS_JSON`` when done, prints ``READY`` once publishing has started.
"""
from __future__ import annotations

import json
import sys
import time

import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from video_frames import bikes_frames

from siamrcnn_ros.node.conversions import ns_to_stamp
from siamrcnn_ros.node.images import rgb_to_image_msg

FRAMES = 60
OPTICAL_FRAME = 'camera_optical'
FOCAL_PX = 500.0


def camera_info(header: Header, height: int, width: int) -> CameraInfo:
    info = CameraInfo(header=header, height=height, width=width, distortion_model='plumb_bob')
    cx, cy = width / 2.0, height / 2.0
    info.k = [FOCAL_PX, 0.0, cx, 0.0, FOCAL_PX, cy, 0.0, 0.0, 1.0]
    info.p = [FOCAL_PX, 0.0, cx, 0.0, 0.0, FOCAL_PX, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return info


def main() -> int:
    topic, seconds, rate_hz, stamps_path = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    frames = bikes_frames(FRAMES)
    rclpy.init()
    node = rclpy.create_node('test_camera')
    qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
    image_pub = node.create_publisher(Image, topic, qos)
    info_pub = node.create_publisher(CameraInfo, topic.rsplit('/', 1)[0] + '/camera_info', qos)
    stamps: list[int] = []
    period = 1.0 / rate_hz
    start = time.monotonic()
    print('READY', flush=True)
    try:
        while time.monotonic() - start < seconds:
            stamp_ns = time.time_ns()
            header = Header(stamp=ns_to_stamp(stamp_ns), frame_id=OPTICAL_FRAME)
            rgb = frames[len(stamps) % FRAMES]
            # Recorded before publishing: a Ctrl-C between the two would otherwise leave a published frame (and
            # the node's Track for it) whose stamp the test never learns.
            stamps.append(stamp_ns)
            image_pub.publish(rgb_to_image_msg(rgb, header))
            info_pub.publish(camera_info(header, rgb.shape[0], rgb.shape[1]))
            next_time = start + len(stamps) * period
            time.sleep(max(0.0, next_time - time.monotonic()))
    except KeyboardInterrupt:
        pass
    finally:
        with open(stamps_path, 'w') as file:
            json.dump(stamps, file)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
