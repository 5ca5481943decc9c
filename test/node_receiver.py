"""A consumer process for the node tests: records what the node publishes, as a robot's planner would see it.

Usage: ``python node_receiver.py NODE_NAMESPACE SECONDS OUT_JSON``. Subscribes to ``<node>/track`` and
``/diagnostics`` and records, for every Track, its stamp, target id, state, presence, confidence, box and
the wall-clock time of arrival; and the last diagnostics values of the node. Writes them to ``OUT_JSON``
after ``SECONDS`` or on SIGINT/SIGTERM; prints ``READY`` once subscribed.
"""
from __future__ import annotations

import json
import signal
import sys
import time

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import QoSProfile, ReliabilityPolicy

from siamrcnn_ros.msg import Track
from siamrcnn_ros.node.conversions import stamp_to_ns


def main() -> int:
    node_name, seconds, out_path = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    rclpy.init()
    node = rclpy.create_node('test_receiver')
    tracks: list[dict] = []
    diagnostics: dict[str, str] = {}
    diagnostic_levels: list[int] = []

    def on_track(msg: Track) -> None:
        box = msg.box
        tracks.append({
            'received_ns': time.time_ns(), 'stamp_ns': stamp_to_ns(msg.header.stamp),
            'frame_id': msg.header.frame_id, 'target_id': msg.target_id, 'state': msg.state,
            'present': msg.present, 'confidence': msg.confidence,
            'box': [box.x_min, box.y_min, box.x_max, box.y_max],
            'distractors': len(msg.distractors), 'selected_tracklet_id': msg.selected_tracklet_id,
            'latency_s': msg.latency.sec + msg.latency.nanosec * 1e-9,
        })

    def on_diagnostics(msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith(f'{node_name}:'):
                diagnostics.clear()
                diagnostics.update({kv.key: kv.value for kv in status.values})
                diagnostics['message'] = status.message
                diagnostic_levels.append(status.level[0] if isinstance(status.level, bytes) else int(status.level))

    node.create_subscription(Track, f'{node_name}/track', on_track,
                             QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
    node.create_subscription(DiagnosticArray, '/diagnostics', on_diagnostics, 10)
    stop = {'now': False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))
    print('READY', flush=True)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not stop['now']:
        rclpy.spin_once(node, timeout_sec=0.05)
    with open(out_path, 'w') as file:
        json.dump({'tracks': tracks, 'diagnostics': diagnostics, 'levels': diagnostic_levels}, file)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
