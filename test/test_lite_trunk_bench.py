"""benchmarks/lite_trunk.py (issue 17: the trunk's padding and strides) on one video and one pair."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / 'benchmarks'))

pytest.importorskip('skimage.data', reason='scikit-image ships the photographs (requirements)')
import lite_trunk  # noqa: E402  (benchmarks/, put on the path above)


@pytest.fixture(scope='module')
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny photo world (seconds to write) with a val split."""
    from siamrcnn_ros.synthetic.cli import main as make_world

    root = tmp_path_factory.mktemp('photo_world')
    assert make_world(['--root', str(root), '--preset', 'tiny_photo', '--no-progress']) == 0
    return root


def test_main_writes_every_field(world: Path, tmp_path: Path) -> None:
    code = lite_trunk.main(['--world', str(world), '--videos', '1', '--frames', '2', '--background', '3',
                            '--repeats', '1', '--output-dir', str(tmp_path)])
    assert code == 0
    results = json.loads((tmp_path / lite_trunk.OUTPUT_NAME).read_text())
    assert {'argv', 'date', 'machine', 'settings', 'pairs', 'videos', 'runs', 'stride4_level'} <= set(results)
    assert results['pairs'] == 1
    assert results['videos'] == 1
    assert [(run['variant'], run['padding']) for run in results['runs']] == [
        ('efficientnet_lite0', 'tf_same'), ('efficientnet_lite0', 'symmetric')]
    for run in results['runs']:
        assert [row['photo'] for row in run['classification']] == ['chelsea', 'coffee']
        assert all(0.0 <= row['expected_probability'] <= 1.0 and 0 <= row['top1'] < 1000
                   for row in run['classification'])
        assert set(run['discrimination']) == {'4', '8', '16'}
        for groups in run['discrimination'].values():
            assert {'objects', 'lookalike', 'other', 'small_objects', 'background'} == set(groups)
            assert groups['background']['cases'] == 3
            assert groups['objects']['cases'] >= 1
            assert 0.0 <= groups['objects']['accuracy'] <= 1.0
        assert len(run['trunk_ms']['cpu']) == len(run['trunk_ms']['wall']) == 1
    assert results['stride4_level']['efficientnet_lite0']['cells'] == 80 * 128


def test_bad_split_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert lite_trunk.main(['--world', str(tmp_path), '--output-dir', str(tmp_path / 'out')]) == 2
    assert 'no such split folder' in capsys.readouterr().err
