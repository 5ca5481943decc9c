"""Objects' looks: a shape (ellipse, rectangle or polygon) painted with a procedural texture or with a crop of
a real photograph, drawn once at a canonical size and resized per frame, and near-identical look-alikes of it.

A sprite is ``rgb`` ``[S_h, S_w, 3]`` uint8 RGB plus ``alpha`` ``[S_h, S_w]`` float32 in [0, 1]
(1 inside the shape). The shape fills its sprite: the sprite's rectangle is the object's box.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from siamrcnn_ros.synthetic.photos import PhotoCrop, paint_crop, random_crop, shifted_crop
from siamrcnn_ros.synthetic.textures import TextureRecipe, paint, random_recipe, shift_hue

SHAPES = ('ellipse', 'rectangle', 'polygon')
CANONICAL_SIZE = 96
"""Longer side of the drawn sprite, pixels; objects are resized from it (mostly shrunk) each frame."""


@dataclass(frozen=True, eq=False)
class Sprite:
    """One object's look.

    Attributes:
        shape: one of ``SHAPES``.
        texture: the recipe its pixels are painted with (None for a photo sprite).
        aspect: width / height of the object at stretch 1.
        base_size: the longer side at scale 1, pixels of the image at zoom 1.
        rgb: ``[S_h, S_w, 3]`` uint8 RGB, the canonical drawing.
        alpha: ``[S_h, S_w]`` float32 in [0, 1], 1 inside the shape.
        vertices: ``[V, 2]`` float64 polygon corners in [0, 1] sprite coordinates (polygons only).
        photo: the photo crop its pixels are (None for a procedural sprite).
    """

    shape: str
    texture: TextureRecipe | None
    aspect: float
    base_size: float
    rgb: np.ndarray
    alpha: np.ndarray
    vertices: np.ndarray | None
    photo: PhotoCrop | None = None

    def size_at(self, scale: float, stretch: float) -> tuple[float, float]:
        """``(width, height)`` in pixels at ``scale`` and aspect change ``stretch`` (width times
        sqrt(stretch), height divided by it), at camera zoom 1."""
        root = math.sqrt(stretch)
        if self.aspect >= 1:
            width, height = self.base_size, self.base_size / self.aspect
        else:
            width, height = self.base_size * self.aspect, self.base_size
        return width * scale * root, height * scale / root


def random_sprite(rng: np.random.Generator, base_size: float) -> Sprite:
    """A sprite of random shape, texture and aspect (0.5..2)."""
    shape = SHAPES[int(rng.integers(len(SHAPES)))]
    aspect = float(math.exp(rng.uniform(math.log(0.5), math.log(2.0))))
    vertices = _random_polygon(rng) if shape == 'polygon' else None
    return draw_sprite(shape, random_recipe(rng), aspect, base_size, vertices)


def random_photo_sprite(rng: np.random.Generator, base_size: float) -> Sprite:
    """A sprite of random shape and aspect (0.5..2) cut out of a random crop of a random photograph."""
    shape = SHAPES[int(rng.integers(len(SHAPES)))]
    aspect = float(math.exp(rng.uniform(math.log(0.5), math.log(2.0))))
    vertices = _random_polygon(rng) if shape == 'polygon' else None
    return draw_photo_sprite(shape, random_crop(rng, aspect, fraction=(0.15, 0.6)), aspect, base_size, vertices)


def lookalike_sprite(rng: np.random.Generator, original: Sprite, max_hue_shift: float) -> Sprite:
    """A near-identical copy of ``original``: same shape and texture family, a hue turned by
    ``max_hue_shift / 3 .. max_hue_shift`` degrees either way, size and aspect within 10 %, polygon
    corners moved by at most 4 % (the hard distractors of Siam R-CNN, paper §1 and Fig. 1). A photo sprite's
    look-alike is the same crop recoloured or a neighbouring crop of the same photo (``photos.shifted_crop``)."""
    if original.photo is not None:
        crop = shifted_crop(rng, original.photo, max_hue_shift=max_hue_shift)
        vertices = _jitter(rng, original.vertices)
        aspect = original.aspect * float(rng.uniform(0.9, 1.1))
        base_size = original.base_size * float(rng.uniform(0.9, 1.1))
        return draw_photo_sprite(original.shape, crop, aspect, base_size, vertices)
    shift = float(rng.uniform(max_hue_shift / 3, max_hue_shift)) * (1 if rng.random() < 0.5 else -1)
    # Half the look-alikes also get their own pattern instance (other noise cells, spots).
    seed = None if rng.random() < 0.5 else int(rng.integers(2**31))
    texture = shift_hue(original.texture, shift, seed=seed)
    vertices = _jitter(rng, original.vertices)
    aspect = original.aspect * float(rng.uniform(0.9, 1.1))
    base_size = original.base_size * float(rng.uniform(0.9, 1.1))
    return draw_sprite(original.shape, texture, aspect, base_size, vertices)


def _jitter(rng: np.random.Generator, vertices: np.ndarray | None) -> np.ndarray | None:
    """Polygon corners moved by at most 4 % (None stays None)."""
    if vertices is None:
        return None
    return np.clip(vertices + rng.uniform(-0.04, 0.04, vertices.shape), 0.0, 1.0)


def draw_photo_sprite(shape: str, crop: PhotoCrop, aspect: float, base_size: float,
                      vertices: np.ndarray | None) -> Sprite:
    """Cut ``shape`` out of the photo crop at the canonical size (no outline: a pasted piece of a photo)."""
    mask = _mask(shape, aspect, vertices)
    height, width = mask.shape
    rgb = paint_crop(crop, width, height)
    return Sprite(shape=shape, texture=None, aspect=aspect, base_size=base_size, rgb=rgb,
                  alpha=mask.astype(np.float32) / 255.0, vertices=vertices, photo=crop)


def _mask(shape: str, aspect: float, vertices: np.ndarray | None) -> np.ndarray:
    """``[S_h, S_w]`` uint8 mask of ``shape`` at the canonical size (255 inside)."""
    if shape not in SHAPES:
        raise ValueError(f'shape must be one of {SHAPES}, got {shape!r}')
    if shape == 'polygon' and vertices is None:
        raise ValueError('a polygon sprite needs vertices')
    if aspect >= 1:
        width, height = CANONICAL_SIZE, max(4, round(CANONICAL_SIZE / aspect))
    else:
        width, height = max(4, round(CANONICAL_SIZE * aspect)), CANONICAL_SIZE
    mask = np.zeros((height, width), np.uint8)
    if shape == 'ellipse':
        cv2.ellipse(mask, ((width / 2, height / 2), (width, height), 0.0), 255, -1, cv2.LINE_AA)
    elif shape == 'rectangle':
        mask[:] = 255
    else:
        corners = vertices * np.array([width - 1, height - 1])  # [V, 2] pixels
        cv2.fillPoly(mask, [np.round(corners * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    return mask


def draw_sprite(shape: str, texture: TextureRecipe, aspect: float, base_size: float,
                vertices: np.ndarray | None) -> Sprite:
    """Paint ``texture`` inside ``shape`` at the canonical size, with a thin darker outline."""
    mask = _mask(shape, aspect, vertices)
    height, width = mask.shape
    rgb = paint(texture, width, height)
    # A darker rim makes the object read as an object against a busy background.
    inner = cv2.erode(mask, np.ones((5, 5), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    rim = (mask > 0) & (inner == 0)
    rgb[rim] = (rgb[rim] * 0.55).astype(np.uint8)
    return Sprite(shape=shape, texture=texture, aspect=aspect, base_size=base_size, rgb=rgb,
                  alpha=mask.astype(np.float32) / 255.0, vertices=vertices)


def _random_polygon(rng: np.random.Generator) -> np.ndarray:
    """``[V, 2]`` corners of a star-shaped polygon, 5..9 corners, stretched to touch all four sides
    of the unit square (so the sprite's rectangle is the shape's box)."""
    count = int(rng.integers(5, 10))
    angles = np.sort(rng.uniform(0, 2 * math.pi, count))
    radii = rng.uniform(0.55, 1.0, count)
    points = np.stack([np.cos(angles) * radii, np.sin(angles) * radii], axis=1)  # [V, 2]
    low, high = points.min(axis=0), points.max(axis=0)
    return (points - low) / np.maximum(high - low, 1e-6)
