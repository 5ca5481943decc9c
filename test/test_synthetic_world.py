"""The synthetic tracking world: determinism, the GOT-10k/LaSOT layouts read back by the project's
readers (and the GOT-10k toolkit), masks against boxes, and the hard cases it exists for: look-alike
distractors, long disappearances, camera motion, occlusion, scale change."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from siamrcnn_ros.boxes import xywh_to_xyxy
from siamrcnn_ros.datasets import list_sequences, open_sequence
from siamrcnn_ros.datasets.videos import read_training_videos
from siamrcnn_ros.synthetic import PRESETS, WorldSettings, make_world, plan_video, read_objects_json, render_frame
from siamrcnn_ros.synthetic.annotations import cover_label
from siamrcnn_ros.synthetic.cli import main
from siamrcnn_ros.synthetic.settings import SceneSettings

TINY = PRESETS['tiny']
SPLITS = ('train', 'val', 'test')


@pytest.fixture(scope='module')
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp('world')
    summary = make_world(root, TINY)
    assert not summary.skipped
    return root


def sequence_folders(root: Path) -> list[Path]:
    """Every sequence folder of a world: GOT-10k splits and LaSOT long-term videos."""
    folders = [root / split / name for split in SPLITS for name in (root / split / 'list.txt').read_text().split()]
    return folders + sorted(path.parent for path in (root / 'lasot').glob('*/*/img'))


def objects_of(folder: Path) -> dict:
    return json.loads((folder / 'objects.json').read_text())


def runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of every run of True in a [N] bool array."""
    padded = np.concatenate([[False], flags, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def test_world_layout_has_the_benchmark_files(world: Path) -> None:
    assert json.loads((world / 'world.json').read_text())['complete'] is True
    for split, count in (('train', TINY.train), ('val', TINY.val), ('test', TINY.test)):
        names = (world / split / 'list.txt').read_text().split()
        assert len(names) == count
        for name in names:
            folder = world / split / name
            for file in ('groundtruth.txt', 'absence.label', 'cover.label', 'cut_by_image.label', 'meta_info.ini',
                         'objects.json', '00000001.jpg', f'{TINY.frames:08d}.jpg', 'masks/00000001.png'):
                assert (folder / file).is_file(), folder / file
    long_term = sorted((world / 'lasot').glob('*/*/img'))
    assert len(long_term) == TINY.long_term
    folder = long_term[0].parent
    assert folder.name.startswith(folder.parent.name + '-')  # <class>/<class>-<n>
    for file in ('groundtruth.txt', 'full_occlusion.txt', 'out_of_view.txt', 'nlp.txt', 'objects.json',
                 f'img/{TINY.long_frames:08d}.jpg', f'masks/{TINY.long_frames:08d}.png'):
        assert (folder / file).is_file(), folder / file


def test_same_seed_gives_identical_files_and_other_seed_does_not(tmp_path: Path) -> None:
    settings = WorldSettings(train=1, val=1, test=0, long_term=1, frames=12, long_frames=40)
    roots = [tmp_path / 'a', tmp_path / 'b', tmp_path / 'c']
    make_world(roots[0], settings)
    make_world(roots[1], settings)
    make_world(roots[2], dataclasses.replace(settings, seed=1))
    files = sorted(path.relative_to(roots[0]) for path in roots[0].rglob('*') if path.is_file())
    assert len(files) > 50
    assert files == sorted(path.relative_to(roots[1]) for path in roots[1].rglob('*') if path.is_file())
    for relative in files:
        assert (roots[0] / relative).read_bytes() == (roots[1] / relative).read_bytes(), relative
    first = roots[0] / 'train' / 'Synthetic_Train_000001'
    other = roots[2] / 'train' / 'Synthetic_Train_000001'
    assert (first / '00000001.jpg').read_bytes() != (other / '00000001.jpg').read_bytes()


def test_got10k_splits_read_back_with_matching_boxes_and_absent_flags(world: Path) -> None:
    for split in SPLITS:
        sequences = list_sequences(world / split)
        assert [s.name for s in sequences] == (world / split / 'list.txt').read_text().split()
        for sequence in sequences:
            folder = world / split / sequence.name
            ids, boxes = read_objects_json(folder / 'objects.json')  # [O, N, 4]
            assert len(sequence) == TINY.frames == boxes.shape[1]
            target_absent = np.isnan(boxes[0, :, 0])
            np.testing.assert_array_equal(sequence.absent, target_absent)
            np.testing.assert_allclose(xywh_to_xyxy(sequence.ground_truth)[~target_absent], boxes[0, ~target_absent])
            assert not target_absent[0]  # the target is given in frame 1
            np.testing.assert_array_equal(sequence.ground_truth[target_absent], 0.0)  # '0,0,0,0' when absent
            absence = np.loadtxt(folder / 'absence.label')
            cover = np.loadtxt(folder / 'cover.label')
            np.testing.assert_array_equal(absence == 1, target_absent)
            np.testing.assert_array_equal(cover == 0, target_absent)
            assert ids == tuple(str(k) for k in range(len(ids)))


def test_got10k_toolkit_reads_the_splits(world: Path) -> None:
    got10k = pytest.importorskip('got10k.datasets')
    dataset = got10k.GOT10k(str(world), subset='val', return_meta=True)
    assert len(dataset) == TINY.val
    frames, annotation, meta = dataset[0]
    assert len(frames) == TINY.frames
    assert annotation.shape == (TINY.frames, 4)
    assert meta['resolution'] == '(320, 240)'
    assert meta['object_class'] in ('ellipse', 'rectangle', 'polygon')
    assert len(meta['cut_by_image']) == TINY.frames


def test_lasot_videos_read_back_with_matching_boxes_and_absent_flags(world: Path) -> None:
    sequences = list_sequences(world / 'lasot')
    assert len(sequences) == TINY.long_term
    folder = sorted((world / 'lasot').glob('*/*/img'))[0].parent
    sequence = open_sequence(folder)
    _, boxes = read_objects_json(folder / 'objects.json')
    target_absent = np.isnan(boxes[0, :, 0])
    np.testing.assert_array_equal(sequence.absent, target_absent)
    np.testing.assert_allclose(xywh_to_xyxy(sequence.ground_truth)[~target_absent], boxes[0, ~target_absent])
    occluded = np.array((folder / 'full_occlusion.txt').read_text().strip().split(','), int)
    out_of_view = np.array((folder / 'out_of_view.txt').read_text().strip().split(','), int)
    assert not np.any(occluded & out_of_view)  # each absent frame has one reason
    assert (folder / 'nlp.txt').read_text().strip().startswith('the ')


def test_training_reader_sees_every_object_and_mask(world: Path) -> None:
    videos = read_training_videos(world, 'synthetic', 'train')
    assert len(videos) == TINY.train
    video = videos[0]
    ids, boxes = read_objects_json(world / 'train' / video.name / 'objects.json')
    assert video.object_ids == ids
    np.testing.assert_array_equal(video.boxes, boxes)
    mask = video.read_mask(0)
    assert mask.shape == (240, 320)
    assert set(np.unique(mask).tolist()) <= set(range(len(ids) + 1))


def test_masks_lie_inside_boxes_and_absent_objects_have_no_pixels(world: Path) -> None:
    checked = 0
    for folder in sequence_folders(world):
        _, boxes = read_objects_json(folder / 'objects.json')  # [O, N, 4]
        frames = boxes.shape[1]
        for t in range(0, frames, max(1, frames // 25)):
            labels = cv2.imread(str(folder / 'masks' / f'{t + 1:08d}.png'), cv2.IMREAD_UNCHANGED)
            assert labels.dtype == np.uint8
            assert labels.ndim == 2
            assert labels.max() <= len(boxes)
            for k, box in enumerate(boxes[:, t]):
                rows, cols = np.nonzero(labels == k + 1)
                if np.isnan(box[0]):
                    assert rows.size == 0, (folder.name, t, k)
                    continue
                assert rows.size > 0, (folder.name, t, k)
                where = (folder.name, t, k)
                assert box[0] <= cols.min(), where
                assert cols.max() + 1 <= box[2], where
                assert box[1] <= rows.min(), where
                assert rows.max() + 1 <= box[3], where
                assert 0 <= box[0] < box[2] <= 320
                assert 0 <= box[1] < box[3] <= 240
                checked += 1
    assert checked > 200


def test_lookalikes_resemble_the_target_more_than_other_objects() -> None:
    """Mean colour of the visible pixels in frame 0: look-alikes sit close to the target, other
    objects far from it (the distractors Siam R-CNN's re-detection and TDPA are built for)."""
    close, far = [], []
    for seed in range(12):
        plan = plan_video(seed, 2, TINY.scene, TINY.gaps, long_term=False)
        frame = render_frame(plan, 0)
        means = [frame.image[frame.labels == k + 1].reshape(-1, 3).mean(axis=0)
                 if np.any(frame.labels == k + 1) else None for k in range(len(plan.objects))]
        for k, track in enumerate(plan.objects[1:], start=1):
            if means[k] is None:
                continue
            distance = float(np.linalg.norm(means[k] - means[0]))
            (close if track.role == 'lookalike' else far).append(distance)
            if track.role == 'lookalike':
                assert track.sprite.shape == plan.objects[0].sprite.shape
                assert track.sprite.texture.kind == plan.objects[0].sprite.texture.kind
    assert len(close) >= 12
    assert len(far) >= 6
    assert np.median(close) < 0.5 * np.median(far)


def test_long_term_video_loses_the_target_for_long_while_a_lookalike_stays(world: Path) -> None:
    folder = sorted((world / 'lasot').glob('*/*/img'))[0].parent
    document = objects_of(folder)
    target_absent = np.array([box is None for box in document['objects'][0]['boxes']])
    gaps = [(start, end) for start, end in runs(target_absent) if end - start >= 20]
    assert len(gaps) >= 2, runs(target_absent)
    lookalikes = [obj for obj in document['objects'] if obj['role'] == 'lookalike']
    assert lookalikes
    for start, end in gaps:
        seen = [any(obj['boxes'][t] is not None for obj in lookalikes) for t in range(start, end)]
        assert np.mean(seen) > 0.8
    # At the demo length the planned gaps last hundreds of frames.
    plan = plan_video(7, PRESETS['demo'].long_frames, TINY.scene, PRESETS['demo'].gaps, long_term=True)
    assert max(gap.end - gap.start for gap in plan.objects[0].gaps) >= 100


def test_world_holds_occlusion_truncation_and_scale_change(world: Path) -> None:
    partly, cut, size_ratio = 0, 0, []
    for folder in sequence_folders(world):
        target = objects_of(folder)['objects'][0]
        ratios = np.array(target['visible_ratio'])
        partly += int(np.sum((ratios > 0) & (ratios < 0.9)))
        if folder.parent.name in SPLITS:
            cut += int(np.loadtxt(folder / 'cut_by_image.label').sum())
        areas = [(b[2] - b[0]) * (b[3] - b[1]) for b in target['boxes'] if b is not None]
        size_ratio.append(max(areas) / min(areas))
    assert partly > 10
    assert cut > 0
    assert max(size_ratio) > 2.0


def test_camera_motion_moves_the_background() -> None:
    scene = SceneSettings(objects=(1, 1), lookalikes=(0, 0), occluders=(0, 0), zoom_range=(1.0, 1.0),
                          shake_probability=0.0)
    for seed in range(20):
        plan = plan_video(seed, 60, scene, TINY.gaps, long_term=False)
        shift = plan.camera.centre[40] - plan.camera.centre[0]
        if np.hypot(*shift) > 8:
            break
    else:
        pytest.fail('no seed with a moving camera among 20')
    first, later = (render_frame(plan, t) for t in (0, 40))
    gray = [cv2.cvtColor(frame.image, cv2.COLOR_RGB2GRAY).astype(np.float64) for frame in (first, later)]
    (dx, dy), _ = cv2.phaseCorrelate(gray[0], gray[1])
    # The world moves opposite to the camera in the image.
    np.testing.assert_allclose([dx, dy], -shift, atol=1.5)


def test_cover_label_bins() -> None:
    np.testing.assert_array_equal(cover_label(np.array([0.0, 0.01, 0.5, 0.99, 1.0])), [0, 1, 4, 7, 8])


def test_cli_skips_an_identical_world_and_refuses_other_settings(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    args = ['--root', str(tmp_path / 'w'), '--preset', 'tiny', '--train', '1', '--val', '0', '--test', '0',
            '--long-term', '0', '--frames', '5', '--size', '160x120', '--no-progress']
    assert main(args) == 0
    assert 'wrote' in capsys.readouterr().out
    frame = tmp_path / 'w' / 'train' / 'Synthetic_Train_000001' / '00000001.jpg'
    assert cv2.imread(str(frame)).shape == (120, 160, 3)
    stamp = frame.stat().st_mtime_ns
    assert main(args) == 0
    assert 'nothing to do' in capsys.readouterr().out
    assert frame.stat().st_mtime_ns == stamp
    assert main([*args, '--seed', '5']) == 1
    assert 'other settings' in capsys.readouterr().err
    assert main([*args, '--seed', '5', '--overwrite']) == 0
    assert json.loads((tmp_path / 'w' / 'world.json').read_text())['settings']['seed'] == 5


def test_cli_refuses_a_foreign_folder_and_bad_sizes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / 'notes.txt').write_text('mine')
    assert main(['--root', str(tmp_path), '--preset', 'tiny', '--no-progress']) == 1
    assert 'not empty' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(['--root', str(tmp_path / 'x'), '--size', '320'])
    with pytest.raises(ValueError, match='frames'):
        WorldSettings(frames=1)
