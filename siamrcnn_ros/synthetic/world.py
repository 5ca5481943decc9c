"""The whole synthetic world on disk: GOT-10k splits, LaSOT long-term videos, ``world.json``.

Layout of ``root`` (see ``writers`` for the files of one sequence)::

    world.json                               settings, sequence names, the photos used (photo worlds),
                                             "complete": true once done
    train/list.txt, train/Synthetic_Train_000001/ ...
    val/list.txt,   val/Synthetic_Val_000001/ ...
    test/list.txt,  test/Synthetic_Test_000001/ ...
    lasot/<class>/<class>-<n>/ ...           long-term test videos (class = the target's shape)

Every video is a function of ``(seed, split, index)``, the settings and (photo worlds) the photo library only,
so the same settings and photos give byte-identical files, and a world is rebuilt only when they change.
A photo world records the photo files it was painted from (``photos``: names and count), because the library
depends on what is installed (``opencv-doc`` adds photos).
"""
from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from siamrcnn_ros.synthetic.photos import photo_names
from siamrcnn_ros.synthetic.scene import plan_video
from siamrcnn_ros.synthetic.settings import WorldSettings
from siamrcnn_ros.synthetic.writers import write_video

WORLD_FILE = 'world.json'
WORLD_FORMAT = 'siamrcnn_ros synthetic world'
WORLD_VERSION = 1
SPLITS = ('train', 'val', 'test')
LONG_TERM_FOLDER = 'lasot'
_SPLIT_CODES = {'train': 0, 'val': 1, 'test': 2, LONG_TERM_FOLDER: 3}


@dataclass(frozen=True)
class WorldSummary:
    """What ``make_world`` did.

    Attributes:
        root: the world folder.
        skipped: True when an identical complete world was already there (nothing written).
        videos: number of videos per split (``'train', 'val', 'test', 'lasot'``).
        frames: frames written (0 when skipped).
        seconds: wall time.
    """

    root: Path
    skipped: bool
    videos: dict[str, int]
    frames: int
    seconds: float


def video_seed(seed: int, split: str, index: int) -> int:
    """The seed of video ``index`` of ``split``: independent streams per video, so one video does not
    change when another split's count does."""
    return int(np.random.SeedSequence([seed, _SPLIT_CODES[split], index]).generate_state(1)[0])


def total_frames(settings: WorldSettings) -> int:
    """Frames the world holds."""
    return (settings.train + settings.val + settings.test) * settings.frames + settings.long_term * settings.long_frames


def world_photos(settings: WorldSettings) -> dict | None:
    """What ``world.json`` records of the photo library: ``{'count': n, 'names': [...]}``, None without photos."""
    if not settings.appearance.photos:
        return None
    names = photo_names()
    return {'count': len(names), 'names': names}


def make_world(root: str | Path, settings: WorldSettings, *, overwrite: bool = False,
               on_frame: Callable[[], None] | None = None) -> WorldSummary:
    """Write the world into ``root``, or do nothing if ``root`` already holds it complete.

    Args:
        root: output folder; created if missing. It must be empty, or hold a world written by this
            function (``world.json``).
        settings: what to write.
        overwrite: replace a world written with other settings (else that is an error).
        on_frame: called after each written frame (progress bars).

    Raises:
        FileExistsError: ``root`` holds other files, or a world with other settings or other photos and not
            ``overwrite``.
    """
    root = Path(root)
    started = time.perf_counter()
    wanted = settings.to_dict()
    photos = world_photos(settings)
    counts = {'train': settings.train, 'val': settings.val, 'test': settings.test, LONG_TERM_FOLDER: settings.long_term}
    existing = _read_world_file(root)
    same = existing is not None and existing.get('settings') == wanted and existing.get('photos') == photos
    if same and existing.get('complete'):
        return WorldSummary(root=root, skipped=True, videos=counts, frames=0, seconds=time.perf_counter() - started)
    if existing is None and root.is_dir() and any(root.iterdir()):
        raise FileExistsError(f'{root} is not empty and holds no {WORLD_FILE}: choose a new or empty folder')
    if existing is not None and not same and not overwrite:
        if existing.get('settings') == wanted:
            had = existing.get('photos') or {}
            raise FileExistsError(f'{root} holds this world painted from other photos ({had.get("count", 0)} there, '
                                  f'{photos["count"] if photos else 0} here; {root / WORLD_FILE} lists them): '
                                  'pass overwrite=True (--overwrite) to repaint it')
        raise FileExistsError(f'{root} holds a world made with other settings ({root / WORLD_FILE}); '
                              'pass overwrite=True (--overwrite) to replace it')
    for name in (*SPLITS, LONG_TERM_FOLDER):
        shutil.rmtree(root / name, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    document = {'format': WORLD_FORMAT, 'version': WORLD_VERSION, 'settings': wanted, 'complete': False}
    if photos is not None:
        document['photos'] = photos
    _write_world_file(root, document)

    frames = 0
    names: dict[str, list[str]] = {}
    for split in SPLITS:
        names[split] = []
        (root / split).mkdir()
        for index in range(counts[split]):
            name = f'Synthetic_{split.capitalize()}_{index + 1:06d}'
            seed = video_seed(settings.seed, split, index)
            plan = plan_video(seed, settings.frames, settings.scene, settings.gaps, long_term=False,
                              appearance=settings.appearance)
            write_video(plan, root / split / name, 'got10k', jpeg_quality=settings.scene.jpeg_quality,
                        meta={'url': f'synthetic://seed-{settings.seed}/{split}/{index + 1}'}, on_frame=on_frame)
            names[split].append(name)
            frames += plan.frames
        (root / split / 'list.txt').write_text(''.join(f'{name}\n' for name in names[split]))
    names[LONG_TERM_FOLDER] = []
    per_class: dict[str, int] = {}
    for index in range(settings.long_term):
        plan = plan_video(video_seed(settings.seed, LONG_TERM_FOLDER, index), settings.long_frames, settings.scene,
                          settings.gaps, long_term=True, appearance=settings.appearance)
        category = plan.objects[0].sprite.shape
        per_class[category] = per_class.get(category, 0) + 1
        relative = f'{LONG_TERM_FOLDER}/{category}/{category}-{per_class[category]}'
        write_video(plan, root / relative, 'lasot', jpeg_quality=settings.scene.jpeg_quality, meta={},
                    on_frame=on_frame)
        names[LONG_TERM_FOLDER].append(relative)
        frames += plan.frames
    document.update(complete=True, sequences=names)
    _write_world_file(root, document)
    return WorldSummary(root=root, skipped=False, videos=counts, frames=frames, seconds=time.perf_counter() - started)


def _read_world_file(root: Path) -> dict | None:
    path = root / WORLD_FILE
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f'{path} is not valid JSON ({error}); delete it or the folder') from None
    if document.get('format') != WORLD_FORMAT:
        raise ValueError(f'{path} is not a synthetic world file (format {document.get("format")!r})')
    return document


def _write_world_file(root: Path, document: dict) -> None:
    (root / WORLD_FILE).write_text(json.dumps(document, indent=1, sort_keys=True) + '\n')
