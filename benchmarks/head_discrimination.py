"""Does the re-detection head tell the target from the other objects? (issue 6 diagnostics)

Pools the ground-truth boxes of every visible object in every ``--stride``-th frame of a synthetic
split and scores them against the first-frame template of the video's target (object 0) with the
head's target probability (mean over the cascade stages, as the tracker does). Prints, per object
role (target, look-alike, other):

* the mean target probability of its ground-truth boxes (the target's own first-frame box included
  as "template itself");
* ranking accuracy: in how many (frame, other object) pairs the target's box scores above the other
  object's box, for look-alikes and for the others; 0.5 is chance;
* the same ranking by the plain cosine similarity of the frozen RoI features, the floor the trained
  head should beat;
* "start location": the target's first-frame box in a later frame where the target has left it (IoU
  < 0.3 with every object): background with the template's context, the box a tracker keeps adding to
  the RoIs when it stays behind.

    OMP_NUM_THREADS=1 scripts/in-env python benchmarks/head_discrimination.py --checkpoint checkpoints/demo.safetensors
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F  # noqa: N812
from torchvision.ops import box_iou
from tqdm import tqdm

from siamrcnn_ros.datasets.synthetic_videos import read_synthetic_videos
from siamrcnn_ros.model import build_model
from siamrcnn_ros.model.preprocessing import to_resized


def object_roles(video_folder: Path) -> list[str]:
    """``'target'``, ``'lookalike'`` or ``'other'`` for each object of a synthetic video (``objects.json``)."""
    document = json.loads((video_folder / 'objects.json').read_text())
    return [entry['role'] for entry in document['objects']]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--world', type=Path, default=Path('data/synthetic'), help='synthetic world folder')
    parser.add_argument('--split', default='test', help='test, val or train')
    parser.add_argument('--checkpoint', default=None, help='model checkpoint (default: the shipped demo one)')
    parser.add_argument('--stride', type=int, default=5, help='every this-many-th frame')
    parser.add_argument('--output', type=Path, default=None, help='also write the numbers to this JSON file')
    args = parser.parse_args(argv)
    if not (args.world / args.split).is_dir():
        print(f'head_discrimination: no such split folder: {args.world / args.split} (make the world with '
              'scripts/in-env siamrcnn-make-world --root data/synthetic)', file=sys.stderr)
        return 2
    model = build_model('demo', **({} if args.checkpoint is None else {'checkpoint': args.checkpoint}), device='cpu')
    videos = read_synthetic_videos(args.world, args.split)
    scores: dict[str, list[float]] = {'template itself': [], 'target': [], 'lookalike': [], 'other': [],
                                      'start location': []}
    wins = {by: {'lookalike': [], 'other': [], 'start location': []} for by in ('head', 'cosine')}
    with torch.inference_mode():
        for video in tqdm(videos, unit='video'):
            roles = object_roles(video.frames[0].parent)
            if roles[0] != 'target':
                raise ValueError(f'{video.name}: object 0 is a {roles[0]!r}, expected the target')
            template = None
            for t in range(0, len(video), args.stride):
                visible = np.flatnonzero(np.isfinite(video.boxes[:, t]).all(axis=1))
                if t > 0 and (0 not in visible or len(visible) < 2):
                    continue
                frame = model.extract(video.read_frame(t))
                boxes = torch.as_tensor(video.boxes[visible, t], dtype=torch.float32)  # [V, 4] xyxy pixels
                start = torch.as_tensor(video.boxes[0, 0], dtype=torch.float32)[None]  # [1, 4]
                left = t > 0 and float(box_iou(start, boxes).max()) < 0.3
                if left:  # the last row: the target's first-frame box, now on background
                    boxes = torch.cat([boxes, start])
                features = model.roi_pool(frame.feature_maps, [to_resized(boxes, frame.image_size,
                                                                          frame.resized_size)], [frame.resized_size])
                if t == 0:
                    template = features[list(visible).index(0)][None]  # [1, C, P, P]
                    scores['template itself'].append(float(model.head.target_probability(template, template)[0]))
                    continue
                probability = model.head.target_probability(template, features)  # [V]
                cosine = F.cosine_similarity(features.flatten(1), template.flatten(1))  # [V]
                target = list(visible).index(0)
                for k in range(len(boxes)):
                    role = roles[visible[k]] if k < len(visible) else 'start location'
                    scores[role].append(float(probability[k]))
                    if role != 'target':
                        wins['head'][role].append(bool(probability[target] > probability[k]))
                        wins['cosine'][role].append(bool(cosine[target] > cosine[k]))
    document = {'checkpoint': args.checkpoint or 'shipped demo', 'split': args.split, 'stride': args.stride,
                'mean_probability': {role: float(np.mean(v)) for role, v in scores.items() if v},
                'boxes': {role: len(v) for role, v in scores.items()},
                'ranking': {by: {role: float(np.mean(v)) for role, v in table.items() if v}
                            for by, table in wins.items()},
                'pairs': {role: len(v) for role, v in wins['head'].items()}}
    print(f'\n{args.split} split, every {args.stride}th frame, {len(videos)} videos')
    print('mean target probability: ' + ', '.join(f'{role} {value:.3f} ({document["boxes"][role]})'
                                                   for role, value in document['mean_probability'].items()))
    for by, table in document['ranking'].items():
        print(f'target ranked above ({by}): ' + ', '.join(f'{role} {value:.3f} ({document["pairs"][role]} pairs)'
                                                        for role, value in table.items()))
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(document, indent=2) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
