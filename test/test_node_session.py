"""The node's tracking session without ROS: target ids, frames by stamp, clicks, clears, runtime settings.

Runs the real ``demo`` model with its shipped checkpoint on the CPU. These tests check the plumbing and
contracts (which frame a target starts on, ids, states, stamps, backbone passes), not accuracy. The session
imports no ROS module (``test_the_session_and_the_tracker_import_no_ros``), so they run without rclpy.
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from video_frames import bikes_frames

from siamrcnn_ros.boxes import InvalidBoxError
from siamrcnn_ros.model.preprocessing import to_original
from siamrcnn_ros.model.siamrcnn import build_model
from siamrcnn_ros.node.frame_buffer import Frame, FrameBuffer
from siamrcnn_ros.node.session import TargetLimitError, TrackingSession
from siamrcnn_ros.tracking.settings import TDPASettings
from siamrcnn_ros.tracking.tracker import MultiTracker, TrackerSettings

BOX = np.array([250.0, 80.0, 330.0, 200.0])  # xyxy pixels of a 272x640 bikes frame


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return build_model('demo', device='cpu')


@pytest.fixture(scope='module')
def images() -> list[np.ndarray]:
    return bikes_frames(6)


class Recorder:
    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def __call__(self, kind: str, message: str) -> None:
        self.problems.append((kind, message))

    @property
    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.problems]


def proposal_centre(model, image: np.ndarray) -> tuple[float, float]:
    """The centre (x, y pixels) of the best RPN proposal of ``image``: a pixel that some proposal contains."""
    frame = model.extract(image)
    box = to_original(frame.proposals[:1], frame.resized_size, frame.image_size)[0].tolist()
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def make_session(model, max_targets: int = 3) -> tuple[TrackingSession, FrameBuffer, Recorder]:
    frames = FrameBuffer(10)
    recorder = Recorder()
    return TrackingSession(model, TrackerSettings(), max_targets, frames, recorder), frames, recorder


def arrive(frames: FrameBuffer, images: list[np.ndarray], index: int) -> Frame:
    """A frame as the image callback makes it: stamps 1 s apart, pushed into the buffer."""
    frame = Frame(stamp_ns=(index + 1) * 1_000_000_000, image=images[index], header=f'header {index}',
                  arrival_s=0.0, index=index)
    frames.push(frame)
    return frame


def test_a_target_sent_before_any_image_starts_on_the_first_frame(model, images) -> None:
    session, frames, recorder = make_session(model)
    target_id, note = session.request_box(0, BOX, stamp_ns=0)
    assert target_id == 1
    assert note.startswith('waits for the first image')
    assert session.target_ids == [1]
    outcome = session.process(arrive(frames, images, 0))
    assert list(outcome.results) == [1]
    first = outcome.results[1]
    assert (first.frame, first.present, first.confidence) == (0, True, 1.0)
    assert first.box == pytest.approx(BOX)
    assert session.start_stamp_ns(1, 0) == 1_000_000_000
    outcome = session.process(arrive(frames, images, 1))
    assert outcome.results[1].frame == 1
    assert recorder.problems == []


def test_a_box_drawn_on_an_older_frame_starts_there(model, images) -> None:
    session, frames, recorder = make_session(model)
    older = arrive(frames, images, 0)
    session.process(older)  # no target yet: nothing to track
    current = arrive(frames, images, 1)
    target_id, note = session.request_box(0, BOX, stamp_ns=older.stamp_ns)
    assert 'stamped 1000000000 ns' in note
    outcome = session.process(current)
    assert outcome.results[target_id].frame == 1  # started on the older frame (0), tracked into this one
    assert session.start_stamp_ns(target_id, 0) == older.stamp_ns
    assert session.start_stamp_ns(target_id, 1) == current.stamp_ns
    # The outcome carries what the messages need: the stamp of the frame the selected tracklet starts on.
    selected = outcome.results[target_id].selected
    assert selected is not None
    assert outcome.start_stamp_ns(target_id, selected.start_frame) == [older, current][selected.start_frame].stamp_ns
    assert recorder.problems == []


def test_an_unknown_stamp_uses_the_nearest_frame_with_a_warning(model, images) -> None:
    session, frames, recorder = make_session(model)
    arrive(frames, images, 0)
    current = arrive(frames, images, 1)
    session.request_box(0, BOX, stamp_ns=current.stamp_ns + 400_000_000)
    outcome = session.process(current)
    assert outcome.results[1].frame == 0  # the nearest frame is the current one
    assert recorder.kinds == ['target_stamp']
    assert 'nearest one (-400.0 ms)' in recorder.problems[0][1]


def test_a_target_for_a_frame_still_waiting_for_the_worker_is_initializing(model, images) -> None:
    session, frames, _recorder = make_session(model)
    current = arrive(frames, images, 0)
    newer = arrive(frames, images, 1)  # arrived while the worker still has `current`
    session.request_box(0, BOX, stamp_ns=newer.stamp_ns)
    outcome = session.process(current)
    assert outcome.results == {}
    assert outcome.initializing == [1]
    outcome = session.process(newer)
    assert outcome.results[1].frame == 0
    assert outcome.initializing == []


def test_invalid_boxes_are_refused_now_or_when_their_frame_arrives(model, images) -> None:
    session, frames, recorder = make_session(model)
    session.request_box(0, np.array([700.0, 10.0, 800.0, 50.0]), stamp_ns=0)  # no frame yet: cannot tell
    outcome = session.process(arrive(frames, images, 0))
    assert outcome.results == {}
    assert recorder.kinds == ['box']
    assert session.target_ids == []  # the id was released
    with pytest.raises(InvalidBoxError, match='outside the 640x272 image'):
        session.request_box(0, np.array([700.0, 10.0, 800.0, 50.0]), stamp_ns=0)
    with pytest.raises(InvalidBoxError, match='NaN'):
        session.request_box(0, np.array([np.nan, 10.0, 800.0, 50.0]), stamp_ns=0)


def test_ids_limits_clears_and_idle_reports(model, images) -> None:
    session, frames, _recorder = make_session(model, max_targets=2)
    assert session.request_box(0, BOX, 0)[0] == 1
    assert session.request_box(5, BOX + 10, 0)[0] == 5
    with pytest.raises(TargetLimitError, match='max_targets = 2'):
        session.request_box(0, BOX, 0)
    assert session.request_box(5, BOX + 20, 0)[0] == 5  # replacing a target is not a new one
    outcome = session.process(arrive(frames, images, 0))
    assert sorted(outcome.results) == [1, 5]
    assert outcome.results[5].box == pytest.approx(BOX + 20)
    with pytest.raises(TargetLimitError, match='no target with id 9'):
        session.request_clear(9)
    assert session.request_clear(1) == [1]
    assert session.request_box(0, BOX, 0)[0] == 1  # the lowest free id again
    outcome = session.process(arrive(frames, images, 1))
    assert sorted(outcome.results) == [1, 5]
    assert outcome.results[1].frame == 0  # target 1 is new
    assert outcome.cleared == []  # cleared and set again before this frame: not idle
    assert session.reset() == [1, 5]
    outcome = session.process(arrive(frames, images, 2))
    assert (outcome.results, outcome.cleared) == ({}, [1, 5])
    assert session.target_ids == []


def test_click_to_track_picks_a_proposal_containing_the_pixel(model, images) -> None:
    session, frames, recorder = make_session(model)
    x, y = proposal_centre(model, images[0])
    target_id = session.request_click((x, y))
    outcome = session.process(arrive(frames, images, 0))
    assert recorder.problems == []
    box = outcome.results[target_id].box
    assert box[0] <= x <= box[2]
    assert box[1] <= y <= box[3]
    assert box.tolist() == MultiTracker(model).box_at_point(images[0], (x, y)).tolist()


def test_a_click_outside_the_image_is_reported(model, images) -> None:
    session, frames, recorder = make_session(model)
    session.request_click((1000.0, 10.0))
    outcome = session.process(arrive(frames, images, 0))
    assert outcome.results == {}
    assert recorder.kinds == ['click']
    assert session.target_ids == []


def test_new_settings_apply_to_targets_set_afterwards(model, images) -> None:
    session, frames, _recorder = make_session(model)
    session.request_box(0, BOX, 0)
    session.process(arrive(frames, images, 0))
    assert session.target_settings() == {1: TrackerSettings()}
    changed = TrackerSettings(tdpa=TDPASettings(alpha=0.5))
    session.set_tracker_settings(changed)
    session.request_box(0, BOX + 5, 0)
    outcome = session.process(arrive(frames, images, 1))
    assert sorted(outcome.results) == [1, 2]
    assert session.target_settings() == {1: TrackerSettings(), 2: changed}  # target 1 keeps its values
    session.request_clear(1)
    session.process(arrive(frames, images, 2))
    assert session.target_settings() == {2: changed}


def test_one_backbone_pass_per_frame_whatever_the_mix_of_settings_and_clicks(model, images, monkeypatch) -> None:
    click = proposal_centre(model, images[1])  # before the count starts
    passes = []
    extract = type(model).extract

    def counting_extract(self, image):  # the real extract, counted
        passes.append(image.shape)
        return extract(self, image)

    monkeypatch.setattr(type(model), 'extract', counting_extract)
    session, frames, recorder = make_session(model, max_targets=4)
    session.request_box(0, BOX, 0)
    session.process(arrive(frames, images, 0))
    assert len(passes) == 1
    session.set_tracker_settings(TrackerSettings(variant='argmax'))
    session.request_box(0, BOX + 20, 0)
    session.set_tracker_settings(TrackerSettings(tdpa=TDPASettings(w_loc=0.0), search_shift=0.5, search_scale=1.25))
    session.request_click(click)
    outcome = session.process(arrive(frames, images, 1))
    assert recorder.problems == []
    assert sorted(outcome.results) == [1, 2, 3]
    assert len({settings for settings in session.target_settings().values()}) == 3
    assert len(passes) == 2  # three settings and a click on this frame: still one pass
    session.process(arrive(frames, images, 2))
    assert len(passes) == 3


def test_the_session_and_the_tracker_import_no_ros() -> None:
    code = ('import sys\n'
            'import siamrcnn_ros.node.session, siamrcnn_ros.tracking, siamrcnn_ros.box2seg.tracking\n'
            "ros = ('rclpy', 'rosidl', 'builtin_interfaces', 'std_msgs', 'sensor_msgs', 'geometry_msgs', "
            "'siamrcnn_ros.msg', 'siamrcnn_ros.srv', 'siamrcnn_ros.node.conversions')\n"
            'print(sorted(m for m in sys.modules if m.startswith(ros)))\n')
    found = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout
    assert found.strip() == '[]'

