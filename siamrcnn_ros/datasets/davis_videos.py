"""DAVIS 2017 videos (semi-supervised layout): several objects per video, boxes from the masks.

Layout::

    <root>/ImageSets/2017/<split>.txt                  sequence names, one per line ('train', 'val', ...)
    <root>/JPEGImages/480p/<seq>/00000.jpg, ...        frames, in file-name order
    <root>/Annotations/480p/<seq>/00000.png, ...       palette PNG masks: pixel value k = object k, 0 = background

Objects are numbered by their mask value 1..K, K the largest value found in the video's masks
(255, DAVIS's 'void', is no object); object k - 1 of the ``AnnotatedVideo`` is mask value k, so
``read_mask`` returns the file's values. Frames without a mask file (``test-dev`` has only the first)
get NaN boxes and mask None; where a mask exists, an object without pixels in it is absent (NaN).
Boxes are the tight boxes of the masks, read when the videos are read (one PNG decode per frame,
the videos in threads). Only the 480p resolution is read.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from siamrcnn_ros.datasets.annotated_video import AnnotatedVideo
from siamrcnn_ros.datasets.index_masks import boxes_from_index_mask, read_index_mask
from siamrcnn_ros.datasets.sequence import IMAGE_SUFFIXES

DEFAULT_SPLIT = 'train'
RESOLUTION = '480p'
VOID_VALUE = 255


def read_davis_split(root: Path, split: str) -> list[str]:
    """The sequence names of ``<root>/ImageSets/2017/<split>.txt``, in file order.

    Raises:
        FileNotFoundError: no such split file.
    """
    path = Path(root) / 'ImageSets' / '2017' / f'{split}.txt'
    if not path.is_file():
        raise FileNotFoundError(f'DAVIS split file not found: {path}')
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def read_davis_video(root: Path, name: str) -> AnnotatedVideo:
    """Sequence ``name`` with every object of its masks."""
    frame_dir = Path(root) / 'JPEGImages' / RESOLUTION / name
    if not frame_dir.is_dir():
        raise FileNotFoundError(f'DAVIS frame folder not found: {frame_dir}')
    frames = sorted(p for p in frame_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not frames:
        raise FileNotFoundError(f'no frames in {frame_dir}')
    mask_dir = Path(root) / 'Annotations' / RESOLUTION / name
    masks: list[Path | None] = [mask_dir / f'{frame.stem}.png' for frame in frames]
    masks = [mask if mask.is_file() else None for mask in masks]
    values = [read_index_mask(mask) if mask is not None else None for mask in masks]
    labels = [v[v != VOID_VALUE] for v in values if v is not None]
    object_count = int(max((int(v.max(initial=0)) for v in labels), default=0))
    object_values = tuple(range(1, object_count + 1))
    boxes = np.full((object_count, len(frames), 4), np.nan)  # [O, N, 4]
    for t, value in enumerate(values):
        if value is not None:
            boxes[:, t] = boxes_from_index_mask(value, object_values)
    return AnnotatedVideo(name=name, source='davis', frames=tuple(frames),
                          object_ids=tuple(str(v) for v in object_values), boxes=boxes, masks=tuple(masks))


def read_davis_videos(root: Path, split: str | None = None) -> list[AnnotatedVideo]:
    """Every video of the split (default ``'train'``), in the split file's order."""
    names = read_davis_split(root, split or DEFAULT_SPLIT)
    # PNG decoding dominates; OpenCV releases the GIL while decoding, so threads help.
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        return list(pool.map(lambda name: read_davis_video(root, name), names))
