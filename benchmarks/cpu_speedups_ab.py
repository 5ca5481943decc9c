"""Paired A/B of the three CPU speed-ups of 2026-12-07 (session 9), in one process, frame by frame.

Two copies of the shipped ``demo`` model track the cyclist clip of ``tracker_update_speed.py`` (640x480, 2
threads), alternating which goes first on each frame, so that a machine shared with other jobs slows both alike:

* ``new``: the model as it is (EfficientNet-Lite channels-last, frozen BatchNorm folded into the convs,
  RoIAlign split over the CPU threads);
* ``old``: the same weights with the three changes undone (NCHW, BatchNorm after each conv, RoIAlign on one
  thread).

Prints both medians, the median of the paired ratios new/old and the largest box difference (float rounding).

    scripts/in-env python benchmarks/cpu_speedups_ab.py --frames 100
"""
from __future__ import annotations

import argparse
import sys
import time
import types

import cv2
import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 (the usual alias)
from tracker_update_speed import HERE, SIZE, first_box  # benchmarks/, next to this script

from siamrcnn_ros.model import build_model
from siamrcnn_ros.model.efficientnet_lite import _Conv, _pad_tf_same
from siamrcnn_ros.model.siamrcnn import SiamRCNN
from siamrcnn_ros.sample_media import bikes_video, video_frames
from siamrcnn_ros.tracking import Tracker
from siamrcnn_ros.tracking.defaults import tracker_settings

WARMUP = 5
"""Frames left out of the statistics."""


def _unfused_forward(self: _Conv, x: torch.Tensor) -> torch.Tensor:
    """``_Conv.forward`` as it was: the conv, then the BatchNorm module, then ReLU6."""
    if self.tf_same:
        x = _pad_tf_same(x, self.conv.kernel_size[0], self.conv.stride[0])
    x = self.bn(self.conv(x))
    return F.relu6(x) if self.activation else x


def undo_speedups(model: SiamRCNN) -> SiamRCNN:
    """``model`` with NCHW convolutions, BatchNorm after each conv and one-thread RoIAlign (in place)."""
    model.backbone.to(memory_format=torch.contiguous_format)
    model._channels_last = False
    model.roi_pool.forward = model.roi_pool._pool  # the boxes in the calling thread only
    for module in model.modules():
        if isinstance(module, _Conv):
            module.forward = types.MethodType(_unfused_forward, module)
    return model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--frames', type=int, default=100, help='frames tracked after the first; default: %(default)s')
    parser.add_argument('--threads', type=int, default=2, help='torch CPU threads; default: %(default)s')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    start, box = first_box(HERE / 'real_clips' / 'bikes_cyclist.csv')
    source = video_frames(bikes_video(), None, first=start)[:args.frames + 1]
    height, width = source[0].shape[:2]
    clip = [cv2.resize(rgb, SIZE) for rgb in source]
    box = box * np.array([SIZE[0] / width, SIZE[1] / height] * 2)
    models = {'new': build_model('demo', device='cpu'), 'old': undo_speedups(build_model('demo', device='cpu'))}
    trackers = {name: Tracker(model, tracker_settings('demo')) for name, model in models.items()}
    for tracker in trackers.values():
        tracker.init(clip[0], [box[0], box[1], box[2] - box[0], box[3] - box[1]])
    times: dict[str, list[float]] = {'new': [], 'old': []}
    boxes: dict[str, list[np.ndarray]] = {'new': [], 'old': []}
    for index in range(1, len(clip)):
        for name in ('new', 'old') if index % 2 else ('old', 'new'):
            began = time.perf_counter()
            result = trackers[name].update(clip[index])
            times[name].append(time.perf_counter() - began)
            boxes[name].append(result.box)
    new, old = (np.array(times[name][WARMUP:]) * 1000 for name in ('new', 'old'))
    difference = np.abs(np.array(boxes['new']) - np.array(boxes['old'])).max()
    print(f'Tracker.update, {SIZE[0]}x{SIZE[1]}, {args.threads} threads, {len(new)} frames: median new '
          f'{np.median(new):.0f} ms, old {np.median(old):.0f} ms; median paired ratio new/old '
          f'{np.median(new / old):.3f}; largest box difference {difference:.4f} px')
    return 0


if __name__ == '__main__':
    sys.exit(main())
