"""``siamrcnn-demo`` (``make demo``): the clip rule, the node's command line, Track messages as records and drawn,
and the whole demo end to end on a tiny world (the real node as a process, frames played in as ROS messages)."""
from __future__ import annotations

import csv
import itertools
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import REPO_ROOT
from std_msgs.msg import Header

from siamrcnn_ros.boxes import xywh_to_xyxy
from siamrcnn_ros.demo.cli import SUMMARY_KEYS
from siamrcnn_ros.demo.clip import LEAD_FRACTION, absent_runs, choose_clip, ensure_world
from siamrcnn_ros.demo.node_process import node_command
from siamrcnn_ros.demo.outputs import MAX_DRAWN_DISTRACTORS, annotate_frame
from siamrcnn_ros.demo.records import record_from_track
from siamrcnn_ros.evaluation.evaluate import aggregate, evaluate_sequence
from siamrcnn_ros.msg import Box, Track, Tracklet
from siamrcnn_ros.node.conversions import UNREACHABLE_DP_SCORE, ns_to_stamp
from siamrcnn_ros.synthetic import make_world
from siamrcnn_ros.synthetic.settings import PRESETS

FRAMES = 30


@pytest.fixture(scope='module')
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny world's long-term video only (about a second)."""
    root = tmp_path_factory.mktemp('world')
    make_world(root, PRESETS['tiny'].with_overrides(train=0, val=0, test=0))
    return root


def test_absent_runs() -> None:
    assert absent_runs(np.array([0, 1, 1, 0, 0, 1, 0, 1], dtype=bool)) == [(1, 3), (5, 6), (7, 8)]
    assert absent_runs(np.zeros(4, dtype=bool)) == []
    assert absent_runs(np.ones(3, dtype=bool)) == [(0, 3)]


def test_clip_starts_visible_and_holds_a_whole_disappearance(world: Path) -> None:
    clip = choose_clip(world, 120)
    assert len(clip) == 120
    assert clip.lookalikes >= 1
    assert not clip.sequence.absent[0]
    assert np.isfinite(clip.sequence.ground_truth[0]).all()
    # Tracked among the look-alikes before the disappearance, and the target comes back inside the clip.
    assert any(first >= int(120 * LEAD_FRACTION) and end < 120 for first, end in clip.gaps), clip.gaps
    assert choose_clip(world, 120).start == clip.start  # the same clip every time
    # The clip's frames and truth are the video's from `start` on.
    video = choose_clip(world, 400, start=0)
    np.testing.assert_array_equal(clip.sequence.ground_truth, video.sequence.ground_truth[clip.start:clip.start + 120])


def test_clip_errors_name_the_problem(world: Path) -> None:
    with pytest.raises(ValueError, match='no long-term video'):
        choose_clip(world, 30, video='unicorn-1')
    with pytest.raises(ValueError, match='outside'):
        choose_clip(world, 30, start=10_000)
    absent = choose_clip(world, 400, start=0).gaps[0][0]
    with pytest.raises(ValueError, match='not visible'):
        choose_clip(world, 30, start=absent)
    with pytest.raises(ValueError, match='at least 2'):
        choose_clip(world, 1)


def test_existing_world_is_used_as_it_is(world: Path) -> None:
    ready = ensure_world(world, 'tiny')  # other counts than the folder's, the same look: used, not rewritten
    assert not ready.generated
    assert ready.preset is None
    # A world of another look (here procedural shapes, the demo preset is photos) is refused, not used.
    with pytest.raises(ValueError, match='another look'):
        ensure_world(world, 'demo')


def test_node_command_sets_the_model_and_remaps_the_image() -> None:
    command = node_command(preset='demo', checkpoint=None, device='cpu', image_topic='/cam/image_raw')
    assert command[1:4] == ['-m', 'siamrcnn_ros.node.node', '--ros-args']
    pairs = [command[i + 1] for i, arg in enumerate(command) if arg in ('-p', '-r')]
    assert pairs == ['image:=/cam/image_raw', 'auto_activate:=true', 'model.device:=cpu', 'model.preset:=demo',
                     'model.checkpoint:=none']
    with_file = node_command(preset='demo', checkpoint=Path('c/demo.safetensors'), device='cuda', image_topic='/i')
    assert 'model.checkpoint:=c/demo.safetensors' in with_file


def _track(stamp_ns: int, distractors: int) -> Track:
    tracklets = [Tracklet(id=i + 2, box=Box(x_min=10.0 * i, y_min=5.0, x_max=10.0 * i + 8, y_max=20.0),
                          similarity=0.5, dp_score=float(-i), start_stamp=ns_to_stamp(100), length=i + 1)
                 for i in range(distractors)]
    tracklets[-1].dp_score = UNREACHABLE_DP_SCORE
    return Track(header=_header(stamp_ns), target_id=1, state=Track.STATE_LOST, present=False, confidence=0.0,
                 box=Box(x_min=1.0, y_min=2.0, x_max=31.0, y_max=42.0), selected_tracklet_id=1, distractors=tracklets)


def _header(stamp_ns: int) -> Header:
    return Header(stamp=ns_to_stamp(stamp_ns), frame_id='cam')


def test_track_message_to_record_and_drawing() -> None:
    record = record_from_track(_track(200, distractors=12), {100: 0, 200: 1})
    assert (record.frame, record.state_name, record.present) == (1, 'LOST', False)
    np.testing.assert_allclose(record.box, [1, 2, 31, 42])
    assert record.distractor_ids.tolist() == list(range(2, 14))
    assert record.distractor_boxes.shape == (12, 4)
    assert record.distractor_dp_scores[-1] == -np.inf  # the messages' "unreachable"
    assert record.distractor_start_frames.tolist() == [0] * 12  # started on the clip's frame stamped 100
    result = record.to_track_result()
    assert not result.present
    assert len(result.distractors) == 12

    image = np.zeros((60, 160, 3), dtype=np.uint8)
    truth = np.array([100.0, 30.0, 20.0, 10.0])  # xywh, clear of the other drawings
    drawn = annotate_frame(image, record, truth, False, 'caption', 'RANDOM WEIGHTS')
    assert drawn.shape == image.shape
    assert not image.any()
    assert (drawn[30, 100:121] == 255).all()  # the ground truth's top edge, white
    assert not annotate_frame(image, record, truth, True, 'caption')[30, 100:121].any()  # not where it is absent
    assert MAX_DRAWN_DISTRACTORS < 12  # (the rest are counted in the footer, not drawn)
    with pytest.raises(ValueError, match='no played frame'):
        record_from_track(_track(300, distractors=1), {100: 0})


def frozen_box_auc(world: Path, frames: int) -> float:
    """Success AUC on the demo's clip of a box that stays where the clip starts (the plain baseline)."""
    clip = choose_clip(world, frames)
    truth = clip.sequence.ground_truth  # [N, 4] xywh
    height, width = clip.sequence.read_frame(0).shape[:2]
    frozen = evaluate_sequence(clip.sequence, np.repeat(truth[:1], len(truth), axis=0), np.ones(len(truth)),
                               metrics=('success',), image_size=(width, height))
    return aggregate('frozen box', [frozen]).summary()['success_auc']


@pytest.mark.ros
@pytest.mark.slow
def test_demo_end_to_end(tmp_path: Path) -> None:
    """The real node in its own process on a tiny world; the test-sized clip of the demo (about 30 s)."""
    out = tmp_path / 'out'
    command = [sys.executable, '-m', 'siamrcnn_ros.demo.cli', '--frames', str(FRAMES), '--world-preset', 'tiny',
               '--world-root', str(tmp_path / 'world'), '--output-dir', str(out), '--no-progress']
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stdout + done.stderr

    for name in ('demo.mp4', 'success.png', 'precision.png', 'tracks.csv', 'summary.json', 'node.log'):
        assert (out / name).is_file(), name
    summary = json.loads((out / 'summary.json').read_text())
    assert set(SUMMARY_KEYS) <= set(summary)
    assert summary['frames'] == summary['frames_published'] == FRAMES
    assert 0.0 <= summary['success_auc'] <= 1.0
    assert 0.0 <= summary['precision_20'] <= 1.0
    assert summary['fps'] > 0
    assert summary['node_exit_status'] == 0
    assert f'{FRAMES} frames processed, 0 dropped' in summary['node_summary']
    trained = (REPO_ROOT / 'checkpoints' / 'demo.safetensors').is_file()
    assert summary['weights_trained'] == trained
    if not trained:
        assert 'RANDOM' in done.stdout
        assert 'RANDOM' in done.stderr
    else:  # the quality floor: the shipped weights track better than a box that never moves (0.34 vs 0.13)
        assert summary['success_auc'] >= frozen_box_auc(tmp_path / 'world', FRAMES) + 0.1
    assert 'success AUC' in done.stdout

    video = cv2.VideoCapture(str(out / 'demo.mp4'))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == FRAMES
    assert (int(video.get(cv2.CAP_PROP_FRAME_WIDTH)), int(video.get(cv2.CAP_PROP_FRAME_HEIGHT))) == (320, 240)
    video.release()

    with (out / 'tracks.csv').open() as file:
        rows = list(csv.DictReader(file))
    assert [int(row['frame']) for row in rows] == list(range(FRAMES))  # one Track per frame, in order
    stamps = [int(row['stamp_ns']) for row in rows]
    assert all(a < b for a, b in itertools.pairwise(stamps))
    assert {row['state'] for row in rows} <= {'TRACKING', 'LOST'}
    # The target was set on the first frame played: its Track there is the ground-truth box.
    clip = summary['clip']
    truth = np.loadtxt(Path(clip['folder']) / 'groundtruth.txt', delimiter=',')[clip['start']]
    first = [float(rows[0][key]) for key in 'xywh']
    np.testing.assert_allclose(xywh_to_xyxy(np.array(first)), xywh_to_xyxy(truth), atol=0.01)
    assert rows[0]['state'] == 'TRACKING'
