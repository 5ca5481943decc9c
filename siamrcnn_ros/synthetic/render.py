"""Drawing one frame of a ``VideoPlan`` and reading its ground truth off the pixels.

Order of drawing: background (through the camera), objects from far to near (``depth``; each resized,
turned in and out of plane, relit and blurred as its ``ObjectLook`` says), the hand over the target, the
foreground occluders, then camera-shake blur. Ground truth comes from what was drawn:

* ``labels``: the object that owns each visible pixel (k + 1 for object k, 0 for background and
  occluders). A pixel belongs to the nearest object whose (blurred) shape covers it by more than
  half, so masks never overlap and a mask is exactly the object's visible pixels.
* ``boxes``: the *full* extent of each object's shape inside the image, occluded parts included
  (GOT-10k and LaSOT annotate the whole object when it is partly hidden), clipped to the image
  border (the part outside the image is not annotated). NaN rows for objects with no visible pixel:
  out of view or fully hidden behind other objects and occluders.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from siamrcnn_ros.synthetic.appearance import HandPlan, ObjectLook, light_patch, warp_patch
from siamrcnn_ros.synthetic.scene import VideoPlan
from siamrcnn_ros.synthetic.tracks import ObjectTrack

MAX_BLUR = 15
"""Longest motion-blur streak, pixels."""


@dataclass(frozen=True, eq=False)
class RenderedFrame:
    """One frame and its ground truth.

    Attributes:
        image: ``[H, W, 3]`` uint8 RGB.
        labels: ``[H, W]`` uint8, k + 1 where object k is visible, 0 elsewhere.
        boxes: ``[O, 4]`` float64 xyxy pixels (whole-pixel edges), NaN rows where absent.
        visible_ratio: ``[O]`` float64, visible pixels / shape pixels inside the image (0 when absent).
        cut_by_image: ``[O]`` bool, part of the shape lies outside the image.
        in_view: ``[O]`` bool, part of the shape lies inside the image (hidden or not): an absent
            object is *out of view* where this is False and *fully occluded* where it is True.
    """

    image: np.ndarray
    labels: np.ndarray
    boxes: np.ndarray
    visible_ratio: np.ndarray
    cut_by_image: np.ndarray
    in_view: np.ndarray


def render_frame(plan: VideoPlan, t: int) -> RenderedFrame:
    """Frame ``t`` (0-based) of ``plan``."""
    if not 0 <= t < plan.frames:
        raise IndexError(f'frame {t} out of range for a video of {plan.frames} frames')
    width, height = plan.image_size
    world_to_image = _world_to_image(plan, t)  # [2, 3]
    image = cv2.warpAffine(plan.background, world_to_image, (width, height), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT_101)
    labels = np.zeros((height, width), np.uint8)
    count = len(plan.objects)
    boxes = np.full((count, 4), np.nan)
    shape_pixels = np.zeros(count)
    cut = np.zeros(count, bool)
    for index in sorted(range(count), key=lambda k: plan.objects[k].depth):
        look = plan.looks[index] if plan.looks else None
        boxes[index], shape_pixels[index], cut[index] = _draw_object(plan, plan.objects[index], index, t, image,
                                                                     labels, look)
    if plan.hand is not None and plan.hand.present[t]:
        _draw_hand(plan, plan.hand, t, image, labels)
    if plan.foreground is not None:
        layer = cv2.warpAffine(plan.foreground, world_to_image, (width, height), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        # Hard-edged occluders: a copy instead of a full-frame blend keeps a frame at a few ms.
        front = layer[..., 3] > 127  # [H, W]
        image[front] = layer[..., :3][front]
        labels[front] = 0
    if plan.shake[t]:
        image = cv2.filter2D(image, -1, _line_kernel(5 + t % 5, (t * 2.399) % math.pi))
    visible = np.bincount(labels.ravel(), minlength=count + 1)[1:].astype(np.float64)  # [O]
    ratio = np.divide(visible, shape_pixels, out=np.zeros(count), where=shape_pixels > 0)
    boxes[visible == 0] = np.nan
    return RenderedFrame(image=image, labels=labels, boxes=boxes, visible_ratio=ratio, cut_by_image=cut,
                         in_view=shape_pixels > 0)


def _world_to_image(plan: VideoPlan, t: int) -> np.ndarray:
    """``[2, 3]`` float64 affine map of world pixels to image pixels at frame ``t``."""
    zoom = plan.camera.zoom[t]
    centre = plan.camera.centre[t]
    width, height = plan.image_size
    return np.array([[zoom, 0.0, width / 2 - zoom * centre[0]], [0.0, zoom, height / 2 - zoom * centre[1]]])


def _draw_object(plan: VideoPlan, track: ObjectTrack, index: int, t: int, image: np.ndarray,
                 labels: np.ndarray, look: ObjectLook | None = None) -> tuple[np.ndarray, float, bool]:
    """Draw one object into ``image``/``labels`` (in place).

    Returns:
        ``[4]`` xyxy box of its shape inside the image (NaN if none of it is inside), the number of
        its shape pixels inside the image, and whether part of it lies outside.
    """
    width, height = plan.image_size
    camera = plan.camera
    zoom = camera.zoom[t]
    centre = camera.to_image(track.position[t], t)
    w, h = track.sprite.size_at(track.scale[t], track.stretch[t])
    w_px, h_px = max(1, round(w * zoom)), max(1, round(h * zoom))
    left, top = round(centre[0] - w_px / 2), round(centre[1] - h_px / 2)
    nothing = np.full(4, np.nan), 0.0, True
    if left >= width + MAX_BLUR or top >= height + MAX_BLUR or left + w_px <= -MAX_BLUR or top + h_px <= -MAX_BLUR:
        return nothing
    shrink = w_px < track.sprite.rgb.shape[1]
    interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    rgb = cv2.resize(track.sprite.rgb, (w_px, h_px), interpolation=interpolation)
    alpha = cv2.resize(track.sprite.alpha, (w_px, h_px), interpolation=interpolation)
    if look is not None:
        if look.warps(t):
            rgb, alpha, pad_x, pad_y = warp_patch(rgb, alpha, float(look.rotation[t]), tuple(look.tilt[t]))
            left, top = left - pad_x, top - pad_y
        rgb = light_patch(rgb, alpha, float(look.gain[t]), float(look.contrast[t]))
        sigma = float(look.defocus[t]) * max(w_px, h_px) / 64
        if sigma >= 0.3:
            # Defocus blurs the object's edge too: the blurred shape is the one annotated, as with motion blur.
            pad = math.ceil(2 * sigma) + 1
            rgb = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
            alpha = cv2.copyMakeBorder(alpha, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0.0)
            rgb = cv2.GaussianBlur(rgb, (0, 0), sigma)
            alpha = cv2.GaussianBlur(alpha, (0, 0), sigma)
            left, top = left - pad, top - pad
    if t > 0:
        motion = centre - camera.to_image(track.position[t - 1], t - 1)  # image pixels per frame
        speed = float(np.hypot(*motion))
        if speed > plan.blur_speed:
            # Motion blur (an augmentation of paper §3.5, drawn here into the data): smear the object
            # and its alpha along its motion, so the blurred shape is the one annotated.
            length = min(MAX_BLUR, round(speed))
            pad = length // 2 + 1
            rgb = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
            alpha = cv2.copyMakeBorder(alpha, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0.0)
            kernel = _line_kernel(length, math.atan2(motion[1], motion[0]))
            rgb = cv2.filter2D(rgb, -1, kernel)
            alpha = cv2.filter2D(alpha, -1, kernel)
            left, top = left - pad, top - pad
    shape = alpha > 0.5  # [h, w]
    total = int(shape.sum())
    x0, y0 = max(0, left), max(0, top)
    x1, y1 = min(width, left + shape.shape[1]), min(height, top + shape.shape[0])
    if x1 <= x0 or y1 <= y0:
        return nothing
    inner = shape[y0 - top:y1 - top, x0 - left:x1 - left]  # [y1 - y0, x1 - x0]
    inside = int(inner.sum())
    if inside == 0:
        return nothing
    weight = alpha[y0 - top:y1 - top, x0 - left:x1 - left, None]  # [h', w', 1]
    patch = rgb[y0 - top:y1 - top, x0 - left:x1 - left].astype(np.float32)
    region = image[y0:y1, x0:x1]
    region[:] = (weight * patch + (1 - weight) * region).astype(np.uint8)
    labels[y0:y1, x0:x1][inner] = index + 1
    rows = np.flatnonzero(inner.any(axis=1))
    cols = np.flatnonzero(inner.any(axis=0))
    box = np.array([x0 + cols[0], y0 + rows[0], x0 + cols[-1] + 1, y0 + rows[-1] + 1], np.float64)
    return box, float(inside), inside < total


def _draw_hand(plan: VideoPlan, hand: HandPlan, t: int, image: np.ndarray, labels: np.ndarray) -> None:
    """Draw the hand over the target (in place): it takes the pixels it covers from every object."""
    width, height = plan.image_size
    target = plan.objects[0]
    zoom = plan.camera.zoom[t]
    centre = plan.camera.to_image(target.position[t], t)
    reach = max(target.sprite.size_at(target.scale[t], target.stretch[t])) * zoom  # the target's longer side
    offset = hand.offset[t]
    where = centre + offset * reach
    length = max(4, round(hand.size * reach))
    sprite_h, sprite_w = hand.alpha.shape
    w_px = max(2, round(length * sprite_w / sprite_h))
    rgb = cv2.resize(hand.rgb, (w_px, length), interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(hand.alpha, (w_px, length), interpolation=cv2.INTER_AREA)
    # Fingers point at the target: the hand's "up" is minus its offset direction.
    angle = math.degrees(math.atan2(offset[0], -offset[1])) if np.any(offset) else 0.0
    rgb, alpha, _, _ = warp_patch(rgb, alpha, -angle, (0.0, 0.0))
    left, top = round(where[0] - rgb.shape[1] / 2), round(where[1] - rgb.shape[0] / 2)
    x0, y0 = max(0, left), max(0, top)
    x1, y1 = min(width, left + rgb.shape[1]), min(height, top + rgb.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    weight = alpha[y0 - top:y1 - top, x0 - left:x1 - left, None]
    patch = rgb[y0 - top:y1 - top, x0 - left:x1 - left].astype(np.float32)
    region = image[y0:y1, x0:x1]
    region[:] = (weight * patch + (1 - weight) * region).astype(np.uint8)
    labels[y0:y1, x0:x1][weight[..., 0] > 0.5] = 0


def _line_kernel(length: int, angle: float) -> np.ndarray:
    """``[L, L]`` float32 kernel averaging along a line of ``length`` pixels at ``angle`` radians."""
    length = max(1, int(length))
    kernel = np.zeros((length, length), np.float32)
    half = (length - 1) / 2
    dx, dy = math.cos(angle) * half, math.sin(angle) * half
    cv2.line(kernel, (round(half - dx), round(half - dy)), (round(half + dx), round(half + dy)), 1.0, 1)
    return kernel / kernel.sum()
