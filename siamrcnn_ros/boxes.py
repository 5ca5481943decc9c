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
