"""``siamrcnn-track`` end to end on a real video (bikes.mp4) and on an image sequence folder, demo preset, CPU."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from video_frames import bikes_frames, bikes_video

from siamrcnn_ros.evaluation.results import read_results
from siamrcnn_ros.tools.track import parse_box

pytestmark = pytest.mark.slow


def run_tool(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, '-m', 'siamrcnn_ros.tools.track', '--device', 'cpu', '--no-progress', *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)


def test_tracks_a_video_file_and_writes_results_and_video(tmp_path: Path) -> None:
    out = tmp_path / 'results'
    video = tmp_path / 'annotated.mp4'
    done = run_tool(str(bikes_video()), '--box', '100,60,80,140', '--max-frames', '4', '--output-dir', str(out),
                    '--video', str(video))
    assert done.returncode == 0, done.stderr
    assert 'bikes: 4 frames' in done.stdout
    assert 'frames/s' in done.stdout
    boxes, confidences = read_results(out, 'bikes')
    assert boxes.shape == (4, 4)
    np.testing.assert_allclose(boxes[0], [100, 60, 80, 140])
    assert confidences is not None
    assert confidences[0] == 1.0
    assert ((confidences >= 0) & (confidences <= 1)).all()
    capture = cv2.VideoCapture(str(video))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 4
    assert (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))) == (640, 272)
    capture.release()


def test_tracks_a_got10k_sequence_from_its_first_annotation(tmp_path: Path) -> None:
    sequence = tmp_path / 'GOT-10k_Val_000001'
    sequence.mkdir()
    for index, frame in enumerate(bikes_frames(3)):
        cv2.imwrite(str(sequence / f'{index + 1:08d}.jpg'), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    (sequence / 'groundtruth.txt').write_text('300,80,80,140\n301,80,80,140\n302,80,80,140\n')
    out = tmp_path / 'results'
    done = run_tool(str(sequence), '--output-dir', str(out), '--results-format', 'got10k', '--variant', 'argmax')
    assert done.returncode == 0, done.stderr
    assert (out / 'GOT-10k_Val_000001' / 'GOT-10k_Val_000001_001.txt').is_file()
    boxes, _ = read_results(out, 'GOT-10k_Val_000001')
    np.testing.assert_allclose(boxes[0], [300, 80, 80, 140])
    assert boxes.shape == (3, 4)


def test_errors_are_clear_and_exit_non_zero(tmp_path: Path) -> None:
    done = run_tool(str(tmp_path / 'missing.mp4'), '--box', '1,1,5,5')
    assert done.returncode != 0
    assert 'missing.mp4' in done.stderr
    done = run_tool(str(bikes_video()), '--output-dir', str(tmp_path))  # a video has no annotation
    assert done.returncode != 0
    assert '--box' in done.stderr
    done = run_tool(str(bikes_video()), '--box', '1,1,5,5', '--tdpa', 'w_loc=x')
    assert done.returncode == 2
    assert "bad tracker setting: tdpa.w_loc: 'x' is not a float" in done.stderr
    done = run_tool(str(bikes_video()), '--box', '1,1,5,5', '--set', 'search_scale=0.5')
    assert done.returncode == 2
    assert 'search_scale must be a number in [1.0, 4.0], got 0.5' in done.stderr


def test_settings_options_change_the_tracker(tmp_path: Path) -> None:
    from siamrcnn_ros.tools.common import settings_from_args
    from siamrcnn_ros.tools.track import build_parser

    args = build_parser().parse_args(['v.mp4', '--tdpa', 'w_ff=1.0', '--tdpa', 'w_loc=0', '--set', 'search_shift=0',
                                      '--variant', 'argmax'])
    settings = settings_from_args(args, 'test')
    assert (settings.tdpa.w_ff, settings.tdpa.w_loc, settings.search_shift, settings.variant) == \
        (1.0, 0.0, 0.0, 'argmax')
    done = run_tool(str(bikes_video()), '--box', '100,60,80,140', '--max-frames', '2', '--output-dir',
                    str(tmp_path), '--tdpa', 'w_ff=1.0', '--tdpa', 'w_loc=0')  # the README's example
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize('text', ['1,2,3', '1,2,3,x', '1,2,0,4', 'nan,1,2,3'])
def test_parse_box_refuses_bad_boxes(text: str) -> None:
    with pytest.raises(ValueError, match='--box'):
        parse_box(text)
