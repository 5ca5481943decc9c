"""Smooth paths over frames: key values at key frames, eased in between, and the camera.

Coordinates: the *world* is the background canvas (pixels at zoom 1). The camera looks at world
point ``centre[t]`` with zoom ``zoom[t]``; image pixel ``(u, v)`` shows world point
``centre + ((u, v) - image_size / 2) / zoom``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Camera:
    """The camera of one video.

    Attributes:
        centre: ``[N, 2]`` float64 world point at the image centre, per frame.
        zoom: ``[N]`` float64 image pixels per world pixel.
        image_size: ``(width, height)`` of the image.
    """

    centre: np.ndarray
    zoom: np.ndarray
    image_size: tuple[int, int]

    def to_image(self, points: np.ndarray, frame: int) -> np.ndarray:
        """World ``[..., 2]`` -> image ``[..., 2]`` pixels at ``frame``."""
        half = np.asarray(self.image_size, np.float64) / 2
        return (points - self.centre[frame]) * self.zoom[frame] + half

    def to_world(self, points: np.ndarray, frame: int) -> np.ndarray:
        """Image ``[..., 2]`` pixels at ``frame`` -> world ``[..., 2]``."""
        half = np.asarray(self.image_size, np.float64) / 2
        return (points - half) / self.zoom[frame] + self.centre[frame]


def key_times(rng: np.random.Generator, frames: int, spacing: tuple[int, int]) -> np.ndarray:
    """``[K]`` int64 increasing key frames from 0 to ``frames - 1``, about ``spacing`` apart."""
    times = [0]
    while times[-1] < frames - 1:
        times.append(min(frames - 1, times[-1] + int(rng.integers(spacing[0], spacing[1] + 1))))
    return np.asarray(times, np.int64)


def ease(times: np.ndarray, values: np.ndarray, frames: int) -> np.ndarray:
    """Values at every frame from key values, eased (cosine) between keys: objects accelerate and
    brake instead of turning sharply.

    Args:
        times: ``[K]`` int increasing key frames, ``times[0] == 0`` and ``times[-1] == frames - 1``.
        values: ``[K, D]`` float64 key values.
        frames: N.

    Returns:
        ``[N, D]`` float64.
    """
    if len(times) != len(values) or times[0] != 0 or times[-1] != frames - 1 or np.any(np.diff(times) <= 0):
        raise ValueError(f'key times must increase from 0 to {frames - 1}, got {times.tolist()}')
    if len(times) == 1:
        return np.repeat(values[:1], frames, axis=0)
    t = np.arange(frames)
    segment = np.clip(np.searchsorted(times, t, side='right') - 1, 0, len(times) - 2)  # [N]
    start, end = times[segment], times[segment + 1]
    fraction = (t - start) / (end - start)
    weight = (1 - np.cos(math.pi * fraction)) / 2  # [N]
    return values[segment] + weight[:, None] * (values[segment + 1] - values[segment])  # [N, D]


def random_camera(rng: np.random.Generator, frames: int, image_size: tuple[int, int], world_size: tuple[int, int],
                  max_shift: float, zoom_range: tuple[float, float]) -> Camera:
    """A camera that pans up to ``max_shift`` pixels from the world centre and zooms within
    ``zoom_range``; a quarter of the videos keep still, another quarter never zoom."""
    still = rng.random() < 0.25
    shift = 0.0 if still else max_shift * float(rng.uniform(0.3, 1.0))
    times = key_times(rng, frames, (20, 60))
    offsets = rng.uniform(-1, 1, (len(times), 2)) * shift  # [K, 2]
    offsets[0] = 0
    centre = np.asarray(world_size, np.float64) / 2 + ease(times, offsets, frames)  # [N, 2]
    if still or rng.random() < 0.33:
        zoom = np.ones(frames)
    else:
        keys = rng.uniform(*zoom_range, (len(times), 1))  # [K, 1]
        keys[0] = 1.0
        zoom = ease(times, keys, frames)[:, 0]
    return Camera(centre=centre, zoom=zoom, image_size=image_size)
