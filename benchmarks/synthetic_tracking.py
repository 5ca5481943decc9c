"""Tracking quality on the synthetic world (issue 6): TDPA, argmax and short-term on the test split
and on the long-term videos, with one checkpoint.

For every sequence of each requested split and every variant, tracks from the first frame's box
(one shared model), writes the results in the benchmark layout under
``<output-dir>/<split>/<variant>/`` (readable by ``siamrcnn-eval``), then scores them: success AUC,
precision at 20 px, and on the long-term videos the VOT-LT tracking F-score (which also rewards
reporting the target absent). Prints one table per split and writes ``<output-dir>/scores.json``
and a success plot per split.

    scripts/in-env python benchmarks/synthetic_tracking.py --checkpoint checkpoints/demo.safetensors \\
        --output-dir outputs/synthetic_eval/demo --long-term-frames 1000

Splits: ``test`` (GOT-10k layout, ``<world>/test``) and ``lasot`` (the long-term videos in the
LaSOT layout, ``<world>/lasot``). ``--long-term-frames N`` scores only the first N frames of each
long-term video (the CPU box tracks ~5 frames/s); the scores then cover exactly the frames tracked.
``--proposals N`` runs the checkpoint with N RPN proposals per frame instead of the count in its
config (the demo preset: 100; the paper: 1000), as ``roi_recall.py`` does.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from roi_recall import proposal_model  # benchmarks/, next to this script
from tqdm import tqdm

from siamrcnn_ros.boxes import xyxy_to_xywh
from siamrcnn_ros.datasets import list_sequences
from siamrcnn_ros.datasets.sequence import Sequence
from siamrcnn_ros.evaluation.cli import format_table
from siamrcnn_ros.evaluation.evaluate import evaluate_results_folder
from siamrcnn_ros.evaluation.long_term import PresencePool
from siamrcnn_ros.evaluation.plots import plot_success
from siamrcnn_ros.evaluation.results import write_results
from siamrcnn_ros.model import build_model
from siamrcnn_ros.model.siamrcnn import resolve_device
from siamrcnn_ros.tracking.defaults import override, tdpa_defaults, tracker_settings
from siamrcnn_ros.tracking.settings import TDPASettings
from siamrcnn_ros.tracking.tracker import VARIANTS, Tracker, TrackerSettings

SPLITS = {'test': ('test', ('success', 'precision')), 'val': ('val', ('success', 'precision')),
          'lasot': ('lasot', ('success', 'precision', 'vot_lt'))}


def tdpa_settings(items: list[str], base: TDPASettings | None = None) -> TDPASettings:
    """``base`` (the demo preset's shipped values by default, ``tracking.defaults``) with ``NAME=VALUE`` changes;
    ``ValueError`` naming a bad one.

    Each value takes the type of the field it replaces (``max_gap`` is an int, the others floats).
    """
    settings = tdpa_defaults('demo') if base is None else base
    return override(TrackerSettings(tdpa=settings), [f'tdpa.{item}' for item in items]).tdpa


def truncated(sequence: Sequence, frames: int | None) -> Sequence:
    """``sequence`` cut to its first ``frames`` frames (image sequences only); unchanged for None."""
    if frames is None or len(sequence) <= frames:
        return sequence
    return dataclasses.replace(
        sequence, frames=sequence.frames[:frames],
        ground_truth=None if sequence.ground_truth is None else sequence.ground_truth[:frames],
        absent=None if sequence.absent is None else sequence.absent[:frames])


def track_sequence(tracker: Tracker, sequence: Sequence, progress: tqdm) -> tuple[np.ndarray, ...]:
    """Boxes ``[N, 4]`` xywh pixels, confidences ``[N]`` and seconds per frame ``[N]`` from frame 0's box."""
    boxes, confidences, times = [], [], []
    for index, image in enumerate(sequence.iter_frames()):
        started = time.perf_counter()
        result = tracker.init(image, sequence.ground_truth[0]) if index == 0 else tracker.update(image)
        times.append(time.perf_counter() - started)
        boxes.append(xyxy_to_xywh(result.box))
        confidences.append(result.confidence)
        progress.update()
    return np.array(boxes), np.array(confidences), np.array(times)


def split_sequences(world: Path, split: str, long_term_frames: int | None) -> list[Sequence]:
    """The videos of ``split`` (a key of ``SPLITS``), the long-term ones cut to ``long_term_frames`` where given."""
    folder = world / SPLITS[split][0]
    if not folder.is_dir():
        raise FileNotFoundError(f'no such split folder: {folder} (make the world with siamrcnn-make-world)')
    return [truncated(s, long_term_frames if split == 'lasot' else None) for s in list_sequences(folder)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--world', type=Path, default=Path('data/synthetic'), help='synthetic world folder')
    parser.add_argument('--checkpoint', required=True, help='model checkpoint (safetensors)')
    parser.add_argument('--output-dir', type=Path, required=True, help='results, scores.json and plots go here')
    parser.add_argument('--splits', default='test,lasot', help='comma-separated subset of test,val,lasot')
    parser.add_argument('--variants', default=','.join(VARIANTS), help='comma-separated subset of %(default)s')
    parser.add_argument('--long-term-frames', type=int, default=None,
                        help='score only the first this-many frames of each long-term video')
    parser.add_argument('--device', default='cpu', help='cpu, cuda or auto')
    parser.add_argument('--proposals', type=int, default=None,
                        help="RPN proposals per frame (per level before NMS and in total) instead of the checkpoint's")
    parser.add_argument('--tdpa', action='append', default=[], metavar='NAME=VALUE',
                        help='a TDPA parameter other than the reference value, e.g. w_ff=0.5 or max_gap=500 '
                             '(repeatable; choose on the val split or on the long-term videos of a world with '
                             'another --seed, report on test and lasot)')
    parser.add_argument('--set', action='append', default=[], metavar='NAME=VALUE', dest='overrides',
                        help='a tracker setting other than the shipped one, e.g. search_shift=0 (repeatable; '
                             'tracking.defaults.override; TDPA fields go through --tdpa)')
    args = parser.parse_args(argv)
    try:
        override(tracker_settings('demo'), args.overrides)
    except ValueError as error:
        print(f'synthetic_tracking: bad --set {args.overrides}: {error}', file=sys.stderr)
        return 2
    try:
        tdpa = tdpa_settings(args.tdpa)
    except ValueError as error:
        print(f'synthetic_tracking: bad --tdpa {args.tdpa}: {error}', file=sys.stderr)
        return 2
    splits = [s.strip() for s in args.splits.split(',') if s.strip()]
    variants = [v.strip() for v in args.variants.split(',') if v.strip()]
    unknown = sorted(set(splits) - set(SPLITS)) + sorted(set(variants) - set(VARIANTS))
    if unknown:
        print(f'synthetic_tracking: unknown split or variant: {", ".join(unknown)}', file=sys.stderr)
        return 2

    missing = [str(args.world / SPLITS[s][0]) for s in splits if not (args.world / SPLITS[s][0]).is_dir()]
    if missing:
        print(f'synthetic_tracking: no such split folder: {", ".join(missing)} (make the world with '
              'scripts/in-env siamrcnn-make-world --root data/synthetic)', file=sys.stderr)
        return 2
    if args.proposals is None:
        model = build_model('demo', checkpoint=args.checkpoint, device=args.device)
    else:
        model = proposal_model(args.checkpoint, args.proposals).to(resolve_device(args.device))
    document = {'checkpoint': str(args.checkpoint), 'world': str(args.world),
                'long_term_frames': args.long_term_frames, 'proposals': args.proposals,
                'tdpa': dataclasses.asdict(tdpa), 'splits': {}}
    for split in splits:
        metrics = SPLITS[split][1]
        sequences = split_sequences(args.world, split, args.long_term_frames)
        total = len(variants) * sum(len(s) for s in sequences)
        evaluations, presence = [], {}
        with tqdm(total=total, unit='frame', desc=split) as progress:
            for variant in variants:
                results_dir = args.output_dir / split / variant
                pool = PresencePool()
                for sequence in sequences:
                    progress.set_postfix_str(f'{variant} {sequence.name}')
                    settings = override(dataclasses.replace(tracker_settings('demo', variant), tdpa=tdpa),
                                        args.overrides)
                    tracker = Tracker(model, settings)
                    boxes, confidences, times = track_sequence(tracker, sequence, progress)
                    write_results(results_dir, sequence.name, boxes, confidences, times)
                    pool.add(confidences, sequence.absent)
                evaluations.append(evaluate_results_folder(results_dir, sequences, metrics, 0.0))
                if not math.isnan(auc := pool.roc_auc()):
                    presence[variant] = auc
        print(f'\n{split}: {len(sequences)} sequences, {sum(len(s) for s in sequences)} frames each variant')
        print(format_table(evaluations, metrics))
        if presence:
            print('presence ROC AUC of the confidence (frames pooled): '
                  + ', '.join(f'{variant} {auc:.3f}' for variant, auc in presence.items()))
        plot_success(evaluations, args.output_dir / f'{split}_success.png')
        document['splits'][split] = {e.tracker: e.summary() for e in evaluations}
        if presence:
            document['splits'][split]['presence_roc_auc'] = presence
    (args.output_dir / 'scores.json').write_text(json.dumps(document, indent=2) + '\n')
    print(f'wrote {args.output_dir / "scores.json"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
