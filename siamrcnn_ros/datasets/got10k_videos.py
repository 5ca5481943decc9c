"""GOT-10k training videos: one object per video.

Layout (``root`` holds the split folders)::

    <root>/<split>/list.txt                   sequence names, one per line (optional: all folders otherwise)
    <root>/<split>/<seq>/00000001.jpg, ...    frames, in file-name order
    <root>/<split>/<seq>/groundtruth.txt      'x,y,w,h' per frame, commas; the test split gives only frame 0
    <root>/<split>/<seq>/absence.label        0/1 per line, 1 = the object is absent
    <root>/<split>/<seq>/cover.label          visible fraction 0..8 per line, 0 = fully hidden
    (meta_info.ini, cut_by_image.label: not read)

The box of a frame is NaN where ``cover == 0`` (or, without cover.label, ``absence == 1``), and
on the test split's unannotated frames. The parsing is the evaluation reader's
(``siamrcnn_ros.datasets.layouts.open_got10k``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from siamrcnn_ros.boxes import xywh_to_xyxy
from siamrcnn_ros.datasets.annotated_video import AnnotatedVideo
from siamrcnn_ros.datasets.annotation_files import read_name_list
from siamrcnn_ros.datasets.layouts import open_got10k
from siamrcnn_ros.datasets.sequence import Sequence

DEFAULT_SPLIT = 'train'


def split_sequence_folders(split_dir: Path) -> list[Path]:
    """The sequence folders of a GOT-10k split folder: those of ``list.txt`` in its order, else
    every sub-folder sorted by name."""
    if not split_dir.is_dir():
        raise FileNotFoundError(f'split folder not found: {split_dir}')
    listing = split_dir / 'list.txt'
    if not listing.is_file():
        return sorted(p for p in split_dir.iterdir() if p.is_dir())
    folders = []
    for name in read_name_list(listing):
        if not (split_dir / name).is_dir():
            raise FileNotFoundError(f'{listing} names {name!r}, but {split_dir / name} is no folder')
        folders.append(split_dir / name)
    return folders


def one_object_boxes(sequence: Sequence) -> np.ndarray:
    """``[1, N, 4]`` float64 xyxy boxes of a single-object sequence, NaN where it is absent."""
    boxes = xywh_to_xyxy(sequence.ground_truth)  # [N, 4]
    if sequence.absent is not None:
        boxes[sequence.absent] = np.nan
    return boxes[None]  # [1, N, 4]


def read_got10k_videos(root: Path, split: str | None = None) -> list[AnnotatedVideo]:
    """Every sequence of ``<root>/<split>`` (default ``'train'``) as a one-object video."""
    split_dir = Path(root) / (split or DEFAULT_SPLIT)
    videos = []
    for folder in split_sequence_folders(split_dir):
        sequence = open_got10k(folder)
        videos.append(AnnotatedVideo(name=sequence.name, source='got10k', frames=tuple(sequence.frames),
                                     object_ids=('0',), boxes=one_object_boxes(sequence), masks=None))
    return videos
