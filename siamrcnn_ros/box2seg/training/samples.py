"""Box2Seg training samples: (video, object, frame) with a mask, augmented into network crops.

A sample is one object in one frame whose box is visible and whose frame has an instance mask.
Drawing is a pure function of ``(seed, step, index)`` (``siamrcnn_ros.training.examples.example_rng``):
resuming at step ``s`` draws exactly what an uninterrupted run would have drawn. An object with
fewer than ``min_mask_pixels`` mask pixels (hidden behind another one) is redrawn from the next
random stream, deterministically as well.

``make_example`` builds what the network trains on: the frame's colours changed and maybe flipped,
the ground-truth box jittered (the network's box), the square window around the jittered box
(``crops.crop_windows``), the ``[4, S, S]`` input and the ``[1, S, S]`` soft target: the object's
mask averaged over each crop pixel's part of the window.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch
from torch import Tensor

from siamrcnn_ros.box2seg.config import Box2SegConfig
from siamrcnn_ros.box2seg.crops import crop_windows, network_crops, normalise_image, resample_windows
from siamrcnn_ros.box2seg.training.settings import Box2SegAugmentSettings
from siamrcnn_ros.training.examples import example_rng

# Draws of a (seed, step, index) before giving up on finding an object with enough mask pixels.
_MAX_REDRAWS = 20


@dataclass(frozen=True)
class MaskSample:
    """One object in one frame.

    Attributes:
        video: the ``AnnotatedVideo``.
        obj: the object's index in ``video.object_ids``.
        frame: the frame index.
    """

    video: Any
    obj: int
    frame: int

    @property
    def box(self) -> np.ndarray:
        """``[4]`` float64 xyxy pixels: the object's annotated box in the frame."""
        return np.asarray(self.video.boxes[self.obj, self.frame], dtype=np.float64)


@dataclass(frozen=True)
class Example:
    """One augmented sample, ready for the network.

    Attributes:
        crop: ``[4, S, S]`` float32 network input (normalised RGB + box channel).
        target: ``[1, S, S]`` float32 in ``[0, 1]``: the fraction of each crop pixel covered by the mask.
    """

    crop: Tensor
    target: Tensor


class SampleDrawer:
    """Draws mask samples from several datasets with given weights, deterministically.

    Args:
        datasets: lists of ``AnnotatedVideo``; videos without masks contribute nothing.
        weights: relative probability of each dataset (those left without samples are dropped).
        seed: the run's seed.
        min_mask_pixels: redraw samples whose object has fewer mask pixels.

    Raises:
        ValueError: no dataset holds an object with a mask.
    """

    def __init__(self, datasets: Sequence[Sequence[Any]], weights: Sequence[float], *, seed: int,
                 min_mask_pixels: int) -> None:
        if len(weights) != len(datasets):
            raise ValueError(f'{len(weights)} weights for {len(datasets)} datasets')
        self.seed = seed
        self.min_mask_pixels = min_mask_pixels
        self._videos: list[list[Any]] = []
        self._tables: list[np.ndarray] = []  # per dataset [K, 3] int64 (video, object, frame)
        kept = []
        for videos, weight in zip(datasets, weights, strict=True):
            table = mask_sample_table(videos)
            if len(table):
                self._videos.append(list(videos))
                self._tables.append(table)
                kept.append(float(weight))
        if not self._tables:
            raise ValueError('no training video has an object with an instance mask (Box2Seg needs masks: '
                             'synthetic, youtube_vos, davis, coco)')
        self._probabilities = np.asarray(kept) / sum(kept)

    def __len__(self) -> int:
        """Number of (object, frame) samples with a mask file, over all datasets."""
        return sum(len(table) for table in self._tables)

    def draw(self, step: int, index: int, stream: int = 0) -> MaskSample:
        """The sample ``index`` of ``step`` (``stream`` gives independent redraws)."""
        rng = example_rng(self.seed, step, index, stream=100 + stream)
        dataset = int(rng.choice(len(self._tables), p=self._probabilities))
        video, obj, frame = self._tables[dataset][int(rng.integers(len(self._tables[dataset])))]
        return MaskSample(self._videos[dataset][video], int(obj), int(frame))

    def example(self, step: int, index: int, config: Box2SegConfig, augment: Box2SegAugmentSettings) -> Example:
        """The augmented example ``index`` of ``step``: the first draw whose object has enough mask pixels.

        Raises:
            ValueError: ``_MAX_REDRAWS`` draws in a row found too small masks (the data hardly has masks).
        """
        for stream in range(_MAX_REDRAWS):
            sample = self.draw(step, index, stream)
            example = make_example(sample, example_rng(self.seed, step, index, stream=200 + stream), config, augment,
                                   min_mask_pixels=self.min_mask_pixels)
            if example is not None:
                return example
        raise ValueError(f'step {step}, sample {index}: {_MAX_REDRAWS} draws in a row had objects with fewer than '
                         f'{self.min_mask_pixels} mask pixels; lower min_mask_pixels or check the masks')


def mask_sample_table(videos: Sequence[Any]) -> np.ndarray:
    """``[K, 3]`` int64 rows ``(video, object, frame)``: every visible object in a frame with a mask file."""
    rows = []
    for v, video in enumerate(videos):
        if video.masks is None:
            continue
        has_mask = np.array([mask is not None for mask in video.masks])  # [N]
        for obj in range(len(video.object_ids)):
            frames = np.flatnonzero(video.visible(obj) & has_mask)
            rows.append(np.stack([np.full_like(frames, v), np.full_like(frames, obj), frames], axis=1))  # [F, 3]
    return np.concatenate(rows).astype(np.int64) if rows else np.zeros((0, 3), np.int64)


def make_example(sample: MaskSample, rng: np.random.Generator, config: Box2SegConfig,
                 augment: Box2SegAugmentSettings, *, min_mask_pixels: int = 1) -> Example | None:
    """Read, augment and crop one sample; None when its object has fewer than ``min_mask_pixels`` mask pixels."""
    labels = sample.video.read_mask(sample.frame)
    if labels is None:
        return None
    mask = labels == sample.obj + 1  # [H, W]
    if int(mask.sum()) < min_mask_pixels:
        return None
    image = sample.video.read_frame(sample.frame)
    box = sample.box.copy()
    if rng.random() < augment.flip_prob:
        image, mask = np.ascontiguousarray(image[:, ::-1]), np.ascontiguousarray(mask[:, ::-1])
        box[[0, 2]] = image.shape[1] - box[[2, 0]]
    image = change_colours(image, rng, augment)
    box = jitter_box(box, rng, augment.box_shift, augment.box_scale)
    boxes = torch.as_tensor(box, dtype=torch.float32)[None]  # [1, 4]
    windows = crop_windows(boxes, config.context)
    crop = network_crops(normalise_image(image), boxes, windows, config.crop_size)[0]  # [4, S, S]
    target = resample_windows(torch.from_numpy(mask).float()[None, None], windows, config.crop_size)[0]  # [1, S, S]
    return Example(crop, target.clamp(0, 1))


def jitter_box(box: np.ndarray, rng: np.random.Generator, shift: float, scale: float) -> np.ndarray:
    """``[4]`` xyxy box with its centre moved by up to ``shift`` times its size and its width and height scaled
    by ``exp(u)``, ``u`` uniform in ``[-scale, scale]`` (each independently)."""
    size = box[2:] - box[:2]  # [2]
    centre = (box[:2] + box[2:]) / 2 + rng.uniform(-shift, shift, 2) * size
    size = size * np.exp(rng.uniform(-scale, scale, 2))
    return np.concatenate([centre - size / 2, centre + size / 2])


def change_colours(image: np.ndarray, rng: np.random.Generator, augment: Box2SegAugmentSettings) -> np.ndarray:
    """``[H, W, 3]`` uint8 RGB with brightness, contrast and saturation changed (or gray), drawn from ``rng``."""
    brightness = rng.uniform(-augment.brightness, augment.brightness) * 255
    contrast = 1 + rng.uniform(-augment.contrast, augment.contrast)
    saturation = 1 + rng.uniform(-augment.saturation, augment.saturation)
    gray_image = rng.random() < augment.grayscale_prob
    pixels = image.astype(np.float32)
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)[:, :, None]  # [H, W, 1]
    pixels = gray + (0.0 if gray_image else saturation) * (pixels - gray)
    pixels = (pixels - gray.mean()) * contrast + gray.mean() + brightness
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
