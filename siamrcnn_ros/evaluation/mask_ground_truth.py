"""Ground-truth instance masks for mask evaluation (``siamrcnn-eval --metrics davis``).

Two dataset layouts:

DAVIS 2017 (``<root>`` holds ``Annotations/``)::

    <root>/Annotations/480p/<seq>/00000.png, ...   palette PNG per frame: k = object k, 255 = void
    <root>/JPEGImages/480p/<seq>/00000.jpg, ...    frames (not needed for scoring)
    <root>/ImageSets/2017/<split>.txt              sequence names, one per line (optional)

  The objects are those of the first annotated frame (values 1..max), as the DAVIS toolkit counts
  them. The value 255 marks void pixels. The public DAVIS 2017 toolkit turns them into background
  before scoring (its void mask is then compared with the boolean object masks and never set), so
  in effect a prediction over void pixels counts as a false positive; that is the default here, so
  that numbers agree with published ones. ``ignore_void=True`` leaves them out of J, F and J_box
  instead, as the toolkit's code intends.

The synthetic world (``siamrcnn_ros.synthetic``; a split folder or one sequence folder)::

    <split>/list.txt, <split>/<seq>/00000001.jpg, <seq>/objects.json, <seq>/masks/00000001.png

  The mask value ``k + 1`` is object k of ``objects.json``. By default only the tracked target
  (role ``'target'``, object 0) is scored; ``objects='all'`` scores every object.

A result mask (``mask_results``) numbers the scored objects 1, 2, ... in the order of
``MaskSequence.object_values``: for DAVIS that is the annotation's own numbering, for the synthetic
world with ``objects='target'`` the target is 1.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from siamrcnn_ros.datasets.got10k_videos import split_sequence_folders
from siamrcnn_ros.datasets.index_masks import read_index_mask
from siamrcnn_ros.datasets.layouts import image_files
from siamrcnn_ros.datasets.synthetic_videos import read_synthetic_sequence

DAVIS_VOID_VALUE = 255
SYNTHETIC_OBJECTS = ('target', 'all')


@dataclass(frozen=True, eq=False)
class MaskSequence:
    """A video's ground-truth masks and the objects to score in them.

    Attributes:
        name: the sequence name (also the result sub-folder's name).
        masks: the ground-truth indexed PNG of each frame, length N.
        object_values: the ground-truth pixel value of each scored object, length O; result
            masks use ``k + 1`` for the k-th of them.
        object_ids: the dataset's name of each scored object, length O.
        void_value: annotation value of pixels to ignore (DAVIS: 255), or None.
        frames: the image files, length N, or empty when the dataset has none.
    """

    name: str
    masks: tuple[Path, ...]
    object_values: tuple[int, ...]
    object_ids: tuple[str, ...]
    void_value: int | None = None
    frames: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        if len(self.object_values) != len(self.object_ids):
            raise ValueError(f'sequence {self.name!r}: {len(self.object_values)} object values for '
                             f'{len(self.object_ids)} object ids')
        if self.frames and len(self.frames) != len(self.masks):
            raise ValueError(f'sequence {self.name!r}: {len(self.frames)} frames for {len(self.masks)} masks')

    def __len__(self) -> int:
        """Number of frames N."""
        return len(self.masks)

    def read_truth(self, index: int) -> np.ndarray:
        """The annotation of frame ``index`` (0-based) as ``[H, W]`` int32 pixel values."""
        if not 0 <= index < len(self.masks):
            raise IndexError(f'sequence {self.name!r}: frame {index} out of range 0..{len(self.masks) - 1}')
        return read_index_mask(self.masks[index])


def list_mask_sequences(dataset: str | Path, *, split: str = 'val', resolution: str = '480p',
                        objects: str = 'target', ignore_void: bool = False) -> list[MaskSequence]:
    """The sequences of a DAVIS root, a synthetic-world split folder or one synthetic sequence.

    Args:
        dataset: the folder (layouts in the module docstring).
        split: DAVIS: the ``ImageSets/2017/<split>.txt`` list to read; every annotated sequence when
            that file does not exist.
        resolution: DAVIS: the ``Annotations`` sub-folder (``480p`` or ``Full-Resolution``).
        objects: synthetic world: ``'target'`` or ``'all'`` (see the module docstring).
        ignore_void: DAVIS: leave pixels of value 255 out of the scores (see the module docstring).

    Raises:
        FileNotFoundError: the folder does not exist, or a listed sequence or mask file is missing.
        ValueError: the folder is in neither layout, or a bad ``objects``.
    """
    root = Path(dataset)
    if not root.is_dir():
        raise FileNotFoundError(f'dataset folder not found: {root}')
    if objects not in SYNTHETIC_OBJECTS:
        raise ValueError(f'objects must be one of {SYNTHETIC_OBJECTS}, got {objects!r}')
    if (root / 'Annotations').is_dir():
        return read_davis_sequences(root, split=split, resolution=resolution, ignore_void=ignore_void)
    if (root / 'objects.json').is_file():
        return [read_synthetic_mask_sequence(root, objects)]
    folders = split_sequence_folders(root)
    if folders and all((folder / 'objects.json').is_file() for folder in folders):
        return [read_synthetic_mask_sequence(folder, objects) for folder in folders]
    raise ValueError(f'{root}: neither a DAVIS root (Annotations/) nor a synthetic-world split or sequence '
                     '(folders with objects.json and masks/)')


def read_davis_sequences(root: str | Path, *, split: str = 'val', resolution: str = '480p',
                         ignore_void: bool = False) -> list[MaskSequence]:
    """The sequences of a DAVIS 2017 root (see the module docstring)."""
    root = Path(root)
    annotations = root / 'Annotations' / resolution
    if not annotations.is_dir():
        raise FileNotFoundError(f'DAVIS annotation folder not found: {annotations}')
    listing = root / 'ImageSets' / '2017' / f'{split}.txt'
    if listing.is_file():
        names = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
    else:
        names = sorted(p.name for p in annotations.iterdir() if p.is_dir())
    sequences = []
    for name in names:
        masks = tuple(sorted((annotations / name).glob('*.png')))
        if not masks:
            raise FileNotFoundError(f'DAVIS sequence {name!r} has no annotation PNG in {annotations / name}')
        first = read_index_mask(masks[0])
        # The toolkit scores the objects 1..max of the first frame's annotation (255 is void).
        count = int(first[first != DAVIS_VOID_VALUE].max(initial=0))
        values = tuple(range(1, count + 1))
        image_dir = root / 'JPEGImages' / resolution / name
        frames = tuple(image_files(image_dir)) if image_dir.is_dir() else ()
        sequences.append(MaskSequence(name=name, masks=masks, object_values=values,
                                      object_ids=tuple(str(v) for v in values),
                                      void_value=DAVIS_VOID_VALUE if ignore_void else None,
                                      frames=frames if len(frames) == len(masks) else ()))
    return sequences


def read_synthetic_mask_sequence(folder: str | Path, objects: str = 'target') -> MaskSequence:
    """One synthetic-world sequence folder; ``objects``: ``'target'`` (role ``'target'``) or ``'all'``."""
    folder = Path(folder)
    video = read_synthetic_sequence(folder)
    if video.masks is None or any(mask is None for mask in video.masks):
        raise FileNotFoundError(f'synthetic sequence {folder} lacks a masks/<frame>.png for some frame')
    if objects == 'all':
        chosen = list(range(len(video.object_ids)))
    elif objects == 'target':
        roles = [item.get('role') for item in json.loads((folder / 'objects.json').read_text())['objects']]
        chosen = [k for k, role in enumerate(roles) if role == 'target']
        if not chosen:
            raise ValueError(f'{folder / "objects.json"}: no object with role "target"')
    else:
        raise ValueError(f'objects must be one of {SYNTHETIC_OBJECTS}, got {objects!r}')
    return MaskSequence(name=video.name, masks=tuple(video.masks), object_values=tuple(k + 1 for k in chosen),
                        object_ids=tuple(video.object_ids[k] for k in chosen), frames=video.frames)
