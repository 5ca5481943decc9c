"""Several objects in one frame: one label map from overlapping masks (SPEC §5, paper §3.4).

Where masks overlap, the pixel goes to the mask with FEWER pixels: a small object in front of a
large one is usually what makes them overlap, and the large mask loses little by ceding the
pixels while the small one would lose everything.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch import Tensor


def combine_masks(masks: Tensor | np.ndarray, ids: Sequence[int]) -> np.ndarray:
    """One label map from per-object masks, the smaller mask on top.

    Masks are painted from the largest to the smallest pixel count, so each overlap ends with the
    smaller one. Ties (equal pixel counts) are broken by position: of two masks with as many pixels,
    the one earlier in ``masks`` lies on top.

    Args:
        masks: ``[N, H, W]`` bool masks (NumPy or tensor).
        ids: the label of each mask, length N, integers >= 1 (0 is the background).

    Returns:
        ``[H, W]`` int32: ``ids[k]`` where mask k is on top, 0 where no mask is set.

    Raises:
        ValueError: masks not ``[N, H, W]`` bool, ``ids`` of another length, or an id < 1.
    """
    array = masks.detach().cpu().numpy() if isinstance(masks, Tensor) else np.asarray(masks)
    if array.ndim != 3 or array.dtype != np.bool_:
        raise ValueError(f'masks must be [N, H, W] bool, got shape {array.shape} and dtype {array.dtype}')
    labels = [int(i) for i in ids]
    if len(labels) != len(array):
        raise ValueError(f'{len(labels)} ids for {len(array)} masks')
    if any(label < 1 for label in labels):
        raise ValueError(f'ids must be >= 1 (0 is the background), got {labels}')
    out = np.zeros(array.shape[1:], np.int32)
    sizes = array.sum(axis=(1, 2))  # [N]
    # Painting order: decreasing size, and among equal sizes decreasing index, so the smallest and, of
    # equal ones, the earliest mask is painted last (lexsort's primary key is the last one).
    order = np.lexsort((-np.arange(len(array)), -sizes))
    for k in order:
        out[array[k]] = labels[k]
    return out

