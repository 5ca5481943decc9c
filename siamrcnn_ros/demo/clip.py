"""The held-out clip the demo plays: part of a synthetic long-term video (LaSOT layout) in which look-alikes of
the target stay in view while the target disappears and comes back.

The synthetic world (``siamrcnn_ros.synthetic``) is written once into a folder (``data/synthetic`` by default,
the same world the training configs read); its long-term videos are test videos, never trained on. The clip is
chosen by a fixed rule, so every run plays the same frames (see ``choose_clip``).
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from siamrcnn_ros.datasets import open_sequence
from siamrcnn_ros.datasets.sequence import Sequence
from siamrcnn_ros.synthetic.settings import PRESETS
from siamrcnn_ros.synthetic.world import LONG_TERM_FOLDER, WORLD_FILE, make_world, total_frames

LEAD_FRACTION = 1 / 3
"""Part of the clip played before the chosen disappearance: the tracker follows the target among look-alikes."""
TAIL_FRACTION = 1 / 6
"""Least part of the clip played after the target is back: the re-detection after the gap is seen."""


@dataclass(frozen=True)
class WorldReady:
    """What ``ensure_world`` found or did.

    Attributes:
        root: the world folder.
        generated: True when this call wrote the world.
        preset: the synthetic preset written, or None when an existing world was used as it is.
        seconds: wall time of the call.
    """

    root: Path
    generated: bool
    preset: str | None
    seconds: float


@dataclass(frozen=True, eq=False)
class Clip:
    """The frames the demo plays.

    Attributes:
        video: the long-term video's name (``rectangle-1``).
        folder: its LaSOT-layout folder.
        start: index (0-based) of the clip's first frame in the video.
        sequence: the clip itself as a ``Sequence`` (frame files ``start .. start + length - 1``, ground truth
            ``[length, 4]`` float64 xywh pixels, absent flags ``[length]`` bool); named ``<video>_<start>``.
        description: the video's one-line description (LaSOT's ``nlp.txt``).
        lookalikes: number of look-alikes of the target in the video (``objects.json`` roles).
    """

    video: str
    folder: Path
    start: int
    sequence: Sequence
    description: str
    lookalikes: int

    def __len__(self) -> int:
        return len(self.sequence)

    @property
    def gaps(self) -> list[tuple[int, int]]:
        """Clip-relative ``(first, end)`` frame ranges (end exclusive) where the truth marks the target absent."""
        return absent_runs(self.sequence.absent)


def ensure_world(root: str | Path, preset: str, on_frame: Callable[[], None] | None = None) -> WorldReady:
    """The synthetic world in ``root``: used as it is when a complete world with long-term videos and the look of
    ``preset`` (its ``appearance`` settings: photos or procedural shapes) is there, else written with ``preset``
    (``siamrcnn_ros.synthetic.settings.PRESETS``; seeded, byte-reproducible).

    Raises:
        ValueError: unknown preset, a broken ``world.json``, or a world of another look than ``preset`` (e.g. the
            procedural shapes world written before the photo world: the checkpoint was trained on the other).
        FileExistsError: ``root`` holds other files, or an unfinished world with other settings.
    """
    started = time.perf_counter()
    root = Path(root)
    if preset not in PRESETS:
        raise ValueError(f'unknown synthetic world preset {preset!r}; choose from {sorted(PRESETS)}')
    document = _read_world(root)
    if document is not None and document.get('complete') and document.get('sequences', {}).get(LONG_TERM_FOLDER):
        wanted = PRESETS[preset].to_dict()['appearance']
        found = document.get('settings', {}).get('appearance')
        if found != wanted:
            what = 'procedural shapes, written before photo worlds existed' if found is None else (
                'photos' if found.get('photos') else 'procedural shapes')
            raise ValueError(f'{root} holds a synthetic world of another look ({what}) than the {preset!r} preset '
                             f'({"photos" if wanted["photos"] else "procedural shapes"}); rewrite it with '
                             f'`siamrcnn-make-world --preset {preset} --root {root} --overwrite` or choose another '
                             '--world-root')
        return WorldReady(root, generated=False, preset=None, seconds=time.perf_counter() - started)
    summary = make_world(root, PRESETS[preset], on_frame=on_frame)
    return WorldReady(root, generated=not summary.skipped, preset=preset, seconds=time.perf_counter() - started)


def world_frames(preset: str) -> int:
    """Frames the world of ``preset`` holds (for a progress bar)."""
    return total_frames(PRESETS[preset])


def long_term_videos(root: str | Path) -> list[Path]:
    """The long-term video folders of the world in ``root``, in the order ``world.json`` lists them."""
    root = Path(root)
    document = _read_world(root)
    if document is None:
        raise FileNotFoundError(f'no synthetic world in {root} ({WORLD_FILE} missing): run siamrcnn-make-world')
    names = document.get('sequences', {}).get(LONG_TERM_FOLDER, [])
    if not names:
        raise ValueError(f'the synthetic world in {root} has no long-term videos (settings long_term = 0)')
    return [root / name for name in names]


def absent_runs(absent: np.ndarray) -> list[tuple[int, int]]:
    """``(first, end)`` index ranges (end exclusive) of the runs of True in ``[N]`` bool ``absent``."""
    flags = np.concatenate([[False], np.asarray(absent, dtype=bool), [False]]).astype(np.int8)
    changes = np.flatnonzero(np.diff(flags))  # starts and ends alternate
    return [(int(a), int(b)) for a, b in zip(changes[0::2], changes[1::2], strict=True)]


def choose_clip(root: str | Path, frames: int, video: str | None = None, start: int | None = None) -> Clip:
    """The clip of ``frames`` frames to play.

    The rule (deterministic): among the long-term videos (only ``video`` when given), those with the most
    look-alikes; in them, the longest disappearance that fits in the clip with ``LEAD_FRACTION`` of the clip
    before it and ``TAIL_FRACTION`` after the target is back, starting on a frame where the target is visible
    (ties: the earlier video, then the earlier gap). Without such a gap the clip starts at the first visible
    frame (``Clip.gaps`` is then empty). ``start`` overrides the rule's start.

    Raises:
        ValueError: ``frames`` < 2, an unknown ``video``, a ``start`` past the video or on a frame without a
            visible target.
    """
    if frames < 2:
        raise ValueError(f'a clip needs at least 2 frames, got {frames}')
    folders = long_term_videos(root)
    if video is not None:
        folders = [f for f in folders if video in (f.name, f.relative_to(Path(root)).as_posix())]
        if not folders:
            names = [f.name for f in long_term_videos(root)]
            raise ValueError(f'no long-term video {video!r} in {root}; it has {names}')
    candidates = []
    for order, folder in enumerate(folders):
        sequence = open_sequence(folder, layout='lasot')
        lookalikes = _count_lookalikes(folder)
        visible = _visible(sequence)
        if start is not None:
            candidates.append((lookalikes, 0, -order, folder, sequence, start))
            continue
        length = min(frames, len(sequence))
        lead, tail = int(length * LEAD_FRACTION), int(length * TAIL_FRACTION)
        for first, end in absent_runs(~visible):
            begin = first - lead
            if first == 0 or end - first > length - lead - tail or begin < 0 or begin + length > len(sequence):
                continue
            if visible[begin]:
                candidates.append((lookalikes, end - first, -order, folder, sequence, begin))
        if visible.any():
            candidates.append((lookalikes, 0, -order, folder, sequence, int(np.flatnonzero(visible)[0])))
    # Most look-alikes first, then the longest gap; max keeps the first of equal keys: the earlier gap wins.
    lookalikes, _, _, folder, sequence, begin = max(candidates, key=lambda c: (c[0], c[1], c[2]))
    return _cut(folder, sequence, begin, frames, lookalikes)


def _cut(folder: Path, sequence: Sequence, start: int, frames: int, lookalikes: int) -> Clip:
    if not 0 <= start < len(sequence) - 1:
        raise ValueError(f'start {start} is outside {folder.name} ({len(sequence)} frames; need 2 from the start)')
    if not _visible(sequence)[start]:
        raise ValueError(f'the target is not visible in frame {start} of {folder.name}: it cannot be set there')
    end = min(len(sequence), start + frames)
    clip = Sequence(name=f'{folder.name}_{start}', frames=sequence.frames[start:end], video=None,
                    ground_truth=sequence.ground_truth[start:end],
                    absent=None if sequence.absent is None else sequence.absent[start:end])
    description_file = folder / 'nlp.txt'
    description = description_file.read_text().strip() if description_file.is_file() else ''
    return Clip(video=folder.name, folder=folder, start=start, sequence=clip, description=description,
                lookalikes=lookalikes)


def _visible(sequence: Sequence) -> np.ndarray:
    """``[N]`` bool: a finite ground-truth box with positive area that the benchmark does not mark absent."""
    truth = sequence.ground_truth
    with np.errstate(invalid='ignore'):
        visible = np.isfinite(truth).all(axis=1) & (truth[:, 2] > 0) & (truth[:, 3] > 0)
    if sequence.absent is not None:
        visible &= ~sequence.absent
    return visible


def _count_lookalikes(folder: Path) -> int:
    path = folder / 'objects.json'
    if not path.is_file():
        return 0
    objects = json.loads(path.read_text()).get('objects', [])
    return sum(1 for item in objects if item.get('role') == 'lookalike')


def _read_world(root: Path) -> dict | None:
    path = root / WORLD_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f'{path} is not valid JSON ({error}); delete the folder to write the world again') from None
