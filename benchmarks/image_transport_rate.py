"""Camera-size images from another process into siamrcnn_node: the fraction that arrives (issue 18, item 7).

    scripts/in-env python benchmarks/image_transport_rate.py [--sizes 640x480,1280x720] [--rate 30] [--seconds 20]
        [--publisher-qos reliable|best_effort] [--target] [--json out.json]

Starts ``siamrcnn_node`` with the default configuration (``config/siamrcnn.yaml``, best-effort image
subscription; CPU) in its own process and, for each size, a publisher process (``siamrcnn_ros.tools.pattern_camera``)
that sends rgb8 images of that size at ``--rate`` Hz for ``--seconds`` s, stamped with the wall clock, with the
QoS of most camera drivers (reliable, keep last 1; ``--publisher-qos best_effort`` for sensor-data QoS).
The node's /diagnostics count the images that reached its image callback ("images received") and the samples
DDS reports lost; the fraction received is ``received / published``. With ``--target`` a target is set in the
middle of the image, so the node also tracks (on the CPU) while the images arrive.

Both processes get the DDS settings of the environment they run in: ``scripts/in-env`` sets
FASTDDS_DEFAULT_PROFILES_FILE to the package's ``config/fastdds_profile.xml`` unless it is set already (run
with ``FASTDDS_DEFAULT_PROFILES_FILE=/dev/null`` or another profile to compare). Exit status 1 when a size
gets less than ``--required`` (0.95).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from lifecycle_msgs.msg import State
from lifecycle_msgs.srv import GetState

from siamrcnn_ros.msg import Box
from siamrcnn_ros.node.qos import DDS_PROFILE_VARIABLES
from siamrcnn_ros.srv import SetTarget

REPO = Path(__file__).resolve().parents[1]
NODE = '/siamrcnn_node'
TOPIC = '/bench/image_raw'


class Watcher:
    """This process's view of the node: its /diagnostics values (the newest)."""

    def __init__(self) -> None:
        rclpy.init()
        self.node = rclpy.create_node('image_transport_benchmark')
        self.values: dict[str, str] = {}
        self.seen = 0
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, 10)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith(f'{NODE}:'):
                self.values = {kv.key: kv.value for kv in status.values}
                self.seen += 1

    def spin_until(self, condition, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise RuntimeError(f'timed out after {timeout:.0f} s waiting for {what}')
            rclpy.spin_once(self.node, timeout_sec=0.05)

    def fresh(self) -> dict[str, str]:
        """Diagnostics published at least one period after this call."""
        seen = self.seen
        self.spin_until(lambda: self.seen >= seen + 2, 30.0, 'fresh diagnostics')
        return dict(self.values)

    def wait_active(self, node_process: subprocess.Popen, timeout: float = 180.0) -> None:
        client = self.node.create_client(GetState, f'{NODE}/get_state')
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if node_process.poll() is not None:
                raise RuntimeError('the node ended during start-up')
            if client.wait_for_service(timeout_sec=1.0):
                future = client.call_async(GetState.Request())
                self.spin_until(future.done, 30.0, 'get_state')
                if future.result().current_state.id == State.PRIMARY_STATE_ACTIVE:
                    return
            time.sleep(0.2)
        raise RuntimeError('the node did not become active')

    def set_target(self, width: int, height: int) -> None:
        client = self.node.create_client(SetTarget, f'{NODE}/set_target')
        if not client.wait_for_service(timeout_sec=30.0):
            raise RuntimeError('no set_target service')
        box = Box(x_min=0.4 * width, y_min=0.3 * height, x_max=0.6 * width, y_max=0.7 * height)
        future = client.call_async(SetTarget.Request(target_id=1, box=box))
        self.spin_until(future.done, 30.0, 'set_target')
        if not future.result().success:
            raise RuntimeError(future.result().message)


def run_size(watcher: Watcher, width: int, height: int, args: argparse.Namespace) -> dict:
    before = watcher.fresh()
    publisher = subprocess.Popen(
        [sys.executable, '-m', 'siamrcnn_ros.tools.pattern_camera', TOPIC, str(width), str(height), str(args.rate),
         str(round(args.rate * args.seconds)), '--qos', args.publisher_qos, '--settle', '1.0'],
        stdout=subprocess.PIPE, text=True, cwd=REPO)
    lines: list[str] = []  # the publisher's stdout, read by a thread: this process keeps spinning meanwhile
    reader = threading.Thread(target=lambda: lines.extend(line.strip() for line in publisher.stdout), daemon=True)
    reader.start()
    try:
        watcher.spin_until(lambda: publisher.poll() is not None or 'READY' in lines, 120.0, 'the publisher')
        if args.target:
            watcher.spin_until(lambda: int(watcher.values.get('images received', 0)) > int(
                before['images received']), 30.0, 'a first image')
            watcher.set_target(width, height)
        watcher.spin_until(lambda: publisher.poll() is not None, args.seconds + 120.0, 'the publisher to finish')
        reader.join(10.0)
        result = json.loads(lines[-1])
    finally:
        if publisher.poll() is None:
            publisher.kill()
    after = watcher.fresh()
    received = int(after['images received']) - int(before['images received'])
    return {
        'size': f'{width}x{height}', 'bytes': width * height * 3, 'published': result['published'],
        'received': received, 'fraction': received / result['published'],
        'lost_by_dds': int(after['images lost by DDS']) - int(before['images lost by DDS']),
        'missing_by_stamps': int(after['images missing (stamp gaps)']) - int(before['images missing (stamp gaps)']),
        'frames_processed': int(after['frames processed']) - int(before['frames processed']),
        'publisher_late': result['late'],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--sizes', default='640x480,1280x720', help='comma-separated WIDTHxHEIGHT (rgb8)')
    parser.add_argument('--rate', type=float, default=30.0, help='images per second')
    parser.add_argument('--seconds', type=float, default=20.0, help='seconds of images per size')
    parser.add_argument('--publisher-qos', choices=('reliable', 'best_effort'), default='reliable')
    parser.add_argument('--target', action='store_true', help='the node tracks a target meanwhile')
    parser.add_argument('--required', type=float, default=0.95, help='fraction each size must reach')
    parser.add_argument('--json', type=Path, help='write the results here')
    args = parser.parse_args(argv)

    os.environ.setdefault('ROS_DOMAIN_ID', str(random.randint(150, 230)))
    profile = next((f'{name}={os.environ[name]}' for name in DDS_PROFILE_VARIABLES if os.environ.get(name)),
                   'none (Fast DDS defaults)')
    print(f'DDS profile: {profile}; ROS_DOMAIN_ID {os.environ["ROS_DOMAIN_ID"]}; publisher QoS '
          f'{args.publisher_qos}; {args.rate:g} Hz for {args.seconds:g} s per size; target: {args.target}')
    log = Path(tempfile.mkdtemp(prefix='image_transport_'))
    node_process = subprocess.Popen(
        [sys.executable, '-m', 'siamrcnn_ros.node.node', '--ros-args', '--params-file',
         str(REPO / 'config' / 'siamrcnn.yaml'), '-p', 'model.device:=cpu', '-r', f'image:={TOPIC}'],
        stdout=(log / 'node.out').open('w'), stderr=(log / 'node.err').open('w'), cwd=REPO)
    results = []
    watcher = Watcher()
    try:
        watcher.wait_active(node_process)
        watcher.fresh()
        for size in args.sizes.split(','):
            width, height = (int(v) for v in size.split('x'))
            results.append(run_size(watcher, width, height, args))
            r = results[-1]
            print(f'{r["size"]} rgb8 ({r["bytes"]:,} bytes): received {r["received"]} of {r["published"]} = '
                  f'{r["fraction"]:.1%}; lost by DDS {r["lost_by_dds"]}, missing by stamps {r["missing_by_stamps"]}, '
                  f'frames tracked {r["frames_processed"]}, publisher late {r["publisher_late"]}', flush=True)
    finally:
        watcher.node.destroy_node()
        rclpy.try_shutdown()
        node_process.send_signal(2)
        try:
            node_process.wait(30)
        except subprocess.TimeoutExpired:
            node_process.kill()
    if args.json:
        args.json.write_text(json.dumps({'profile': profile, 'publisher_qos': args.publisher_qos,
                                         'target': args.target, 'results': results}, indent=2))
    failed = [r['size'] for r in results if r['fraction'] < args.required]
    if failed:
        print(f'below {args.required:.0%}: {", ".join(failed)} (node log: {log})')
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
