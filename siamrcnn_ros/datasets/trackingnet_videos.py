"""TrackingNet training videos: one object per video.

Layout (``root`` holds the chunk folders)::

    <root>/TRAIN_<k>/frames/<video>/0.jpg, 1.jpg, ...   frames, numbered from 0 (numeric order: 10 after 9)
    <root>/TRAIN_<k>/anno/<video>.txt                   'x,y,w,h' per frame, commas
    <root>/TEST/frames/<video>/..., <root>/TEST/anno/<video>.txt   the test set: only frame 0 annotated

TrackingNet has no absence labels: every annotated frame holds a box (a zero-size box reads as
not visible, ``AnnotatedVideo.visible``). Splits: None or ``'train'`` read every ``TRAIN_<k>``
chunk, ``'TRAIN_<k>'`` one chunk, ``'test'`` the ``TEST`` folder (frames after 0 become NaN).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from siamrcnn_ros.boxes import xywh_to_xyxy
from siamrcnn_ros.datasets.annotated_video import AnnotatedVideo
from siamrcnn_ros.datasets.annotation_files import check_length, read_boxes
from siamrcnn_ros.datasets.sequence import IMAGE_SUFFIXES

_CHUNK = re.compile(r'TRAIN_\d+')


def trackingnet_chunks(root: Path, split: str | None = None) -> list[Path]:
    """The chunk folders of ``split`` (see the module docstring), in numeric order."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f'TrackingNet folder not found: {root}')
    if split in (None, 'train'):
        chunks = sorted((p for p in root.iterdir() if p.is_dir() and _CHUNK.fullmatch(p.name)),
                        key=lambda p: int(p.name.split('_')[1]))
        if not chunks:
            raise FileNotFoundError(f'no TRAIN_<k> chunk folders in {root}')
        return chunks
    if split == 'test' or _CHUNK.fullmatch(split):
        chunk = root / ('TEST' if split == 'test' else split)
        if not chunk.is_dir():
            raise FileNotFoundError(f'TrackingNet chunk folder not found: {chunk}')
        return [chunk]
    raise ValueError(f"TrackingNet split must be None, 'train', 'test' or 'TRAIN_<k>', got {split!r}")


def numbered_frames(folder: Path) -> list[Path]:
    """The image files ``0.jpg, 1.jpg, ...`` of ``folder`` in numeric order."""
    if not folder.is_dir():
        raise FileNotFoundError(f'frame folder not found: {folder}')
    frames = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    for path in frames:
        if not path.stem.isdigit():
            raise ValueError(f'{path}: TrackingNet frame names must be numbers')
    return sorted(frames, key=lambda p: int(p.stem))


def read_trackingnet_video(chunk: Path, name: str) -> AnnotatedVideo:
    """Video ``name`` of a chunk folder (``TRAIN_<k>`` or ``TEST``)."""
    frames = numbered_frames(chunk / 'frames' / name)
    if not frames:
        raise FileNotFoundError(f'no frames in {chunk / "frames" / name}')
    annotation = chunk / 'anno' / f'{name}.txt'
    boxes = xywh_to_xyxy(read_boxes(annotation))  # [N, 4]
    if len(boxes) == 1 and len(frames) > 1:
        # The test set annotates only the first frame.
        boxes = np.vstack([boxes, np.full((len(frames) - 1, 4), np.nan)])  # [N, 4]
    check_length(boxes, len(frames), annotation, 'boxes')
    return AnnotatedVideo(name=name, source='trackingnet', frames=tuple(frames), object_ids=('0',),
                          boxes=boxes[None], masks=None)


def read_trackingnet_videos(root: Path, split: str | None = None) -> list[AnnotatedVideo]:
    """Every video of the chunks of ``split``, one per ``anno/<video>.txt``, sorted by name per chunk."""
    videos = []
    for chunk in trackingnet_chunks(root, split):
        anno_dir = chunk / 'anno'
        if not anno_dir.is_dir():
            raise FileNotFoundError(f'TrackingNet chunk without an anno/ folder: {anno_dir}')
        for annotation in sorted(anno_dir.glob('*.txt')):
            videos.append(read_trackingnet_video(chunk, annotation.stem))
    return videos
