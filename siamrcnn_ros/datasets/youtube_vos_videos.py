"""YouTube-VOS (2018 and 2019) training videos: several objects per video, boxes from masks.

Layout::

    <root>/<split>/meta.json                           {"videos": {"<video>": {"objects": {"<id>":
                                                         {"category": "...", "frames": ["00000", ...]}}}}}
    <root>/<split>/JPEGImages/<video>/00000.jpg, ...   frames, in file-name order
    <root>/<split>/Annotations/<video>/00000.png, ...  palette PNG masks: pixel value = object id, 0 = background

``<split>`` is ``train`` (the default) or ``valid``/``test``. In ``train`` only every 5th frame
has a mask (all frames are listed when the ``*_all_frames`` images are used); in ``valid`` only
the frame where each object first appears. Frames without a mask file get NaN boxes and mask
None; where a mask exists, an object without pixels in it is absent (NaN). The objects are
those of ``meta.json``, ordered by id; their ids (palette values) are kept as ``mask_values``,
so ``AnnotatedVideo.read_mask`` returns ``k + 1`` for object k.

Boxes are computed from the masks when the videos are read: one PNG decode per annotated frame
(about 12 ms for 1280x720 on one core of the 2-core CPU box; the videos are read in threads).
"""
from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from siamrcnn_ros.datasets.annotated_video import AnnotatedVideo
from siamrcnn_ros.datasets.index_masks import mask_file_boxes
from siamrcnn_ros.datasets.sequence import IMAGE_SUFFIXES

DEFAULT_SPLIT = 'train'


def read_youtube_vos_meta(path: Path) -> dict[str, tuple[int, ...]]:
    """``meta.json``: video name -> the object ids (integers, ascending) of that video.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: not JSON, no ``videos`` mapping, or an object id that is not a positive integer.
    """
    if not path.is_file():
        raise FileNotFoundError(f'YouTube-VOS meta file not found: {path}')
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f'{path}: not valid JSON ({error})') from None
    videos = meta.get('videos') if isinstance(meta, dict) else None
    if not isinstance(videos, dict):
        raise ValueError(f'{path}: expected an object with a "videos" mapping')
    objects_of = {}
    for name, video in sorted(videos.items()):
        objects = video.get('objects') if isinstance(video, dict) else None
        if not isinstance(objects, dict):
            raise ValueError(f'{path}: video {name!r} has no "objects" mapping')
        for object_id in objects:
            if not object_id.isdigit() or int(object_id) == 0:
                raise ValueError(f'{path}: video {name!r}: object id {object_id!r} is not a positive integer '
                                 '(ids are the mask values)')
        objects_of[name] = tuple(sorted(int(object_id) for object_id in objects))
    return objects_of


def read_youtube_vos_video(split_dir: Path, name: str, object_values: tuple[int, ...]) -> AnnotatedVideo:
    """Video ``name`` of a split folder, with the objects whose mask values are ``object_values``."""
    frame_dir = split_dir / 'JPEGImages' / name
    if not frame_dir.is_dir():
        raise FileNotFoundError(f'YouTube-VOS frame folder not found: {frame_dir}')
    frames = sorted(p for p in frame_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not frames:
        raise FileNotFoundError(f'no frames in {frame_dir}')
    mask_dir = split_dir / 'Annotations' / name
    masks: list[Path | None] = []
    boxes = np.full((len(object_values), len(frames), 4), np.nan)  # [O, N, 4]
    for t, frame in enumerate(frames):
        mask = mask_dir / f'{frame.stem}.png'
        if not mask.is_file():
            masks.append(None)
            continue
        masks.append(mask)
        boxes[:, t] = mask_file_boxes(mask, object_values)
    return AnnotatedVideo(name=name, source='youtube_vos', frames=tuple(frames),
                          object_ids=tuple(str(v) for v in object_values), boxes=boxes, masks=tuple(masks),
                          mask_values=object_values)


def read_youtube_vos_videos(root: Path, split: str | None = None) -> list[AnnotatedVideo]:
    """Every video of ``<root>/<split>/meta.json`` (default split ``'train'``), sorted by name."""
    split_dir = Path(root) / (split or DEFAULT_SPLIT)
    if not split_dir.is_dir():
        raise FileNotFoundError(f'YouTube-VOS split folder not found: {split_dir}')
    objects_of = read_youtube_vos_meta(split_dir / 'meta.json')
    # Decoding ~100,000 mask PNGs dominates; OpenCV releases the GIL while decoding, so threads scale.
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        return list(pool.map(lambda item: read_youtube_vos_video(split_dir, *item), objects_of.items()))
