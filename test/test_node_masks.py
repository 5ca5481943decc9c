"""Box2Seg masks in the node: ``Track.mask`` / ``mask_roi`` as Track.msg specifies them, from the session (no
ROS graph) and end to end through the real node process (``mask.enabled``, ``mask.checkpoint``).

The tests load a real checkpoint whose network fills each box's
crop window (``box2seg_fixtures``), so they can say where the mask must be; they check plumbing and message
contracts, not mask quality. The re-detector is the shipped ``demo`` model on the CPU.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
from box2seg_fixtures import window_mask, write_filling_checkpoint

pytest.importorskip('rclpy', reason='needs rclpy and the built messages: run the tests through scripts/in-env')
import rclpy
from node_processes import NODE_NAME, call, interrupt, spin_until, start_node, wait_active
from rcl_interfaces.srv import SetParameters
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from siamrcnn_ros.box2seg import build_box2seg
from siamrcnn_ros.model.siamrcnn import build_model
from siamrcnn_ros.msg import Box, Track
from siamrcnn_ros.node.conversions import ns_to_stamp
from siamrcnn_ros.node.diagnostics import Health
from siamrcnn_ros.node.frame_buffer import Frame, FrameBuffer
from siamrcnn_ros.node.images import rgb_to_image_msg
from siamrcnn_ros.node.masks import mask_fields
from siamrcnn_ros.node.outputs import debug_image, frame_tracks
from siamrcnn_ros.node.session import TrackingSession
from siamrcnn_ros.srv import SetTarget
from siamrcnn_ros.tracking.tracker import TrackerSettings

pytestmark = pytest.mark.ros
HEIGHT, WIDTH = 120, 160
BOX = np.array([40.0, 40.0, 80.0, 80.0])  # xyxy: the bright square of frame 0
TIMEOUT_S = 120.0


def blob_frame(index: int) -> np.ndarray:
    """``[120, 160, 3]`` uint8 RGB: a bright square in ``BOX`` on a dark background, with a little noise that
    changes from frame to frame (a still scene: the tracker should keep the target present)."""
    rng = np.random.default_rng(index)
    image = np.full((HEIGHT, WIDTH, 3), 30, np.uint8) + rng.integers(0, 8, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    image[40:80, 40:80] = (220, 200, 60)
    return image


def check_mask_fields(track: Track, header: Header) -> np.ndarray:
    """Asserts Track.msg's mask contract; returns the mask as ``[H, W]`` bool over the whole image."""
    roi, mask = track.mask_roi, track.mask
    assert roi.width > 0
    assert roi.height > 0
    assert roi.x_offset + roi.width <= WIDTH
    assert roi.y_offset + roi.height <= HEIGHT
    assert (mask.width, mask.height) == (roi.width, roi.height)
    assert (mask.encoding, mask.step, mask.is_bigendian) == ('mono8', mask.width, 0)
    assert mask.header == header
    pixels = np.frombuffer(bytes(mask.data), np.uint8).reshape(mask.height, mask.width)
    assert set(np.unique(pixels)) <= {0, 255}
    full = np.zeros((HEIGHT, WIDTH), bool)
    full[roi.y_offset:roi.y_offset + roi.height, roi.x_offset:roi.x_offset + roi.width] = pixels == 255
    # The roi is the mask's bounding box: every border row and column of it holds a target pixel.
    assert all(edge.any() for edge in (pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]))
    return full


def assert_no_mask(track: Track) -> None:
    assert (track.mask.width, track.mask.height, len(track.mask.data)) == (0, 0, 0)
    assert (track.mask_roi.x_offset, track.mask_roi.y_offset, track.mask_roi.width, track.mask_roi.height) == \
        (0, 0, 0, 0)


# --- the message fields --------------------------------------------------------------------------------

def test_mask_fields_cover_the_masks_bounding_box() -> None:
    header = Header(frame_id='cam', stamp=ns_to_stamp(5))
    mask = np.zeros((6, 8), bool)
    mask[2, 3] = mask[4, 5] = True
    image, roi = mask_fields(mask, header)
    assert (roi.x_offset, roi.y_offset, roi.width, roi.height) == (3, 2, 3, 3)
    assert (image.width, image.height, image.encoding, image.step) == (3, 3, 'mono8', 3)
    assert image.header == header
    np.testing.assert_array_equal(np.frombuffer(bytes(image.data), np.uint8).reshape(3, 3),
                                  [[255, 0, 0], [0, 0, 0], [0, 0, 255]])
    for empty in (None, np.zeros((6, 8), bool)):
        image, roi = mask_fields(empty, header)
        assert (image.width, image.height, len(image.data), roi.width, roi.height) == (0, 0, 0, 0, 0)


# --- the session (worker path), no ROS graph -----------------------------------------------------------

@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return build_model('demo', device='cpu')


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_filling_checkpoint(tmp_path_factory.mktemp('box2seg') / 'filling.safetensors')


def arrive(frames: FrameBuffer, index: int) -> Frame:
    header = Header(frame_id='cam', stamp=ns_to_stamp((index + 1) * 1_000_000_000))
    frame = Frame(stamp_ns=(index + 1) * 1_000_000_000, image=blob_frame(index), header=header, arrival_s=0.0,
                  index=index)
    frames.push(frame)
    return frame


def test_session_masks_off_leave_the_fields_empty_and_on_fill_them(model, checkpoint) -> None:
    problems: list[tuple[str, str]] = []
    health = Health()

    def problem(kind: str, text: str) -> None:
        health.problem(kind, text)  # a kind the node's diagnostics know
        problems.append((kind, text))

    frames = FrameBuffer(5)
    session = TrackingSession(model, TrackerSettings(), 2, frames, problem)
    session.request_box(0, BOX, stamp_ns=0)
    off = session.process(arrive(frames, 0))
    assert off.masks == {}
    tracks = frame_tracks(off, 0.01)
    assert [t.state for t in tracks] == [Track.STATE_TRACKING]
    assert_no_mask(tracks[0])

    session.set_box2seg(build_box2seg(checkpoint=checkpoint, device='cpu'))
    segmented = 0
    for index in (1, 2):
        outcome = session.process(arrive(frames, index))
        tracks = frame_tracks(outcome, 0.01)
        result = outcome.results[1]
        if not result.present:  # an absent target has no mask
            assert outcome.masks == {}
            assert_no_mask(tracks[0])
            continue
        mask = check_mask_fields(tracks[0], outcome.frame.header)
        segmented += 1
        np.testing.assert_array_equal(mask, window_mask(np.clip(result.box, 0, [WIDTH, HEIGHT] * 2),
                                                        (HEIGHT, WIDTH)))
        drawn = debug_image(outcome, None)
        assert (drawn[mask] != outcome.frame.image[mask]).any()  # the tint
        assert (outcome.frame.image == blob_frame(index)).all()  # never drawn on the buffered frame

    assert segmented > 0  # a still scene: the target stays present

    session.set_box2seg(None)
    outcome = session.process(arrive(frames, 3))
    assert outcome.masks == {}
    assert_no_mask(frame_tracks(outcome, 0.01)[0])
    assert problems == []

    # A Box2Seg that fails (BatchNorm in training mode cannot take the single crop): the frame is still
    # tracked and published, without masks, and the failure is counted as a 'mask' problem.
    broken = build_box2seg(checkpoint=checkpoint, device='cpu')
    broken.net.train()
    session.set_box2seg(broken)
    outcome = session.process(arrive(frames, 4))
    assert list(outcome.results) == [1]
    assert outcome.masks == {}
    assert [kind for kind, _ in problems] == ['mask']
    assert 'Box2Seg failed on the frame stamped 5000000000 ns' in problems[0][1]


# --- end to end: the node process ------------------------------------------------------------------------

class Peer:
    """The test's side of the graph: a camera publishing blob frames, the target service, parameters, tracks."""

    def __init__(self, node: rclpy.node.Node) -> None:
        self.node = node
        self.tracks: list[Track] = []
        self.headers: dict[tuple[int, int], Header] = {}
        self.camera = node.create_publisher(Image, '/masks_cam/image', QoSProfile(
            depth=1, reliability=ReliabilityPolicy.RELIABLE))
        node.create_subscription(Track, f'{NODE_NAME}/track', self.tracks.append,
                                 QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
        self.set_target = node.create_client(SetTarget, f'{NODE_NAME}/set_target')
        self.set_parameters = node.create_client(SetParameters, f'{NODE_NAME}/set_parameters')
        self.published = 0
        node.create_timer(0.2, self.publish)

    def publish(self) -> None:
        header = Header(frame_id='masks_cam', stamp=ns_to_stamp(time.time_ns()))
        self.headers[(header.stamp.sec, header.stamp.nanosec)] = header
        self.camera.publish(rgb_to_image_msg(blob_frame(self.published), header))
        self.published += 1

    def results_after(self, start: int, states: tuple[int, ...], target_id: int) -> list[Track]:
        return [t for t in self.tracks[start:] if t.target_id == target_id and t.state in states]

    def wait_results(self, count: int, what: str, states: tuple[int, ...] = (Track.STATE_TRACKING,),
                     target_id: int = 1) -> list[Track]:
        """The next ``count`` results of ``target_id`` in one of ``states`` (present ones by default)."""
        start = len(self.tracks)
        spin_until(self.node, lambda: len(self.results_after(start, states, target_id)) >= count, TIMEOUT_S, what)
        return self.results_after(start, states, target_id)[:count]

    def request_target(self, target_id: int, box: np.ndarray) -> int:
        request = SetTarget.Request(target_id=target_id, box=Box(x_min=float(box[0]), y_min=float(box[1]),
                                                                 x_max=float(box[2]), y_max=float(box[3])))
        answer = call(self.node, self.set_target, request, TIMEOUT_S)
        assert answer.success, answer.message
        return answer.target_id

    def check_result(self, track: Track) -> None:
        """A present target carries its mask (the filling network: the window around the published box, which
        it covers), an absent one none; the mask's header is the source image's."""
        header = self.headers[(track.header.stamp.sec, track.header.stamp.nanosec)]
        assert track.header == header  # the source image's header, unchanged
        if not track.present:
            assert_no_mask(track)
            return
        mask = check_mask_fields(track, header)
        box = np.array([track.box.x_min, track.box.y_min, track.box.x_max, track.box.y_max])
        inside = mask[int(np.ceil(box[1])):int(box[3]), int(np.ceil(box[0])):int(box[2])]
        assert inside.size > 0
        assert inside.all()  # the mask covers the published box
        np.testing.assert_array_equal(mask, window_mask(np.clip(box, 0, [WIDTH, HEIGHT] * 2), (HEIGHT, WIDTH)))

    def spin_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        spin_until(self.node, lambda: time.monotonic() > deadline, seconds + 1.0, 'time to pass')

    def set_parameter(self, name: str, value: object) -> None:
        request = SetParameters.Request(parameters=[Parameter(name, value=value).to_parameter_msg()])
        result = call(self.node, self.set_parameters, request, TIMEOUT_S).results[0]
        assert result.successful, result.reason


def test_the_node_publishes_masks_placed_on_the_image_and_switches_them_at_runtime(ros_domain_id: int,
                                                                                    tmp_path: Path) -> None:
    checkpoint = write_filling_checkpoint(tmp_path / 'filling.safetensors')
    node_process = start_node(tmp_path, '-r', 'image:=/masks_cam/image', '-p', 'mask.enabled:=true',
                              '-p', f'mask.checkpoint:={checkpoint}')
    rclpy.init()
    try:
        peer = Peer(rclpy.create_node('masks_test'))
        wait_active(peer.node, node_process, timeout=TIMEOUT_S)
        # The first result of a target is its start frame, present by definition; later ones may be LOST
        # (random-looking scene for the demo model): present ones carry a mask, absent ones none.
        assert peer.request_target(1, BOX) == 1
        results = peer.wait_results(3, '3 frames of target 1', (Track.STATE_TRACKING, Track.STATE_LOST))
        assert results[0].present
        for track in results:
            peer.check_result(track)

        # A box reaching past the image's left and bottom edges (the node clips it): the mask stays inside.
        edge = call(peer.node, peer.set_target, SetTarget.Request(target_id=2, box=Box(
            x_min=-20.0, y_min=90.0, x_max=30.0, y_max=140.0)), TIMEOUT_S)
        assert edge.success, edge.message
        for track in peer.wait_results(2, '2 frames of the edge target', (Track.STATE_TRACKING, Track.STATE_LOST), 2):
            peer.check_result(track)

        peer.set_parameter('mask.enabled', False)  # now: masks stop with the next frame
        peer.spin_for(2.0)  # a frame in flight may still carry one: receive it before counting
        for track in peer.wait_results(2, '2 frames without masks', (Track.STATE_TRACKING, Track.STATE_LOST)):
            assert_no_mask(track)
        peer.set_parameter('mask.enabled', True)  # the network is still loaded: back at once
        peer.spin_for(2.0)
        assert peer.request_target(1, BOX) == 1  # restarted: its next result is present
        peer.check_result(peer.wait_results(1, 'target 1 restarted, with a mask')[0])
        peer.node.destroy_node()
    finally:
        rclpy.shutdown()
        status = interrupt(node_process)
    log = (tmp_path / 'node.err').read_text()
    assert status == 0, log
    assert f'masks: Box2Seg checkpoint {checkpoint}' in log
    assert 'mask' not in {line.split(':')[0] for line in log.splitlines() if 'rejected' in line}


def test_a_checkpoint_that_is_no_box2seg_refuses_the_switch_and_fails_configure(ros_domain_id: int) -> None:
    """Loading failures are reasons, not crashes: turning masks on in a configured node is refused, and a
    configure with masks on fails (the re-detector's checkpoint is a file, but not a Box2Seg checkpoint)."""
    from rclpy.lifecycle import TransitionCallbackReturn

    from siamrcnn_ros.model.default_weights import shipped_checkpoint
    from siamrcnn_ros.node.node import SiamRCNNNode

    wrong = shipped_checkpoint('demo')
    assert wrong is not None
    rclpy.init()
    try:
        node = SiamRCNNNode(parameter_overrides=[Parameter('model.device', value='cpu'),
                                                 Parameter('mask.checkpoint', value=str(wrong))])
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS  # masks off: not loaded
        refused = node.set_parameters([Parameter('mask.enabled', value=True)])[0]
        assert not refused.successful
        assert 'cannot load the Box2Seg network' in refused.reason
        assert 'not a siamrcnn_ros.box2seg checkpoint' in refused.reason
        assert node.get_parameter('mask.enabled').value is False
        assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
        assert node.set_parameters([Parameter('mask.enabled', value=True)])[0].successful  # loaded at configure
        assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
        node.destroy_node()
    finally:
        rclpy.shutdown()
