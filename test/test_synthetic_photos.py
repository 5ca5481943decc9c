"""The photo world: real photographs as backgrounds and object paint, appearance changes over time, the hand."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from siamrcnn_ros.synthetic import PRESETS, make_world, plan_video, render_frame
from siamrcnn_ros.synthetic.appearance import draw_hand, perspective, warp_patch
from siamrcnn_ros.synthetic.photos import SUFFIXES, PhotoCrop, load_photos, paint_crop, photo_names
from siamrcnn_ros.synthetic.settings import AppearanceSettings
from siamrcnn_ros.synthetic.sprites import lookalike_sprite, random_photo_sprite

TINY_PHOTO = PRESETS['tiny_photo']


def _plan(seed: int, appearance: AppearanceSettings, frames: int = 30, long_term: bool = False):
    return plan_video(seed, frames, TINY_PHOTO.scene, TINY_PHOTO.gaps, long_term=long_term, appearance=appearance)


def test_photos_are_real_colour_pictures_from_the_packages() -> None:
    photos = load_photos()
    names = [photo.name for photo in photos]
    assert {'skimage/astronaut.png', 'skimage/chelsea.png', 'skimage/coffee.png', 'sklearn/china.jpg',
            'sklearn/flower.jpg'} <= set(names)
    assert len(names) == len(set(names)) >= 8
    assert all(Path(name).suffix.lower() in SUFFIXES for name in names)  # stills only, never videos
    assert 'skimage/camera.png' not in names  # grey
    assert 'skimage/logo.png' not in names  # not a photograph
    for photo in photos:
        assert photo.rgb.dtype == np.uint8
        assert photo.rgb.ndim == 3
        assert photo.rgb.shape[2] == 3
        assert min(photo.rgb.shape[:2]) >= 100
        assert photo.rgb.std() > 20  # real content, not flat
        small = photo.rgb[::8, ::8].astype(np.int16)
        assert np.abs(small[..., 0] - small[..., 2]).mean() > 2  # colour
    assert photo_names() == names


def test_crops_are_deterministic_and_flip() -> None:
    crop = PhotoCrop(photo=1, window=(40.0, 30.0, 120.0, 80.0), flip=False)
    first = paint_crop(crop, 60, 40)
    np.testing.assert_array_equal(first, paint_crop(crop, 60, 40))
    assert first.shape == (40, 60, 3)
    assert first.std() > 5
    flipped = paint_crop(dataclasses.replace(crop, flip=True), 60, 40)
    assert np.abs(flipped.astype(int) - first[:, ::-1].astype(int)).mean() < 3
    # Up-sampling (a window smaller than the output) goes the other resampling path; same content.
    big = paint_crop(crop, 240, 160)
    assert np.abs(cv2.resize(big, (60, 40), interpolation=cv2.INTER_AREA).astype(int) - first.astype(int)).mean() < 6
    recoloured = paint_crop(dataclasses.replace(crop, hue=20.0), 60, 40)
    assert 0 < np.abs(recoloured.astype(int) - first.astype(int)).mean() < 40


def test_lookalikes_are_near_identical_photo_crops() -> None:
    rng = np.random.default_rng(3)
    closer = 0
    for _ in range(12):
        target = random_photo_sprite(rng, 40.0)
        twin = lookalike_sprite(rng, target, 12.0)
        other = random_photo_sprite(rng, 40.0)
        assert twin.photo is not None
        assert twin.photo.photo == target.photo.photo
        assert twin.shape == target.shape

        def distance(sprite, target=target) -> float:
            """Mean colour difference at 8x8 (a neighbouring crop differs in detail, not in its look)."""
            small = [cv2.resize(s.rgb, (8, 8), interpolation=cv2.INTER_AREA).astype(int) for s in (sprite, target)]
            return float(np.abs(small[0] - small[1]).mean())

        closer += distance(twin) < distance(other)
        assert distance(twin) < 40
    assert closer >= 10


def test_photo_world_frames_look_real_and_are_deterministic() -> None:
    plan = _plan(11, TINY_PHOTO.appearance)
    assert all(track.sprite.photo is not None for track in plan.objects)
    frame = render_frame(plan, 5)
    assert frame.image.std() > 25
    again = render_frame(_plan(11, TINY_PHOTO.appearance), 5)
    np.testing.assert_array_equal(frame.image, again.image)
    np.testing.assert_array_equal(frame.boxes, again.boxes)
    assert not np.array_equal(frame.image, render_frame(_plan(12, TINY_PHOTO.appearance), 5).image)


def test_procedural_presets_have_no_photos_or_changes() -> None:
    for name in ('tiny', 'shapes'):
        assert not PRESETS[name].appearance.photos
        assert not PRESETS[name].appearance.changes_over_time
    plan = plan_video(5, 20, PRESETS['tiny'].scene, PRESETS['tiny'].gaps, long_term=False,
                      appearance=PRESETS['tiny'].appearance)
    assert plan.looks == ()
    assert plan.hand is None
    assert plan.objects[0].sprite.photo is None
    for name in ('demo', 'train', 'tiny_photo'):
        assert PRESETS[name].appearance.photos
        assert PRESETS[name].appearance.changes_over_time
    assert PRESETS['train'].scene == PRESETS['demo'].scene
    assert PRESETS['train'].train > PRESETS['demo'].train
    assert dataclasses.replace(PRESETS['shapes'], appearance=PRESETS['demo'].appearance) == PRESETS['demo']


def test_perspective_keeps_an_untouched_patch_and_turns_corners() -> None:
    matrix, pad_x, pad_y = perspective(40, 20, 0.0, (0.0, 0.0))
    corners = cv2.perspectiveTransform(np.array([[[0, 0], [40, 20]]], np.float32), matrix)[0]
    np.testing.assert_allclose(corners, [[pad_x, pad_y], [40 + pad_x, 20 + pad_y]], atol=1e-3)
    # A quarter turn swaps the extents; a tilt about the vertical axis narrows the patch.
    _, alpha, _, _ = warp_patch(np.zeros((20, 40, 3), np.uint8), np.ones((20, 40), np.float32), 90.0, (0.0, 0.0))
    rows, cols = np.flatnonzero((alpha > 0.5).any(axis=1)), np.flatnonzero((alpha > 0.5).any(axis=0))
    assert abs((rows[-1] - rows[0] + 1) - 40) <= 1
    assert abs((cols[-1] - cols[0] + 1) - 20) <= 1
    _, alpha, _, _ = warp_patch(np.zeros((20, 40, 3), np.uint8), np.ones((20, 40), np.float32), 0.0, (50.0, 0.0))
    cols = np.flatnonzero((alpha > 0.5).any(axis=0))
    assert 20 < cols[-1] - cols[0] + 1 < 32


def test_boxes_are_the_extent_of_the_drawn_shape_under_rotation_and_perspective() -> None:
    turning = AppearanceSettings(rotation_probability=1.0, tilt_probability=1.0, lighting_probability=1.0,
                                 defocus_probability=1.0, hand_probability=0.0)
    checked = 0
    for seed in range(3):
        plan = _plan(seed, turning)
        assert all(look is not None for look in plan.looks)
        for t in range(0, plan.frames, 3):
            frame = render_frame(plan, t)
            for index in range(len(plan.objects)):
                pixels = frame.labels == index + 1
                if not pixels.any():
                    assert np.isnan(frame.boxes[index, 0])
                    continue
                ys, xs = np.nonzero(pixels)
                box = frame.boxes[index]
                # Every visible pixel lies in the box; an object seen whole fills it exactly.
                assert box[0] <= xs.min()
                assert box[1] <= ys.min()
                assert xs.max() < box[2]
                assert ys.max() < box[3]
                if frame.visible_ratio[index] == 1.0 and not frame.cut_by_image[index]:
                    np.testing.assert_array_equal(box, [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
                    checked += 1
    assert checked > 20
    # The looks change over time: the target's rotation differs between the first and the last frame.
    look = plan.looks[0]
    assert look.rotation[0] != look.rotation[-1]
    assert np.all(np.abs(np.diff(look.rotation)) < 5)


def test_a_hand_covers_part_of_the_target_at_times() -> None:
    rgb, alpha = draw_hand(np.random.default_rng(0))
    assert rgb.shape[:2] == alpha.shape
    assert 0.3 < alpha.mean() < 0.8
    skin = rgb[alpha > 0.9].mean(axis=0)
    assert skin[0] > skin[2]  # reddish, not blue
    hands = AppearanceSettings(hand_probability=1.0, rotation_probability=0.0, tilt_probability=0.0,
                               lighting_probability=0.0, defocus_probability=0.0)
    covered = 0
    for seed in range(4):
        plan = _plan(seed, hands, frames=60)
        if plan.hand is None:
            continue
        assert not plan.hand.present[:5].any()
        for t in np.flatnonzero(plan.hand.present)[::4]:
            frame = render_frame(plan, int(t))
            covered += 0 < frame.visible_ratio[0] < 0.97
    assert covered >= 2


def test_world_records_its_photos_and_notices_other_photos(tmp_path: Path) -> None:
    settings = TINY_PHOTO.with_overrides(train=1, val=0, test=0, long_term=0, frames=6)
    summary = make_world(tmp_path, settings)
    assert not summary.skipped
    document = json.loads((tmp_path / 'world.json').read_text())
    assert document['photos'] == {'count': len(load_photos()), 'names': photo_names()}
    assert document['settings']['appearance']['photos'] is True
    assert (tmp_path / 'train' / 'Synthetic_Train_000001' / '00000006.jpg').is_file()
    assert make_world(tmp_path, settings).skipped
    # A world painted from another photo library (another machine, opencv-doc missing) is not silently reused.
    document['photos'] = {'count': 1, 'names': ['skimage/chelsea.png']}
    (tmp_path / 'world.json').write_text(json.dumps(document))
    with pytest.raises(FileExistsError, match='other photos'):
        make_world(tmp_path, settings)
    assert not make_world(tmp_path, settings, overwrite=True).skipped
    # Procedural worlds record no photos.
    shapes = tmp_path / 'shapes'
    make_world(shapes, PRESETS['tiny'].with_overrides(train=1, val=0, test=0, long_term=0, frames=4))
    assert 'photos' not in json.loads((shapes / 'world.json').read_text())
