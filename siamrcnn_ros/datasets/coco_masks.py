"""COCO instance segmentations as masks: polygons, uncompressed and compressed run-length encodings.

The three forms of an annotation's ``segmentation`` in COCO's JSON files:

* polygons: a list of polygons, each a flat list ``[x1, y1, x2, y2, ...]`` of pixel coordinates;
* uncompressed RLE (crowd annotations): ``{"counts": [n0, n1, ...], "size": [height, width]}``;
* compressed RLE (COCO's result files, LVIS): ``{"counts": "<string>", "size": [height, width]}``.

Run lengths alternate background and foreground, starting with background, over the pixels in
column-major order (down each column, then the next column). The compressed string stores each run
length as a difference to the run two places before (from the fourth on), in 5-bit groups: character
``48 + group``, bit 0x20 = "more groups follow", bit 0x10 of the last group = negative. This is how
the COCO API writes them; no pycocotools needed. A polygon covers the pixels whose centres lie inside it
(the COCO API rasterises at a finer grid, so the two can differ by a pixel along the outline).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


def decode_rle_counts(counts: str) -> list[int]:
    """The run lengths of a compressed COCO RLE string (see the module docstring)."""
    runs: list[int] = []
    position = 0
    while position < len(counts):
        value, shift, more = 0, 0, True
        while more:
            if position >= len(counts):
                raise ValueError(f'compressed RLE ends inside a number: {counts!r}')
            group = ord(counts[position]) - 48
            if not 0 <= group < 64:
                raise ValueError(f'compressed RLE has a character outside the code: {counts[position]!r}')
            value |= (group & 0x1F) << shift
            more = bool(group & 0x20)
            position += 1
            shift += 5
            if not more and group & 0x10:
                value |= -1 << shift  # negative: sign-extend
        if len(runs) > 2:  # from the fourth run on, stored as the difference to the run two places before
            value += runs[-2]
        runs.append(value)
    return runs


def rle_to_mask(counts: Sequence[int], height: int, width: int) -> np.ndarray:
    """``[height, width]`` bool from run lengths (background first, column-major)."""
    runs = np.asarray(counts, dtype=np.int64)
    if (runs < 0).any() or int(runs.sum()) != height * width:
        raise ValueError(f'RLE run lengths must be >= 0 and sum to {height} x {width} = {height * width} pixels, '
                         f'got sum {int(runs.sum())}')
    values = np.zeros(len(runs), bool)
    values[1::2] = True
    flat = np.repeat(values, runs)  # [H * W], column-major
    return flat.reshape(width, height).T.copy()


def polygons_to_mask(polygons: Sequence[Sequence[float]], height: int, width: int) -> np.ndarray:
    """``[height, width]`` bool: the pixels whose centres lie inside any of the polygons (flat ``[x1, y1, ...]``
    lists in pixels; pixel ``(row, col)`` covers ``[col, col + 1) x [row, row + 1)``)."""
    from matplotlib.path import Path as PolygonPath  # matplotlib is a dependency; only COCO readers need it here

    mask = np.zeros((height, width), bool)
    for polygon in polygons:
        points = np.asarray(polygon, dtype=np.float64)
        if points.ndim != 1 or len(points) < 6 or len(points) % 2:
            raise ValueError(f'a polygon needs at least 3 points as a flat [x1, y1, x2, y2, ...] list, got {polygon!r}')
        vertices = points.reshape(-1, 2)  # [V, 2] x, y
        # Only the pixels of the polygon's bounding box can be inside.
        x0, y0 = np.clip(np.floor(vertices.min(axis=0)).astype(int), 0, [width, height])
        x1, y1 = np.clip(np.ceil(vertices.max(axis=0)).astype(int), 0, [width, height])
        if x1 <= x0 or y1 <= y0:
            continue
        ys, xs = np.mgrid[y0:y1, x0:x1]
        centres = np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5], axis=1)  # [P, 2]
        inside = PolygonPath(vertices).contains_points(centres).reshape(ys.shape)
        mask[y0:y1, x0:x1] |= inside
    return mask


def segmentation_to_mask(segmentation: Any, height: int, width: int) -> np.ndarray:
    """``[height, width]`` bool from any of the three forms of a COCO ``segmentation``.

    Raises:
        ValueError: an unknown form, or an RLE whose ``size`` is not ``[height, width]``.
    """
    if isinstance(segmentation, list):
        return polygons_to_mask(segmentation, height, width)
    if isinstance(segmentation, dict) and 'counts' in segmentation and 'size' in segmentation:
        if list(segmentation['size']) != [height, width]:
            raise ValueError(f'RLE size {segmentation["size"]} differs from the image size [{height}, {width}]')
        counts = segmentation['counts']
        runs = decode_rle_counts(counts) if isinstance(counts, str) else list(counts)
        return rle_to_mask(runs, height, width)
    raise ValueError(f'a segmentation must be a list of polygons or an RLE {{"counts", "size"}}, '
                     f'got {type(segmentation).__name__}')


@dataclass(frozen=True, eq=False)
class CocoImageMasks:
    """The instance masks of one COCO image, decoded when called (``AnnotatedVideo.masks`` entry).

    Attributes:
        height, width: the image size in pixels (the JSON's ``images[].height`` / ``width``).
        segmentations: one COCO ``segmentation`` per object, in the video's object order; None for an
            object without one (it gets no pixels).
    """

    height: int
    width: int
    segmentations: tuple[Any, ...]

    def __call__(self) -> np.ndarray:
        """``[height, width]`` int32: ``k + 1`` where object k is (a later object wins an overlap), 0 elsewhere."""
        labels = np.zeros((self.height, self.width), np.int32)
        for k, segmentation in enumerate(self.segmentations):
            if segmentation is not None:
                labels[segmentation_to_mask(segmentation, self.height, self.width)] = k + 1
        return labels
