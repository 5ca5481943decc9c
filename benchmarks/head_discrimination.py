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
  head should beat; with ``--embedding``, by the hard-example embedding network's similarity
  (``<hard_examples.cache_dir>/embedding.safetensors``: a triplet-loss network on the same frozen
  features, trained on the training videos), which shows how much identity the features carry; and by
  the overlap of the boxes' hue-saturation histograms (pixels, no network);
* "start location": the target's first-frame box in a later frame where the target has left it (IoU
  < 0.3 with every object): background with the template's context, the box a tracker keeps adding to
  the RoIs when it stays behind.

    OMP_NUM_THREADS=1 scripts/in-env python benchmarks/head_discrimination.py --checkpoint checkpoints/demo.safetensors
    ... --split lasot --stride 20 --embedding runs/hard_examples/embedding.safetensors   # the long-term videos
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.nn import functional as F  # noqa: N812
from torchvision.ops import box_iou
from tqdm import tqdm

from siamrcnn_ros.datasets.synthetic_videos import read_synthetic_videos
from siamrcnn_ros.model import build_model
from siamrcnn_ros.model.preprocessing import to_resized
from siamrcnn_ros.training.hard_examples.miner import load_embedding_network


def object_roles(frame_folder: Path) -> list[str]:
    """``'target'``, ``'lookalike'`` or ``'other'`` for each object of a synthetic video (``objects.json``, next to
    the frames in the GOT-10k layout, one folder up in the LaSOT layout's ``img/``)."""
    path = frame_folder / 'objects.json'
    document = json.loads((path if path.is_file() else frame_folder.parent / 'objects.json').read_text())
    return [entry['role'] for entry in document['objects']]


def colour_histograms(image: np.ndarray, boxes: torch.Tensor) -> np.ndarray:
    """``[B, 128]`` normalised hue-saturation histograms (16 x 8 bins) of the pixels in ``boxes`` (``[B, 4]`` xyxy
    pixels) of the RGB ``image``."""
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
    height, width = image.shape[:2]
    rows = []
    for x0, y0, x1, y1 in boxes.round().int().tolist():
        x0, y0 = min(max(x0, 0), width - 1), min(max(y0, 0), height - 1)
        crop = np.ascontiguousarray(hsv[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)])
        histogram = cv2.calcHist([crop], [0, 1], None, [16, 8], [0, 180, 0, 256]).reshape(-1)
        rows.append(histogram / max(float(histogram.sum()), 1.0))
    return np.stack(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--world', type=Path, default=Path('data/synthetic'), help='synthetic world folder')
    parser.add_argument('--split', default='test', help='test, val, train or lasot (the long-term videos)')
    parser.add_argument('--checkpoint', default=None, help='model checkpoint (default: the shipped demo one)')
    parser.add_argument('--stride', type=int, default=5, help='every this-many-th frame')
    parser.add_argument('--embedding', type=Path, default=None,
                        help='also rank by this hard-example embedding network (embedding.safetensors)')
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
    embedding = None if args.embedding is None else load_embedding_network(args.embedding,
                                                                             model.config.head.pooler_size)
    rankings = ('head', 'cosine') + (() if embedding is None else ('embedding',)) + ('colour histogram',)
    wins = {by: {'lookalike': [], 'other': [], 'start location': []} for by in rankings}
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
                image = video.read_frame(t)
                frame = model.extract(image)
                boxes = torch.as_tensor(video.boxes[visible, t], dtype=torch.float32)  # [V, 4] xyxy pixels
                start = torch.as_tensor(video.boxes[0, 0], dtype=torch.float32)[None]  # [1, 4]
                left = t > 0 and float(box_iou(start, boxes).max()) < 0.3
                if left:  # the last row: the target's first-frame box, now on background
                    boxes = torch.cat([boxes, start])
                features = model.roi_pool(frame.feature_maps, [to_resized(boxes, frame.image_size,
                                                                          frame.resized_size)], [frame.resized_size])
                histograms = colour_histograms(image, boxes)  # [V, 128]
                target = list(visible).index(0)  # the target's row
                if t == 0:
                    template = features[target][None]  # [1, C, P, P]
                    template_histogram = histograms[target]
                    template_embedding = None if embedding is None else embedding(template)[0]
                    scores['template itself'].append(float(model.head.target_probability(template, template)[0]))
                    continue
                probability = model.head.target_probability(template, features)  # [V]
                similarity = {'head': probability,
                              'cosine': F.cosine_similarity(features.flatten(1), template.flatten(1)),  # [V]
                              'colour histogram': torch.from_numpy(np.minimum(histograms, template_histogram).sum(1))}
                if embedding is not None:
                    similarity['embedding'] = embedding(features) @ template_embedding  # [V]
                for k in range(len(boxes)):
                    role = roles[visible[k]] if k < len(visible) else 'start location'
                    scores[role].append(float(probability[k]))
                    if role != 'target':
                        for by, values in similarity.items():
                            wins[by][role].append(bool(values[target] > values[k]))
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
