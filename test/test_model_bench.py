"""siamrcnn-bench (issue 3): per-stage timings as a table and JSON, clear failures."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from conftest import REPO_ROOT

STAGES = ('backbone', 'rpn', 'redetect', 'pairs', 'frame')


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, '-m', 'siamrcnn_ros.tools.bench_model', *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300, check=False)


def test_demo_on_the_cpu_prints_stage_timings_and_json(tmp_path) -> None:
    path = tmp_path / 'bench.json'
    result = run_bench('--preset', 'demo', '--device', 'cpu', '--iterations', '2', '--warmup', '1',
                       '--json', str(path), '--no-progress')
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for stage in STAGES:
        assert any(line.startswith(stage) for line in lines), result.stdout
    printed = json.loads(next(line for line in lines if line.startswith('{')))
    written = json.loads(path.read_text())
    assert printed == written
    assert written['preset'] == 'demo'
    assert written['device'] == 'cpu'
    assert written['iterations'] == 2
    assert written['weights'].startswith('random')
    assert written['image'].endswith('bikes.mp4')
    assert written['image_size'] == [272, 640]
    assert written['counts']['proposals'] > 0
    for stage in STAGES:
        summary = written['stages'][stage]
        assert 0 < summary['min_ms'] <= summary['median_ms'] <= summary['max_ms']
    # The frame is the stages in a row (timed separately, so only roughly their sum).
    parts = sum(written['stages'][s]['min_ms'] for s in STAGES[:-1])
    assert 0.5 * parts < written['stages']['frame']['median_ms']
    assert lines[-1].startswith('siamrcnn-bench: demo on cpu:')


def test_unreadable_image_and_bad_arguments_fail_clearly(tmp_path) -> None:
    missing = run_bench('--device', 'cpu', '--image', str(tmp_path / 'none.png'), '--no-progress')
    assert missing.returncode == 1
    assert 'none.png' in missing.stderr
    bad = run_bench('--iterations', '0')
    assert bad.returncode == 2
    assert '--iterations' in bad.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the message on a machine without a GPU')
def test_cuda_without_a_gpu_fails_with_a_clear_message() -> None:
    result = run_bench('--device', 'cuda', '--no-progress')
    assert result.returncode == 1
    assert 'no CUDA GPU' in result.stderr
