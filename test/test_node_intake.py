"""``intake.ImageIntake``: the per-image path the node and siamrcnn-replay share, on real ROS messages.

The session is the real one with the shipped ``demo`` model on the CPU; a target is set so that a stream
reset can be seen clearing it.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from video_frames import bikes_frames

pytest.importorskip('rclpy', reason='needs rclpy and the built messages: run the tests through scripts/in-env')
from std_msgs.msg import Header

from siamrcnn_ros.model.siamrcnn import build_model
from siamrcnn_ros.node.conversions import ns_to_stamp
from siamrcnn_ros.node.frame_buffer import FrameBuffer
from siamrcnn_ros.node.images import rgb_to_image_msg
from siamrcnn_ros.node.intake import ImageIntake
from siamrcnn_ros.node.session import TrackingSession
from siamrcnn_ros.tracking.tracker import TrackerSettings

pytestmark = pytest.mark.ros
PERIOD_NS = 33_000_000
MAX_PIXELS = 1920 * 1080


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return build_model('demo', device='cpu')


@pytest.fixture(scope='module')
def images() -> list[np.ndarray]:
    return bikes_frames(3)


def message(rgb: np.ndarray, stamp_ns: int):
    return rgb_to_image_msg(rgb, Header(stamp=ns_to_stamp(stamp_ns), frame_id='camera'))


def make_intake(model):
    problems: list[tuple[str, str]] = []
    frames = FrameBuffer(5)
    session = TrackingSession(model, TrackerSettings(), 2, frames, lambda kind, text: problems.append((kind, text)))
    return ImageIntake(session, frames, lambda kind, text: problems.append((kind, text))), session, frames, problems


def test_frames_are_numbered_buffered_and_gaps_counted(model, images) -> None:
    intake, _session, frames, problems = make_intake(model)
    stamps = [PERIOD_NS * k for k in (1, 2, 3, 4, 5, 6, 9)]  # two images missing before the last
    accepted = [intake.accept(message(images[k % 3], stamp), MAX_PIXELS, 0.0) for k, stamp in enumerate(stamps)]
    assert [a.frame.index for a in accepted] == list(range(7))
    assert [a.frame.stamp_ns for a in accepted] == stamps
    assert accepted[-1].missing == 2
    assert all(a.missing == 0 for a in accepted[:-1])
    np.testing.assert_array_equal(accepted[0].frame.image, images[0])
    assert frames.nearest(stamps[-1])[0] is accepted[-1].frame
    assert problems == []


def test_bad_messages_are_refused_with_a_reason_and_lose_nothing_else(model, images) -> None:
    intake, _session, _frames, problems = make_intake(model)
    assert intake.accept(message(images[0], PERIOD_NS), MAX_PIXELS, 0.0).frame.index == 0
    broken = message(images[1], 2 * PERIOD_NS)
    broken.encoding = '32FC1'
    assert intake.accept(broken, MAX_PIXELS, 0.0) is None
    assert intake.accept(message(images[1], 3 * PERIOD_NS), 100, 0.0) is None  # over max_pixels
    now_ns = 10 * PERIOD_NS
    assert intake.accept(message(images[1], now_ns + 10**9 * 3600 * 24 * 365), MAX_PIXELS, 0.0, now_ns) is None
    assert [kind for kind, _ in problems] == ['encoding', 'size', 'stamp']
    assert intake.accept(message(images[1], 4 * PERIOD_NS), MAX_PIXELS, 0.0).frame.index == 1  # goes on


def test_a_stamp_going_back_or_a_new_size_resets_the_stream(model, images) -> None:
    intake, session, frames, problems = make_intake(model)
    first = intake.accept(message(images[0], 5 * PERIOD_NS), MAX_PIXELS, 0.0).frame
    session.request_box(0, np.array([250.0, 80.0, 330.0, 200.0]), 0)
    session.process(first)
    assert session.target_ids == [1]
    again = intake.accept(message(images[1], PERIOD_NS), MAX_PIXELS, 0.0).frame  # a looped bag
    assert again.index == 0
    assert session.target_ids == []
    assert [kind for kind, _ in problems] == ['stamp_backwards']
    assert 'targets [1] cleared' in problems[0][1]
    assert len(frames) == 1
    smaller = intake.accept(message(images[2][:100, :200].copy(), 2 * PERIOD_NS), MAX_PIXELS, 0.0).frame
    assert smaller.index == 0
    assert [kind for kind, _ in problems] == ['stamp_backwards', 'resolution_change']
