"""``siamrcnn-eval``: score tracker result folders against a dataset's ground truth.

Examples::

    siamrcnn-eval --dataset ~/data/LaSOT results/siamrcnn results/argmax --plot success.png --json lasot.json
    siamrcnn-eval --dataset ~/data/GOT-10k/val results/got10k_val --metrics got10k
    siamrcnn-eval --dataset ~/data/LTB35 results/lt --metrics success,vot_lt,oxuva
    siamrcnn-eval --dataset ~/data/DAVIS results/davis_masks --metrics davis
    siamrcnn-eval --dataset data/synthetic/test results/synthetic_masks --metrics davis

Each result folder holds one result file per sequence (``<name>.txt`` or
``<name>/<name>_001.txt``, plus ``*_confidence.value`` for vot_lt and oxuva; see
``siamrcnn_ros.evaluation.results``). Prints one row per tracker.

``--metrics davis`` scores mask results instead (J, F, J&F, J_box; DAVIS 2017 semi-supervised
protocol): one indexed PNG per frame, ``<results>/<sequence>/00000.png`` (value k = object k),
against a DAVIS root (``Annotations/480p``) or a synthetic-world split folder (``masks/``); see
``siamrcnn_ros.evaluation.mask_results``. A box result folder gets J_box only (its box against the
mask's box). It cannot be combined with the box metrics.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path

from tqdm import tqdm

from siamrcnn_ros.datasets import LAYOUTS, list_sequences
from siamrcnn_ros.evaluation.davis_metrics import FRAME_SELECTIONS, MaskEvaluation, evaluate_mask_folder
from siamrcnn_ros.evaluation.evaluate import METRICS, TrackerEvaluation, check_metrics, evaluate_results_folder
from siamrcnn_ros.evaluation.mask_ground_truth import SYNTHETIC_OBJECTS, list_mask_sequences
from siamrcnn_ros.evaluation.masks import DAVIS_BOUNDARY_THRESHOLD
from siamrcnn_ros.evaluation.plots import plot_precision, plot_success

# Column title and summary key of each metric, in table order.
COLUMNS = {
    'success': [('AUC', 'success_auc')],
    'precision': [('Prec@20', 'precision_20')],
    'norm_precision': [('NPrec@.2', 'norm_precision_20')],
    'got10k': [('AO', 'got10k_ao'), ('SR.50', 'got10k_sr50'), ('SR.75', 'got10k_sr75')],
    'vot_lt': [('LT-Pr', 'vot_lt_precision'), ('LT-Re', 'vot_lt_recall'), ('LT-F', 'vot_lt_f')],
    'oxuva': [('TPR', 'oxuva_tpr'), ('TNR', 'oxuva_tnr'), ('MaxGM', 'oxuva_maxgm')],
    'davis': [('J', 'davis_j_mean'), ('F', 'davis_f_mean'), ('J&F', 'davis_jf'), ('J_box', 'davis_j_box')],
}
# Scored on mask result folders, with their own dataset reader (mask_ground_truth).
MASK_METRICS = ('davis',)
ALL_METRICS = (*METRICS, *MASK_METRICS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='siamrcnn-eval', description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument('results', nargs='+', metavar='RESULTS_DIR', help='result folders, one per tracker')
    parser.add_argument('--dataset', required=True,
                        help='dataset folder (OTB root, LaSOT root, GOT-10k split with list.txt) or one sequence; '
                             'davis: a DAVIS root or a synthetic-world split (or sequence) folder')
    parser.add_argument('--layout', default='auto', choices=['auto', *LAYOUTS],
                        help='layout of the dataset sequences; default: detected per sequence')
    parser.add_argument('--metrics', default='success,precision,norm_precision',
                        help=f'comma-separated subset of {",".join(METRICS)}, or davis alone (mask results); '
                             'default: %(default)s')
    parser.add_argument('--presence-threshold', type=float, default=0.0,
                        help='oxuva: a frame is predicted present when its confidence is above this; default: 0')
    parser.add_argument('--mask-frames', default='davis', choices=FRAME_SELECTIONS,
                        help='davis: frames scored; davis = all but the first and the last (the DAVIS 2017 '
                             'semi-supervised protocol), after_first = all but the first, all = every frame; '
                             'default: %(default)s')
    parser.add_argument('--mask-objects', default='target', choices=SYNTHETIC_OBJECTS,
                        help='davis on the synthetic world: score the target only (result value 1) or every '
                             'object of objects.json (value k+1 = object k); DAVIS scores the first frame\'s '
                             'objects; default: %(default)s')
    parser.add_argument('--davis-split', default='val',
                        help='davis on a DAVIS root: ImageSets/2017/<split>.txt lists the sequences (every '
                             'annotated sequence when it is missing); default: %(default)s')
    parser.add_argument('--davis-resolution', default='480p',
                        help='davis on a DAVIS root: the Annotations sub-folder; default: %(default)s')
    parser.add_argument('--davis-ignore-void', action='store_true',
                        help='davis on a DAVIS root: leave void pixels (255) out of the scores; by default they '
                             'count as background, as the public DAVIS 2017 toolkit scores them')
    parser.add_argument('--boundary-threshold', type=float, default=DAVIS_BOUNDARY_THRESHOLD,
                        help='davis: F matches boundaries within this fraction of the image diagonal (pixels '
                             'when >= 1); default: %(default)s')
    parser.add_argument('--plot', default=None, help='write a success plot PNG here')
    parser.add_argument('--precision-plot', default=None, help='write a precision plot PNG here')
    parser.add_argument('--json', default=None, help='write summaries, curves and per-sequence scores here')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    return parser


def parse_metrics(text: str) -> tuple[str, ...]:
    """The comma-separated metric names: a subset of ``METRICS``, or ``davis`` alone."""
    names = tuple(name.strip() for name in text.split(',') if name.strip())
    if not names or any(name not in ALL_METRICS for name in names):
        raise ValueError(f'metrics must be a non-empty subset of {ALL_METRICS}, got {list(names)}')
    if set(names) & set(MASK_METRICS) and set(names) - set(MASK_METRICS):
        raise ValueError(f'{",".join(MASK_METRICS)} scores mask result folders and cannot be combined with the box '
                         f'metrics, got {list(names)}: run siamrcnn-eval once for each')
    return names if set(names) <= set(MASK_METRICS) else check_metrics(names)


def format_table(evaluations: list[TrackerEvaluation | MaskEvaluation], metrics: tuple[str, ...]) -> str:
    """One row per tracker: name, sequences, the requested scores, frames per second (box metrics)."""
    columns = [column for metric in COLUMNS if metric in metrics for column in COLUMNS[metric]]
    if set(metrics) & set(METRICS):
        columns.append(('FPS', 'fps'))
    width = max(len('Tracker'), *(len(e.tracker) for e in evaluations))
    header = f'{"Tracker":<{width}}  {"Seqs":>5}  ' + '  '.join(f'{title:>8}' for title, _ in columns)
    lines = [header, '-' * len(header)]
    for evaluation in evaluations:
        summary = evaluation.summary()
        cells = []
        for _, key in columns:
            value = summary.get(key)
            cells.append(f'{"-":>8}' if value is None or math.isnan(value) else f'{value:>8.3f}')
        lines.append(f'{evaluation.tracker:<{width}}  {len(evaluation.sequences):>5}  ' + '  '.join(cells))
    return '\n'.join(lines)


def run_masks(args: argparse.Namespace, folders: list[Path]) -> list[MaskEvaluation]:
    """``--metrics davis``: scores each mask result folder."""
    if args.plot is not None or args.precision_plot is not None:
        raise ValueError('--plot and --precision-plot draw box-metric curves; davis has none')
    sequences = list_mask_sequences(args.dataset, split=args.davis_split, resolution=args.davis_resolution,
                                    objects=args.mask_objects, ignore_void=args.davis_ignore_void)
    unique_names = len({f.name for f in folders}) == len(folders)
    evaluations = []
    for folder in folders:
        progress = tqdm(sequences, desc=folder.name, unit='seq', disable=args.no_progress, file=sys.stderr)
        evaluation = evaluate_mask_folder(folder, progress, args.mask_frames, args.boundary_threshold)
        if not unique_names:
            evaluation = dataclasses.replace(evaluation, tracker=str(folder))
        evaluations.append(evaluation)
    return evaluations


def run(args: argparse.Namespace) -> tuple[list[TrackerEvaluation | MaskEvaluation], tuple[str, ...], list[Path]]:
    """Evaluates every result folder; returns the evaluations, the metrics and the files written."""
    metrics = parse_metrics(args.metrics)
    folders = [Path(folder) for folder in args.results]
    for folder in folders:
        if not folder.is_dir():
            raise FileNotFoundError(f'result folder not found: {folder}')
    if set(metrics) <= set(MASK_METRICS):
        evaluations = run_masks(args, folders)
        return evaluations, metrics, _write_json(args, metrics, evaluations)
    sequences = list_sequences(args.dataset, args.layout)
    unique_names = len({f.name for f in folders}) == len(folders)
    evaluations = []
    for folder in folders:
        progress = tqdm(sequences, desc=folder.name, unit='seq', disable=args.no_progress, file=sys.stderr)
        evaluation = evaluate_results_folder(folder, progress, metrics, args.presence_threshold)
        if not unique_names:
            evaluation = TrackerEvaluation(str(folder), evaluation.sequences, evaluation.one_pass, evaluation.got10k,
                                           evaluation.vot_lt, evaluation.oxuva, evaluation.fps)
        evaluations.append(evaluation)
    written = []
    if args.plot is not None:
        written.append(plot_success(evaluations, args.plot))
    if args.precision_plot is not None:
        written.append(plot_precision(evaluations, args.precision_plot))
    written.extend(_write_json(args, metrics, evaluations))
    return evaluations, metrics, written


def _write_json(args: argparse.Namespace, metrics: tuple[str, ...],
                evaluations: list[TrackerEvaluation | MaskEvaluation]) -> list[Path]:
    """Writes ``--json`` when given; returns the paths written."""
    if args.json is None:
        return []
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {'dataset': str(args.dataset), 'metrics': list(metrics), 'trackers': [e.to_json() for e in evaluations]}
    path.write_text(json.dumps(document, indent=2, allow_nan=False) + '\n')
    return [path]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        evaluations, metrics, written = run(args)
    except (ValueError, FileNotFoundError, OSError) as error:
        print(f'siamrcnn-eval: error: {error}', file=sys.stderr)
        return 1
    print(format_table(evaluations, metrics))
    summary = evaluations[0].summary()
    objects = f'{summary["objects"]} objects, ' if 'objects' in summary else ''
    outputs = f'; wrote {", ".join(str(p) for p in written)}' if written else ''
    print(f'evaluated {len(evaluations)} tracker(s) on {len(evaluations[0].sequences)} sequences '
          f'({objects}{summary["frames"]} frames){outputs}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
