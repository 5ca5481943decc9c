"""Where re-detection fails on the real clips: recall of the proposals and detections, or their ranking.

    scripts/in-env python benchmarks/redetection_recall.py [--checkpoint default] [--clips ...] [--stride 2]
        [--json out.json]

For every ``--stride``-th annotated frame of the real clips (``benchmarks/real_clips/``) where the target is
present, the model re-detects the first frame's template alone, with no tracker state (no previous boxes),
and this prints per clip:

* ``proposal recall``: the fraction of frames with an RPN proposal at IoU >= 0.5 with the truth;
* ``detection recall``: the same for the re-detections that leave the head (after the score threshold, NMS and
  the preset's cap);
* ``top-1 hit``: the best-scored re-detection has IoU >= 0.5 (what a tracker without memory would report);
* ``rank of truth``: median rank (1 = best) of the best-overlapping re-detection, where there is one;
* ``truth / best other score``: median score of that detection and of the best detection at IoU < 0.3.

Low proposal recall points at the RPN; high detection recall with a low top-1 hit points at the head's
ranking, the part TDPA has to make up for.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from torchvision.ops import box_iou

sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_clips import CLIP_NAMES, CLIPS, VIDEOS, iter_frames, read_annotation, video_path


def clip_recall(model, clip, video: Path, stride: int) -> dict[str, float]:
    """The numbers of the module docstring for one clip."""
    from siamrcnn_ros.boxes import xywh_to_xyxy
    from siamrcnn_ros.model.preprocessing import to_original

    boxes, absent = read_annotation(clip)
    truth = torch.as_tensor(xywh_to_xyxy(np.asarray(boxes, dtype=np.float64)), dtype=torch.float32)  # [N, 4]
    template = None
    rows = []
    for index, bgr in enumerate(iter_frames(video, clip.first, clip.first + len(boxes) - 1)):
        rgb = np.ascontiguousarray(bgr[:, :, ::-1])
        if index == 0:
            template = model.template(model.extract(rgb), truth[0])
            continue
        if index % stride or absent[index]:
            continue
        frame = model.extract(rgb)
        proposals = to_original(frame.proposals, frame.resized_size, frame.image_size)  # [P, 4] original pixels
        found = model.redetect(frame, template)
        target = truth[index][None]
        proposal_iou = float(box_iou(proposals, target).max()) if len(proposals) else 0.0
        ious = box_iou(found.boxes, target)[:, 0] if len(found.boxes) else torch.zeros(0)
        best = int(ious.argmax()) if len(ious) else -1
        others = found.scores[ious < 0.3] if len(ious) else torch.zeros(0)
        rows.append({'proposal': proposal_iou >= 0.5, 'detection': bool(len(ious)) and float(ious[best]) >= 0.5,
                     'top1': bool(len(ious)) and float(ious[0]) >= 0.5,
                     'rank': best + 1 if best >= 0 and float(ious[best]) >= 0.5 else None,
                     'truth_score': float(found.scores[best]) if best >= 0 and float(ious[best]) >= 0.5 else None,
                     'other_score': float(others.max()) if len(others) else 0.0, 'detections': len(found.boxes)})
    ranks = [r['rank'] for r in rows if r['rank'] is not None]
    truth_scores = [r['truth_score'] for r in rows if r['truth_score'] is not None]
    return {'frames': len(rows), 'proposal_recall': float(np.mean([r['proposal'] for r in rows])),
            'detection_recall': float(np.mean([r['detection'] for r in rows])),
            'top1_hit': float(np.mean([r['top1'] for r in rows])),
            'median_rank': float(np.median(ranks)) if ranks else float('nan'),
            'median_truth_score': float(np.median(truth_scores)) if truth_scores else float('nan'),
            'median_other_score': float(np.median([r['other_score'] for r in rows])),
            'mean_detections': float(np.mean([r['detections'] for r in rows]))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--preset', default='demo')
    parser.add_argument('--checkpoint', default='default', help="a checkpoint file, or 'default' (the shipped one)")
    parser.add_argument('--clips', nargs='+', default=list(CLIP_NAMES), choices=CLIP_NAMES)
    parser.add_argument('--stride', type=int, default=2, help='every n-th frame (>= 1)')
    parser.add_argument('--json', type=Path, default=None, help='also write the numbers here')
    args = parser.parse_args(argv)
    if args.stride < 1:
        parser.error('--stride must be at least 1')
    from tqdm import tqdm

    from siamrcnn_ros.model import build_model

    model = build_model(args.preset, checkpoint=args.checkpoint, device='cpu')
    results = {}
    for clip in tqdm([c for c in CLIPS if c.name in args.clips], unit='clip'):
        results[clip.name] = clip_recall(model, clip, video_path(VIDEOS[clip.video]), args.stride)
    header = ('clip', 'frames', 'proposal recall', 'detection recall', 'top-1 hit', 'rank of truth',
              'truth score', 'best other score', 'detections')
    print('| ' + ' | '.join(header) + ' |\n|' + '---|' * len(header))
    for name, r in results.items():
        print(f"| {name} | {r['frames']} | {r['proposal_recall']:.2f} | {r['detection_recall']:.2f} | "
              f"{r['top1_hit']:.2f} | {r['median_rank']:.0f} | {r['median_truth_score']:.2f} | "
              f"{r['median_other_score']:.2f} | {r['mean_detections']:.1f} |")
    if args.json is not None:
        args.json.write_text(json.dumps({'preset': args.preset, 'checkpoint': args.checkpoint, 'stride': args.stride,
                                         'clips': results}, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
