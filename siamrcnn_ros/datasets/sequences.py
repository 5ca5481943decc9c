"""Opening one sequence or all sequences of a dataset folder, in any layout of ``layouts``.

See ``siamrcnn_ros.datasets.layouts`` for the exact files each layout reads.
"""
from __future__ import annotations

from pathlib import Path

from siamrcnn_ros.datasets.annotation_files import read_name_list
from siamrcnn_ros.datasets.layouts import (
    LAYOUTS,
    detect_layout,
    open_got10k,
    open_images,
    open_lasot,
    open_otb,
    open_video,
    otb_targets,
)
from siamrcnn_ros.datasets.sequence import Sequence


def open_sequence(path: str | Path, layout: str = 'auto', *, target: int | None = None) -> Sequence:
    """One sequence: a sequence folder or a video file.

    Args:
        path: an OTB or LaSOT sequence folder (with ``img/``), a GOT-10k sequence folder, a folder
            of images, or a video file.
        layout: ``'auto'`` (detected from the files present: ``img/`` with ``groundtruth_rect*.txt``
            is OTB, ``img/`` with ``groundtruth.txt`` is LaSOT, images with ``groundtruth.txt`` is
            GOT-10k, images alone is ``images``, a file with a video suffix is ``video``) or one of
            ``'otb', 'lasot', 'got10k', 'images', 'video'``.
        target: for OTB folders with several annotation files (Jogging, Skating2), which one
            (0-based, in file-name order).

    Raises:
        ValueError: unknown layout, or a malformed annotation (the message names the file).
        FileNotFoundError: ``path`` or a file the layout needs is missing.
    """
    path = Path(path)
    if layout not in ('auto', *LAYOUTS):
        raise ValueError(f"layout must be 'auto' or one of {LAYOUTS}, got {layout!r}")
    if not path.exists():
        raise FileNotFoundError(f'sequence not found: {path}')
    if layout == 'auto':
        detected = detect_layout(path)
        if detected is None:
            raise ValueError(f'cannot tell the layout of {path}: expected a video file, img/ with '
                             'groundtruth_rect.txt (OTB) or groundtruth.txt (LaSOT), or image files (GOT-10k, images)')
        layout = detected
    if target is not None and layout != 'otb':
        raise ValueError(f'target applies only to OTB folders, {path} is read as {layout!r}')
    if layout == 'otb':
        return open_otb(path, target)
    if layout == 'lasot':
        return open_lasot(path)
    if layout == 'got10k':
        return open_got10k(path)
    if layout == 'images':
        return open_images(path)
    return open_video(path)


def list_sequences(root: str | Path, layout: str = 'auto') -> list[Sequence]:
    """All sequences of a dataset folder.

    Found, in this order of precedence:

    - ``root/list.txt`` (a GOT-10k split): the folders it names, in its order;
    - ``root`` itself a sequence (or a video file): that one sequence;
    - otherwise the sequence folders among ``root``'s sub-folders (OTB, GOT-10k without
      ``list.txt``; OTB folders with several targets give one sequence each) and one level
      deeper (LaSOT's ``<class>/<class>-<n>``), sorted by path.

    ``layout`` is applied to every sequence found (``'auto'``: detected per folder).

    Raises:
        FileNotFoundError: ``root`` or a folder named in ``list.txt`` is missing.
        ValueError: no sequence found, or a malformed sequence (the message names the file).
    """
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f'dataset folder not found: {root}')
    if (root / 'list.txt').is_file():
        sequences = []
        for name in read_name_list(root / 'list.txt'):
            if not (root / name).is_dir():
                raise FileNotFoundError(f'{root / "list.txt"} names {name!r}, but {root / name} is no folder')
            sequences.append(open_sequence(root / name, layout))
        return sequences
    if detect_layout(root) is not None:
        return _open_all_targets(root, layout)
    sequences = []
    for child in sorted(p for p in root.iterdir() if p.is_dir()):
        if detect_layout(child) is not None:
            sequences.extend(_open_all_targets(child, layout))
            continue
        for grandchild in sorted(p for p in child.iterdir() if p.is_dir()):
            if detect_layout(grandchild) is not None:
                sequences.extend(_open_all_targets(grandchild, layout))
    if not sequences:
        raise ValueError(f'no sequences found in {root} (nor one or two folder levels below)')
    return sequences


def _open_all_targets(path: Path, layout: str) -> list[Sequence]:
    """One sequence per target: several for OTB folders with several annotation files."""
    is_otb = layout == 'otb' or (layout == 'auto' and detect_layout(path) == 'otb')
    if is_otb and len(otb_targets(path)) > 1:
        return [open_otb(path, index) for index in range(len(otb_targets(path)))]
    return [open_sequence(path, layout)]
