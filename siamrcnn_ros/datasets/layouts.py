"""The folder layouts of the tracking benchmarks, one reader per layout.

OTB (OTB-2013/2015, also UAV123-style folders converted to it)::

    <seq>/img/0001.jpg, 0002.jpg, ...        frames (sorted by file name)
    <seq>/groundtruth_rect.txt               one 'x,y,w,h' line per frame; commas, tabs or spaces
    <seq>/groundtruth_rect.<k>.txt           instead, for folders with several targets (Jogging, Skating2):
                                             one sequence per non-empty file, named '<seq>-<k>'

  Five OTB-100 folders hold more images than annotated frames; the benchmark's frame ranges
  (1-based, inclusive) are applied: David 300-770, Football1 1-74, Freeman3 1-460, Freeman4 1-283,
  Diving 1-215. Any other count mismatch is an error.

LaSOT::

    <class>/<class>-<n>/img/00000001.jpg, ...
    <class>/<class>-<n>/groundtruth.txt      'x,y,w,h' per line, commas
    <class>/<class>-<n>/full_occlusion.txt   one line of comma-separated 0/1 flags, one per frame
    <class>/<class>-<n>/out_of_view.txt      same; absent = full_occlusion or out_of_view

GOT-10k::

    <split>/list.txt                         sequence names, one per line
    <split>/<seq>/00000001.jpg, ...          frames directly in the sequence folder (8-digit names; other
                                             images there are not frames)
    <split>/<seq>/groundtruth.txt            'x,y,w,h' per line, commas; the test split gives only frame 0
                                             (the other rows become NaN)
    <split>/<seq>/cover.label                visible fraction 0..8 per line; absent = cover == 0,
                                             the frames the GOT-10k toolkit leaves out
    <split>/<seq>/absence.label              0/1 per line; used for ``absent`` only without cover.label

Plain inputs: ``images`` is a folder of image files in file-name order, no annotation; ``video``
is a video file OpenCV can read, no annotation.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from siamrcnn_ros.datasets.annotation_files import check_length, read_boxes, read_labels
from siamrcnn_ros.datasets.sequence import IMAGE_SUFFIXES, VIDEO_SUFFIXES, Sequence

LAYOUTS = ('otb', 'lasot', 'got10k', 'images', 'video')

# OTB-100 folders whose annotation covers only part of the images: 1-based inclusive frame range.
OTB_FRAME_RANGES = {'david': (300, 770), 'football1': (1, 74), 'freeman3': (1, 460), 'freeman4': (1, 283),
                    'diving': (1, 215)}


def image_files(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


_NUMBERED_FRAME = re.compile(r'^\d{8}\.(jpg|jpeg|png)$', re.IGNORECASE)


def got10k_frames(folder: Path) -> list[Path]:
    """The frames of a GOT-10k sequence folder: its ``NNNNNNNN.jpg`` files (8 digits), sorted, so that another
    image in the folder (a montage, a thumbnail) is not taken for a frame. A folder with no such file falls
    back to all its images (``image_files``)."""
    images = image_files(folder)
    numbered = [p for p in images if _NUMBERED_FRAME.match(p.name)]
    return numbered or images


def detect_layout(path: Path) -> str | None:
    """The layout ``path`` is in (one of ``LAYOUTS``), or None if it is no sequence."""
    if path.is_file():
        return 'video' if path.suffix.lower() in VIDEO_SUFFIXES else None
    if not path.is_dir():
        return None
    if (path / 'img').is_dir():
        if otb_annotation_files(path):
            return 'otb'
        if (path / 'groundtruth.txt').is_file():
            return 'lasot'
        return None
    if image_files(path):
        return 'got10k' if (path / 'groundtruth.txt').is_file() else 'images'
    return None


def otb_annotation_files(folder: Path) -> list[Path]:
    """The non-empty ``groundtruth_rect*.txt`` files of an OTB folder, sorted (Human4's empty ``.1`` is skipped)."""
    files = sorted(folder.glob('groundtruth_rect*.txt'))
    return [f for f in files if f.read_text().strip()]


def otb_targets(folder: Path) -> list[tuple[str, Path]]:
    """``(sequence name, annotation file)`` for each target of an OTB folder."""
    files = otb_annotation_files(folder)
    if len(files) == 1:
        return [(folder.name, files[0])]
    targets = []
    for path in files:
        # groundtruth_rect.<k>.txt -> '<seq>-<k>' as the OTB result files name them
        suffix = path.name[len('groundtruth_rect'):-len('.txt')].lstrip('.')
        targets.append((f'{folder.name}-{suffix}' if suffix else folder.name, path))
    return targets


def open_otb(folder: Path, target: int | None = None) -> Sequence:
    """An OTB sequence folder; ``target`` (0-based) picks one of several annotation files."""
    image_dir = folder / 'img'
    if not image_dir.is_dir():
        raise FileNotFoundError(f'OTB sequence without an img/ folder: {image_dir}')
    targets = otb_targets(folder)
    if not targets:
        raise FileNotFoundError(f'OTB sequence without a non-empty groundtruth_rect*.txt: {folder}')
    if target is None and len(targets) > 1:
        names = ', '.join(name for name, _ in targets)
        raise ValueError(f'{folder} holds {len(targets)} targets ({names}): pass target=0..{len(targets) - 1}')
    index = 0 if target is None else target
    if not 0 <= index < len(targets):
        raise ValueError(f'{folder}: target {target} out of range 0..{len(targets) - 1}')
    name, annotation = targets[index]
    frames = image_files(image_dir)
    boxes = read_boxes(annotation)
    frame_range = OTB_FRAME_RANGES.get(folder.name.lower())
    if frame_range is not None and len(frames) != len(boxes):
        frames = frames[frame_range[0] - 1:frame_range[1]]
    check_length(boxes, len(frames), annotation, 'boxes')
    return Sequence(name=name, frames=frames, video=None, ground_truth=boxes, absent=None)


def open_lasot(folder: Path) -> Sequence:
    """A LaSOT sequence folder ``<class>/<class>-<n>``."""
    image_dir = folder / 'img'
    if not image_dir.is_dir():
        raise FileNotFoundError(f'LaSOT sequence without an img/ folder: {image_dir}')
    frames = image_files(image_dir)
    annotation = folder / 'groundtruth.txt'
    boxes = read_boxes(annotation)
    check_length(boxes, len(frames), annotation, 'boxes')
    absent = None
    for flag_file in (folder / 'full_occlusion.txt', folder / 'out_of_view.txt'):
        if flag_file.is_file():
            flags = read_labels(flag_file)
            check_length(flags, len(frames), flag_file, 'flags')
            absent = flags.astype(bool) if absent is None else absent | flags.astype(bool)
    return Sequence(name=folder.name, frames=frames, video=None, ground_truth=boxes, absent=absent)


def open_got10k(folder: Path) -> Sequence:
    """A GOT-10k sequence folder ``<split>/<seq>``."""
    frames = got10k_frames(folder)
    if not frames:
        raise FileNotFoundError(f'GOT-10k sequence without image files: {folder}')
    annotation = folder / 'groundtruth.txt'
    boxes = read_boxes(annotation)
    if len(boxes) == 1 and len(frames) > 1:
        # Test split: only the first frame is annotated.
        boxes = np.vstack([boxes, np.full((len(frames) - 1, 4), np.nan)])  # [N, 4]
    check_length(boxes, len(frames), annotation, 'boxes')
    absent = None
    if (folder / 'cover.label').is_file():
        cover = read_labels(folder / 'cover.label')
        check_length(cover, len(frames), folder / 'cover.label', 'labels')
        absent = cover == 0
    elif (folder / 'absence.label').is_file():
        absence = read_labels(folder / 'absence.label')
        check_length(absence, len(frames), folder / 'absence.label', 'labels')
        absent = absence == 1
    return Sequence(name=folder.name, frames=frames, video=None, ground_truth=boxes, absent=absent)


def open_images(folder: Path) -> Sequence:
    """A folder of image files in file-name order, without annotation."""
    frames = image_files(folder)
    if not frames:
        raise FileNotFoundError(f'no image files ({", ".join(IMAGE_SUFFIXES)}) in {folder}')
    return Sequence(name=folder.name, frames=frames, video=None, ground_truth=None, absent=None)


def open_video(path: Path) -> Sequence:
    """A video file, without annotation."""
    if not path.is_file():
        raise FileNotFoundError(f'video file not found: {path}')
    return Sequence(name=path.stem, frames=None, video=path, ground_truth=None, absent=None)
