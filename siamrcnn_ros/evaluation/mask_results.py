"""Mask tracking results in the DAVIS layout: one indexed PNG per frame and sequence::

    <results_dir>/<sequence>/00000.png, 00001.png, ...   frame index (0-based), 5 digits

Each PNG is an 8-bit palette image (``write_index_mask``, DAVIS colours): value ``k`` = the k-th
scored object (1-based, see ``mask_ground_truth``), 0 = background. These are the files the DAVIS
2017 toolkit and its evaluation server read; for DAVIS the names equal the annotation files' names.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from siamrcnn_ros.datasets.index_masks import read_index_mask, write_index_mask


def mask_result_path(results_dir: str | Path, sequence: str, frame: int) -> Path:
    """``<results_dir>/<sequence>/<frame:05d>.png`` (``frame`` 0-based)."""
    if frame < 0:
        raise ValueError(f'frame index must be >= 0, got {frame}')
    return Path(results_dir) / sequence / f'{frame:05d}.png'


def write_mask_result(results_dir: str | Path, sequence: str, frame: int, labels: np.ndarray) -> Path:
    """Writes one frame's result mask.

    Args:
        labels: ``[H, W]`` integer, 0 = background, k = object k (1..255).

    Returns:
        The PNG written.
    """
    return write_index_mask(mask_result_path(results_dir, sequence, frame), labels)


def write_mask_results(results_dir: str | Path, sequence: str, masks: Iterable[np.ndarray]) -> list[Path]:
    """Writes a whole sequence: ``masks`` yields one ``[H, W]`` integer mask per frame, from frame 0."""
    return [write_mask_result(results_dir, sequence, frame, labels) for frame, labels in enumerate(masks)]


def read_mask_result(results_dir: str | Path, sequence: str, frame: int) -> np.ndarray:
    """One frame's result mask as ``[H, W]`` int32 object numbers.

    Raises:
        FileNotFoundError: no such file (the message names it).
    """
    path = mask_result_path(results_dir, sequence, frame)
    if not path.is_file():
        raise FileNotFoundError(f'no mask result for sequence {sequence!r}, frame {frame}: {path}')
    return read_index_mask(path)
