"""Training augmentations (SPEC §4): scale, horizontal flip, motion blur, grayscale, gamma.

Each image of a pair gets its own draw (``draw_augmentation``), then ``apply_augmentation`` changes the
image and moves its boxes with it. Boxes are ``[K, 4]`` float64 xyxy continuous pixels (no +1), so a
flip maps ``x`` to ``W - x`` and a resize scales x by ``W' / W`` and y by ``H' / H``.

Scale does the model's resizing itself: the short edge is drawn in ``scale_range * transform.min_size``
(paper: [640, 800] for the 800-pixel reference), and the trainer then feeds the image to the network
without a further resize (``batch.py``), so the boxes here are exactly the network's boxes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from siamrcnn_ros.model.config import TransformConfig
from siamrcnn_ros.training.settings import AugmentSettings


@dataclass(frozen=True)
class Augmentation:
    """One image's augmentation parameters.

    Attributes:
        size: ``(height, width)`` of the output image, pixels.
        flip: mirror horizontally.
        blur_kernel: length of the motion-blur line in output pixels (0 = no blur).
        blur_angle: direction of the blur, degrees.
        grayscale: replace the colours by their luminance.
        gamma: ``out = 255 * (in / 255) ** gamma`` (1.0 = unchanged).
    """

    size: tuple[int, int]
    flip: bool = False
    blur_kernel: int = 0
    blur_angle: float = 0.0
    grayscale: bool = False
    gamma: float = 1.0


def output_size(image_size: tuple[int, int], short_edge: float, long_edge_cap: float) -> tuple[int, int]:
    """``(h, w)`` after resizing so the short edge is ``short_edge`` unless the long edge would pass the cap."""
    height, width = image_size
    scale = min(short_edge / min(height, width), long_edge_cap / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def draw_augmentation(rng: np.random.Generator, settings: AugmentSettings, transform: TransformConfig,
                      image_size: tuple[int, int]) -> Augmentation:
    """Draw one image's augmentation.

    Args:
        rng: the generator (the caller derives it from the seed and step, so runs are reproducible).
        settings: probabilities and ranges.
        transform: the model's preprocessing; its ``min_size`` / ``max_size`` scale ``settings.scale_range``.
        image_size: ``(h, w)`` of the input image, pixels.
    """
    factor = float(rng.uniform(*settings.scale_range))
    size = output_size(image_size, factor * transform.min_size, factor * transform.max_size)
    flip = bool(rng.random() < settings.flip_prob)
    blur_kernel, blur_angle = 0, 0.0
    if rng.random() < settings.motion_blur_prob and settings.motion_blur_max_kernel >= 3:
        blur_kernel = 2 * int(rng.integers(1, (settings.motion_blur_max_kernel - 1) // 2 + 1)) + 1  # odd, >= 3
        blur_angle = float(rng.uniform(0.0, 180.0))
    grayscale = bool(rng.random() < settings.grayscale_prob)
    gamma = 1.0
    if rng.random() < settings.gamma_prob:
        low, high = settings.gamma_range
        gamma = float(math.exp(rng.uniform(math.log(low), math.log(high))))
    return Augmentation(size=size, flip=flip, blur_kernel=blur_kernel, blur_angle=blur_angle, grayscale=grayscale,
                        gamma=gamma)


def apply_augmentation(image: np.ndarray, boxes: np.ndarray, augmentation: Augmentation) -> tuple[np.ndarray,
                                                                                                    np.ndarray]:
    """Apply ``augmentation`` to an image and its boxes.

    Args:
        image: ``[H, W, 3]`` uint8 RGB.
        boxes: ``[K, 4]`` float xyxy pixels of ``image``.

    Returns:
        ``([H', W', 3]`` uint8 RGB, ``[K, 4]`` float64 xyxy pixels of the new image).
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f'image must be H x W x 3 uint8, got shape {image.shape} dtype {image.dtype}')
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)  # [K, 4]
    image, boxes = resize(image, boxes, augmentation.size)
    if augmentation.flip:
        image = np.ascontiguousarray(image[:, ::-1])
        boxes = flip_boxes(boxes, image.shape[1])
    if augmentation.blur_kernel:
        image = motion_blur(image, augmentation.blur_kernel, augmentation.blur_angle)
    if augmentation.grayscale:
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        image = np.repeat(gray[:, :, None], 3, axis=2)  # [H, W, 3]
    if augmentation.gamma != 1.0:
        table = np.round(255.0 * (np.arange(256) / 255.0) ** augmentation.gamma).astype(np.uint8)
        image = cv2.LUT(image, table)
    return image, boxes


def resize(image: np.ndarray, boxes: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Resize to ``size = (h, w)``; x scales by ``w / W`` and y by ``h / H``."""
    height, width = image.shape[:2]
    if (height, width) == tuple(size):
        return image, boxes.copy()
    # Area interpolation when shrinking (no aliasing), bilinear when enlarging.
    shrink = size[0] * size[1] < height * width
    resized = cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    scale = np.array([size[1] / width, size[0] / height] * 2, dtype=np.float64)
    return resized, boxes * scale


def flip_boxes(boxes: np.ndarray, width: int) -> np.ndarray:
    """Mirror ``[K, 4]`` xyxy boxes in an image ``width`` pixels wide: ``x -> width - x``."""
    flipped = np.asarray(boxes, dtype=np.float64).copy()
    flipped[:, 0] = width - boxes[:, 2]
    flipped[:, 2] = width - boxes[:, 0]
    return flipped


def motion_blur(image: np.ndarray, kernel: int, angle: float) -> np.ndarray:
    """Blur along a line of ``kernel`` pixels at ``angle`` degrees (a camera or object moving during exposure)."""
    line = np.zeros((kernel, kernel), dtype=np.float32)
    line[kernel // 2, :] = 1.0
    rotation = cv2.getRotationMatrix2D(((kernel - 1) / 2.0, (kernel - 1) / 2.0), angle, 1.0)
    line = cv2.warpAffine(line, rotation, (kernel, kernel))
    line /= max(float(line.sum()), 1e-6)
    return cv2.filter2D(image, -1, line, borderType=cv2.BORDER_REFLECT)
