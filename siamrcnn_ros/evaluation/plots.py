"""Success and precision plots comparing trackers, as PNG files in the style of the OTB plots:
one curve per tracker, the legend sorted by score with the score in brackets (``[0.647] name``).

Figures are drawn on matplotlib's Agg canvas directly, so nothing here touches the global
backend or needs a display.
"""
from __future__ import annotations

from collections.abc import Sequence as SequenceOf
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from siamrcnn_ros.evaluation.evaluate import TrackerEvaluation
from siamrcnn_ros.evaluation.got10k_metrics import GOT10K_THRESHOLDS
from siamrcnn_ros.evaluation.one_pass import PRECISION_THRESHOLDS, SUCCESS_THRESHOLDS


def plot_success(evaluations: SequenceOf[TrackerEvaluation], path: str | Path,
                 title: str = 'Success plot of OPE') -> Path:
    """Success plot (fraction of frames with IoU above the threshold) of several trackers.

    Uses the one-pass curve (21 thresholds, legend = AUC) when the evaluations have one, else the
    GOT-10k curve (101 thresholds, legend = AO).

    Raises:
        ValueError: no evaluation, or one without a success curve.
    """
    if not evaluations:
        raise ValueError('no evaluations to plot')
    curves = []
    for evaluation in evaluations:
        one_pass, got10k = evaluation.one_pass, evaluation.got10k
        if one_pass is not None:
            curves.append((evaluation.tracker, SUCCESS_THRESHOLDS, one_pass.success, one_pass.auc))
        elif got10k is not None:
            curves.append((evaluation.tracker, GOT10K_THRESHOLDS, got10k.success_curve, got10k.ao))
        else:
            raise ValueError(f'{evaluation.tracker}: no success curve (evaluate with success or got10k)')
    return _plot(curves, path, title, 'Overlap threshold', 'Success rate', 'lower left')


def plot_precision(evaluations: SequenceOf[TrackerEvaluation], path: str | Path,
                   title: str = 'Precision plot of OPE') -> Path:
    """Precision plot (fraction of frames with centre error within the threshold), legend = precision at 20 px."""
    if not evaluations:
        raise ValueError('no evaluations to plot')
    curves = []
    for evaluation in evaluations:
        if evaluation.one_pass is None:
            raise ValueError(f'{evaluation.tracker}: no precision curve (evaluate with precision)')
        curves.append((evaluation.tracker, PRECISION_THRESHOLDS, evaluation.one_pass.precision,
                       evaluation.one_pass.precision_20))
    return _plot(curves, path, title, 'Location error threshold (px)', 'Precision', 'lower right')


def _plot(curves: list[tuple[str, np.ndarray, np.ndarray, float]], path: str | Path, title: str,
          x_label: str, y_label: str, legend_location: str) -> Path:
    path = Path(path)
    figure = Figure(figsize=(6.4, 4.8), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    for name, thresholds, values, score in sorted(curves, key=lambda curve: -curve[3]):
        axes.plot(thresholds, values, linewidth=2, label=f'[{score:.3f}] {name}')
    axes.set(title=title, xlabel=x_label, ylabel=y_label, xlim=(curves[0][1][0], curves[0][1][-1]), ylim=(0, 1.05))
    axes.grid(True, linestyle=':')
    axes.legend(loc=legend_location, fontsize='small')
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format='png')
    return path
