"""Tune TDPA on the synthetic world in seconds: record what TDPA is fed once, replay a grid of settings.

``record`` tracks every video of a split with TDPA (one network pass per frame, as
``synthetic_tracking.py``) and writes, per video, the inputs TDPA received
(``siamrcnn_ros.tools.tdpa_inputs``) to ``<recordings>/<video>.npz``, with ``recording.json``
(checkpoint, world, split, frames, settings). ``sweep`` replays those inputs under every combination
of ``--grid`` values and scores each like ``synthetic_tracking.py`` (success AUC, precision at 20 px,
on the long-term videos the VOT-LT F-score): no network runs, a 3,200-frame split takes 2-3 s per
combination on the CPU box. A replay equals a live run exactly for the settings that only score tracks
(``w_ff``, ``w_loc``, ``max_gap``, ``unary_offset``, ``rival_weight``); ``alpha``, ``beta`` and
``ff_min_score`` change what TDPA is fed, so they are fixed at record time (``--tdpa`` of ``record``).

    scripts/in-env python benchmarks/tdpa_sweep.py record --world data/synthetic_ltval \\
        --checkpoint runs/demo_pixhead.safetensors --split lasot --long-term-frames 800 \\
        --tdpa w_ff=0.5 --tdpa ff_min_score=0.5 --tdpa beta=0.1 --recordings outputs/tdpa_rec/ltval
    scripts/in-env python benchmarks/tdpa_sweep.py sweep --world data/synthetic_ltval \\
        --recordings outputs/tdpa_rec/ltval --grid w_loc=0,7 --grid rival_weight=0,0.5,0.75

Choose settings on one world's videos (e.g. ``siamrcnn-make-world --seed 1``), report on another's.
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
from pathlib import Path

import numpy as np
from synthetic_tracking import SPLITS, split_sequences, tdpa_settings  # benchmarks/, next to this script
from tqdm import tqdm

from siamrcnn_ros.boxes import xyxy_to_xywh
from siamrcnn_ros.datasets.sequence import Sequence
from siamrcnn_ros.evaluation.cli import format_table
from siamrcnn_ros.evaluation.evaluate import TrackerEvaluation, aggregate, evaluate_sequence
from siamrcnn_ros.evaluation.long_term import PresencePool
from siamrcnn_ros.model import build_model
from siamrcnn_ros.tools.tdpa_inputs import ASSOCIATION_FIELDS, TDPAInputs, recording_selector, replay
from siamrcnn_ros.tracking.defaults import tracker_settings
from siamrcnn_ros.tracking.settings import TDPASettings
from siamrcnn_ros.tracking.tracker import Tracker

MANIFEST = 'recording.json'


def record(args: argparse.Namespace) -> int:
    settings = tdpa_settings(args.tdpa)
    sequences = split_sequences(args.world, args.split, args.long_term_frames)
    model = build_model('demo', checkpoint=args.checkpoint, device=args.device)
    args.recordings.mkdir(parents=True, exist_ok=True)
    with tqdm(total=sum(len(s) for s in sequences), unit='frame', desc='record') as progress:
        for sequence in sequences:
            progress.set_postfix_str(sequence.name)
            # The demo preset's shipped tracker settings (search window, shape gate), as a live run has them.
            tracker = Tracker(model, dataclasses.replace(tracker_settings('demo'), tdpa=settings),
                              selector_factory=recording_selector)
            for index, image in enumerate(sequence.iter_frames()):
                if index == 0:
                    tracker.init(image, sequence.ground_truth[0])
                else:
                    tracker.update(image)
                progress.update()
            tracker.selector.inputs.save(args.recordings / f'{sequence.name}.npz')
    manifest = {'checkpoint': str(args.checkpoint), 'world': str(args.world), 'split': args.split,
                'long_term_frames': args.long_term_frames, 'tdpa': dataclasses.asdict(settings),
                'sequences': [s.name for s in sequences]}
    (args.recordings / MANIFEST).write_text(json.dumps(manifest, indent=2) + '\n')
    print(f'recorded {len(sequences)} videos in {args.recordings}')
    return 0


def parse_grid(items: list[str]) -> list[tuple[str, list[str]]]:
    """``NAME=v1,v2,...`` items -> ``[(name, [values])]``; association fields are refused."""
    grid = []
    for item in items:
        name, _, values = item.partition('=')
        if not values:
            raise ValueError(f'--grid {item!r}: expected NAME=v1,v2,...')
        if name in ASSOCIATION_FIELDS:
            raise ValueError(f'--grid {name}: fixed at record time (it changes what TDPA is fed); record again')
        grid.append((name, values.split(',')))
    return grid


def score(label: str, sequences: list[Sequence], recordings: dict[str, TDPAInputs], settings: TDPASettings,
          metrics: tuple[str, ...]) -> tuple[TrackerEvaluation, float]:
    """Replays every video with ``settings`` and scores the results (named ``label``); also the presence ROC
    AUC of the confidence over frames 1.. of all videos pooled (NaN without absent frames)."""
    evaluations, pool = [], PresencePool()
    for sequence in sequences:
        results = replay(recordings[sequence.name], settings)
        boxes = xyxy_to_xywh(np.array([r.box for r in results]))
        confidences = np.array([r.confidence for r in results])
        evaluations.append(evaluate_sequence(sequence, boxes, confidences, metrics))
        pool.add(confidences, sequence.absent)
    return aggregate(label, evaluations), pool.roc_auc()


def sweep(args: argparse.Namespace) -> int:
    manifest_path = args.recordings / MANIFEST
    if not manifest_path.is_file():
        print(f'tdpa_sweep: no {manifest_path}: run `tdpa_sweep.py record` first', file=sys.stderr)
        return 2
    manifest = json.loads(manifest_path.read_text())
    recorded = TDPASettings(**manifest['tdpa'])
    try:
        base = tdpa_settings(args.tdpa, recorded)
        grid = parse_grid(args.grid)
        combos = [tdpa_settings([f'{name}={value}' for (name, _), value in zip(grid, values, strict=True)], base)
                  for values in itertools.product(*(values for _, values in grid))]
    except ValueError as error:
        print(f'tdpa_sweep: {error}', file=sys.stderr)
        return 2
    split = manifest['split']
    metrics = SPLITS[split][1]
    sequences = split_sequences(Path(manifest['world']) if args.world is None else args.world, split,
                                manifest['long_term_frames'])
    recordings = {s.name: TDPAInputs.load(args.recordings / f'{s.name}.npz') for s in sequences}
    evaluations, presence = [], []
    for settings in tqdm(combos, unit='setting', desc='sweep'):
        label = ' '.join(f'{name}={getattr(settings, name)}' for name, _ in grid) or 'recorded'
        evaluation, auc = score(label, sequences, recordings, settings, metrics)
        evaluations.append(evaluation)
        presence.append(auc)
    print(f'\n{split}: {len(sequences)} videos, {sum(len(s) for s in sequences)} frames; recorded with '
          f'{", ".join(f"{k}={v}" for k, v in manifest["tdpa"].items())}; checkpoint {manifest["checkpoint"]}')
    print(format_table(evaluations, metrics))
    print('presence ROC AUC of the confidence: '
          + '; '.join(f'{e.tracker} {auc:.3f}' for e, auc in zip(evaluations, presence, strict=True)))
    if args.json is not None:
        rows = [{'settings': dataclasses.asdict(s), 'scores': e.summary(), 'presence_roc_auc': auc}
                for s, e, auc in zip(combos, evaluations, presence, strict=True)]
        args.json.write_text(json.dumps({'recording': manifest, 'rows': rows}, indent=2) + '\n')
        print(f'wrote {args.json}')
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    commands = parser.add_subparsers(dest='command', required=True)
    rec = commands.add_parser('record', help="track a split once and keep TDPA's inputs")
    rec.add_argument('--world', type=Path, default=Path('data/synthetic'), help='synthetic world folder')
    rec.add_argument('--checkpoint', required=True, help='model checkpoint (safetensors)')
    rec.add_argument('--split', choices=sorted(SPLITS), default='lasot')
    rec.add_argument('--long-term-frames', type=int, default=None,
                     help='record only the first this-many frames of each long-term video')
    rec.add_argument('--tdpa', action='append', default=[], metavar='NAME=VALUE',
                     help='TDPA settings of the recorded run (alpha, beta, ff_min_score bind every replay)')
    rec.add_argument('--recordings', type=Path, required=True, help='folder for the recordings')
    rec.add_argument('--device', default='cpu', help='cpu, cuda or auto')
    swp = commands.add_parser('sweep', help='replay a grid of settings over the recordings and score them')
    swp.add_argument('--recordings', type=Path, required=True, help='folder written by record')
    swp.add_argument('--world', type=Path, default=None, help="the world's folder if it moved since recording")
    swp.add_argument('--tdpa', action='append', default=[], metavar='NAME=VALUE',
                     help='changes to the recorded settings for every combination')
    swp.add_argument('--grid', action='append', default=[], metavar='NAME=V1,V2,...',
                     help='values to try (repeatable: every combination is scored)')
    swp.add_argument('--json', type=Path, default=None, help='also write every row here')
    args = parser.parse_args(argv)
    try:
        return record(args) if args.command == 'record' else sweep(args)
    except (FileNotFoundError, ValueError) as error:
        print(f'tdpa_sweep: {error}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
