"""A camera-like process for the image transport tests: publishes rgb8 images of a given size at a fixed rate.

Usage: ``python node_image_publisher.py TOPIC WIDTH HEIGHT RATE_HZ COUNT [best_effort|reliable]``. Waits until a
subscriber has matched (prints ``READY`` then), publishes ``COUNT`` images (default QoS of camera drivers:
reliable, keep last 1; or best effort) stamped with wall-clock time, 1/RATE_HZ s apart, and prints one JSON line
``{"published": COUNT, "seconds": ...}`` when done. Every image carries the same pixels (a fixed random pattern,
so nothing compresses); only the stamp changes.
"""
from __future__ import annotations

import json
import sys
import time

import numpy as np
import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from siamrcnn_ros.node.conversions import ns_to_stamp


def main() -> int:
    topic, width, height, rate_hz, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), \
        int(sys.argv[5])
    reliability = ReliabilityPolicy.BEST_EFFORT if sys.argv[6:] == ['best_effort'] else ReliabilityPolicy.RELIABLE
    rclpy.init()
    node = rclpy.create_node('test_image_publisher')
    publisher = node.create_publisher(Image, topic, QoSProfile(depth=1, reliability=reliability))
    pixels = np.random.default_rng(0).integers(0, 256, height * width * 3, dtype=np.uint8).tobytes()
    msg = Image(height=height, width=width, encoding='rgb8', step=3 * width, data=pixels)
    msg.header.frame_id = 'camera'
    while publisher.get_subscription_count() == 0:
        rclpy.spin_once(node, timeout_sec=0.05)
    time.sleep(0.5)  # the match is seen here first: let the subscriber's side finish it too
    print('READY', flush=True)
    start = time.monotonic()
    for index in range(count):
        msg.header.stamp = ns_to_stamp(time.time_ns())
        publisher.publish(msg)
        time.sleep(max(0.0, start + (index + 1) / rate_hz - time.monotonic()))
    print(json.dumps({'published': count, 'seconds': time.monotonic() - start}), flush=True)
    time.sleep(0.5)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
