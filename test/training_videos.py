"""Tiny synthetic training videos for the training tests: coloured rectangles moving on a texture.

Written by the test into a temporary folder: as ``AnnotatedVideo`` objects, and in the GOT-10k layout
for the command-line test. Deterministic by seed.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from siamrcnn_ros.datasets.videos import AnnotatedVideo

COLOURS = ((220, 40, 40), (40, 60, 220), (40, 200, 60))


def _frames_and_boxes(seed: int, frames: int, size: tuple[int, int], objects: int) -> tuple[list[np.ndarray],
                                                                                              np.ndarray]:
    rng = np.random.default_rng(seed)
    height, width = size
    texture = cv2.GaussianBlur(rng.integers(0, 255, (height, width, 3), dtype=np.uint8), (7, 7), 0)
    start = rng.uniform([0, 0], [width * 0.6, height * 0.6], size=(objects, 2))  # [O, 2] top-left
    extent = rng.uniform([width * 0.15, height * 0.15], [width * 0.3, height * 0.35], size=(objects, 2))
    velocity = rng.uniform(-3, 3, size=(objects, 2))
    boxes = np.zeros((objects, frames, 4))
    images = []
    for t in range(frames):
        image = texture.copy()
        for k in range(objects):
            x0, y0 = np.clip(start[k] + velocity[k] * t, 0, [width - extent[k, 0], height - extent[k, 1]])
            box = np.array([x0, y0, x0 + extent[k, 0], y0 + extent[k, 1]])
            boxes[k, t] = box
            corner = np.round(box).astype(int)
            cv2.rectangle(image, tuple(corner[:2]), tuple(corner[2:] - 1), COLOURS[k % len(COLOURS)], -1)
        images.append(image)
    return images, boxes


def write_videos(folder: Path, *, count: int = 3, frames: int = 6, size: tuple[int, int] = (96, 128),
                 objects: int = 2, seed: int = 0) -> list[AnnotatedVideo]:
    """``count`` videos of ``frames`` PNG frames each, ``objects`` rectangles per video."""
    videos = []
    for v in range(count):
        images, boxes = _frames_and_boxes(seed * 1000 + v, frames, size, objects)
        paths = []
        for t, image in enumerate(images):
            path = folder / f'video{v}' / f'{t:08d}.png'
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            paths.append(path)
        videos.append(AnnotatedVideo(name=f'video{v}', source='synthetic', frames=tuple(paths),
                                     object_ids=tuple(str(k) for k in range(objects)), boxes=boxes, masks=None))
    return videos


def write_got10k(root: Path, *, count: int = 2, frames: int = 5, size: tuple[int, int] = (96, 128),
                 seed: int = 0) -> Path:
    """A GOT-10k ``train`` split of one-object videos under ``root``; returns ``root``."""
    for v in range(count):
        images, boxes = _frames_and_boxes(seed * 1000 + v, frames, size, 1)
        folder = root / 'train' / f'GOT-10k_Train_{v + 1:06d}'
        folder.mkdir(parents=True, exist_ok=True)
        lines = []
        for t, image in enumerate(images):
            cv2.imwrite(str(folder / f'{t + 1:08d}.jpg'), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            x0, y0, x1, y1 = boxes[0, t]
            lines.append(f'{x0:.4f},{y0:.4f},{x1 - x0:.4f},{y1 - y0:.4f}')
        (folder / 'groundtruth.txt').write_text('\n'.join(lines) + '\n')
    return root
