"""siamrcnn-bench-tdpa on a short stream: checkpoints, windows, JSON, plot, argument errors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from siamrcnn_ros.tools.bench_tdpa import checkpoint_frames, main, window_bounds


def test_checkpoints_and_windows() -> None:
    assert checkpoint_frames(5000, 2000) == [1000, 2000, 4000, 5000]
    assert checkpoint_frames(200_000, 100_000) == [1000, 100_000, 200_000]
    assert checkpoint_frames(500, 200) == [200, 400, 500]  # shorter than frame 1,000
    assert window_bounds(1000, 200_000, 1000) == (500, 1499)
    assert window_bounds(200_000, 200_000, 1000) == (199_001, 200_000)  # the last window ends at the stream's end
    assert window_bounds(10, 50, 1000) == (1, 50)


def test_short_run_writes_json_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_json, out_png = tmp_path / 'bench.json', tmp_path / 'bench.png'
    code = main(['--frames', '400', '--every', '200', '--window', '100', '--max-gap', '50', '--sample-every', '50',
                 '--tracemalloc', '--no-progress', '--json', str(out_json), '--plot', str(out_png)])
    assert code == 0
    result = json.loads(out_json.read_text())
    assert [c['frame'] for c in result['checkpoints']] == [200, 400]
    last = result['checkpoints'][-1]
    assert (last['first'], last['last']) == (301, 400)
    assert 0 < last['update_median_ms'] <= last['update_p99_ms']
    assert last['active_tracklets'] + last['window_tracklets'] == last['live_tracklets']
    assert last['traced_mib'] > 0
    assert 10 < result['detections_per_frame'] < 30
    assert out_png.stat().st_size > 1000
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert summary.startswith('siamrcnn-bench-tdpa: 400 frames')


@pytest.mark.parametrize('bad', [['--frames', '0'], ['--window', '-5'], ['--clutter', '-1']])
def test_bad_arguments_exit_with_a_message(bad: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(bad)
    assert exit_info.value.code == 2
    assert 'must be' in capsys.readouterr().err
