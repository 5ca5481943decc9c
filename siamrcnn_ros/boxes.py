"""Box conventions and conversions, shared by the whole package.

Inside the package every box is ``xyxy``: ``[..., 4]`` float ``(x_min, y_min, x_max, y_max)``
in pixels of the full-resolution source image, continuous coordinates with ``(0, 0)`` at the
top-left corner of the top-left pixel, no ``+1``/``-1``: ``width = x_max - x_min``.
Other formats appear only at the edges (benchmark files and command lines use ``xywh``:
``(x_min, y_min, width, height)``), converted by the functions here. They work on NumPy
arrays and torch tensors alike and never modify their input.
"""
from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch

BoxArray = TypeVar('BoxArray', np.ndarray, torch.Tensor)


def _check_last_dim(boxes: BoxArray) -> None:
    if boxes.shape[-1] != 4:
        raise ValueError(f'boxes must have 4 values in the last dimension, got shape {tuple(boxes.shape)}')


def xywh_to_xyxy(boxes: BoxArray) -> BoxArray:
    """``[..., 4]`` (x, y, w, h) -> ``[..., 4]`` (x_min, y_min, x_max, y_max), same type and dtype."""
    _check_last_dim(boxes)
    out = boxes.clone() if isinstance(boxes, torch.Tensor) else np.array(boxes, copy=True)
    out[..., 2:] = boxes[..., :2] + boxes[..., 2:]
    return out


def xyxy_to_xywh(boxes: BoxArray) -> BoxArray:
    """``[..., 4]`` (x_min, y_min, x_max, y_max) -> ``[..., 4]`` (x, y, w, h), same type and dtype."""
    _check_last_dim(boxes)
    out = boxes.clone() if isinstance(boxes, torch.Tensor) else np.array(boxes, copy=True)
    out[..., 2:] = boxes[..., 2:] - boxes[..., :2]
    return out


def xyxy_to_cxcywh(boxes: BoxArray) -> BoxArray:
    """``[..., 4]`` xyxy -> ``[..., 4]`` (centre x, centre y, width, height), same type and dtype."""
    _check_last_dim(boxes)
    out = boxes.clone() if isinstance(boxes, torch.Tensor) else np.array(boxes, copy=True)
    out[..., :2] = (boxes[..., :2] + boxes[..., 2:]) / 2
    out[..., 2:] = boxes[..., 2:] - boxes[..., :2]
    return out


def image_scale(image_size: tuple[int, int]) -> tuple[float, float, float, float]:
    """``(height, width)`` pixels -> ``(width, height, width, height)``, the divisor of cxcywh boxes.

    Raises:
        ValueError: if the size does not have two positive finite values.
    """
    if len(image_size) != 2:
        raise ValueError(f'image_size must be (height, width), got {image_size!r}')
    height, width = float(image_size[0]), float(image_size[1])
    if not (np.isfinite(height) and np.isfinite(width) and height > 0 and width > 0):
        raise ValueError(f'image_size must be two positive numbers (height, width), got {image_size!r}')
    return width, height, width, height


def spatial_distance(boxes_a: BoxArray, boxes_b: BoxArray, image_size: tuple[int, int]) -> BoxArray:
    """L-infinity distance of normalised ``(cx, cy, w, h)`` between all pairs of boxes (SPEC §2, paper §3.3):
    ``cx`` and ``w`` are divided by the image width, ``cy`` and ``h`` by its height. Pair scores are computed only
    where this is below the gate γ (0.06 in the reference), −inf elsewhere.

    Args:
        boxes_a: ``[A, 4]`` xyxy pixels (NumPy or torch).
        boxes_b: ``[B, 4]`` xyxy pixels, of the same kind.
        image_size: ``(height, width)`` in pixels.

    Returns:
        ``[A, B]`` ``max(|Δcx|, |Δcy|, |Δw|, |Δh|)`` in fractions of the image size: float64 for NumPy; for torch
        float32 (float64 for float64 boxes) on the boxes' device.
    """
    for name, boxes in (('boxes_a', boxes_a), ('boxes_b', boxes_b)):
        if boxes.ndim != 2 or boxes.shape[-1] != 4:
            raise ValueError(f'{name} must be [N, 4] xyxy, got shape {tuple(boxes.shape)}')
    scale = image_scale(image_size)
    if isinstance(boxes_a, torch.Tensor):
        dtype = torch.promote_types(boxes_a.dtype, torch.float32)
        divisor = torch.tensor(scale, dtype=dtype, device=boxes_a.device)
        a = xyxy_to_cxcywh(boxes_a.to(dtype)) / divisor  # [A, 4]
        b = xyxy_to_cxcywh(boxes_b.to(dtype)) / divisor  # [B, 4]
        return (a[:, None, :] - b[None, :, :]).abs().amax(dim=-1)  # [A, B, 4] -> [A, B]
    a = xyxy_to_cxcywh(np.asarray(boxes_a, dtype=np.float64)) / np.array(scale)
    b = xyxy_to_cxcywh(np.asarray(boxes_b, dtype=np.float64)) / np.array(scale)
    return np.abs(a[:, None, :] - b[None, :, :]).max(axis=-1)


MIN_BOX_SIDE_PX = 1.0
"""A target box must keep at least this width and height (pixels) inside the image."""


class InvalidBoxError(ValueError):
    """A target box that cannot be used (NaN/inf, no area, outside the image); ``kind`` = ``'box'`` (the node's
    diagnostics key)."""

    kind = 'box'


def check_xyxy(box: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """A target box checked against the image it was drawn on: the one check of boxes coming in (the library's
    ``MultiTracker`` and the node's requests both use it).

    Args:
        box: ``[4]`` xyxy pixels (anything ``np.asarray`` takes).
        image_size: ``(height, width)`` of that image, pixels.

    Returns:
        ``[4]`` float64 xyxy, as given (not clipped: ``clip_xyxy`` does that).

    Raises:
        InvalidBoxError: not 4 numbers, a NaN/inf coordinate, ``x_max <= x_min`` or ``y_max <= y_min``, or less
            than ``MIN_BOX_SIDE_PX`` of width or height inside the image.
    """
    box = np.array(box, dtype=np.float64).reshape(-1)
    if box.shape != (4,):
        raise InvalidBoxError(f'a box is 4 numbers (x_min, y_min, x_max, y_max pixels), got {box.size}')
    if not np.isfinite(box).all():
        raise InvalidBoxError(f'box {box.tolist()} has a NaN or infinite coordinate')
    if box[2] <= box[0] or box[3] <= box[1]:
        raise InvalidBoxError(f'box {box.tolist()} has no area: need x_min < x_max and y_min < y_max (xyxy pixels)')
    clipped = clip_xyxy(box, image_size)
    if clipped[2] - clipped[0] < MIN_BOX_SIDE_PX or clipped[3] - clipped[1] < MIN_BOX_SIDE_PX:
        height, width = image_size
        raise InvalidBoxError(f'box {box.tolist()} lies (almost) outside the {width}x{height} image')
    return box


def clip_xyxy(box: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """``[4]`` xyxy pixels clipped to an image of ``(height, width)``: ``[0, width] x [0, height]``, float64."""
    height, width = image_size
    return np.clip(np.asarray(box, dtype=np.float64), 0.0, [width, height, width, height])
