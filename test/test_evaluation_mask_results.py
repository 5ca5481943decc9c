"""Mask result folders (DAVIS layout), the DAVIS and synthetic-world ground-truth readers, the
DAVIS dataset scores and ``siamrcnn-eval --metrics davis`` on tiny hand-written fixtures."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from siamrcnn_ros.datasets.index_masks import read_index_mask, write_index_mask
from siamrcnn_ros.evaluation.cli import main
from siamrcnn_ros.evaluation.davis_metrics import evaluate_mask_folder
from siamrcnn_ros.evaluation.mask_ground_truth import list_mask_sequences
from siamrcnn_ros.evaluation.mask_results import (
    mask_result_path,
    read_mask_result,
    write_mask_result,
    write_mask_results,
)
from siamrcnn_ros.evaluation.results import write_results

SIZE = 40  # F's tolerance on 40 x 40: ceil(0.008 * 56.6) = 1 px
FRAMES = 6  # DAVIS scores frames 1..4


def davis_truth() -> np.ndarray:
    """``[H, W]`` annotation: object 1 a 4 x 4 square, object 2 a 6 x 6 square, a void (255) patch."""
    labels = np.zeros((SIZE, SIZE), dtype=np.uint8)
    labels[2:6, 2:6] = 1
    labels[20:26, 20:26] = 2
    labels[30:34, 2:6] = 255
    return labels


def make_davis(root: Path) -> Path:
    """A DAVIS root with sequence 'dance' (listed in val.txt) and 'other' (not listed)."""
    for name in ('dance', 'other'):
        for frame in range(FRAMES):
            write_index_mask(root / 'Annotations' / '480p' / name / f'{frame:05d}.png', davis_truth())
            image_dir = root / 'JPEGImages' / '480p' / name
            image_dir.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(image_dir / f'{frame:05d}.jpg'), np.zeros((SIZE, SIZE, 3), np.uint8))
    (root / 'ImageSets' / '2017').mkdir(parents=True)
    (root / 'ImageSets' / '2017' / 'val.txt').write_text('dance\n')
    return root


def make_davis_results(folder: Path) -> dict[str, Path]:
    """Result folders: 'perfect'; 'half' (object 2 missed in frames 1-2; frames 0 and 5 not
    written, as DAVIS never reads them); 'bleed' (object 1 also painted over the void patch)."""
    truth = davis_truth()
    clean = np.where(truth == 255, 0, truth)
    write_mask_results(folder / 'perfect', 'dance', [clean] * FRAMES)
    for frame in range(1, FRAMES - 1):
        write_mask_result(folder / 'half', 'dance', frame, np.where(clean == 2, 0, clean) if frame < 3 else clean)
    write_mask_results(folder / 'bleed', 'dance', [np.where(truth == 255, 1, truth)] * FRAMES)
    return {name: folder / name for name in ('perfect', 'half', 'bleed')}


def make_synthetic_split(split: Path, frames: int = 5) -> Path:
    """A synthetic-world split with one sequence: target (mask value 1) and a lookalike (value 2)."""
    folder = split / 'Synthetic_Test_000001'
    (folder / 'masks').mkdir(parents=True)
    for frame in range(frames):
        cv2.imwrite(str(folder / f'{frame + 1:08d}.jpg'), np.zeros((24, 24, 3), np.uint8))
        mask = np.zeros((24, 24), np.uint8)
        mask[2 + frame:8 + frame, 3:9] = 1
        mask[14:20, 14:22] = 2
        cv2.imwrite(str(folder / 'masks' / f'{frame + 1:08d}.png'), mask)
    objects = [{'id': '0', 'role': 'target', 'boxes': [[3, 2 + t, 9, 8 + t] for t in range(frames)]},
               {'id': '1', 'role': 'lookalike', 'boxes': [[14, 14, 22, 20]] * frames}]
    (folder / 'objects.json').write_text(json.dumps({'version': 1, 'image_size': [24, 24], 'frames': frames,
                                                     'objects': objects}))
    (split / 'list.txt').write_text('Synthetic_Test_000001\n')
    return split


def test_result_layout_round_trip(tmp_path: Path) -> None:
    labels = np.zeros((5, 7), dtype=np.uint8)
    labels[1:3, 2:5] = 2
    paths = write_mask_results(tmp_path, 'seq', [labels, labels + 1])
    assert paths == [tmp_path / 'seq' / '00000.png', tmp_path / 'seq' / '00001.png']
    assert mask_result_path(tmp_path, 'seq', 12) == tmp_path / 'seq' / '00012.png'
    np.testing.assert_array_equal(read_mask_result(tmp_path, 'seq', 1), labels + 1)
    np.testing.assert_array_equal(read_index_mask(paths[0]), labels)
    with pytest.raises(FileNotFoundError, match='frame 2'):
        read_mask_result(tmp_path, 'seq', 2)


def test_davis_reader(tmp_path: Path) -> None:
    root = make_davis(tmp_path / 'DAVIS')
    sequences = list_mask_sequences(root)
    assert [s.name for s in sequences] == ['dance']  # ImageSets/2017/val.txt
    dance = sequences[0]
    assert len(dance) == FRAMES
    assert dance.object_values == (1, 2)
    assert dance.void_value is None  # counted as background, as the public toolkit does
    assert len(dance.frames) == FRAMES
    np.testing.assert_array_equal(dance.read_truth(3), davis_truth())
    assert list_mask_sequences(root, ignore_void=True)[0].void_value == 255
    (root / 'ImageSets' / '2017' / 'val.txt').unlink()
    assert [s.name for s in list_mask_sequences(root)] == ['dance', 'other']


def test_synthetic_reader(tmp_path: Path) -> None:
    split = make_synthetic_split(tmp_path / 'test')
    target = list_mask_sequences(split)[0]
    assert (target.name, target.object_values, target.object_ids) == ('Synthetic_Test_000001', (1,), ('0',))
    assert len(target) == 5
    every = list_mask_sequences(split / 'Synthetic_Test_000001', objects='all')[0]
    assert (every.object_values, every.object_ids) == ((1, 2), ('0', '1'))
    with pytest.raises(ValueError, match='neither a DAVIS root'):
        list_mask_sequences(tmp_path)
    with pytest.raises(ValueError, match='objects must be one of'):
        list_mask_sequences(split, objects='lookalike')


def test_dataset_scores_mean_recall_decay(tmp_path: Path) -> None:
    folders = make_davis_results(tmp_path / 'results')
    sequences = list_mask_sequences(make_davis(tmp_path / 'DAVIS'))
    half = evaluate_mask_folder(folders['half'], sequences)
    summary = half.summary()
    # Object 1 perfect on frames 1-4; object 2 per frame J = F = J_box = 0, 0, 1, 1.
    assert (summary['sequences'], summary['objects'], summary['frames']) == (1, 2, 4)
    assert summary['davis_j_mean'] == pytest.approx(0.75)
    assert summary['davis_f_mean'] == pytest.approx(0.75)
    assert summary['davis_jf'] == pytest.approx(0.75)
    assert summary['davis_j_box'] == pytest.approx(0.75)
    assert summary['davis_j_recall'] == pytest.approx(0.75)
    # Four frames: bins 0-1 and 2-3; object 2 decays by 0 - 1 = -1, object 1 by 0.
    assert summary['davis_j_decay'] == pytest.approx(-0.5)
    assert half.objects[1].frames.tolist() == [1, 2, 3, 4]
    np.testing.assert_allclose(half.objects[1].j, [0, 0, 1, 1])


def test_void_pixels_count_as_background_unless_ignored(tmp_path: Path) -> None:
    folders = make_davis_results(tmp_path / 'results')
    root = make_davis(tmp_path / 'DAVIS')
    bleed = evaluate_mask_folder(folders['bleed'], list_mask_sequences(root)).objects[0]
    # Object 1: 16 true pixels plus 16 predicted on the void patch, far from the true boundary.
    np.testing.assert_allclose(bleed.j, 0.5)
    np.testing.assert_allclose(bleed.f, 2 / 3)  # precision 1/2, recall 1
    np.testing.assert_allclose(bleed.j_box, 16 / 128)
    ignored = evaluate_mask_folder(folders['bleed'], list_mask_sequences(root, ignore_void=True)).objects[0]
    np.testing.assert_allclose([ignored.j, ignored.f, ignored.j_box], 1.0)


def test_siamrcnn_eval_davis_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folders = make_davis_results(tmp_path / 'results')
    root = make_davis(tmp_path / 'DAVIS')
    assert main(['--dataset', str(root), str(folders['perfect']), str(folders['half']), '--metrics', 'davis',
                 '--json', str(tmp_path / 'davis.json'), '--no-progress']) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ['Tracker', 'Seqs', 'J', 'F', 'J&F', 'J_box']
    assert lines[2].split() == ['perfect', '1', '1.000', '1.000', '1.000', '1.000']
    assert lines[3].split() == ['half', '1', '0.750', '0.750', '0.750', '0.750']
    assert lines[-1].startswith('evaluated 2 tracker(s) on 1 sequences (2 objects, 4 frames); wrote ')
    document = json.loads((tmp_path / 'davis.json').read_text())
    assert document['metrics'] == ['davis']
    half = document['trackers'][1]
    assert half['summary']['davis_jf'] == pytest.approx(0.75)
    assert [(o['object'], o['j_mean'], o['j_decay']) for o in half['per_object']] == [('1', 1.0, 0.0),
                                                                                        ('2', 0.5, -1.0)]

    # Void ignored: 'bleed' scores as 'perfect'.
    assert main(['--dataset', str(root), str(folders['bleed']), '--metrics', 'davis', '--no-progress',
                 '--davis-ignore-void']) == 0
    assert capsys.readouterr().out.splitlines()[2].split()[2:] == ['1.000', '1.000', '1.000', '1.000']


def test_siamrcnn_eval_davis_on_synthetic_world(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    split = make_synthetic_split(tmp_path / 'test')
    sequence = list_mask_sequences(split)[0]
    target_only = [np.where(sequence.read_truth(t) == 1, 1, 0) for t in range(len(sequence))]
    write_mask_results(tmp_path / 'track', sequence.name, target_only)
    assert main(['--dataset', str(split), str(tmp_path / 'track'), '--metrics', 'davis', '--no-progress']) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2].split() == ['track', '1', '1.000', '1.000', '1.000', '1.000']
    assert out[-1] == 'evaluated 1 tracker(s) on 1 sequences (1 objects, 3 frames)'
    # Every object: the lookalike (value 2) is never predicted, J = F = 0 on its frames.
    assert main(['--dataset', str(split), str(tmp_path / 'track'), '--metrics', 'davis', '--no-progress',
                 '--mask-objects', 'all', '--mask-frames', 'after_first']) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2].split() == ['track', '1', '0.500', '0.500', '0.500', '0.500']
    assert out[-1] == 'evaluated 1 tracker(s) on 1 sequences (2 objects, 4 frames)'


@pytest.mark.parametrize(('extra', 'message'), [
    (['--mask-frames', 'all'], 'no mask result for sequence'),  # 'half' has no frame 0
    (['--metrics', 'davis,success'], 'cannot be combined'),
    (['--plot', 'curve.png'], 'davis has none'),
    (['--metrics', 'eao'], 'subset of'),
])
def test_siamrcnn_eval_davis_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str],
                                    message: str) -> None:
    folders = make_davis_results(tmp_path / 'results')
    root = make_davis(tmp_path / 'DAVIS')
    metrics = [] if '--metrics' in extra else ['--metrics', 'davis']
    assert main(['--dataset', str(root), str(folders['half']), *metrics, *extra, '--no-progress']) == 1
    assert message in capsys.readouterr().err


def test_siamrcnn_eval_davis_refuses_unknown_objects(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_davis(tmp_path / 'DAVIS')
    labels = np.where(davis_truth() == 255, 3, davis_truth())  # object 3 does not exist
    write_mask_results(tmp_path / 'extra', 'dance', [labels] * FRAMES)
    assert main(['--dataset', str(root), str(tmp_path / 'extra'), '--metrics', 'davis', '--no-progress']) == 1
    assert 'only objects 1..2 exist' in capsys.readouterr().err


def test_box_results_get_j_box_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    split = make_synthetic_split(tmp_path / 'test')
    # Target box xyxy (3, 2 + t, 9, 8 + t); the tracker's box is 2 px too tall from frame 1 on
    # (IoU 36/48), and says "no box" (zero size) on frame 3.
    boxes = np.array([[3, 2 + t, 6, 6 if t == 0 else 8] for t in range(5)], dtype=np.float64)
    boxes[3] = [0, 0, 0, 0]
    write_results(tmp_path / 'boxes', 'Synthetic_Test_000001', boxes)
    assert main(['--dataset', str(split), str(tmp_path / 'boxes'), '--metrics', 'davis', '--no-progress',
                 '--mask-frames', 'after_first', '--json', str(tmp_path / 'boxes.json')]) == 0
    row = capsys.readouterr().out.splitlines()[2].split()
    assert row[:5] == ['boxes', '1', '-', '-', '-']
    assert float(row[5]) == pytest.approx(np.mean([36 / 48, 36 / 48, 0, 36 / 48]), abs=5e-4)
    summary = json.loads((tmp_path / 'boxes.json').read_text())['trackers'][0]['summary']
    assert summary['davis_j_box'] == pytest.approx(np.mean([36 / 48, 36 / 48, 0, 36 / 48]))
    assert summary['davis_jf'] is None
    assert main(['--dataset', str(split), str(tmp_path / 'boxes'), '--metrics', 'davis', '--no-progress',
                 '--mask-objects', 'all']) == 1
    assert 'box results hold one object' in capsys.readouterr().err
    (tmp_path / 'empty').mkdir()
    assert main(['--dataset', str(split), str(tmp_path / 'empty'), '--metrics', 'davis', '--no-progress']) == 1
    error = capsys.readouterr().err
    assert 'no mask result for sequence' in error
    assert 'no results for sequence' in error  # nor a box result file
