"""Writing one planned video to disk in the GOT-10k or the LaSOT layout, frame by frame.

GOT-10k sequence folder ``<root>/<split>/<seq>/``::

    00000001.jpg ...          frames
    groundtruth.txt           target x,y,w,h per frame ('%.4f', commas), 0,0,0,0 where absent;
                              every frame annotated in every split (the real test split gives only frame 1)
    absence.label             1 where the target is absent (nothing of it visible), else 0
    cover.label               visible ratio 0..8 (``annotations.cover_label``)
    cut_by_image.label        1 where part of the target lies outside the image
    meta_info.ini             '[METAINFO]' then 'key: value' lines (object_class = target shape, ...)
    objects.json              every object's boxes (``annotations``)
    masks/00000001.png        8-bit one-channel PNG: k + 1 = object k visible, 0 = background/occluder

LaSOT sequence folder ``<root>/lasot/<class>/<class>-<n>/`` (class = the target's shape)::

    img/00000001.jpg ...      frames
    groundtruth.txt           target x,y,w,h per frame (integers, commas), 0,0,0,0 where absent
    full_occlusion.txt        one line of 0/1 (commas): absent while part of its shape is in the image
    out_of_view.txt           one line of 0/1: absent with its whole shape outside the image
    nlp.txt                   one sentence naming the target
    objects.json, masks/00000001.png    as above
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from siamrcnn_ros.synthetic.annotations import (
    VideoTruth,
    cover_label,
    flag_line,
    label_lines,
    objects_document,
    write_objects_json,
    xywh_lines,
)
from siamrcnn_ros.synthetic.render import render_frame
from siamrcnn_ros.synthetic.scene import VideoPlan

LAYOUTS = ('got10k', 'lasot')
HUE_NAMES = ((10, 'red'), (22, 'orange'), (35, 'yellow'), (78, 'green'), (100, 'cyan'), (130, 'blue'),
             (160, 'purple'), (180, 'red'))
"""Upper OpenCV hue bound (0..180) of each colour name, for ``nlp.txt``."""


def frame_name(index: int, suffix: str) -> str:
    """The file name of frame ``index`` (0-based): ``00000001.jpg`` for index 0."""
    return f'{index + 1:08d}{suffix}'


def write_video(plan: VideoPlan, folder: Path, layout: str, *, jpeg_quality: int, meta: dict[str, str],
                on_frame: Callable[[], None] | None = None) -> VideoTruth:
    """Render every frame of ``plan`` into ``folder`` (created) with its annotation files.

    Args:
        layout: ``'got10k'`` or ``'lasot'`` (see the module docstring).
        meta: extra ``meta_info.ini`` entries (GOT-10k only), e.g. ``{'url': ...}``.
        on_frame: called after each frame (progress bars).

    Returns:
        The truth of every frame.
    """
    if layout not in LAYOUTS:
        raise ValueError(f'layout must be one of {LAYOUTS}, got {layout!r}')
    image_dir = folder / 'img' if layout == 'lasot' else folder
    mask_dir = folder / 'masks'
    image_dir.mkdir(parents=True, exist_ok=True)
    mask_dir.mkdir(parents=True, exist_ok=True)
    truth = VideoTruth()
    jpeg = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]
    for t in range(plan.frames):
        frame = render_frame(plan, t)
        if not cv2.imwrite(str(image_dir / frame_name(t, '.jpg')), cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR), jpeg):
            raise OSError(f'cannot write {image_dir / frame_name(t, ".jpg")}')
        cv2.imwrite(str(mask_dir / frame_name(t, '.png')), frame.labels)
        truth.add(frame)
        if on_frame is not None:
            on_frame()
    write_objects_json(folder / 'objects.json', objects_document(plan, truth))
    if layout == 'got10k':
        _write_got10k_files(plan, folder, truth, meta)
    else:
        _write_lasot_files(plan, folder, truth)
    return truth


def _write_got10k_files(plan: VideoPlan, folder: Path, truth: VideoTruth, meta: dict[str, str]) -> None:
    boxes, ratio, cut, _ = truth.target()
    absent = np.isnan(boxes[:, 0])
    (folder / 'groundtruth.txt').write_text(xywh_lines(boxes, '.4f'))
    (folder / 'absence.label').write_text(label_lines(absent))
    (folder / 'cover.label').write_text(label_lines(cover_label(np.where(absent, 0.0, ratio))))
    (folder / 'cut_by_image.label').write_text(label_lines(cut & ~absent))
    width, height = plan.image_size
    seconds = plan.frames // 10  # annotated at 10 Hz, as GOT-10k
    entries = {
        'url': 'synthetic',
        'begin': '00:00:00',
        'end': f'{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}',
        'anno_fps': '10Hz',
        'object_class': plan.objects[0].sprite.shape,
        'motion_class': 'synthetic',
        'major_class': 'synthetic',
        'root_class': 'object',
        'motion_adverb': 'smoothly',
        'resolution': f'({width}, {height})',
        **meta,
    }
    (folder / 'meta_info.ini').write_text('[METAINFO]\n' + ''.join(f'{k}: {v}\n' for k, v in entries.items()))


def _write_lasot_files(plan: VideoPlan, folder: Path, truth: VideoTruth) -> None:
    boxes, _, _, in_view = truth.target()
    absent = np.isnan(boxes[:, 0])
    (folder / 'groundtruth.txt').write_text(xywh_lines(boxes, '.0f'))
    (folder / 'full_occlusion.txt').write_text(flag_line(absent & in_view))
    (folder / 'out_of_view.txt').write_text(flag_line(absent & ~in_view))
    (folder / 'nlp.txt').write_text(describe_target(plan) + '\n')


def describe_target(plan: VideoPlan) -> str:
    """A sentence naming the target, as LaSOT's ``nlp.txt`` holds (e.g. 'green striped ellipse')."""
    sprite = plan.objects[0].sprite
    if sprite.texture is not None:
        main = sprite.texture.colours[None, :1]
        pattern = {'noise': 'mottled', 'stripes': 'striped', 'checker': 'checkered', 'spots': 'spotted',
                   'gradient': 'shaded'}[sprite.texture.kind]
    else:  # a photo sprite: its mean colour inside the shape
        inside = sprite.alpha > 0.5
        main = sprite.rgb[inside].mean(axis=0).round().astype(np.uint8)[None, None]
        pattern = 'photographic'
    hsv = cv2.cvtColor(main, cv2.COLOR_RGB2HSV)[0, 0]
    colour = 'grey' if hsv[1] < 50 else next(name for bound, name in HUE_NAMES if hsv[0] < bound)
    lookalikes = sum(track.role == 'lookalike' for track in plan.objects)
    crowd = f' among {lookalikes} look-alike{"s" if lookalikes > 1 else ""}' if lookalikes else ''
    return f'the {colour} {pattern} {sprite.shape}{crowd}'
