"""Training data: every reader returns ``AnnotatedVideo`` objects (all annotated objects of a video).

``read_training_videos(root, dataset, split)`` dispatches on the dataset name to one reader
module per folder layout; each module's docstring lists the files it reads:

============ ============================ ============================= ==================
dataset      module                       split None reads              objects
============ ============================ ============================= ==================
synthetic    ``synthetic_videos``         ``train``                     several, masks
got10k       ``got10k_videos``            ``train``                     one
lasot        ``lasot_videos``             training_set.txt, else all    one
trackingnet  ``trackingnet_videos``       every ``TRAIN_<k>``           one
imagenet_vid ``imagenet_vid_videos``      ``train``                     several
youtube_vos  ``youtube_vos_videos``       ``train``                     several, masks
coco         ``coco_videos``              ``train2017``                 several, one frame
davis        ``davis_videos``             ``train``                     several, masks
============ ============================ ============================= ==================

Boxes are ``[O, N, 4]`` float64 xyxy pixels (``siamrcnn_ros.boxes``), NaN where an object is
absent or its frame not annotated. Malformed or missing files raise ``ValueError`` /
``FileNotFoundError`` naming the file.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from siamrcnn_ros.datasets.annotated_video import SOURCES, AnnotatedVideo
from siamrcnn_ros.datasets.coco_videos import read_coco_videos
from siamrcnn_ros.datasets.davis_videos import read_davis_videos
from siamrcnn_ros.datasets.got10k_videos import read_got10k_videos
from siamrcnn_ros.datasets.imagenet_vid_videos import read_imagenet_vid_videos
from siamrcnn_ros.datasets.lasot_videos import read_lasot_videos
from siamrcnn_ros.datasets.synthetic_videos import read_synthetic_videos
from siamrcnn_ros.datasets.trackingnet_videos import read_trackingnet_videos
from siamrcnn_ros.datasets.youtube_vos_videos import read_youtube_vos_videos

__all__ = ['TRAINING_DATASETS', 'AnnotatedVideo', 'read_training_videos']

_READERS: dict[str, Callable[[Path, str | None], list[AnnotatedVideo]]] = {
    'synthetic': read_synthetic_videos,
    'got10k': read_got10k_videos,
    'lasot': read_lasot_videos,
    'trackingnet': read_trackingnet_videos,
    'imagenet_vid': read_imagenet_vid_videos,
    'youtube_vos': read_youtube_vos_videos,
    'coco': read_coco_videos,
    'davis': read_davis_videos,
}
TRAINING_DATASETS: tuple[str, ...] = SOURCES


def read_training_videos(root: str | Path, dataset: str, split: str | None = None) -> list[AnnotatedVideo]:
    """All videos of one dataset split, with every annotated object.

    Args:
        root: the dataset's top folder (see the reader module of ``dataset`` for its layout).
        dataset: one of ``TRAINING_DATASETS``.
        split: the split to read; None for the dataset's training split (table above).

    Returns:
        The videos, in a fixed order (the dataset's list file, else sorted by name).

    Raises:
        ValueError: unknown dataset or split, or a malformed annotation (the message names the file).
        FileNotFoundError: ``root`` or a file the layout needs is missing.
    """
    if dataset not in _READERS:
        raise ValueError(f'unknown training dataset {dataset!r}; known: {", ".join(TRAINING_DATASETS)}')
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f'{dataset} dataset folder not found: {root}')
    return _READERS[dataset](root, split)
