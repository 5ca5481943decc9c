"""The synthetic tracking world (``siamrcnn_ros.synthetic``): several objects per video, with masks.

PLACEHOLDER schema until the writer lands; see read_synthetic_videos.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from siamrcnn_ros.datasets.annotated_video import AnnotatedVideo
from siamrcnn_ros.datasets.got10k_videos import split_sequence_folders
from siamrcnn_ros.datasets.layouts import image_files

DEFAULT_SPLIT = 'train'


def read_objects_json(path: Path, frame_count: int) -> tuple[tuple[str, ...], np.ndarray]:
    """(object ids, ``[O, N, 4]`` float64 xyxy boxes, NaN where null) of a sequence's objects.json."""
    if not path.is_file():
        raise FileNotFoundError(f'synthetic objects file not found: {path}')
    try:
        data = json.loads(path.read_text())
        ids = tuple(str(obj['id']) for obj in data['objects'])
        rows = [obj['boxes'] for obj in data['objects']]
    except json.JSONDecodeError as error:
        raise ValueError(f'{path}: not valid JSON ({error})') from None
    except (KeyError, TypeError) as error:
        raise ValueError(f'{path}: expected {{"objects": [{{"id": ..., "boxes": [...]}}]}} ({error!r})') from None
    boxes = np.full((len(ids), frame_count, 4), np.nan)  # [O, N, 4]
    for k, per_frame in enumerate(rows):
        if len(per_frame) != frame_count:
            raise ValueError(f'{path}: object {ids[k]} has {len(per_frame)} boxes for {frame_count} frames')
        for t, box in enumerate(per_frame):
            if box is not None:
                boxes[k, t] = box
    return ids, boxes


def read_synthetic_sequence(folder: Path, frame_dir: Path) -> AnnotatedVideo:
    frames = image_files(frame_dir)
    ids, boxes = read_objects_json(folder / 'objects.json', len(frames))
    mask_dir = folder / 'masks'
    masks = tuple(mask_dir / f'{f.stem}.png' if (mask_dir / f'{f.stem}.png').is_file() else None for f in frames)
    return AnnotatedVideo(name=folder.name, source='synthetic', frames=tuple(frames), object_ids=ids, boxes=boxes,
                          masks=masks if any(m is not None for m in masks) else None)


def read_synthetic_videos(root: Path, split: str | None = None) -> list[AnnotatedVideo]:
    split_dir = Path(root) / (split or DEFAULT_SPLIT)
    return [read_synthetic_sequence(folder, folder) for folder in split_sequence_folders(split_dir)]
