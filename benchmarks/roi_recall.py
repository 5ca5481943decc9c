"""RoI recall on the synthetic test split (issue 6; the paper's Fig. 10 analysis).

The tracker (TDPA, the checkpoint's own settings) runs through every test sequence. In each frame
where the target is visible, the benchmark asks whether some RoI overlaps the ground-truth box with
IoU >= the threshold, for four RoI sets:

* the top 100 / top 1000 RPN proposals alone;
* the same plus the boxes the tracker adds in that frame: the last boxes of its active tracklets,
  i.e. the previous frame's re-detections (at most ``head.max_extra_boxes``; SPEC §2).

The extra boxes are those of the tracker as it runs with the checkpoint's proposal count; the
100 / 1000 proposals are computed on the same frame by copies of the model that differ only in
``rpn.pre_nms_top_n`` / ``rpn.post_nms_top_n``.

    scripts/in-env python benchmarks/roi_recall.py --checkpoint checkpoints/demo.safetensors

``--rpn-only`` skips the tracker (and so the previous-frame boxes) and may look at every ``--stride``-th
frame only: the RPN's recall alone, cheap enough for the long-term videos::

    scripts/in-env python benchmarks/roi_recall.py --checkpoint checkpoints/demo.safetensors \
        --split lasot --max-frames 800 --rpn-only --stride 10 --proposals 100,300,1000
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torchvision.ops import box_iou
from tqdm import tqdm

from siamrcnn_ros.boxes import xywh_to_xyxy
from siamrcnn_ros.datasets import list_sequences
from siamrcnn_ros.model import SiamRCNN
from siamrcnn_ros.model.checkpoints import load_checkpoint_into, read_checkpoint
from siamrcnn_ros.model.preprocessing import to_original
from siamrcnn_ros.model.siamrcnn import FrameFeatures, Redetections
from siamrcnn_ros.tracking.tracker import Tracker, TrackerSettings


class RecordingSiamRCNN(SiamRCNN):
    """A ``SiamRCNN`` that keeps the extra boxes (``[E, 4]`` xyxy original pixels) of its last ``redetect``."""

    last_extra: Tensor | None = None

    def redetect(self, frame: FrameFeatures, template: Tensor, extra_boxes: Tensor | None = None) -> Redetections:
        limit = self.config.head.max_extra_boxes
        self.last_extra = None if extra_boxes is None else extra_boxes[:limit].detach().float().cpu()
        return super().redetect(frame, template, extra_boxes)


def proposal_model(path: str, count: int) -> SiamRCNN:
    """The checkpoint's model with ``count`` RPN proposals per frame (per level before NMS and in total)."""
    config = read_checkpoint(path).config.with_overrides({'rpn.pre_nms_top_n': count, 'rpn.post_nms_top_n': count})
    model = SiamRCNN(config)
    load_checkpoint_into(model, path)
    return model.eval().requires_grad_(False)


def covered(rois: Tensor, box: Tensor, threshold: float) -> bool:
    """Whether some row of ``rois`` ``[R, 4]`` has IoU >= ``threshold`` with ``box`` ``[4]`` (both xyxy)."""
    return bool(len(rois)) and bool((box_iou(rois, box[None]) >= threshold).any())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--world', type=Path, default=Path('data/synthetic'), help='synthetic world folder')
    parser.add_argument('--split', default='test', help='split folder of the world (GOT-10k layout)')
    parser.add_argument('--checkpoint', required=True, help='model checkpoint (safetensors)')
    parser.add_argument('--proposals', default='100,1000', help='RPN proposal counts; default: %(default)s')
    parser.add_argument('--iou', type=float, default=0.5, help='IoU a RoI needs to cover the target')
    parser.add_argument('--max-frames', type=int, default=None, help='frames per sequence (default: all)')
    parser.add_argument('--rpn-only', action='store_true',
                        help='no tracker: the RPN proposals alone (no previous-frame boxes)')
    parser.add_argument('--stride', type=int, default=1, help='with --rpn-only: every this-many-th frame')
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.proposals.split(',')]
    if args.stride < 1 or (args.stride > 1 and not args.rpn_only):
        parser.error('--stride must be >= 1, and more than 1 only with --rpn-only (the tracker needs every frame)')

    torch.set_grad_enabled(False)
    tracker_model = None  # --rpn-only never runs the tracker, so it needs no model of its own
    if not args.rpn_only:
        tracker_model = RecordingSiamRCNN(read_checkpoint(args.checkpoint).config)
        load_checkpoint_into(tracker_model, args.checkpoint)
        tracker_model.eval().requires_grad_(False)
    counters = {(count, extra): 0 for count in counts for extra in (False, True)}
    extra_only, visible_frames, extra_sizes = 0, 0, []
    with_counts = {count: proposal_model(args.checkpoint, count) for count in counts}
    sequences = list_sequences(args.world / args.split)
    total = sum(min(len(s), args.max_frames or len(s)) for s in sequences)
    with tqdm(total=total, unit='frame', desc='roi recall') as progress:
        for sequence in sequences:
            tracker = None if tracker_model is None else Tracker(tracker_model, TrackerSettings(variant='tdpa'))
            for index, image in enumerate(sequence.iter_frames()):
                if args.max_frames is not None and index >= args.max_frames:
                    break
                progress.update()
                if tracker is not None:
                    if index == 0:
                        tracker.init(image, sequence.ground_truth[0])
                        continue
                    tracker.update(image)
                elif index == 0 or index % args.stride:
                    continue
                truth = sequence.ground_truth[index]
                if not np.isfinite(truth).all() or (sequence.absent is not None and sequence.absent[index]):
                    continue
                visible_frames += 1
                box = torch.as_tensor(xywh_to_xyxy(truth), dtype=torch.float32)
                extra = torch.zeros(0, 4)
                if tracker_model is not None and tracker_model.last_extra is not None:
                    extra = tracker_model.last_extra
                extra_sizes.append(len(extra))
                extra_only += covered(extra, box, args.iou)
                for count, model in with_counts.items():
                    frame = model.extract(image)
                    proposals = to_original(frame.proposals, frame.resized_size, frame.image_size).float().cpu()
                    counters[(count, False)] += covered(proposals, box, args.iou)
                    counters[(count, True)] += covered(torch.cat([proposals, extra]), box, args.iou)
    where = f'{len(sequences)} sequences of {args.world / args.split}'
    if args.rpn_only:
        print(f'\n{where}, every {args.stride}th frame: {visible_frames} frames with the target visible '
              f'(frame 0 excluded), IoU >= {args.iou}')
        print('| RPN proposals | RPN only |\n|---|---|')
        for count in counts:
            print(f'| {count} | {100 * counters[(count, False)] / visible_frames:.1f} % |')
        return 0
    print(f'\n{where}, {visible_frames} frames with the target '
          f'visible (frame 0 excluded), IoU >= {args.iou}; extra boxes per frame: mean {np.mean(extra_sizes):.1f}, '
          f'max {max(extra_sizes)}; previous boxes alone cover {100 * extra_only / visible_frames:.1f} %')
    print('| RPN proposals | RPN only | + previous-frame boxes |')
    print('|---|---|---|')
    for count in counts:
        print(f'| {count} | {100 * counters[(count, False)] / visible_frames:.1f} % | '
              f'{100 * counters[(count, True)] / visible_frames:.1f} % |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
