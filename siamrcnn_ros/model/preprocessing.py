"""The image in the model's own terms (SPEC §2, "reference preprocessing"), and box mapping.

An input image is ``H x W x 3`` uint8 RGB (a NumPy array or a torch tensor). It is normalised
with the config's mean/std (0-255 scale), resized so that the short edge is ``min_size`` unless
the long edge would pass ``max_size``, and zero-padded at the bottom/right to a multiple of
``size_divisible``. The arithmetic is torchvision's ``GeneralizedRCNNTransform`` in eval mode
(scale to [0, 1], normalise, bilinear resize with ``recompute_scale_factor``, pad), so proposals
match torchvision's Faster R-CNN bit for bit on the same image.

Boxes outside the model are in original-image pixels; inside (proposals, RoIs) they are in
resized-image pixels. ``to_resized`` / ``to_original`` convert, scaling x by the ratio of the
widths and y by the ratio of the heights, as torchvision's ``resize_boxes`` does.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional

from siamrcnn_ros.model.config import TransformConfig


@dataclass(frozen=True)
class NetworkInput:
    """A preprocessed image.

    Attributes:
        tensor: ``[1, 3, H_pad, W_pad]`` float32, normalised, zero-padded to ``size_divisible``.
        image_size: ``(h, w)`` of the original image, pixels.
        resized_size: ``(h, w)`` of the resized image inside the padding, pixels.
    """

    tensor: Tensor
    image_size: tuple[int, int]
    resized_size: tuple[int, int]


def image_to_tensor(image: np.ndarray | Tensor) -> Tensor:
    """Check an ``H x W x 3`` uint8 RGB image and return it as a ``[3, H, W]`` uint8 tensor (no copy if possible).

    Raises:
        TypeError: not a NumPy array / torch tensor, or not uint8.
        ValueError: not three-dimensional with 3 channels last, or empty.
    """
    if isinstance(image, np.ndarray):
        tensor = torch.from_numpy(np.ascontiguousarray(image)) if image.dtype == np.uint8 else None
    elif isinstance(image, Tensor):
        tensor = image if image.dtype == torch.uint8 else None
    else:
        raise TypeError(f'image must be an H x W x 3 uint8 NumPy array or torch tensor, got {type(image).__name__}')
    if tensor is None:
        raise TypeError(f'image must have dtype uint8 (RGB, 0-255), got {image.dtype}')
    if tensor.ndim != 3 or tensor.shape[2] != 3:
        raise ValueError(f'image must have shape H x W x 3 (RGB, channels last), got {tuple(tensor.shape)}')
    if tensor.shape[0] == 0 or tensor.shape[1] == 0:
        raise ValueError(f'image is empty: shape {tuple(tensor.shape)}')
    return tensor.permute(2, 0, 1)  # [3, H, W]


def preprocess(image: np.ndarray | Tensor, config: TransformConfig, device: torch.device,
               resize: bool = True) -> NetworkInput:
    """Normalise, resize and pad an ``H x W x 3`` uint8 RGB image for the backbone, on ``device``.

    The uint8 image is moved to ``device`` before conversion (a quarter of the float32 bytes). ``resize=False``
    keeps the image's size (training examples come resized by their augmentation); ``resized_size`` is then
    ``image_size``.
    """
    pixels = image_to_tensor(image).to(device, non_blocking=True)  # [3, H, W] uint8
    image_size = (int(pixels.shape[1]), int(pixels.shape[2]))
    mean = torch.tensor([v / 255 for v in config.image_mean], dtype=torch.float32, device=device)
    std = torch.tensor([v / 255 for v in config.image_std], dtype=torch.float32, device=device)
    normalised = (pixels.float() / 255 - mean[:, None, None]) / std[:, None, None]  # [3, H, W]
    if resize:
        scale = min(config.min_size / min(image_size), config.max_size / max(image_size))
        resized = functional.interpolate(normalised[None], scale_factor=scale, mode='bilinear',
                                         recompute_scale_factor=True, align_corners=False)  # [1, 3, h, w]
    else:
        resized = normalised[None]
    resized_size = (int(resized.shape[2]), int(resized.shape[3]))
    stride = config.size_divisible
    pad_h = math.ceil(resized_size[0] / stride) * stride - resized_size[0]
    pad_w = math.ceil(resized_size[1] / stride) * stride - resized_size[1]
    padded = functional.pad(resized, (0, pad_w, 0, pad_h))  # [1, 3, H_pad, W_pad], zeros bottom/right
    return NetworkInput(padded, image_size, resized_size)


def to_resized(boxes: Tensor, image_size: tuple[int, int], resized_size: tuple[int, int]) -> Tensor:
    """``[N, 4]`` xyxy in original pixels -> ``[N, 4]`` xyxy in resized-image pixels (float32)."""
    return _scale_boxes(boxes, image_size, resized_size)


def to_original(boxes: Tensor, resized_size: tuple[int, int], image_size: tuple[int, int]) -> Tensor:
    """``[N, 4]`` xyxy in resized-image pixels -> ``[N, 4]`` xyxy in original pixels (float32)."""
    return _scale_boxes(boxes, resized_size, image_size)


def _scale_boxes(boxes: Tensor, from_size: tuple[int, int], to_size: tuple[int, int]) -> Tensor:
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f'boxes must have shape [N, 4] (xyxy), got {tuple(boxes.shape)}')
    # The ratios are float32 quotients, as torchvision's resize_boxes computes them; Python scalars
    # keep CUDA boxes free of host-to-device copies.
    ratio_h = float(np.float32(to_size[0]) / np.float32(from_size[0]))
    ratio_w = float(np.float32(to_size[1]) / np.float32(from_size[1]))
    scaled = boxes.float().clone()
    scaled[:, 0::2] *= ratio_w
    scaled[:, 1::2] *= ratio_h
    return scaled
