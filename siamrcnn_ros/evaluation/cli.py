"""``siamrcnn-eval``: score tracker result folders against a dataset's ground truth.

Examples::

    siamrcnn-eval --dataset ~/data/LaSOT results/siamrcnn results/argmax --plot success.png --json lasot.json
    siamrcnn-eval --dataset ~/data/GOT-10k/val results/got10k_val --metrics got10k
    siamrcnn-eval --dataset ~/data/LTB35 results/lt --metrics success,vot_lt,oxuva

Each result folder holds one result file per sequence (``<name>.txt`` or
``<name>/<name>_001.txt``, plus ``*_confidence.value`` for vot_lt and oxuva; see
``siamrcnn_ros.evaluation.results``). Prints one row per tracker.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from tqdm import tqdm

from siamrcnn_ros.datasets import LAYOUTS, list_sequences
from siamrcnn_ros.evaluation.evaluate import METRICS, TrackerEvaluation, check_metrics, evaluate_results_folder
from siamrcnn_ros.evaluation.plots import plot_precision, plot_success

# Column title and summary key of each metric, in table order.
COLUMNS = {
    'success': [('AUC', 'success_auc')],
    'precision': [('Prec@20', 'precision_20')],
    'norm_precision': [('NPrec@.2', 'norm_precision_20')],
    'got10k': [('AO', 'got10k_ao'), ('SR.50', 'got10k_sr50'), ('SR.75', 'got10k_sr75')],
    'vot_lt': [('LT-Pr', 'vot_lt_precision'), ('LT-Re', 'vot_lt_recall'), ('LT-F', 'vot_lt_f')],
    'oxuva': [('TPR', 'oxuva_tpr'), ('TNR', 'oxuva_tnr'), ('MaxGM', 'oxuva_maxgm')],
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='siamrcnn-eval', description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument('results', nargs='+', metavar='RESULTS_DIR', help='result folders, one per tracker')
    parser.add_argument('--dataset', required=True,
                        help='dataset folder (OTB root, LaSOT root, GOT-10k split with list.txt) or one sequence')
    parser.add_argument('--layout', default='auto', choices=['auto', *LAYOUTS],
                        help='layout of the dataset sequences; default: detected per sequence')
    parser.add_argument('--metrics', default='success,precision,norm_precision',
                        help=f'comma-separated subset of {",".join(METRICS)}; default: %(default)s')
    parser.add_argument('--presence-threshold', type=float, default=0.0,
                        help='oxuva: a frame is predicted present when its confidence is above this; default: 0')
    parser.add_argument('--plot', default=None, help='write a success plot PNG here')
    parser.add_argument('--precision-plot', default=None, help='write a precision plot PNG here')
    parser.add_argument('--json', default=None, help='write summaries, curves and per-sequence scores here')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    return parser


def format_table(evaluations: list[TrackerEvaluation], metrics: tuple[str, ...]) -> str:
    """One row per tracker: name, sequences, the requested scores, frames per second."""
    columns = [column for metric in METRICS if metric in metrics for column in COLUMNS[metric]]
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


def run(args: argparse.Namespace) -> tuple[list[TrackerEvaluation], tuple[str, ...], list[Path]]:
    """Evaluates every result folder; returns the evaluations, the metrics and the files written."""
    metrics = check_metrics(m.strip() for m in args.metrics.split(',') if m.strip())
    folders = [Path(folder) for folder in args.results]
    for folder in folders:
        if not folder.is_dir():
            raise FileNotFoundError(f'result folder not found: {folder}')
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
    if args.json is not None:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {'dataset': str(args.dataset), 'metrics': list(metrics),
                    'trackers': [e.to_json() for e in evaluations]}
        path.write_text(json.dumps(document, indent=2, allow_nan=False) + '\n')
        written.append(path)
    return evaluations, metrics, written


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        evaluations, metrics, written = run(args)
    except (ValueError, FileNotFoundError, OSError) as error:
        print(f'siamrcnn-eval: error: {error}', file=sys.stderr)
        return 1
    print(format_table(evaluations, metrics))
    frames = evaluations[0].summary()['frames']
    outputs = f'; wrote {", ".join(str(p) for p in written)}' if written else ''
    print(f'evaluated {len(evaluations)} tracker(s) on {len(evaluations[0].sequences)} sequences '
          f'({frames} frames){outputs}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
