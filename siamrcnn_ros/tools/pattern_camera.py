"""A camera stand-in: publishes rgb8 images of a fixed random pattern at a fixed rate, to measure image transport.

Run as ``python -m siamrcnn_ros.tools.pattern_camera TOPIC WIDTH HEIGHT RATE_HZ COUNT [--qos best_effort]``. It
waits until a subscriber has matched and prints ``READY``, publishes ``COUNT`` images 1/RATE_HZ s apart, stamped
with wall-clock time (QoS of most camera drivers: reliable, keep last 1; or best effort), then prints one JSON
line: ``{"published": COUNT, "seconds": wall time, "late": images sent after their slot}``. Every image carries
the same pixels (random, so nothing compresses); only the stamp changes. The image transport test and
``benchmarks/image_transport_rate.py`` run it as their camera process.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from siamrcnn_ros.node.conversions import ns_to_stamp

QOS_NAMES = ('reliable', 'best_effort')


def publish_pattern(topic: str, width: int, height: int, rate_hz: float, count: int, *, qos: str = 'reliable',
                    settle_s: float = 0.5) -> dict[str, float]:
    """Publishes ``count`` ``width`` x ``height`` rgb8 images on ``topic`` at ``rate_hz`` once a subscriber matches.

    Args:
        qos: ``'reliable'`` or ``'best_effort'`` (keep last 1 either way).
        settle_s: seconds to wait after the match before the first image (the subscriber's side of the match
            may come later than ours) and after the last one (so the last images leave before shutdown).

    Returns:
        ``{'published': count, 'seconds': wall time of the publishing, 'late': images sent after their slot}``.
    """
    if qos not in QOS_NAMES:
        raise ValueError(f'qos must be one of {QOS_NAMES}, got {qos!r}')
    reliability = ReliabilityPolicy.BEST_EFFORT if qos == 'best_effort' else ReliabilityPolicy.RELIABLE
    rclpy.init()
    node = rclpy.create_node('pattern_camera')
    try:
        publisher = node.create_publisher(Image, topic, QoSProfile(depth=1, reliability=reliability))
        pixels = np.random.default_rng(0).integers(0, 256, height * width * 3, dtype=np.uint8).tobytes()
        msg = Image(height=height, width=width, encoding='rgb8', step=3 * width, data=pixels)
        msg.header.frame_id = 'camera'
        while publisher.get_subscription_count() == 0:
            rclpy.spin_once(node, timeout_sec=0.05)
        time.sleep(settle_s)
        print('READY', flush=True)
        start = time.monotonic()
        late = 0
        for index in range(count):
            msg.header.stamp = ns_to_stamp(time.time_ns())
            publisher.publish(msg)
            wait = start + (index + 1) / rate_hz - time.monotonic()
            late += wait < 0
            time.sleep(max(0.0, wait))
        result = {'published': count, 'seconds': time.monotonic() - start, 'late': late}
        time.sleep(settle_s)
        return result
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='pattern_camera', description=__doc__.split('\n')[0])
    parser.add_argument('topic')
    parser.add_argument('width', type=int)
    parser.add_argument('height', type=int)
    parser.add_argument('rate_hz', type=float)
    parser.add_argument('count', type=int)
    parser.add_argument('--qos', choices=QOS_NAMES, default='reliable')
    parser.add_argument('--settle', type=float, default=0.5, help='seconds after the match and after the last image')
    args = parser.parse_args(argv)
    if args.width < 1 or args.height < 1 or args.rate_hz <= 0 or args.count < 0:
        parser.error('width, height, rate and count must be positive')
    print(json.dumps(publish_pattern(args.topic, args.width, args.height, args.rate_hz, args.count, qos=args.qos,
                                     settle_s=args.settle)), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
