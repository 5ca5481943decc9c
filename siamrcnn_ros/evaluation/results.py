"""Tracker result files in the formats of the benchmarks' toolkits.

Two layouts, both with one ``x,y,w,h`` line per frame (pixels, ``(x, y)`` the top-left corner,
comma-separated, ``nan`` for a missing box), one value per line in the other files:

``otb`` (OTB, LaSOT, UAV123, NfS: the form the got10k toolkit's OTB/LaSOT experiments, pytracking
and the LaSOT MATLAB toolkit read)::

    <folder>/<name>.txt                    boxes
    <folder>/<name>_confidence.value       presence confidence per frame (VOT-LT's file suffix)
    <folder>/<name>_time.txt               seconds per frame (pytracking's name)

``got10k`` (the GOT-10k toolkit and evaluation server; ``_001`` is the first repetition)::

    <folder>/<name>/<name>_001.txt                    boxes
    <folder>/<name>/<name>_001_confidence.value       confidence per frame (the VOT-LT toolkit's name)
    <folder>/<name>/<name>_time.txt                   seconds per frame
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from siamrcnn_ros.datasets.annotation_files import read_boxes

RESULT_LAYOUTS = ('otb', 'got10k')


def result_paths(folder: str | Path, name: str, layout: str) -> dict[str, Path]:
    """Paths of the ``boxes``, ``confidence`` and ``time`` files of sequence ``name`` in ``layout``."""
    folder = Path(folder)
    if layout == 'otb':
        return {'boxes': folder / f'{name}.txt', 'confidence': folder / f'{name}_confidence.value',
                'time': folder / f'{name}_time.txt'}
    if layout == 'got10k':
        sequence_folder = folder / name
        return {'boxes': sequence_folder / f'{name}_001.txt',
                'confidence': sequence_folder / f'{name}_001_confidence.value',
                'time': sequence_folder / f'{name}_time.txt'}
    raise ValueError(f'result layout must be one of {RESULT_LAYOUTS}, got {layout!r}')


def write_results(folder: str | Path, name: str, boxes_xywh: np.ndarray, confidences: np.ndarray | None = None,
                  times: np.ndarray | None = None, layout: str = 'otb') -> list[Path]:
    """Writes one sequence's results; creates the folders.

    Args:
        folder: the tracker's result folder.
        name: the sequence name (the benchmark's, e.g. ``airplane-1``).
        boxes_xywh: ``[N, 4]`` xywh pixels; NaN rows are written as ``nan``.
        confidences: ``[N]`` presence confidence in [0, 1], or None (no file).
        times: ``[N]`` seconds spent per frame, or None (no file).
        layout: ``'otb'`` or ``'got10k'`` (see the module docstring).

    Returns:
        The paths written, boxes first.
    """
    paths = result_paths(folder, name, layout)
    boxes = np.asarray(boxes_xywh, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f'boxes_xywh must be [N, 4], got shape {boxes.shape}')
    columns = {'confidence': confidences, 'time': times}
    for key, values in columns.items():
        if values is not None and np.shape(values) != (len(boxes),):
            raise ValueError(f'{key}s must be [{len(boxes)}] (one per box), got shape {np.shape(values)}')
    paths['boxes'].parent.mkdir(parents=True, exist_ok=True)
    paths['boxes'].write_text(''.join(','.join(_number(v) for v in row) + '\n' for row in boxes))
    written = [paths['boxes']]
    for key, values in columns.items():
        if values is not None:
            paths[key].write_text(''.join(_number(v) + '\n' for v in np.asarray(values, dtype=np.float64)))
            written.append(paths[key])
    return written


def find_result_layout(folder: str | Path, name: str) -> str:
    """``'got10k'`` or ``'otb'``, whichever box file of ``name`` exists in ``folder`` (GOT-10k first).

    Raises:
        FileNotFoundError: neither exists (the message names both paths).
    """
    for layout in ('got10k', 'otb'):
        if result_paths(folder, name, layout)['boxes'].is_file():
            return layout
    candidates = ' or '.join(str(result_paths(folder, name, layout)['boxes']) for layout in RESULT_LAYOUTS)
    raise FileNotFoundError(f'no results for sequence {name!r}: expected {candidates}')


def read_results(folder: str | Path, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """One sequence's boxes and confidences, in either layout.

    Returns:
        ``([N, 4] float64 xywh, [N] float64 confidences or None when there is no confidence file)``.

    Raises:
        FileNotFoundError: no box file (the message names the expected paths).
        ValueError: a malformed file, or a confidence count that differs from the box count.
    """
    paths = result_paths(folder, name, find_result_layout(folder, name))
    boxes = read_boxes(paths['boxes'])
    confidences = _read_column(paths['confidence'], len(boxes))
    return boxes, confidences


def read_times(folder: str | Path, name: str) -> np.ndarray | None:
    """Seconds per frame ``[N]`` of one sequence, or None when there is no time file."""
    paths = result_paths(folder, name, find_result_layout(folder, name))
    return _read_column(paths['time'], None)


def _read_column(path: Path, expected: int | None) -> np.ndarray | None:
    if not path.is_file():
        return None
    values = []
    for line_number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            values.append(float(line.strip()))
        except ValueError:
            raise ValueError(f'{path}, line {line_number}: not a number: {line.strip()!r}') from None
    if expected is not None and len(values) != expected:
        raise ValueError(f'{path}: {len(values)} values for {expected} boxes')
    return np.asarray(values, dtype=np.float64)


def _number(value: float) -> str:
    # 10 significant digits: exact for pixel boxes, still one short line per frame.
    return 'nan' if np.isnan(value) else f'{value:.10g}'
