"""Reading the small text files of tracking benchmarks: box lists and per-frame labels.

Every reader names the file in its error message, so a broken dataset folder says where it is
broken. Boxes are returned as ``[N, 4]`` float64 ``(x, y, w, h)`` pixels, ``(x, y)`` the top-left
corner, exactly as the files store them (no ``+1``/``-1`` applied).
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

# Benchmarks separate the four numbers with commas (LaSOT, GOT-10k, most of OTB), tabs or
# spaces (some OTB sequences, e.g. 'Jogging'); a few OTB files mix a comma and a tab.
_SEPARATORS = re.compile(r'[,\s]+')


def read_boxes(path: Path) -> np.ndarray:
    """Boxes of a ground-truth or result file: one ``x,y,w,h`` line per frame.

    Args:
        path: a text file; numbers separated by commas, tabs or spaces; ``nan`` allowed (unknown
            box); blank lines are skipped.

    Returns:
        ``[N, 4]`` float64 xywh pixels.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: a line does not hold exactly four numbers (the message gives file and line).
    """
    if not path.is_file():
        raise FileNotFoundError(f'box file not found: {path}')
    rows = []
    for line_number, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.strip()
        if not text:
            continue
        fields = [field for field in _SEPARATORS.split(text) if field]
        try:
            values = [float(field) for field in fields]
        except ValueError:
            raise ValueError(f'{path}, line {line_number}: not numbers: {text!r}') from None
        if len(values) != 4:
            raise ValueError(f'{path}, line {line_number}: expected 4 values x,y,w,h, got {len(values)}: {text!r}')
        rows.append(values)
    return np.asarray(rows, dtype=np.float64).reshape(-1, 4)  # [N, 4]


def read_labels(path: Path) -> np.ndarray:
    """Per-frame integer labels: one value per line (GOT-10k ``*.label``) or all on one line
    separated by commas (LaSOT ``full_occlusion.txt``, ``out_of_view.txt``).

    Returns:
        ``[N]`` int64.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: a value is not an integer (the message gives the file).
    """
    if not path.is_file():
        raise FileNotFoundError(f'label file not found: {path}')
    fields = [field for field in _SEPARATORS.split(path.read_text()) if field]
    values = []
    for field in fields:
        try:
            value = float(field)
        except ValueError:
            raise ValueError(f'{path}: label {field!r} is not a number') from None
        if not math.isfinite(value) or value != int(value):
            raise ValueError(f'{path}: label {field!r} is not an integer')
        values.append(int(value))
    return np.asarray(values, dtype=np.int64)


def read_name_list(path: Path) -> list[str]:
    """Names listed one per line (GOT-10k ``list.txt``), blank lines skipped."""
    if not path.is_file():
        raise FileNotFoundError(f'list file not found: {path}')
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def check_length(values: np.ndarray, expected: int, path: Path, what: str) -> None:
    """Raise ValueError naming ``path`` unless ``values`` has ``expected`` rows."""
    if len(values) != expected:
        raise ValueError(f'{path}: {len(values)} {what} for {expected} frames')
