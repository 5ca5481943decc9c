"""``benchmarks/tdpa_sweep.py`` end to end on the tiny world's long-term video with the shipped checkpoint.

The sweep's score for the recorded settings must equal what ``benchmarks/synthetic_tracking.py`` reports for
the same settings after tracking live: the replay is exact, and both score the same way.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from siamrcnn_ros.synthetic import make_world
from siamrcnn_ros.synthetic.settings import PRESETS

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
CHECKPOINT = REPO / 'checkpoints' / 'demo.safetensors'
FRAMES = 25
RECORDED = ['--tdpa', 'beta=0.2', '--tdpa', 'ff_min_score=0.4']


def run(script: str, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(REPO / 'benchmarks' / script), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, cwd=REPO)


@pytest.fixture(scope='module')
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp('world')
    make_world(root, PRESETS['tiny'].with_overrides(train=0, val=0, test=0))
    return root


def test_sweep_reproduces_a_live_run_and_scores_a_grid(world: Path, tmp_path: Path) -> None:
    recordings = tmp_path / 'rec'
    done = run('tdpa_sweep.py', 'record', '--world', str(world), '--checkpoint', str(CHECKPOINT),
               '--long-term-frames', str(FRAMES), '--recordings', str(recordings), *RECORDED)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((recordings / 'recording.json').read_text())
    assert manifest['tdpa']['beta'] == 0.2
    assert manifest['long_term_frames'] == FRAMES
    assert [p.name for p in recordings.glob('*.npz')] == [f'{manifest["sequences"][0]}.npz']

    out = tmp_path / 'sweep.json'
    done = run('tdpa_sweep.py', 'sweep', '--recordings', str(recordings), '--grid', 'w_loc=7,0',
               '--grid', 'rival_weight=0,1', '--json', str(out))
    assert done.returncode == 0, done.stderr
    assert 'w_loc=0.0 rival_weight=1.0' in done.stdout
    rows = json.loads(out.read_text())['rows']
    assert [(r['settings']['w_loc'], r['settings']['rival_weight']) for r in rows] == [
        (7.0, 0.0), (7.0, 1.0), (0.0, 0.0), (0.0, 1.0)]
    assert all(r['settings']['beta'] == 0.2 for r in rows)

    live = tmp_path / 'live'
    done = run('synthetic_tracking.py', '--world', str(world), '--checkpoint', str(CHECKPOINT), '--splits', 'lasot',
               '--variants', 'tdpa', '--long-term-frames', str(FRAMES), '--output-dir', str(live), *RECORDED)
    assert done.returncode == 0, done.stderr
    tracked = json.loads((live / 'scores.json').read_text())['splits']['lasot']['tdpa']
    # The row of the recorded settings: the recording's w_loc (the demo preset's shipped value) and rival_weight 0.
    replayed = next(r['scores'] for r in rows
                    if r['settings']['w_loc'] == manifest['tdpa']['w_loc'] and r['settings']['rival_weight'] == 0)
    for key in ('success_auc', 'precision_20', 'vot_lt_f'):  # the live run's results went through text files
        assert replayed[key] == pytest.approx(tracked[key], abs=1e-6), key


def test_clear_errors(world: Path, tmp_path: Path) -> None:
    done = run('tdpa_sweep.py', 'sweep', '--recordings', str(tmp_path / 'none'))
    assert done.returncode == 2
    assert 'run `tdpa_sweep.py record` first' in done.stderr
    (tmp_path / 'rec').mkdir()
    (tmp_path / 'rec' / 'recording.json').write_text(json.dumps(
        {'checkpoint': 'x', 'world': str(world), 'split': 'lasot', 'long_term_frames': 5, 'tdpa': {},
         'sequences': []}))
    done = run('tdpa_sweep.py', 'sweep', '--recordings', str(tmp_path / 'rec'), '--grid', 'beta=0.1,0.3')
    assert done.returncode == 2
    assert 'fixed at record time' in done.stderr
    done = run('tdpa_sweep.py', 'sweep', '--recordings', str(tmp_path / 'rec'), '--grid', 'w_loc')
    assert done.returncode == 2
    assert 'NAME=v1,v2' in done.stderr
    done = run('tdpa_sweep.py', 'record', '--world', str(tmp_path / 'nowhere'), '--checkpoint', str(CHECKPOINT),
               '--recordings', str(tmp_path / 'r2'))
    assert done.returncode == 2
    assert 'no such split folder' in done.stderr
    done = run('synthetic_tracking.py', '--world', str(world), '--checkpoint', str(CHECKPOINT), '--output-dir',
               str(tmp_path / 'o'), '--set', 'search_shift=9')
    assert done.returncode == 2
    assert 'search_shift must be a number in [0.0, 2.0], got 9.0' in done.stderr
