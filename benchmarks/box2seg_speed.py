"""Box2Seg inference time per object per frame (SPEC §5: 0.025 s in the paper, on a GPU).

Times ``Box2Seg.predict`` (crop, network, paste-back) on synthetic-world frames with N ground-truth boxes,
for each N of ``--objects``; random weights unless ``--checkpoint`` (the time does not depend on them).

    scripts/in-env python benchmarks/box2seg_speed.py --objects 1 4 --crop-size 128
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from siamrcnn_ros.box2seg import Box2SegConfig, build_box2seg


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--objects', type=int, nargs='+', default=[1, 4], help='numbers of boxes per frame to time')
    parser.add_argument('--crop-size', type=int, default=128, help='crop side in pixels (without --checkpoint)')
    parser.add_argument('--backbone', default='mobilenet_v3_large', help='backbone (without --checkpoint)')
    parser.add_argument('--checkpoint', default=None, help='a Box2Seg checkpoint (its config is used)')
    parser.add_argument('--image-size', type=int, nargs=2, default=[480, 854], metavar=('H', 'W'),
                        help='frame size in pixels (DAVIS 480p by default)')
    parser.add_argument('--frames', type=int, default=20, help='timed frames per N (after 3 warm-up frames)')
    parser.add_argument('--device', default='cpu', help='cpu, cuda, auto')
    args = parser.parse_args()
    config = None if args.checkpoint else Box2SegConfig(backbone=args.backbone, crop_size=args.crop_size)
    torch.manual_seed(0)
    predictor = build_box2seg(config, checkpoint=args.checkpoint, device=args.device)
    rng = np.random.default_rng(0)
    height, width = args.image_size
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    print(f'device {predictor.device}, torch threads {torch.get_num_threads()}, crop {predictor.config.crop_size}, '
          f'backbone {predictor.config.backbone}, image {height}x{width}')
    for count in args.objects:
        # Boxes of 40-160 pixels anywhere in the frame.
        sizes = rng.uniform(40, 160, (count, 2))
        corners = rng.uniform(0, 1, (count, 2)) * ([width, height] - sizes)
        boxes = np.concatenate([corners, corners + sizes], axis=1)  # [N, 4]
        for _ in range(3):
            predictor.predict(image, boxes)
        times = []
        for _ in range(args.frames):
            started = time.perf_counter()
            predictor.predict(image, boxes)
            times.append(time.perf_counter() - started)
        median = float(np.median(times))
        print(f'N={count}: {median * 1000:.1f} ms per frame (median of {args.frames}), '
              f'{median / count * 1000:.1f} ms per object per frame')
    return 0


if __name__ == '__main__':
    sys.exit(main())
