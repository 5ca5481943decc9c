"""Issue 18, items 4 to 6: stamps that are no valid ROS time, two requests for one id, a box refused on the first
image. Each test starts a fresh node in its own OS process and drives it through ROS alone (``NodeClient``),
with 640x272 frames of bikes.mp4 published by this process one at a time (each waits for its TrackArray).
"""
from __future__ import annotations

import pytest

pytest.importorskip('rclpy', reason='needs rclpy: run the tests through scripts/in-env')
from node_client import NodeClient, iou
from video_frames import bikes_frames

from siamrcnn_ros.msg import TargetRequest, Track

pytestmark = pytest.mark.ros
CAR = (10.0, 60.0, 280.0, 262.0)  # xyxy pixels of the car in the first bikes.mp4 frames (640x272)
CYCLIST = (345.0, 20.0, 470.0, 200.0)
OUTSIDE = (700.0, 10.0, 800.0, 50.0)  # right of a 640-pixel-wide image


@pytest.fixture
def client(ros_domain_id: int, tmp_path):
    # A reliable image subscription of depth 100: no image is lost before the node, so the counts are exact.
    client = NodeClient(tmp_path, '-p', 'max_targets:=3', '-p', 'image_qos.reliability:=reliable', '-p',
                        'image_qos.depth:=100')
    try:
        yield client
    finally:
        status = client.close()
    assert status == 0, client.log()


@pytest.fixture(scope='module')
def frames():
    return bikes_frames(12)


def _results(client: NodeClient, target_id: int, sec: int) -> list[Track]:
    return [t for t in client.tracks_of(target_id) if t.header.stamp.sec == sec]


def test_invalid_stamps_are_refused_at_the_input_and_no_frame_after_them_is_lost(client: NodeClient,
                                                                                  frames) -> None:
    """Item 4: images stamped sec = -5 .. -1 (a target set after the first), then normal frames: every normal frame
    is tracked. A frame with nanosec = 2^32 - 1, or in 2038, is refused and the next normal frame resets nothing."""
    client.publish_image(frames[0], -5)
    answer = client.set_target(CAR)
    assert answer.success, answer.message
    for index, sec in enumerate(range(-4, 0), start=1):
        client.publish_image(frames[index], sec)
    for index, sec in enumerate(range(1, 6), start=5):
        client.send_and_wait(frames[index], sec)
        client.spin_until(lambda sec=sec: _results(client, answer.target_id, sec), f'the Track of the frame at {sec} s')
        track, = _results(client, answer.target_id, sec)
        assert track.state in (Track.STATE_TRACKING, Track.STATE_LOST), track  # tracked on every normal frame
    client.publish_image(frames[10], 6, nanosec=4_294_967_295)
    client.publish_image(frames[10], 2_147_483_647)  # 2038-01-19: years ahead of the node's clock
    client.send_and_wait(frames[11], 7)
    client.spin_until(lambda: _results(client, answer.target_id, 7), 'the Track of the frame at 7 s')
    assert _results(client, answer.target_id, 7)[0].state in (Track.STATE_TRACKING, Track.STATE_LOST)
    assert not [t for t in client.tracks if t.state == Track.STATE_IDLE]  # no reset cleared the target
    values = client.fresh_diagnostics()
    assert values['rejected: stamp'] == '7', values
    assert values['rejected: stamp_backwards'] == '0', values
    assert values['rejected: processing'] == '0', values
    assert {a.header.stamp.sec for a in client.arrays} == {1, 2, 3, 4, 5, 7}  # outputs: the valid frames only


def test_the_later_of_two_requests_for_one_id_wins(client: NodeClient, frames) -> None:
    """Item 5: two SetTarget calls for id 2, back to back before the next frame, both for the frame two frames old:
    the car, then the cyclist. The cyclist is tracked, as when both are for the newest frame (stamp 0). The same
    with two TargetRequest messages for id 3, the other way round."""
    for sec in (1, 2, 3):
        client.send_and_wait(frames[sec - 1], sec)
    first = client.set_target(CAR, target_id=2, stamp=(1, 0))
    second = client.set_target(CYCLIST, target_id=2, stamp=(1, 0))
    assert (first.success, second.success) == (True, True), (first.message, second.message)
    for box in (CYCLIST, CAR):
        request = TargetRequest(target_id=3)
        request.header.stamp.sec = 1
        request.box.x_min, request.box.y_min, request.box.x_max, request.box.y_max = box
        client.target_pub.publish(request)
    client.settle(0.5)  # the node's target subscription has them before the next frame
    client.send_and_wait(frames[1], 4)  # the pixels of the frame both boxes were drawn on, one frame later
    client.spin_until(lambda: _results(client, 2, 4) and _results(client, 3, 4), 'the Tracks of targets 2 and 3')
    for target_id, later, earlier in ((2, CYCLIST, CAR), (3, CAR, CYCLIST)):
        track, = _results(client, target_id, 4)
        box = [track.box.x_min, track.box.y_min, track.box.x_max, track.box.y_max]
        assert iou(box, later) > 0.5 > iou(box, earlier), (target_id, track.state, box)


def test_a_box_outside_the_first_image_comes_back_as_idle_with_the_reason(client: NodeClient, frames) -> None:
    """Item 6: SetTarget before any image, with a box outside the image: accepted ("waits for the first image");
    on the first image the node refuses it and says so: an IDLE Track for the id, the reason in /diagnostics."""
    answer = client.set_target(OUTSIDE)
    assert answer.success, answer.message
    assert 'waits for the first image' in answer.message
    client.send_and_wait(frames[0], 1)
    client.spin_until(lambda: client.tracks_of(answer.target_id), f'a Track of target {answer.target_id}')
    track, = client.tracks_of(answer.target_id)
    assert track.state == Track.STATE_IDLE
    assert track.header.stamp.sec == 1
    values = client.fresh_diagnostics()
    assert values['rejected: box'] == '1', values
    assert f'target {answer.target_id} refused' in values['last problem']
    assert 'outside the 640x272 image' in values['last problem']
    assert values['targets'] == '0'
    retry = client.set_target(CAR)  # the id is free again
    assert (retry.success, retry.target_id) == (True, answer.target_id), retry.message
