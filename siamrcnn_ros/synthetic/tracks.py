"""Where each object is, how big and how stretched, frame by frame, including its planned gaps.

A *gap* is a stretch of frames in which an object is meant to be invisible: ``'out'`` (it waits
just outside the image, following the camera, and comes back in at another side) or ``'hide'``
(it shrinks to fit behind a foreground panel and stays there). Whether a frame really shows an
object is decided by the renderer, not here: the plan is the intent, the pixels are the truth.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from siamrcnn_ros.synthetic.paths import Camera, ease, key_times
from siamrcnn_ros.synthetic.sprites import Sprite

GAP_KINDS = ('out', 'hide')
ROLES = ('target', 'lookalike', 'other')


@dataclass(frozen=True)
class Gap:
    """Frames ``start .. end - 1`` in which an object is meant to be away (``kind`` in ``GAP_KINDS``)."""

    start: int
    end: int
    kind: str

    def __post_init__(self) -> None:
        if not 0 < self.start < self.end or self.kind not in GAP_KINDS:
            raise ValueError(f'bad gap: frames {self.start}..{self.end}, kind {self.kind!r}')


@dataclass(frozen=True, eq=False)
class ObjectTrack:
    """One annotated object over a whole video.

    Attributes:
        sprite: its look.
        role: ``'target'`` (object 0), ``'lookalike'`` (a near-copy of the target) or ``'other'``.
        position: ``[N, 2]`` float64 world centre per frame.
        scale: ``[N]`` float64 size relative to the sprite's base size.
        stretch: ``[N]`` float64 aspect change (width x sqrt, height / sqrt).
        depth: drawing order, higher is nearer the camera (drawn later).
        gaps: the planned gaps.
    """

    sprite: Sprite
    role: str
    position: np.ndarray
    scale: np.ndarray
    stretch: np.ndarray
    depth: int
    gaps: tuple[Gap, ...]


def plan_track(rng: np.random.Generator, *, sprite: Sprite, role: str, depth: int, camera: Camera,
               frames: int, gaps: tuple[Gap, ...], scale_range: tuple[float, float],
               aspect_range: tuple[float, float], first: np.ndarray, hide_rect: np.ndarray | None = None,
               follow: np.ndarray | None = None, avoid: np.ndarray | None = None) -> ObjectTrack:
    """Plan an object's path.

    Args:
        first: ``[2]`` image position of its centre in frame 0.
        hide_rect: ``[4]`` world xyxy of the panel ``'hide'`` gaps go behind (required if any).
        follow: ``[N, 2]`` world positions (the target's) that half of the key positions are drawn
            near, so a look-alike keeps crossing the target's way; NaN rows (the target's gaps) and
            frames where the follower would be led outside the image are ignored.
        avoid: ``[P, 4]`` world xyxy rectangles no key position may fall in (the panels: objects
            pass behind them but wait there only in ``'hide'`` gaps).
    """
    if role not in ROLES:
        raise ValueError(f'role must be one of {ROLES}, got {role!r}')
    width, height = camera.image_size
    times = key_times(rng, frames, (15, 45))
    image_keys = rng.uniform((0.12 * width, 0.12 * height), (0.88 * width, 0.88 * height), (len(times), 2))
    image_keys[0] = first
    keys = {int(t): camera.to_world(point, int(t)) for t, point in zip(times, image_keys, strict=True)}
    for t in list(keys)[1:]:
        if follow is not None and np.isfinite(follow[t]).all() and rng.random() < 0.5:
            near = camera.to_image(follow[t], t) + rng.normal(0.0, 0.2 * width, 2)
            if _inside(near, width, height, 0.1):
                keys[t] = camera.to_world(near, t)
        for _attempt in range(10):
            if avoid is None or not _in_any(keys[t], avoid):
                break
            keys[t] = camera.to_world(rng.uniform((0.12 * width, 0.12 * height), (0.88 * width, 0.88 * height)), t)
    scale_times = key_times(rng, frames, (20, 70))
    scale_keys = {int(t): math.exp(rng.uniform(*np.log(scale_range))) for t in scale_times}
    stretch_keys = {int(t): math.exp(rng.uniform(*np.log(aspect_range))) for t in scale_times}
    scale_keys[0] = stretch_keys[0] = 1.0

    half_extent = _largest_half_extent(sprite, scale_range, aspect_range, float(camera.zoom.max()))
    holds = []
    for gap in gaps:
        for table in (keys, scale_keys, stretch_keys):
            for t in [t for t in table if gap.start - 8 < t < gap.end + 8 and 0 < t < frames - 1]:
                del table[t]
        if gap.kind == 'out':
            exit_point = _outside_point(rng, width, height, half_extent)
            entry_point = _outside_point(rng, width, height, half_extent)
            keys[gap.start] = camera.to_world(exit_point, gap.start)
            keys[gap.end] = camera.to_world(entry_point, gap.end)
            holds.append((gap, exit_point))
        else:
            if hide_rect is None:
                raise ValueError(f"a 'hide' gap needs a panel to hide behind: {gap}")
            centre = (hide_rect[:2] + hide_rect[2:]) / 2
            keys[gap.start] = keys[gap.end] = centre
            fit = _fit_scale(sprite, hide_rect)
            scale_keys[gap.start] = scale_keys[gap.end] = fit
            stretch_keys[gap.start] = stretch_keys[gap.end] = 1.0
            holds.append((gap, None))
    position = _ease_table(keys, frames)  # [N, 2]
    scale = _ease_table({t: np.array([v]) for t, v in scale_keys.items()}, frames)[:, 0]
    stretch = _ease_table({t: np.array([v]) for t, v in stretch_keys.items()}, frames)[:, 0]
    for gap, exit_point in holds:
        span = slice(gap.start, gap.end)
        if exit_point is None:
            position[span] = position[gap.start]
            scale[span] = scale[gap.start]
            stretch[span] = 1.0
        else:
            # Wait just outside the image while the camera moves: stay out of view the whole gap.
            for t in range(gap.start, gap.end):
                position[t] = camera.to_world(exit_point, t)
    return ObjectTrack(sprite=sprite, role=role, position=position, scale=scale, stretch=stretch, depth=depth,
                       gaps=gaps)


def plan_gaps(rng: np.random.Generator, frames: int, *, count: int, length: tuple[int, int],
              can_hide: bool) -> tuple[Gap, ...]:
    """``count`` gaps of ``length`` frames (clipped to fit), one per equal slot of frames
    ``0.1 N .. 0.95 N``; each ``'hide'`` with probability 1/2 when ``can_hide``, else ``'out'``."""
    low, high = max(4, int(0.1 * frames)), int(0.95 * frames) - 4
    if count <= 0 or high - low < 8 * count:
        return ()
    slot = (high - low) / count
    gaps = []
    for index in range(count):
        begin = low + index * slot
        size = int(min(rng.integers(length[0], length[1] + 1), 0.6 * slot))
        if size < 2:
            continue
        start = int(begin + rng.uniform(0.2, 0.95) * (slot - size))
        kind = 'hide' if can_hide and rng.random() < 0.5 else 'out'
        gaps.append(Gap(start=max(start, 1), end=max(start, 1) + size, kind=kind))
    return tuple(gaps)


def _ease_table(table: dict[int, np.ndarray], frames: int) -> np.ndarray:
    times = np.asarray(sorted(table), np.int64)
    values = np.stack([np.asarray(table[int(t)], np.float64) for t in times])  # [K, D]
    return ease(times, values, frames)


def _inside(point: np.ndarray, width: int, height: int, margin: float) -> bool:
    x_ok = margin * width <= point[0] <= (1 - margin) * width
    return bool(x_ok and margin * height <= point[1] <= (1 - margin) * height)


def _in_any(point: np.ndarray, rects: np.ndarray) -> bool:
    return bool(np.any((rects[:, 0] <= point[0]) & (point[0] <= rects[:, 2]) & (rects[:, 1] <= point[1])
                       & (point[1] <= rects[:, 3])))


def _largest_half_extent(sprite: Sprite, scale_range: tuple[float, float], aspect_range: tuple[float, float],
                         zoom: float) -> float:
    """Half the longest side the object can reach in the image, pixels (blur included)."""
    sizes = [sprite.size_at(scale_range[1], stretch) for stretch in aspect_range]
    return 0.5 * zoom * max(max(size) for size in sizes) + 10.0


def _outside_point(rng: np.random.Generator, width: int, height: int, half_extent: float) -> np.ndarray:
    """An image point ``half_extent`` beyond a random side of the image."""
    side = int(rng.integers(4))
    along = rng.uniform(0.2, 0.8)
    if side == 0:
        return np.array([-half_extent, along * height])
    if side == 1:
        return np.array([width + half_extent, along * height])
    if side == 2:
        return np.array([along * width, -half_extent])
    return np.array([along * width, height + half_extent])


def _fit_scale(sprite: Sprite, rect: np.ndarray) -> float:
    """The scale at which the sprite (stretch 1) covers at most 80 % of ``rect`` (world xyxy) each way."""
    width, height = sprite.size_at(1.0, 1.0)
    return 0.8 * min((rect[2] - rect[0]) / width, (rect[3] - rect[1]) / height)
