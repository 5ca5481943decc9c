"""How an object's look changes over time, and a hand that passes over the target.

* ``ObjectLook``: per-frame in-plane rotation, out-of-plane rotation (a perspective warp of the sprite),
  lighting (brightness and contrast) and defocus of one object, each a smooth path over the video.
* ``HandPlan``: a skin-coloured hand (palm and fingers, the forearm behind it) that now and then moves over
  part of the target and away again, drawn in front of the objects.

All of it is drawn from its own random stream (``plan_looks``), so a world without appearance changes is
the same as before they existed. The renderer applies ``warp_patch``/``light_patch`` to the resized sprite and
reads the ground-truth box off the warped alpha, so boxes stay exact.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from siamrcnn_ros.synthetic.paths import ease, key_times
from siamrcnn_ros.synthetic.settings import AppearanceSettings
from siamrcnn_ros.synthetic.tracks import Gap

FOCAL = 2.5
"""Distance of the perspective camera from a tilted object, in units of the object's longer side."""
HAND_SIZE = 96
"""Length of the drawn hand sprite (fingertips to the cut of the forearm), pixels."""


@dataclass(frozen=True, eq=False)
class ObjectLook:
    """One object's appearance over a video.

    Attributes:
        rotation: ``[N]`` float64 in-plane rotation, degrees (counter-clockwise on screen).
        tilt: ``[N, 2]`` float64 out-of-plane rotation about the object's vertical and horizontal axes, degrees.
        gain: ``[N]`` float64 brightness factor.
        contrast: ``[N]`` float64 contrast factor (about the object's mean colour).
        defocus: ``[N]`` float64 Gaussian blur sigma relative to the object's longer side (0 = sharp).
    """

    rotation: np.ndarray
    tilt: np.ndarray
    gain: np.ndarray
    contrast: np.ndarray
    defocus: np.ndarray

    def warps(self, t: int) -> bool:
        return bool(self.rotation[t] != 0 or self.tilt[t, 0] != 0 or self.tilt[t, 1] != 0)


@dataclass(frozen=True, eq=False)
class HandPlan:
    """A hand moving over the target.

    Attributes:
        rgb: ``[S_h, S_w, 3]`` uint8 RGB, the hand pointing up (fingertips at the top, the forearm cut at the
            bottom).
        alpha: ``[S_h, S_w]`` float32 in [0, 1].
        present: ``[N]`` bool, frames in which the hand is drawn.
        offset: ``[N, 2]`` float64 hand centre minus target centre, in units of the target's longer side.
        size: the hand's length in units of the target's longer side.
    """

    rgb: np.ndarray
    alpha: np.ndarray
    present: np.ndarray
    offset: np.ndarray
    size: float


def plan_looks(seed: int, count: int, frames: int, settings: AppearanceSettings,
               target_gaps: tuple[Gap, ...]) -> tuple[tuple[ObjectLook | None, ...], HandPlan | None]:
    """Looks of ``count`` objects and the hand of one video, from their own stream of ``seed``.

    Returns:
        ``(looks, hand)``: empty looks and no hand when ``settings`` change nothing over time.
    """
    if not settings.changes_over_time:
        return (), None
    rng = np.random.default_rng([seed, 0x100C])
    looks = tuple(_plan_look(rng, frames, settings) for _ in range(count))
    hand = _plan_hand(rng, frames, settings, target_gaps) if rng.random() < settings.hand_probability else None
    return looks, hand


def _smooth(rng: np.random.Generator, frames: int, low: float, high: float, dims: int = 1,
            spacing: tuple[int, int] = (20, 60)) -> np.ndarray:
    """``[N, dims]`` values eased between random keys in ``[low, high]``."""
    times = key_times(rng, frames, spacing)
    return ease(times, rng.uniform(low, high, (len(times), dims)), frames)


def _plan_look(rng: np.random.Generator, frames: int, settings: AppearanceSettings) -> ObjectLook | None:
    draws = rng.random(4)
    rotation = np.zeros(frames)
    tilt = np.zeros((frames, 2))
    gain = np.ones(frames)
    contrast = np.ones(frames)
    defocus = np.zeros(frames)
    if draws[0] < settings.rotation_probability and settings.rotation > 0:
        # A slow turn: the angle wanders between keys, starting anywhere in the range.
        rotation = _smooth(rng, frames, -settings.rotation, settings.rotation)[:, 0]
    if draws[1] < settings.tilt_probability and settings.tilt > 0:
        tilt = _smooth(rng, frames, -settings.tilt, settings.tilt, dims=2)
    if draws[2] < settings.lighting_probability and settings.lighting > 0:
        gain = _smooth(rng, frames, 1 - settings.lighting, 1 + settings.lighting)[:, 0]
        contrast = _smooth(rng, frames, 1 - settings.lighting, 1 + settings.lighting / 2)[:, 0]
    if draws[3] < settings.defocus_probability and settings.defocus > 0:
        # One stretch out of focus: blur eases in and out over 10-40 % of the video.
        length = max(2, int(frames * rng.uniform(0.1, 0.4)))
        start = int(rng.integers(1, max(2, frames - length)))
        peak = float(rng.uniform(0.4, 1.0)) * settings.defocus
        t = np.arange(frames) - start
        inside = (t >= 0) & (t < length)
        defocus[inside] = peak * np.sin(math.pi * (t[inside] + 0.5) / length)
    if draws[0] >= settings.rotation_probability and draws[1] >= settings.tilt_probability \
            and draws[2] >= settings.lighting_probability and draws[3] >= settings.defocus_probability:
        return None
    return ObjectLook(rotation=rotation, tilt=tilt, gain=gain, contrast=contrast, defocus=defocus)


def _plan_hand(rng: np.random.Generator, frames: int, settings: AppearanceSettings,
               target_gaps: tuple[Gap, ...]) -> HandPlan | None:
    """1-2 passes of a hand over the target, each 12-40 % of the video, never near the target's gaps."""
    busy = np.zeros(frames, bool)
    busy[:5] = True  # the first frames show the target uncovered (the first box is given there)
    for gap in target_gaps:
        busy[max(0, gap.start - 10):gap.end + 10] = True
    present = np.zeros(frames, bool)
    offset = np.zeros((frames, 2))
    for _ in range(int(rng.integers(1, 3))):
        length = max(6, int(frames * rng.uniform(0.12, 0.4)))
        start = int(rng.integers(0, max(1, frames - length)))
        end = min(frames, start + length)
        if busy[start:end].any() or present[start:end].any():
            continue
        # Comes in from a side, covers part of the target for a while, and leaves the same way.
        angle = float(rng.uniform(0, 2 * math.pi))
        direction = np.array([math.cos(angle), math.sin(angle)])
        nearest = float(rng.uniform(0.35, 0.7))
        t = np.arange(end - start) / max(1, end - start - 1)  # 0..1
        approach = np.clip(np.minimum(t, 1 - t) / 0.3, 0, 1)  # 0 at the ends, 1 in the middle
        approach = (1 - np.cos(math.pi * approach)) / 2
        distance = 1.5 + (nearest - 1.5) * approach  # [L] in target sizes
        wobble = rng.uniform(-0.15, 0.15) * np.sin(2 * math.pi * t * rng.uniform(0.5, 2))
        normal = np.array([-direction[1], direction[0]])
        offset[start:end] = distance[:, None] * direction + wobble[:, None] * normal
        present[start:end] = True
    if not present.any():
        return None
    rgb, alpha = draw_hand(rng)
    return HandPlan(rgb=rgb, alpha=alpha, present=present, offset=offset,
                    size=float(rng.uniform(*settings.hand_size)))


def draw_hand(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A skin-coloured hand pointing up: ``[S, S*0.55, 3]`` uint8 RGB and ``[S, S*0.55]`` float32 alpha."""
    height, width = HAND_SIZE, round(HAND_SIZE * 0.55)
    scale = 8  # draw at 8x and shrink: smooth edges
    mask = np.zeros((height * scale, width * scale), np.uint8)
    s = float(scale)
    palm_top, palm_bottom = 0.42 * height, 0.78 * height
    # Forearm (cut at the bottom edge) and palm.
    cv2.rectangle(mask, (round(0.2 * width * s), round(0.7 * height * s)), (round(0.8 * width * s), height * scale),
                  255, -1)
    cv2.ellipse(mask, (round(0.5 * width * s), round((palm_top + palm_bottom) / 2 * s)),
                (round(0.42 * width * s), round((palm_bottom - palm_top) / 2 * s)), 0, 0, 360, 255, -1)
    # Four fingers of different lengths, and a thumb out to one side.
    finger_w = 0.16 * width
    lengths = np.array([0.3, 0.38, 0.36, 0.28]) * height * rng.uniform(0.9, 1.1, 4)
    spread = rng.uniform(-6, 6)
    gaps_between = []
    for k in range(4):
        x = (0.2 + 0.2 * k) * width
        tip_angle = math.radians(90 + spread * (k - 1.5))
        x_tip = x + math.cos(tip_angle) * lengths[k]
        y_tip = palm_top + 0.05 * height - math.sin(tip_angle) * lengths[k]
        cv2.line(mask, (round(x * s), round((palm_top + 0.05 * height) * s)), (round(x_tip * s), round(y_tip * s)),
                 255, round(finger_w * s))
        cv2.circle(mask, (round(x_tip * s), round(y_tip * s)), round(finger_w / 2 * s), 255, -1)
        gaps_between.append(((x + 0.1 * width) * s, (palm_top + 0.02 * height) * s))
    side = 1 if rng.random() < 0.5 else -1
    base = np.array([0.5 + side * 0.32, 0.62]) * (width, height)
    tip = base + np.array([side * 0.2 * width, -0.22 * height])
    cv2.line(mask, tuple(np.round(base * s).astype(int)), tuple(np.round(tip * s).astype(int)), 255,
             round(finger_w * 1.15 * s))
    cv2.circle(mask, tuple(np.round(tip * s).astype(int)), round(finger_w * 0.57 * s), 255, -1)
    alpha = cv2.resize(mask, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    # Skin: a tone in the range of human skin, shaded top to bottom with a little mottling; creases between
    # the fingers are darker.
    hue, sat, val = rng.uniform(6, 17), rng.uniform(60, 150), rng.uniform(110, 235)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    shade = 0.85 + 0.25 * np.cos((xs / width - 0.5) * math.pi) - 0.1 * ys / height
    noise = cv2.resize(rng.normal(0, 1, (12, 7)).astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    hsv = np.empty((height, width, 3), np.float32)
    hsv[..., 0] = hue
    hsv[..., 1] = np.clip(sat + 10 * noise, 0, 255)
    hsv[..., 2] = np.clip(val * shade + 6 * noise, 0, 255)
    rgb = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)
    edges = cv2.erode((alpha > 0.5).astype(np.uint8), np.ones((3, 3), np.uint8))
    rim = (alpha > 0.5) & (edges == 0)
    rgb[rim] = (rgb[rim] * 0.8).astype(np.uint8)
    return rgb, alpha


def perspective(width: int, height: int, rotation: float, tilt: tuple[float, float]) -> tuple[np.ndarray, int, int]:
    """The homography of a ``width`` x ``height`` patch turned in-plane by ``rotation`` and out of plane by ``tilt``
    (degrees) about its centre, seen by a pinhole camera ``FOCAL`` object sizes away.

    Returns:
        ``(matrix, pad_x, pad_y)``: ``[3, 3]`` float64 map from patch pixels to pixels of the output patch, which
        is the input patch grown by ``pad_x``/``pad_y`` on each side (so its centre stays put).
    """
    half = np.array([width / 2, height / 2])
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float64) - half  # [4, 2]
    yaw, pitch, roll = math.radians(tilt[0]), math.radians(tilt[1]), math.radians(rotation)
    turn_y = np.array([[math.cos(yaw), 0, math.sin(yaw)], [0, 1, 0], [-math.sin(yaw), 0, math.cos(yaw)]])
    turn_x = np.array([[1, 0, 0], [0, math.cos(pitch), -math.sin(pitch)], [0, math.sin(pitch), math.cos(pitch)]])
    points = np.concatenate([corners, np.zeros((4, 1))], axis=1) @ (turn_x @ turn_y).T  # [4, 3]
    focal = FOCAL * max(width, height)
    projected = focal * points[:, :2] / (focal + points[:, 2:])  # [4, 2]
    cos, sin = math.cos(roll), math.sin(roll)
    projected = projected @ np.array([[cos, -sin], [sin, cos]])  # counter-clockwise on screen (y down)
    pad_x = max(0, math.ceil(np.abs(projected[:, 0]).max() - width / 2)) + 1
    pad_y = max(0, math.ceil(np.abs(projected[:, 1]).max() - height / 2)) + 1
    target = projected + half + np.array([pad_x, pad_y])
    matrix = cv2.getPerspectiveTransform((corners + half).astype(np.float32), target.astype(np.float32))
    return matrix, pad_x, pad_y


def warp_patch(rgb: np.ndarray, alpha: np.ndarray, rotation: float,
               tilt: tuple[float, float]) -> tuple[np.ndarray, np.ndarray, int, int]:
    """``rgb``/``alpha`` turned (``perspective``); returns the grown patches and the padding added each side."""
    height, width = alpha.shape
    matrix, pad_x, pad_y = perspective(width, height, rotation, tilt)
    size = (width + 2 * pad_x, height + 2 * pad_y)
    rgb = cv2.warpPerspective(rgb, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpPerspective(alpha, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                borderValue=0.0)
    return rgb, alpha, pad_x, pad_y


def light_patch(rgb: np.ndarray, alpha: np.ndarray, gain: float, contrast: float) -> np.ndarray:
    """``rgb`` with brightness times ``gain`` and contrast times ``contrast`` about its mean inside ``alpha``."""
    if gain == 1 and contrast == 1:
        return rgb
    weight = float(alpha.sum())
    mean = (rgb * alpha[..., None]).reshape(-1, 3).sum(axis=0) / max(weight, 1e-6) if weight > 0 else rgb.mean((0, 1))
    out = (rgb.astype(np.float32) - mean) * contrast + mean * gain
    return np.clip(out, 0, 255).astype(np.uint8)
