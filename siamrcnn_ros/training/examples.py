"""From pairs to network-ready examples: read frames, augment, normalise (the data end of the ltr split).

Everything random is drawn from a generator derived from ``(seed, step, index)``, so an example is a
pure function of them (exact resume, identical runs). The augmentation already resizes the image to
the drawn training scale (``augment.py``); ``network_input`` then only normalises and pads it, so the
boxes here are the boxes in the network's frame.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from siamrcnn_ros.model.config import TransformConfig
from siamrcnn_ros.model.preprocessing import NetworkInput, preprocess
from siamrcnn_ros.training.augment import apply_augmentation, draw_augmentation
from siamrcnn_ros.training.pairs import Pair
from siamrcnn_ros.training.settings import AugmentSettings


@dataclass(frozen=True)
class PairExample:
    """One augmented training pair.

    Attributes:
        reference_image: ``[H_r, W_r, 3]`` uint8 RGB.
        reference_box: ``[4]`` float64 xyxy pixels of the object in ``reference_image``.
        target_image: ``[H_t, W_t, 3]`` uint8 RGB.
        target_box: ``[4]`` float64 xyxy pixels of the object in ``target_image``.
        other_boxes: ``[K, 4]`` float64 xyxy pixels of the other visible objects in ``target_image``.
    """

    reference_image: np.ndarray
    reference_box: np.ndarray
    target_image: np.ndarray
    target_box: np.ndarray
    other_boxes: np.ndarray


@dataclass(frozen=True)
class DetectionExample:
    """One augmented image with every visible object's box, for the class-agnostic detector phase.

    Attributes:
        image: ``[H, W, 3]`` uint8 RGB.
        boxes: ``[K, 4]`` float64 xyxy pixels (``K >= 1``).
    """

    image: np.ndarray
    boxes: np.ndarray


def example_rng(seed: int, step: int, index: int, stream: int = 0) -> np.random.Generator:
    """The NumPy generator of one example (``stream`` separates independent uses)."""
    return np.random.default_rng([int(seed), int(step), int(index), int(stream)])


def torch_generator(seed: int, step: int, index: int) -> torch.Generator:
    """A CPU torch generator for one example's RoI jitter and sampling."""
    value = int(example_rng(seed, step, index, stream=7).integers(2 ** 62))
    return torch.Generator().manual_seed(value)


def make_pair_example(pair: Pair, rng: np.random.Generator, augment: AugmentSettings,
                      transform: TransformConfig) -> PairExample:
    """Read a pair's two frames and augment each independently (SPEC §4)."""
    reference_image = pair.video.read_frame(pair.reference)
    target_image = reference_image if pair.target == pair.reference else pair.video.read_frame(pair.target)
    reference_boxes = pair.reference_box[None]  # [1, 4]
    target_boxes, row = pair.target_boxes()
    draw = draw_augmentation(rng, augment, transform, reference_image.shape[:2])
    reference_image, reference_boxes = apply_augmentation(reference_image, reference_boxes, draw)
    draw = draw_augmentation(rng, augment, transform, target_image.shape[:2])
    target_image, target_boxes = apply_augmentation(target_image, target_boxes, draw)
    others = np.delete(target_boxes, row, axis=0)  # [K - 1, 4]
    return PairExample(reference_image, reference_boxes[0], target_image, target_boxes[row], others)


def make_detection_example(pair: Pair, rng: np.random.Generator, augment: AugmentSettings,
                           transform: TransformConfig) -> DetectionExample:
    """The target frame of a pair with all its visible objects, augmented (detector phase)."""
    image = pair.video.read_frame(pair.target)
    boxes, _ = pair.target_boxes()
    draw = draw_augmentation(rng, augment, transform, image.shape[:2])
    image, boxes = apply_augmentation(image, boxes, draw)
    return DetectionExample(image, boxes)


def network_input(image: np.ndarray, transform: TransformConfig, device: torch.device) -> NetworkInput:
    """Normalise and pad an already resized image without resizing it again (``resized_size`` = its size)."""
    height, width = image.shape[:2]
    identity = dataclasses.replace(transform, min_size=min(height, width), max_size=max(height, width))
    return preprocess(image, identity, device)


def boxes_tensor(boxes: np.ndarray, device: torch.device) -> Tensor:
    """``[K, 4]`` (or ``[4]``) float64 NumPy xyxy -> float32 tensor on ``device``."""
    return torch.as_tensor(np.asarray(boxes, dtype=np.float32), device=device)
