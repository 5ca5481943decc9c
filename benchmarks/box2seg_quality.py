"""Box2Seg masks from ground-truth boxes on the synthetic world, scored as DAVIS scores (SPEC §5).

For every frame of every sequence of a split, the ground-truth boxes of the scored objects (``--objects
target``: the tracked object; ``all``: every object, combined smaller-on-top as the node does) go through
Box2Seg; the label maps (one per ``--thresholds`` value, the mask probability threshold) are written in
the DAVIS result layout and scored with ``siamrcnn-eval``'s DAVIS metrics (J, F, J&F, J_box). The same
is done for the filled ground-truth boxes, the baseline a mask network has to beat. Prints both and the
time per object per frame, writes ``scores.json``.

    scripts/in-env python benchmarks/box2seg_quality.py --root data/synthetic --split test \
        --checkpoint checkpoints/box2seg.safetensors --output-dir outputs/box2seg_quality
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from siamrcnn_ros.box2seg import build_box2seg
from siamrcnn_ros.box2seg.combine import combine_masks
from siamrcnn_ros.datasets.synthetic_videos import read_synthetic_sequence
from siamrcnn_ros.evaluation.davis_metrics import evaluate_mask_folder
from siamrcnn_ros.evaluation.mask_ground_truth import list_mask_sequences
from siamrcnn_ros.evaluation.mask_results import write_mask_result
from siamrcnn_ros.evaluation.masks import box_masks
from siamrcnn_ros.model.default_weights import resolve_box2seg_checkpoint


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--root', default='data/synthetic', help='synthetic world root (siamrcnn-make-world)')
    parser.add_argument('--split', default='test', help='split folder of the world')
    parser.add_argument('--objects', choices=('target', 'all'), default='all', help='objects to segment and score')
    parser.add_argument('--checkpoint', default='default',
                        help="Box2Seg checkpoint; 'default' = the shipped checkpoints/box2seg.safetensors")
    parser.add_argument('--output-dir', default='outputs/box2seg_quality', help='result PNGs and scores.json')
    parser.add_argument('--device', default='cpu', help='cpu, cuda, auto')
    parser.add_argument('--thresholds', type=float, nargs='+', default=None,
                        help="mask probability thresholds to score (default: the checkpoint's mask_threshold); "
                             'choose one on the val split, report it on test')
    args = parser.parse_args()

    checkpoint = resolve_box2seg_checkpoint(args.checkpoint)
    if checkpoint is None:
        print('box2seg_quality: no Box2Seg checkpoint (random weights would score nothing); train one first',
              file=sys.stderr)
        return 2
    predictor = build_box2seg(checkpoint=checkpoint, device=args.device)
    sequences = list_mask_sequences(Path(args.root) / args.split, objects=args.objects)
    output = Path(args.output_dir)
    thresholds = args.thresholds or [predictor.config.mask_threshold]
    folders = {f'box2seg@{t:g}': output / f'box2seg_{t:g}' for t in thresholds}
    folders['filled_box'] = output / 'filled_box'
    seconds, objects_segmented = 0.0, 0
    for sequence in tqdm(sequences, desc='segment', unit='video'):
        video = read_synthetic_sequence(Path(args.root) / args.split / sequence.name)
        indices = [video.object_ids.index(name) for name in sequence.object_ids]
        visible = np.stack([video.visible(k) for k in indices])  # [O, N] bool
        for frame in range(len(video)):
            image = video.read_frame(frame)
            boxes = video.boxes[indices, frame]  # [O, 4] xyxy, NaN where absent
            present = np.flatnonzero(visible[:, frame])
            ids = [int(k) + 1 for k in present]  # result value k + 1 = the k-th scored object
            started = time.perf_counter()
            probabilities = predictor.predict_probabilities(image, boxes[present])  # [P, H, W] float32
            seconds += time.perf_counter() - started
            objects_segmented += len(present)
            for threshold in thresholds:
                labels = combine_masks(probabilities >= threshold, ids)
                write_mask_result(folders[f'box2seg@{threshold:g}'], sequence.name, frame, labels)
            filled = box_masks(boxes[present], image.shape[:2])
            write_mask_result(folders['filled_box'], sequence.name, frame, combine_masks(filled, ids))

    scores = {name: evaluate_mask_folder(folder, sequences).summary() for name, folder in folders.items()}
    ms_per_object = 1000 * seconds / max(objects_segmented, 1)
    scores['settings'] = {'split': args.split, 'objects': args.objects, 'checkpoint': str(checkpoint),
                          'device': str(predictor.device), 'torch_threads': torch.get_num_threads(),
                          'ms_per_object': ms_per_object}
    (output / 'scores.json').write_text(json.dumps(scores, indent=2))
    print(f'{"masks from":<14} {"J":>6} {"F":>6} {"J&F":>6} {"J_box":>6}   ({len(sequences)} videos, '
          f'{args.objects} objects, split {args.split})')
    for name in folders:
        row = scores[name]
        print(f'{name:<14} {row["davis_j_mean"]:6.3f} {row["davis_f_mean"]:6.3f} {row["davis_jf"]:6.3f} '
              f'{row["davis_j_box"]:6.3f}')
    print(f'Box2Seg time: {ms_per_object:.1f} ms per object per frame '
          f'({objects_segmented} objects, {predictor.device}, {torch.get_num_threads()} threads)')
    print(f'wrote {output / "scores.json"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
