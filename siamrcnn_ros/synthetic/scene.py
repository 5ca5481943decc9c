"""Planning one video: background, camera, foreground occluders, objects and their tracks.

``plan_video`` draws everything a video depends on from one seed; rendering a frame of the plan
(``siamrcnn_ros.synthetic.render``) needs no randomness beyond it, so frame ``t`` can be drawn
alone and a video never has to be held in memory.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from siamrcnn_ros.synthetic.appearance import HandPlan, ObjectLook, plan_looks
from siamrcnn_ros.synthetic.paths import Camera, random_camera
from siamrcnn_ros.synthetic.photos import paint_crop, random_crop
from siamrcnn_ros.synthetic.settings import AppearanceSettings, GapSettings, SceneSettings
from siamrcnn_ros.synthetic.sprites import Sprite, lookalike_sprite, random_photo_sprite, random_sprite
from siamrcnn_ros.synthetic.textures import paint, random_recipe
from siamrcnn_ros.synthetic.tracks import Gap, ObjectTrack, plan_gaps, plan_track


@dataclass(frozen=True, eq=False)
class VideoPlan:
    """Everything one video is drawn from.

    Attributes:
        frames: N.
        image_size: ``(width, height)``.
        background: ``[Hw, Ww, 3]`` uint8 RGB world canvas (pixels at zoom 1).
        foreground: ``[Hw, Ww, 4]`` uint8 RGBA canvas of the occluders (alpha 255 on them), or None.
        occluder_rects: ``[P, 4]`` float64 world xyxy of the occluders (panels and bars).
        camera: the camera path.
        objects: the annotated objects; ``objects[0]`` is the target.
        shake: ``[N]`` bool, frames blurred by camera shake.
        blur_speed: object speed (image pixels per frame) from which motion blur is drawn.
        long_term: planned as a long-term video.
        looks: per object, its appearance over time (None: unchanged); empty when nothing changes.
        hand: the hand that passes over the target, or None.
    """

    frames: int
    image_size: tuple[int, int]
    background: np.ndarray
    foreground: np.ndarray | None
    occluder_rects: np.ndarray
    camera: Camera
    objects: tuple[ObjectTrack, ...]
    shake: np.ndarray
    blur_speed: float
    long_term: bool
    looks: tuple[ObjectLook | None, ...] = ()
    hand: HandPlan | None = None


def plan_video(seed: int, frames: int, scene: SceneSettings, gaps: GapSettings, *, long_term: bool,
               appearance: AppearanceSettings | None = None) -> VideoPlan:
    """A random video, a pure function of its arguments (and, for photos, of the installed photo library).

    ``appearance`` defaults to the procedural world (``AppearanceSettings.procedural()``).

    The target (object 0) starts fully visible; look-alikes never leave on purpose, so in a long-term
    video they stay in view while the target is away.
    """
    rng = np.random.default_rng(seed)
    width, height = scene.image_size
    # The canvas covers the widest view (lowest zoom) at the farthest pan.
    world_size = (math.ceil(width / scene.zoom_range[0] + 2 * scene.camera_shift) + 8,
                  math.ceil(height / scene.zoom_range[0] + 2 * scene.camera_shift) + 8)
    camera = random_camera(rng, frames, scene.image_size, world_size, scene.camera_shift, scene.zoom_range)
    if appearance is None:
        appearance = AppearanceSettings.procedural()
    photos = appearance.photos
    new_sprite = random_photo_sprite if photos else random_sprite
    background = _photo_background(rng, world_size) if photos else _background(rng, world_size)

    count = int(rng.integers(scene.objects[0], scene.objects[1] + 1))
    lookalikes = int(rng.integers(scene.lookalikes[0], scene.lookalikes[1] + 1))
    target_sprite = new_sprite(rng, float(rng.uniform(*scene.object_size)))
    sprites = [target_sprite]
    sprites += [lookalike_sprite(rng, target_sprite, scene.lookalike_hue_shift) for _ in range(lookalikes)]
    sprites += [new_sprite(rng, float(rng.uniform(*scene.object_size))) for _ in range(count - 1 - lookalikes)]
    roles = ['target'] + ['lookalike'] * lookalikes + ['other'] * (count - 1 - lookalikes)

    occluder_count = int(rng.integers(scene.occluders[0], scene.occluders[1] + 1))
    if long_term:
        occluder_count = max(occluder_count, 1)
    rects, panel = _occluder_rects(rng, occluder_count, camera, target_sprite, want_panel=long_term)
    # Panels are the occluders that can hide a whole object (bars are infinitely long and thin).
    panels = rects[np.abs(rects).max(axis=1) < 1e4 - 1] if len(rects) else None
    foreground = _foreground(rng, world_size, rects, photos=photos) if len(rects) else None

    firsts = _first_positions(rng, sprites, camera, rects)
    target_gaps = _target_gaps(rng, frames, gaps, can_hide=panel is not None, long_term=long_term)
    depths = rng.permutation(count)
    tracks: list[ObjectTrack] = []
    for index, (sprite, role) in enumerate(zip(sprites, roles, strict=True)):
        if role == 'target':
            own_gaps = target_gaps
        elif role == 'other' and rng.random() < (0.3 if long_term else 0.15):
            own_gaps = plan_gaps(rng, frames, count=1, length=(max(2, frames // 20), max(3, frames // 8)),
                                 can_hide=False)
        else:
            own_gaps = ()
        # No object waits behind a panel outside its planned gaps (crossing behind one is fine): a
        # look-alike then stays in view while the target is away, and the target's absences are
        # the planned ones plus brief crossings.
        follow = _outside_gaps(tracks[0].position, target_gaps, margin=10) if role == 'lookalike' else None
        tracks.append(plan_track(rng, sprite=sprite, role=role, depth=int(depths[index]), camera=camera,
                                 frames=frames, gaps=own_gaps, scale_range=scene.scale_range,
                                 aspect_range=scene.aspect_range, first=firsts[index], hide_rect=panel,
                                 follow=follow, avoid=panels))
    shake = rng.random(frames) < scene.shake_probability
    shake[0] = False  # the first frame is where the target is given: keep it sharp
    looks, hand = plan_looks(seed, count, frames, appearance, target_gaps)
    return VideoPlan(frames=frames, image_size=scene.image_size, background=background, foreground=foreground,
                     occluder_rects=rects, camera=camera, objects=tuple(tracks), shake=shake,
                     blur_speed=scene.blur_speed, long_term=long_term, looks=looks, hand=hand)


def _outside_gaps(position: np.ndarray, gaps: tuple[Gap, ...], margin: int) -> np.ndarray:
    """``position`` (``[N, 2]``) with NaN rows within ``margin`` frames of every gap."""
    out = position.copy()
    for gap in gaps:
        out[max(0, gap.start - margin):gap.end + margin] = np.nan
    return out


def _target_gaps(rng: np.random.Generator, frames: int, settings: GapSettings, *, can_hide: bool,
                 long_term: bool) -> tuple[Gap, ...]:
    if long_term:
        factor = min(1.0, frames / settings.long_reference_frames)
        length = (max(2, round(settings.long_length[0] * factor)), max(2, round(settings.long_length[1] * factor)))
        count = int(rng.integers(settings.long_count[0], settings.long_count[1] + 1))
        return plan_gaps(rng, frames, count=count, length=length, can_hide=can_hide)
    if rng.random() >= settings.short_probability:
        return ()
    length = (max(2, round(settings.short_length[0] * frames)), max(2, round(settings.short_length[1] * frames)))
    return plan_gaps(rng, frames, count=1, length=length, can_hide=can_hide)


def _background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """Two textures blended through a noise mask, plus a few static clutter shapes."""
    width, height = size
    first = paint(random_recipe(rng, period=(6.0, 40.0)), width, height)
    second = paint(random_recipe(rng, period=(6.0, 40.0)), width, height)
    mix = paint(random_recipe(rng, kinds=('noise', 'gradient'), period=(30.0, 90.0)), width, height)
    weight = mix[..., :1].astype(np.float32) / 255.0  # [H, W, 1]
    canvas = (first * weight + second * (1 - weight)).astype(np.uint8)
    for _ in range(int(rng.integers(0, 5))):
        clutter = random_sprite(rng, float(rng.uniform(15, 60)))
        w, h = (max(2, round(v)) for v in clutter.size_at(1.0, 1.0))
        x, y = int(rng.integers(0, width - w)), int(rng.integers(0, height - h))
        # Half transparent and without a rim: background texture, not an unannotated object.
        alpha = 0.45 * cv2.resize(clutter.alpha, (w, h))[..., None]  # [h, w, 1]
        patch = cv2.resize(clutter.rgb, (w, h)).astype(np.float32)
        region = canvas[y:y + h, x:x + w].astype(np.float32)
        canvas[y:y + h, x:x + w] = (alpha * patch + (1 - alpha) * region).astype(np.uint8)
    return canvas


def _photo_background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A crop of a random photograph (40-100 % of the largest window of the canvas's aspect), flipped at
    random, with a small colour change."""
    width, height = size
    return paint_crop(random_crop(rng, width / height, fraction=(0.4, 1.0)), width, height)


def _occluder_rects(rng: np.random.Generator, count: int, camera: Camera, target: Sprite,
                    *, want_panel: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """``[P, 4]`` world xyxy occluders and the first panel among them (or None).

    Panels are large enough to hide the target at scale 1; bars are thin poles crossing the image.
    """
    width, height = camera.image_size
    target_w, target_h = target.size_at(1.0, 1.0)
    rects, panel = [], None
    for index in range(count):
        if rng.random() < 0.5 or (want_panel and index == 0):
            w = max(rng.uniform(0.15, 0.3) * width, 1.4 * target_w)
            h = max(rng.uniform(0.35, 0.8) * height, 1.4 * target_h)
            centre = camera.to_world(rng.uniform((0.25 * width, 0.3 * height), (0.75 * width, 0.7 * height)), 0)
            rect = np.array([centre[0] - w / 2, centre[1] - h / 2, centre[0] + w / 2, centre[1] + h / 2])
            panel = rect if panel is None else panel
        else:
            thickness = rng.uniform(6, 16)
            along = camera.to_world(rng.uniform((0.1 * width, 0.1 * height), (0.9 * width, 0.9 * height)), 0)
            if rng.random() < 0.5:
                rect = np.array([along[0] - thickness / 2, -1e4, along[0] + thickness / 2, 1e4])
            else:
                rect = np.array([-1e4, along[1] - thickness / 2, 1e4, along[1] + thickness / 2])
        rects.append(rect)
    return np.asarray(rects, np.float64).reshape(-1, 4), panel


def _foreground(rng: np.random.Generator, size: tuple[int, int], rects: np.ndarray, *, photos: bool) -> np.ndarray:
    """``[H, W, 4]`` RGBA canvas with each occluder painted in its own texture (a photo crop with ``photos``)."""
    width, height = size
    canvas = np.zeros((height, width, 4), np.uint8)
    for rect in rects:
        x0, y0 = max(0, round(rect[0])), max(0, round(rect[1]))
        x1, y1 = min(width, round(rect[2])), min(height, round(rect[3]))
        if x1 <= x0 or y1 <= y0:
            continue
        if photos:
            crop = random_crop(rng, (x1 - x0) / (y1 - y0), fraction=(0.3, 1.0))
            canvas[y0:y1, x0:x1, :3] = paint_crop(crop, x1 - x0, y1 - y0)
        else:
            recipe = random_recipe(rng, kinds=('noise', 'stripes', 'gradient'))
            canvas[y0:y1, x0:x1, :3] = paint(recipe, x1 - x0, y1 - y0)
        canvas[y0:y1, x0:x1, 3] = 255
    return canvas


def _first_positions(rng: np.random.Generator, sprites: list[Sprite], camera: Camera,
                     rects: np.ndarray) -> list[np.ndarray]:
    """Image centres in frame 0: the target clear of every occluder and object, so the first box
    (the one a tracker is given) shows the whole target; the others placed with a few retries."""
    width, height = camera.image_size
    occluders = np.stack([camera.to_image(rects[:, :2], 0), camera.to_image(rects[:, 2:], 0)], axis=1) \
        .reshape(-1, 4) if len(rects) else np.zeros((0, 4))  # [P, 4] image xyxy
    placed, boxes = [], []
    for index, sprite in enumerate(sprites):
        w, h = (v * camera.zoom[0] for v in sprite.size_at(1.0, 1.0))
        low = (max(w / 2 + 2, 0.12 * width), max(h / 2 + 2, 0.12 * height))
        high = (min(width - w / 2 - 2, 0.88 * width), min(height - h / 2 - 2, 0.88 * height))
        for _attempt in range(30):
            centre = rng.uniform(low, np.maximum(high, low))
            box = np.array([centre[0] - w / 2, centre[1] - h / 2, centre[0] + w / 2, centre[1] + h / 2])
            # The target keeps clear of the occluders, every other object keeps clear of the target.
            others = occluders if index == 0 else boxes[0][None]
            if not _overlaps_any(box, others):
                break
        placed.append(centre)
        boxes.append(box)
    return placed


def _overlaps_any(box: np.ndarray, others: np.ndarray) -> bool:
    if len(others) == 0:
        return False
    left = np.maximum(box[0], others[:, 0])
    right = np.minimum(box[2], others[:, 2])
    top = np.maximum(box[1], others[:, 1])
    bottom = np.minimum(box[3], others[:, 3])
    return bool(np.any((right > left) & (bottom > top)))
