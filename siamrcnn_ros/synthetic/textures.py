"""Procedural textures for backgrounds and objects: noise, stripes, checkers, spots, gradients.

A ``TextureRecipe`` fixes everything a texture depends on (kind, colours, frequency, angle and
its own noise seed), so the same recipe always paints the same pixels at a given size, and a
look-alike is the same recipe with shifted colours (``shift_hue``). Images are ``[H, W, 3]``
uint8 RGB.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import cv2
import numpy as np

TEXTURE_KINDS = ('noise', 'stripes', 'checker', 'spots', 'gradient')


@dataclass(frozen=True)
class TextureRecipe:
    """Everything a texture depends on.

    Attributes:
        kind: one of ``TEXTURE_KINDS``.
        colours: ``[K, 3]`` uint8 RGB, K = 3: two main colours and an accent (noise, spots).
        period: feature size in pixels (stripe period, checker cell, noise cell, spot spacing).
        angle: orientation in radians (stripes, gradients).
        grain: amplitude of per-pixel noise added on top, 0..255 units.
        seed: seed of the recipe's own random pattern (noise cells, spot positions).
    """

    kind: str
    colours: np.ndarray
    period: float
    angle: float
    grain: float
    seed: int

    def __post_init__(self) -> None:
        if self.kind not in TEXTURE_KINDS:
            raise ValueError(f'texture kind must be one of {TEXTURE_KINDS}, got {self.kind!r}')
        if self.colours.shape != (3, 3) or self.colours.dtype != np.uint8:
            raise ValueError(f'colours must be [3, 3] uint8, got {self.colours.shape} {self.colours.dtype}')
        if self.period <= 0:
            raise ValueError(f'period must be positive, got {self.period}')


def random_colours(rng: np.random.Generator, count: int, *, saturation: tuple[int, int] = (70, 255),
                   value: tuple[int, int] = (60, 250)) -> np.ndarray:
    """``[count, 3]`` uint8 RGB colours drawn uniformly in an HSV box (OpenCV ranges: hue 0..179)."""
    hsv = np.stack([rng.integers(0, 180, count), rng.integers(*saturation, endpoint=True, size=count),
                    rng.integers(*value, endpoint=True, size=count)], axis=1).astype(np.uint8)  # [count, 3]
    return cv2.cvtColor(hsv[None], cv2.COLOR_HSV2RGB)[0]


def random_recipe(rng: np.random.Generator, *, kinds: tuple[str, ...] = TEXTURE_KINDS,
                  period: tuple[float, float] = (4.0, 14.0)) -> TextureRecipe:
    """A recipe of a random kind among ``kinds``, with random colours, period and angle."""
    kind = kinds[int(rng.integers(len(kinds)))]
    return TextureRecipe(kind=kind, colours=random_colours(rng, 3), period=float(rng.uniform(*period)),
                         angle=float(rng.uniform(0, math.pi)), grain=float(rng.uniform(3, 12)),
                         seed=int(rng.integers(2**31)))


def shift_hue(recipe: TextureRecipe, degrees: float, *, seed: int | None = None) -> TextureRecipe:
    """The same recipe with every colour's hue turned by ``degrees`` (a look-alike's paint);
    ``seed`` replaces the pattern seed (same family, other instance) when given."""
    hsv = cv2.cvtColor(recipe.colours[None], cv2.COLOR_RGB2HSV)[0].astype(np.int32)  # [3, 3]
    hsv[:, 0] = (hsv[:, 0] + round(degrees / 2)) % 180  # OpenCV hue is degrees / 2
    colours = cv2.cvtColor(hsv.astype(np.uint8)[None], cv2.COLOR_HSV2RGB)[0]
    return dataclasses.replace(recipe, colours=colours, seed=recipe.seed if seed is None else seed)


def paint(recipe: TextureRecipe, width: int, height: int) -> np.ndarray:
    """The texture at ``width`` x ``height``: ``[height, width, 3]`` uint8 RGB."""
    if width < 1 or height < 1:
        raise ValueError(f'texture size must be positive, got {width}x{height}')
    rng = np.random.default_rng(recipe.seed)
    weights = _pattern(recipe, rng, width, height)  # [H, W] in [0, 1]: 0 = colour 0, 1 = colour 1
    colours = recipe.colours.astype(np.float32)
    image = colours[0] + weights[..., None] * (colours[1] - colours[0])  # [H, W, 3]
    if recipe.kind in ('noise', 'spots'):
        # The accent colour blots the texture where a second noise field peaks.
        accent = _value_noise(rng, width, height, recipe.period * 2.5) > 0.72  # [H, W]
        image[accent] = colours[2]
    image += rng.normal(0.0, recipe.grain, size=(height, width, 1)).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


def _pattern(recipe: TextureRecipe, rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """``[height, width]`` float32 mixing weights in [0, 1]."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)  # [H, W] each
    along = xs * math.cos(recipe.angle) + ys * math.sin(recipe.angle)  # [H, W]
    if recipe.kind == 'noise':
        return _value_noise(rng, width, height, recipe.period)
    if recipe.kind == 'stripes':
        wave = np.sin(along * (2 * math.pi / recipe.period))
        return np.clip(1.25 * wave + 0.5, 0, 1)  # steep but anti-aliased edges
    if recipe.kind == 'checker':
        cell = max(recipe.period, 2.0)
        return ((np.floor(xs / cell) + np.floor(ys / cell)) % 2).astype(np.float32)
    if recipe.kind == 'spots':
        weights = np.zeros((height, width), np.float32)
        count = max(1, int(width * height / (recipe.period * 2.2) ** 2))
        radius = max(1, round(recipe.period * 0.45))
        for x, y in zip(rng.uniform(0, width, count), rng.uniform(0, height, count), strict=True):
            cv2.circle(weights, (int(x), int(y)), radius, 1.0, -1)
        return weights
    span = max(float(along.max() - along.min()), 1.0)  # 'gradient'
    return (along - along.min()) / span


def _value_noise(rng: np.random.Generator, width: int, height: int, cell: float) -> np.ndarray:
    """Two octaves of smooth value noise, ``[height, width]`` float32 in [0, 1]."""
    total = np.zeros((height, width), np.float32)
    for octave, amplitude in ((1.0, 0.65), (0.5, 0.35)):
        step = max(cell * octave, 1.0)
        grid = rng.random((int(height / step) + 2, int(width / step) + 2), dtype=np.float32)
        total += amplitude * cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
    low, high = float(total.min()), float(total.max())
    return (total - low) / max(high - low, 1e-6)
