"""LaSOT training videos: one object per video.

Layout::

    <root>/<class>/<class>-<n>/img/00000001.jpg, ...   frames, in file-name order
    <root>/<class>/<class>-<n>/groundtruth.txt         'x,y,w,h' per frame, commas
    <root>/<class>/<class>-<n>/full_occlusion.txt      one line of comma-separated 0/1, one per frame
    <root>/<class>/<class>-<n>/out_of_view.txt         same
    <root>/training_set.txt, <root>/testing_set.txt    the official split: sequence names ('airplane-1'),
                                                       one per line (optional)
    (nlp.txt: not read)

The box of a frame is NaN where the object is fully occluded or out of view. Splits:
``'train'`` / ``'test'`` read the sequences named in ``training_set.txt`` / ``testing_set.txt``,
``'all'`` every sequence; None is ``'train'`` when ``training_set.txt`` exists, else ``'all'``.
The parsing is the evaluation reader's (``siamrcnn_ros.datasets.layouts.open_lasot``).
"""
from __future__ import annotations

from pathlib import Path

from siamrcnn_ros.datasets.annotated_video import AnnotatedVideo
from siamrcnn_ros.datasets.annotation_files import read_name_list
from siamrcnn_ros.datasets.got10k_videos import one_object_boxes
from siamrcnn_ros.datasets.layouts import open_lasot

SPLIT_FILES = {'train': 'training_set.txt', 'test': 'testing_set.txt'}


def lasot_sequence_folders(root: Path, split: str | None = None) -> list[Path]:
    """The ``<class>/<class>-<n>`` folders of a LaSOT root for a split (see the module docstring)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f'LaSOT folder not found: {root}')
    if split not in (None, 'all', *SPLIT_FILES):
        raise ValueError(f"LaSOT split must be None, 'all', 'train' or 'test', got {split!r}")
    if split is None:
        split = 'train' if (root / SPLIT_FILES['train']).is_file() else 'all'
    if split == 'all':
        return sorted(p for p in root.glob('*/*') if (p / 'img').is_dir())
    listing = root / SPLIT_FILES[split]
    folders = []
    for name in read_name_list(listing):
        # Sequence 'airplane-1' lives in class folder 'airplane' (class names may hold '-').
        folder = root / name.rsplit('-', 1)[0] / name
        if not folder.is_dir():
            raise FileNotFoundError(f'{listing} names {name!r}, but {folder} is no folder')
        folders.append(folder)
    return folders


def read_lasot_videos(root: Path, split: str | None = None) -> list[AnnotatedVideo]:
    """Every LaSOT sequence of ``split`` as a one-object video."""
    videos = []
    for folder in lasot_sequence_folders(root, split):
        sequence = open_lasot(folder)
        videos.append(AnnotatedVideo(name=sequence.name, source='lasot', frames=tuple(sequence.frames),
                                     object_ids=('0',), boxes=one_object_boxes(sequence), masks=None))
    return videos
