"""From pairs to network-ready examples: read frames, augment, normalise (the data end of the ltr split).

Everything random is drawn from a generator derived from ``(seed, step, index)``, so an example is a
pure function of them (exact resume, identical runs). The augmentation already resizes the image to
the drawn training scale (``augment.py``); ``SiamRCNN.training_frame`` then only normalises and pads it, so the
boxes here are the boxes in the network's frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from siamrcnn_ros.model.config import TransformConfig
from siamrcnn_ros.training.augment import apply_augmentation, draw_augmentation
from siamrcnn_ros.training.pairs import Pair, visible_boxes
from siamrcnn_ros.training.settings import AugmentSettings


@dataclass(frozen=True)
class PairExample:
    """One augmented training pair, for one or several reference objects (``Pair.objects``).

    Attributes:
        reference_image: ``[H_r, W_r, 3]`` uint8 RGB.
        reference_boxes: ``[M, 4]`` float64 xyxy pixels of the reference objects in ``reference_image``
            (the pair's object first).
        target_image: ``[H_t, W_t, 3]`` uint8 RGB.
        visible_boxes: ``[K, 4]`` float64 xyxy pixels of every visible object in ``target_image``.
        target_rows: ``M`` rows of ``visible_boxes``: where each reference object is in the target frame.
        trajectory_boxes: ``[M, T, 4]`` float64 xyxy pixels of the target image: each reference object's boxes
            from ``T`` other frames of its video, moved with the target frame's augmentation
            (``RoISamplingSettings.trajectory_boxes``); ``T = 0`` by default.
    """

    reference_image: np.ndarray
    reference_boxes: np.ndarray
    target_image: np.ndarray
    visible_boxes: np.ndarray
    target_rows: tuple[int, ...]
    trajectory_boxes: np.ndarray | None = None

    def __post_init__(self) -> None:
        count = len(self.target_rows)
        if self.reference_boxes.shape != (count, 4):
            raise ValueError(f'reference_boxes must be [{count}, 4] (one per target row), '
                             f'got {self.reference_boxes.shape}')
        if self.trajectory_boxes is None:
            object.__setattr__(self, 'trajectory_boxes', np.zeros((count, 0, 4)))
        elif self.trajectory_boxes.ndim != 3 or self.trajectory_boxes.shape[0] != count \
                or self.trajectory_boxes.shape[2] != 4:
            raise ValueError(f'trajectory_boxes must be [{count}, T, 4], got {self.trajectory_boxes.shape}')

    def __len__(self) -> int:
        """``M``, the number of reference objects."""
        return len(self.target_rows)

    def object(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Reference object ``index``: its ``[4]`` reference box, its ``[4]`` target box and the ``[K - 1, 4]``
        boxes of the other visible objects of the target frame (its distractors), xyxy pixels."""
        row = self.target_rows[index]
        return self.reference_boxes[index], self.visible_boxes[row], np.delete(self.visible_boxes, row, axis=0)


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
                      transform: TransformConfig, trajectory_boxes: int = 0) -> PairExample:
    """Read a pair's two frames and augment each independently (SPEC §4).

    ``trajectory_boxes``: per reference object, its boxes from that many frames drawn among those that show it,
    taken into the target frame's augmentation (drawn after everything else: 0 changes no other draw).
    """
    reference_image = pair.video.read_frame(pair.reference)
    target_image = reference_image if pair.target == pair.reference else pair.video.read_frame(pair.target)
    reference_boxes = pair.reference_boxes  # [M, 4]
    target_boxes, target_rows = pair.target_boxes()  # [K, 4], M rows
    draw = draw_augmentation(rng, augment, transform, reference_image.shape[:2])
    reference_image, reference_boxes = apply_augmentation(reference_image, reference_boxes, draw)
    draw = draw_augmentation(rng, augment, transform, target_image.shape[:2])
    trajectory = _trajectory_boxes(pair, rng, trajectory_boxes)  # [M, T, 4] original pixels
    count = len(target_boxes)
    target_image, moved = apply_augmentation(target_image, np.concatenate([target_boxes, trajectory.reshape(-1, 4)]),
                                             draw)
    trajectory = moved[count:].reshape(trajectory.shape)
    height, width = target_image.shape[:2]
    trajectory = np.clip(trajectory, 0.0, [width, height, width, height])
    return PairExample(reference_image, reference_boxes, target_image, moved[:count], target_rows, trajectory)


def _trajectory_boxes(pair: Pair, rng: np.random.Generator, count: int) -> np.ndarray:
    """``[M, count, 4]`` boxes of each of ``pair.objects`` in ``count`` frames drawn among those showing it."""
    rows = []
    for obj in pair.objects:
        boxes = np.asarray(pair.video.boxes[obj], dtype=np.float64)  # [N, 4]
        frames = np.flatnonzero(visible_boxes(boxes))  # the object's visible frames (at least the pair's own)
        rows.append(boxes[frames[rng.integers(len(frames), size=count)]] if count else np.zeros((0, 4)))
    return np.stack(rows)


def make_detection_example(pair: Pair, rng: np.random.Generator, augment: AugmentSettings,
                           transform: TransformConfig) -> DetectionExample:
    """The target frame of a pair with all its visible objects, augmented (detector phase)."""
    image = pair.video.read_frame(pair.target)
    boxes, _ = pair.target_boxes()
    draw = draw_augmentation(rng, augment, transform, image.shape[:2])
    image, boxes = apply_augmentation(image, boxes, draw)
    return DetectionExample(image, boxes)


def boxes_tensor(boxes: np.ndarray, device: torch.device) -> Tensor:
    """``[K, 4]`` (or ``[4]``) float64 NumPy xyxy -> float32 tensor on ``device``."""
    return torch.as_tensor(np.asarray(boxes, dtype=np.float32), device=device)
