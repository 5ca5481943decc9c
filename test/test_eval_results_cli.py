"""Result files (write/read round trip in both layouts, errors), plots, and ``siamrcnn-eval`` end to
end as a subprocess on a tiny OTB-layout dataset with two result folders."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import REPO_ROOT

from siamrcnn_ros.datasets import Sequence
from siamrcnn_ros.evaluation import aggregate, evaluate_sequence, read_results, read_times, write_results
from siamrcnn_ros.evaluation.plots import plot_precision, plot_success


@pytest.mark.parametrize('layout', ['otb', 'got10k'])
def test_results_round_trip(tmp_path: Path, layout: str) -> None:
    rng = np.random.default_rng(0)
    boxes = rng.uniform(0, 500, (7, 4))
    boxes[3] = np.nan
    confidences = rng.uniform(0, 1, 7)
    times = rng.uniform(0.01, 0.1, 7)
    written = write_results(tmp_path / 'tracker', 'seq-1', boxes, confidences, times, layout=layout)
    expected = {'otb': ['seq-1.txt', 'seq-1_confidence.value', 'seq-1_time.txt'],
                'got10k': ['seq-1/seq-1_001.txt', 'seq-1/seq-1_001_confidence.value', 'seq-1/seq-1_time.txt']}
    assert [str(p.relative_to(tmp_path / 'tracker')) for p in written] == expected[layout]
    assert written[0].read_text().splitlines()[3] == 'nan,nan,nan,nan'

    read_boxes, read_confidences = read_results(tmp_path / 'tracker', 'seq-1')
    np.testing.assert_allclose(read_boxes, boxes, rtol=1e-9, equal_nan=True)
    np.testing.assert_allclose(read_confidences, confidences, rtol=1e-9)
    np.testing.assert_allclose(read_times(tmp_path / 'tracker', 'seq-1'), times, rtol=1e-9)


def test_results_without_confidences_and_errors(tmp_path: Path) -> None:
    write_results(tmp_path, 'plain', np.ones((3, 4)))
    boxes, confidences = read_results(tmp_path, 'plain')
    assert boxes.shape == (3, 4)
    assert confidences is None
    assert read_times(tmp_path, 'plain') is None
    with pytest.raises(FileNotFoundError, match=r'missing\.txt or .*missing/missing_001\.txt'):
        read_results(tmp_path, 'missing')
    with pytest.raises(ValueError, match=r'confidences must be \[3\]'):
        write_results(tmp_path, 'bad', np.ones((3, 4)), confidences=np.ones(2))
    with pytest.raises(ValueError, match='result layout'):
        write_results(tmp_path, 'bad', np.ones((3, 4)), layout='vot')
    (tmp_path / 'short_confidence.value').write_text('0.5\n')
    (tmp_path / 'short.txt').write_text('1,2,3,4\n1,2,3,4\n')
    with pytest.raises(ValueError, match=r'short_confidence\.value: 1 values for 2 boxes'):
        read_results(tmp_path, 'short')


def test_plots_are_png_files(tmp_path: Path) -> None:
    truth = np.array([[1, 1, 10, 10]] * 4, dtype=np.float64)
    sequence = Sequence(name='s', frames=[Path('x.jpg')] * 4, video=None, ground_truth=truth, absent=None)
    good = aggregate('good', [evaluate_sequence(sequence, truth, None, ['success', 'precision'])])
    shifted = truth + np.array([3.0, 0, 0, 0])
    bad = aggregate('bad', [evaluate_sequence(sequence, shifted, None, ['success', 'precision'])])
    for path in (plot_success([bad, good], tmp_path / 'success.png'),
                 plot_precision([bad, good], tmp_path / 'precision.png')):
        image = cv2.imread(str(path))
        assert image is not None
        assert image.shape == (480, 640, 3)
    only_got10k = aggregate('g', [evaluate_sequence(sequence, truth, None, ['got10k'])])
    assert plot_success([only_got10k], tmp_path / 'got10k.png').is_file()
    with pytest.raises(ValueError, match='no precision curve'):
        plot_precision([only_got10k], tmp_path / 'none.png')


def make_dataset(root: Path) -> dict[str, np.ndarray]:
    """Two OTB sequences of 16x16 frames; returns the ground truth per sequence."""
    truths = {}
    for name, length in (('Alpha', 5), ('Beta', 4)):
        (root / name / 'img').mkdir(parents=True)
        for index in range(length):
            cv2.imwrite(str(root / name / 'img' / f'{index + 1:04d}.png'), np.zeros((16, 16, 3), np.uint8))
        truth = np.array([[1 + i, 2, 6, 5] for i in range(length)], dtype=np.float64)
        np.savetxt(root / name / 'groundtruth_rect.txt', truth, fmt='%d', delimiter=',')
        truths[name] = truth
    return truths


def run_eval(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'siamrcnn_ros.evaluation.cli', *args], capture_output=True,
                          text=True, timeout=120, cwd=REPO_ROOT)


def test_siamrcnn_eval_end_to_end(tmp_path: Path) -> None:
    truths = make_dataset(tmp_path / 'otb')
    for name, truth in truths.items():
        confidences = np.ones(len(truth))
        write_results(tmp_path / 'perfect', name, truth, confidences, np.full(len(truth), 0.05))
        shifted = truth + np.array([3.0, 0, 0, 0])  # IoU 3/9 = 1/3, 3 px off
        write_results(tmp_path / 'shifted', name, shifted, confidences, layout='got10k')
    result = run_eval('--dataset', str(tmp_path / 'otb'), str(tmp_path / 'perfect'), str(tmp_path / 'shifted'),
                      '--metrics', 'success,precision,got10k,vot_lt,oxuva', '--plot', str(tmp_path / 'success.png'),
                      '--json', str(tmp_path / 'out.json'), '--no-progress')
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ['Tracker', 'Seqs', 'AUC', 'Prec@20', 'AO', 'SR.50', 'SR.75', 'LT-Pr', 'LT-Re', 'LT-F',
                                'TPR', 'TNR', 'MaxGM', 'FPS']
    perfect = lines[2].split()
    assert perfect[:5] == ['perfect', '2', '0.952', '1.000', '1.000']  # AUC 20/21: IoU 1 fails only at t = 1
    assert perfect[-1] == '20.000'
    shifted = lines[3].split()
    assert shifted[:2] == ['shifted', '2']
    assert shifted[-4:-1] == ['0.000', '-', '-']  # TPR 0 (IoU 1/3); TNR and MaxGM undefined: no absent frame
    assert shifted[-1] == '-'  # no time file
    assert lines[-1].startswith('evaluated 2 tracker(s) on 2 sequences (9 frames); wrote ')

    document = json.loads((tmp_path / 'out.json').read_text())
    assert [t['tracker'] for t in document['trackers']] == ['perfect', 'shifted']
    shifted_summary = document['trackers'][1]['summary']
    # Frames 1.. of both sequences: IoU 1/3 and 3 px centre error; frame 0 of each is the given box.
    assert shifted_summary['success_auc'] == pytest.approx(np.mean([(7 + 13 / 5) / 21, (7 + 13 / 4) / 21]))
    assert shifted_summary['precision_20'] == 1.0
    assert shifted_summary['got10k_ao'] == pytest.approx(1 / 3)
    assert shifted_summary['oxuva_tpr'] == 0.0
    assert shifted_summary['oxuva_tnr'] is None
    assert document['trackers'][1]['per_sequence']['Beta']['frames'] == 4
    assert cv2.imread(str(tmp_path / 'success.png')) is not None


def test_siamrcnn_eval_reports_missing_results(tmp_path: Path) -> None:
    make_dataset(tmp_path / 'otb')
    write_results(tmp_path / 'partial', 'Alpha', np.ones((5, 4)))
    result = run_eval('--dataset', str(tmp_path / 'otb'), str(tmp_path / 'partial'), '--no-progress')
    assert result.returncode == 1
    assert 'siamrcnn-eval: error: no results for sequence' in result.stderr
    assert 'Beta' in result.stderr
    missing = run_eval('--dataset', str(tmp_path / 'otb'), str(tmp_path / 'nothing'))
    assert missing.returncode == 1
    assert 'result folder not found' in missing.stderr
    unknown = run_eval('--dataset', str(tmp_path / 'otb'), str(tmp_path / 'partial'), '--metrics', 'eao')
    assert unknown.returncode == 1
    assert 'subset of' in unknown.stderr
