"""The synthetic tracking world (written by ``siamrcnn_ros.synthetic``, ``siamrcnn-make-world``):
several objects per video, with masks.

Layout of a world folder ``<root>``::

    <root>/world.json                          the generator's settings (not read here)
    <root>/<split>/list.txt                    'train', 'val', 'test': GOT-10k layout, names one per line
    <root>/<split>/<seq>/00000001.jpg, ...     frames
    <root>/lasot/<class>/<class>-<n>/img/00000001.jpg, ...   long-term videos, LaSOT layout
    <seq folder>/objects.json                  every object's boxes (below)
    <seq folder>/masks/00000001.png            8-bit one-channel PNG per frame: k + 1 = object k, 0 = background
    (groundtruth.txt, *.label, full_occlusion.txt, ...: the target only, for the benchmark readers; not read)

``objects.json`` (version 1)::

    {"version": 1, "image_size": [W, H], "frames": N,
     "objects": [{"id": "0", "role": "target" | "lookalike" | "other", "boxes": [[x0, y0, x1, y1] | null, ...N],
                  ...}, ...]}

Boxes are xyxy float pixels, ``null`` where the object is absent (NaN here). Splits: ``'train'``
(default), ``'val'``, ``'test'``, and ``'lasot'`` for the long-term videos.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from siamrcnn_ros.datasets.annotated_video import AnnotatedVideo
from siamrcnn_ros.datasets.got10k_videos import split_sequence_folders
from siamrcnn_ros.datasets.lasot_videos import lasot_sequence_folders
from siamrcnn_ros.datasets.layouts import got10k_frames

DEFAULT_SPLIT = 'train'
LONG_TERM_SPLIT = 'lasot'
OBJECTS_VERSION = 1


def read_objects_json(path: Path) -> tuple[tuple[str, ...], np.ndarray]:
    """Object ids and boxes of a sequence's ``objects.json``.

    Returns:
        ``(ids, boxes)``: ids length O; ``[O, N, 4]`` float64 xyxy pixels, NaN rows where absent.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not JSON, not version 1, a missing field, or a box list of the wrong length or
            a box that is not 4 numbers (the message names the file and the object).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'objects file not found: {path}')
    try:
        document = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f'{path}: not valid JSON ({error})') from None
    version = document.get('version') if isinstance(document, dict) else None
    if version != OBJECTS_VERSION:
        raise ValueError(f'{path}: objects.json version {version!r}, this code reads {OBJECTS_VERSION}')
    try:
        frames = int(document['frames'])
        ids = tuple(str(item['id']) for item in document['objects'])
        per_object = [item['boxes'] for item in document['objects']]
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f'{path}: expected "frames" and "objects" with "id" and "boxes" ({error!r})') from None
    boxes = np.full((len(ids), frames, 4), np.nan)  # [O, N, 4]
    for k, rows in enumerate(per_object):
        if len(rows) != frames:
            raise ValueError(f'{path}: object {ids[k]!r} has {len(rows)} boxes for {frames} frames')
        for t, box in enumerate(rows):
            if box is None:
                continue
            if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, int | float) for v in box)):
                raise ValueError(f'{path}: object {ids[k]!r}, frame {t}: box must be 4 numbers or null, got {box!r}')
            boxes[k, t] = box
    return ids, boxes


def read_synthetic_sequence(folder: Path) -> AnnotatedVideo:
    """One sequence folder of either layout (frames in ``img/`` for LaSOT, else in the folder)."""
    frame_dir = folder / 'img' if (folder / 'img').is_dir() else folder
    frames = got10k_frames(frame_dir)  # NNNNNNNN.jpg in both layouts
    if not frames:
        raise FileNotFoundError(f'synthetic sequence without image files: {frame_dir}')
    ids, boxes = read_objects_json(folder / 'objects.json')
    if boxes.shape[1] != len(frames):
        raise ValueError(f'{folder / "objects.json"}: {boxes.shape[1]} frames, but {frame_dir} holds {len(frames)}')
    mask_dir = folder / 'masks'
    masks = None
    if mask_dir.is_dir():
        masks = tuple(mask if (mask := mask_dir / f'{frame.stem}.png').is_file() else None for frame in frames)
    return AnnotatedVideo(name=folder.name, source='synthetic', frames=tuple(frames), object_ids=ids, boxes=boxes,
                          masks=masks)


def read_synthetic_videos(root: Path, split: str | None = None) -> list[AnnotatedVideo]:
    """Every sequence of a split of a synthetic world (see the module docstring)."""
    split = split or DEFAULT_SPLIT
    if split == LONG_TERM_SPLIT:
        folders = lasot_sequence_folders(Path(root) / LONG_TERM_SPLIT, 'all')
    else:
        folders = split_sequence_folders(Path(root) / split)
    return [read_synthetic_sequence(folder) for folder in folders]
