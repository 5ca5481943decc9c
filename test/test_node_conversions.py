"""The node's pure message <-> array functions: images, boxes, tracking results, vision_msgs, clicks, QoS hints."""
from __future__ import annotations

import math
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

pytest.importorskip('rclpy', reason='needs rclpy and the built messages: run the tests through scripts/in-env')
from builtin_interfaces.msg import Time
from rclpy.qos import ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header

from siamrcnn_ros.msg import Box, Track, TrackArray
from siamrcnn_ros.node import conversions, detections
from siamrcnn_ros.node.clicks import (
    InvalidClickError,
    apply_transform,
    camera_matrix,
    check_pixel,
    project_to_pixel,
)
from siamrcnn_ros.node.images import BYTES_PER_PIXEL, InvalidImageError, image_msg_to_rgb, rgb_to_image_msg
from siamrcnn_ros.node.parameters import ImageQoSSettings
from siamrcnn_ros.node.qos import no_image_message
from siamrcnn_ros.tracking.records import TrackletInfo, TrackletTable, TrackResult

pytestmark = pytest.mark.ros
MAX_PIXELS = 10_000


def raw_image(encoding: str, pixels: np.ndarray, step_padding: int = 0) -> Image:
    """An Image with ``pixels`` ([H, W] or [H, W, C] of the encoding's dtype) as its data, rows padded."""
    height, width = pixels.shape[:2]
    rows = pixels.reshape(height, -1).view(np.uint8)  # [H, W * bpp]
    padded = np.zeros((height, rows.shape[1] + step_padding), np.uint8)
    padded[:, :rows.shape[1]] = rows
    return Image(header=Header(frame_id='cam'), height=height, width=width, encoding=encoding,
                 is_bigendian=0, step=padded.shape[1], data=padded.tobytes())


# --- images --------------------------------------------------------------------------------------------

def test_rgb8_bgr8_and_alpha_encodings_give_rgb() -> None:
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 7
    bgr = rgb[:, :, ::-1].copy()
    alpha = np.full((2, 3, 1), 200, np.uint8)
    assert np.array_equal(image_msg_to_rgb(raw_image('rgb8', rgb), MAX_PIXELS), rgb)
    assert np.array_equal(image_msg_to_rgb(raw_image('bgr8', bgr), MAX_PIXELS), rgb)
    assert np.array_equal(image_msg_to_rgb(raw_image('rgba8', np.concatenate([rgb, alpha], 2)), MAX_PIXELS), rgb)
    assert np.array_equal(image_msg_to_rgb(raw_image('bgra8', np.concatenate([bgr, alpha], 2)), MAX_PIXELS), rgb)


def test_padded_rows_are_read_by_step() -> None:
    rgb = np.random.default_rng(0).integers(0, 255, (4, 5, 3), dtype=np.uint8)
    out = image_msg_to_rgb(raw_image('rgb8', rgb, step_padding=7), MAX_PIXELS)
    assert np.array_equal(out, rgb)
    assert out.flags['C_CONTIGUOUS']


def test_mono8_and_mono16_become_grey_rgb() -> None:
    grey = np.array([[0, 100], [200, 255]], np.uint8)
    assert np.array_equal(image_msg_to_rgb(raw_image('mono8', grey), MAX_PIXELS), np.repeat(grey[..., None], 3, 2))
    deep = np.array([[0, 65535]], np.uint16)
    out = image_msg_to_rgb(raw_image('mono16', deep), MAX_PIXELS)
    assert out.dtype == np.uint8
    assert out[0, 0].tolist() == [0, 0, 0]
    assert out[0, 1].tolist() == [255, 255, 255]


def test_yuv422_of_a_grey_image_is_grey() -> None:
    uyvy = np.tile(np.array([128, 90, 128, 90], np.uint8), (2, 2)).reshape(2, 4, 2)  # U Y V Y, 4 px wide
    out = image_msg_to_rgb(raw_image('yuv422', uyvy), MAX_PIXELS)
    assert out.shape == (2, 4, 3)
    assert np.abs(out.astype(int) - out[0, 0, 0]).max() <= 1


def test_bayer_rggb_pattern_with_only_red_sites_is_red() -> None:
    mosaic = np.zeros((8, 8), np.uint8)
    mosaic[0::2, 0::2] = 255  # R sites of an RGGB pattern
    out = image_msg_to_rgb(raw_image('bayer_rggb8', mosaic), MAX_PIXELS)
    centre = out[2:6, 2:6].reshape(-1, 3).mean(0)
    assert centre[0] > 200
    assert centre[1] < 60
    assert centre[2] < 60


@pytest.mark.parametrize('encoding', sorted(BYTES_PER_PIXEL))
def test_every_listed_encoding_converts(encoding: str) -> None:
    bpp = BYTES_PER_PIXEL[encoding]
    data = np.random.default_rng(1).integers(0, 255, (4, 6 * bpp), dtype=np.uint8)
    msg = Image(height=4, width=6, encoding=encoding, step=6 * bpp, data=data.tobytes())
    out = image_msg_to_rgb(msg, MAX_PIXELS)
    assert out.shape == (4, 6, 3)
    assert out.dtype == np.uint8


def test_compressed_jpeg_and_png_decode_to_rgb() -> None:
    rgb = np.zeros((6, 8, 3), np.uint8)
    rgb[..., 0] = 250  # red
    ok, png = cv2.imencode('.png', rgb[..., ::-1])
    assert ok
    out = image_msg_to_rgb(CompressedImage(format='png', data=png.tobytes()), MAX_PIXELS)
    assert np.array_equal(out, rgb)
    ok, jpeg = cv2.imencode('.jpg', rgb[..., ::-1])
    out = image_msg_to_rgb(CompressedImage(format='jpeg', data=jpeg.tobytes()), MAX_PIXELS)
    assert out.shape == (6, 8, 3)
    assert out[..., 0].mean() > 200


@pytest.mark.parametrize(('fields', 'kind'), [
    ({'encoding': '32FC1'}, 'encoding'),
    ({'encoding': 'RGB8'}, 'encoding'),
    ({'width': 0}, 'size'),
    ({'height': 0}, 'size'),
    ({'width': 100_000, 'height': 100_000, 'step': 300_000}, 'size'),
    ({'step': 5}, 'data'),
    ({'data': bytes(10)}, 'data'),
    ({'encoding': 'yuv422', 'width': 3, 'step': 6}, 'size'),
])
def test_malformed_images_are_rejected_with_a_kind(fields: dict, kind: str) -> None:
    msg = raw_image('rgb8', np.zeros((4, 4, 3), np.uint8))
    for name, value in fields.items():
        setattr(msg, name, value)
    with pytest.raises(InvalidImageError) as error:
        image_msg_to_rgb(msg, MAX_PIXELS)
    assert error.value.kind == kind


def test_undecodable_compressed_images_are_rejected() -> None:
    with pytest.raises(InvalidImageError, match='no data'):
        image_msg_to_rgb(CompressedImage(format='jpeg', data=b''), MAX_PIXELS)
    with pytest.raises(InvalidImageError) as error:
        image_msg_to_rgb(CompressedImage(format='jpeg', data=b'not a jpeg at all'), MAX_PIXELS)
    assert error.value.kind == 'decode'


def test_rgb_to_image_msg_round_trips_with_the_header() -> None:
    rgb = np.random.default_rng(2).integers(0, 255, (3, 5, 3), dtype=np.uint8)
    header = Header(stamp=Time(sec=7, nanosec=9), frame_id='cam')
    msg = rgb_to_image_msg(rgb, header)
    assert (msg.encoding, msg.step, msg.header) == ('rgb8', 15, header)
    assert np.array_equal(image_msg_to_rgb(msg, MAX_PIXELS), rgb)
    with pytest.raises(ValueError, match='HxWx3 uint8'):
        rgb_to_image_msg(np.zeros((3, 5), np.uint8), header)


# --- time and boxes ------------------------------------------------------------------------------------

def test_stamps_round_trip_through_nanoseconds() -> None:
    assert conversions.stamp_to_ns(Time(sec=3, nanosec=5)) == 3_000_000_005
    assert conversions.ns_to_stamp(3_000_000_005) == Time(sec=3, nanosec=5)
    assert conversions.ns_to_stamp(0) == Time()
    with pytest.raises(ValueError, match='>= 0'):
        conversions.ns_to_stamp(-1)
    duration = conversions.seconds_to_duration(1.25)
    assert (duration.sec, duration.nanosec) == (1, 250_000_000)
    assert conversions.seconds_to_duration(-0.5).sec == 0


def test_box_messages_round_trip() -> None:
    box = np.array([1.5, 2.25, 30.5, 40.75])
    assert conversions.box_from_msg(conversions.box_to_msg(box)).tolist() == box.tolist()


# --- tracking results ----------------------------------------------------------------------------------

def _result(present: bool) -> TrackResult:
    selected = TrackletInfo(tracklet_id=0, box=np.array([10., 20, 50, 60]), present=present, theta=2.5,
                            similarity=0.9, start_frame=0, length=12)
    distractors = TrackletTable(
        tracklet_ids=np.array([4, 7, 9]), boxes=np.array([[1., 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]),
        theta=np.array([-np.inf, 1.5, 3e39]), similarity=np.array([0.1, 0.2, 0.3]),
        start_frames=np.array([3, 5, 8]), lengths=np.array([9, 7, 4]))
    return TrackResult(frame=11, box=selected.box, present=present, confidence=0.75 if present else 0.0,
                       selected=selected, distractors=distractors)


def test_a_present_result_becomes_a_tracking_track_with_the_source_header() -> None:
    header = Header(stamp=Time(sec=5, nanosec=1), frame_id='cam')
    track = conversions.result_to_track(_result(True), target_id=3, header=header, latency_s=0.5,
                                        start_stamp=lambda index: Time(sec=100 + index))
    assert track.header == header
    assert (track.target_id, track.state, track.present) == (3, Track.STATE_TRACKING, True)
    assert track.confidence == pytest.approx(0.75)
    assert [track.box.x_min, track.box.y_min, track.box.x_max, track.box.y_max] == [10, 20, 50, 60]
    assert track.selected_tracklet_id == 1  # tracker id 0 (first-frame tracklet) -> message id 1
    assert (track.latency.sec, track.latency.nanosec) == (0, 500_000_000)
    assert track.mask.width == 0
    assert len(track.mask.data) == 0


def test_distractors_are_ordered_by_dp_score_with_unreachable_ones_last() -> None:
    track = conversions.result_to_track(_result(True), target_id=1, header=Header(), latency_s=0.0,
                                        start_stamp=lambda index: Time(sec=100 + index))
    assert [d.id for d in track.distractors] == [10, 8, 5]
    assert track.distractors[0].dp_score == pytest.approx(conversions.FLOAT32_MAX, rel=1e-6)  # clipped
    assert track.distractors[1].dp_score == pytest.approx(1.5)
    assert track.distractors[2].dp_score == conversions.UNREACHABLE_DP_SCORE  # θ = -inf
    assert math.isfinite(track.distractors[2].dp_score)
    assert [d.start_stamp.sec for d in track.distractors] == [108, 105, 103]
    assert [d.length for d in track.distractors] == [4, 7, 9]
    assert [d.similarity for d in track.distractors] == pytest.approx([0.3, 0.2, 0.1])
    assert not any(d.selected for d in track.distractors)


def test_an_absent_result_is_lost_with_zero_confidence() -> None:
    track = conversions.result_to_track(_result(False), target_id=2, header=Header(), latency_s=0.0,
                                        start_stamp=lambda index: Time())
    assert (track.state, track.present, track.confidence) == (Track.STATE_LOST, False, 0.0)
    assert track.box.x_max == pytest.approx(50)  # the last box seen


def test_status_tracks_and_track_arrays() -> None:
    header = Header(frame_id='cam')
    idle = conversions.status_track(target_id=4, header=header, state=Track.STATE_IDLE)
    waiting = conversions.status_track(target_id=2, header=header, state=Track.STATE_INITIALIZING)
    assert (idle.state, idle.present, idle.box.x_max, idle.selected_tracklet_id) == (Track.STATE_IDLE, False, 0, 0)
    with pytest.raises(ValueError, match='STATE_IDLE or STATE_INITIALIZING'):
        conversions.status_track(target_id=1, header=header, state=Track.STATE_TRACKING)
    tracking = conversions.result_to_track(_result(True), target_id=1, header=header, latency_s=0.0,
                                           start_stamp=lambda index: Time())
    array = conversions.track_array(header, [waiting, idle, tracking])
    assert [t.target_id for t in array.tracks] == [1, 2]  # IDLE left out, ordered by id
    assert array.header == header


def test_dp_score_nan_is_refused() -> None:
    with pytest.raises(ValueError, match='NaN'):
        conversions.dp_score_to_msg(float('nan'))


# --- vision_msgs ---------------------------------------------------------------------------------------

class _Msg(SimpleNamespace):
    """A stand-in message: vision_msgs is not installed here (not on the pip wheels), so the conversion is
    checked against stand-ins with the documented vision_msgs 4.x field layout (SPEC §7)."""


def _detection() -> _Msg:
    return _Msg(header=None, results=[], id='', bbox=_Msg(center=_Msg(position=_Msg(x=0.0, y=0.0), theta=0.0),
                                                         size_x=0.0, size_y=0.0))


def _hypothesis() -> _Msg:
    return _Msg(hypothesis=_Msg(class_id='', score=0.0), pose=_Msg())


STAND_INS = detections.VisionTypes(lambda: _Msg(header=None, detections=[]), _detection, _hypothesis)


def test_tracks_become_detection2d_with_id_score_and_centre_size() -> None:
    header = Header(stamp=Time(sec=9), frame_id='cam')
    present = Track(header=header, target_id=3, state=Track.STATE_TRACKING, present=True, confidence=0.8,
                    box=Box(x_min=10.0, y_min=20.0, x_max=50.0, y_max=80.0))
    absent = Track(header=header, target_id=5, state=Track.STATE_LOST, present=False, confidence=0.0,
                   box=Box(x_min=0.0, y_min=0.0, x_max=4.0, y_max=2.0))
    waiting = Track(header=header, target_id=6, state=Track.STATE_INITIALIZING)
    out = detections.tracks_to_detections(TrackArray(header=header, tracks=[present, absent, waiting]), STAND_INS)
    assert out.header == header
    assert [d.id for d in out.detections] == ['3', '5']
    first = out.detections[0]
    assert first.header == header
    assert (first.bbox.center.position.x, first.bbox.center.position.y, first.bbox.center.theta) == (30.0, 50.0, 0.0)
    assert (first.bbox.size_x, first.bbox.size_y) == (40.0, 60.0)
    assert first.results[0].hypothesis.class_id == detections.TARGET_CLASS_ID
    assert first.results[0].hypothesis.score == pytest.approx(0.8)
    assert out.detections[1].results[0].hypothesis.score == 0.0


def test_vision_msgs_is_optional() -> None:
    try:
        import vision_msgs  # noqa: F401
    except ImportError:
        assert detections.load_vision_types() is None
    else:
        assert detections.load_vision_types() is not None


# --- clicks --------------------------------------------------------------------------------------------

def _camera_info(p: list[float] | None = None) -> CameraInfo:
    info = CameraInfo(width=640, height=480)
    info.k = [500.0, 0.0, 320.0, 0.0, 500.0, 240.0, 0.0, 0.0, 1.0]
    if p is not None:
        info.p = p
    return info


def test_points_in_the_optical_frame_project_with_p_or_k() -> None:
    with_k = camera_matrix(_camera_info())
    assert project_to_pixel((0.0, 0.0, 2.0), with_k) == pytest.approx((320.0, 240.0))
    assert project_to_pixel((0.2, -0.1, 1.0), with_k) == pytest.approx((420.0, 190.0))
    with_p = camera_matrix(_camera_info([400.0, 0, 300, 0, 0, 400, 200, 0, 0, 0, 1, 0]))
    assert project_to_pixel((0.1, 0.1, 1.0), with_p) == pytest.approx((340.0, 240.0))


def test_unprojectable_clicks_are_refused() -> None:
    projection = camera_matrix(_camera_info())
    with pytest.raises(InvalidClickError, match='not in front'):
        project_to_pixel((0.0, 0.0, -1.0), projection)
    with pytest.raises(InvalidClickError, match='NaN or infinite'):
        project_to_pixel((float('nan'), 0.0, 1.0), projection)
    with pytest.raises(InvalidClickError, match='no valid P or K'):
        camera_matrix(CameraInfo())
    with pytest.raises(InvalidClickError, match='outside the 640x480 image'):
        check_pixel(640.0, 10.0, (480, 640))
    assert check_pixel(639.5, 0.0, (480, 640)) == (639.5, 0.0)


def test_transforms_rotate_then_translate() -> None:
    quarter_turn_z = (0.0, 0.0, math.sqrt(0.5), math.sqrt(0.5))
    assert apply_transform((1.0, 2.0, 3.0), quarter_turn_z, (1.0, 0.0, 0.0)) == pytest.approx((1.0, 3.0, 3.0))
    assert apply_transform((0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 2.0), (1.0, 2.0, 3.0)) == pytest.approx((1.0, 2.0, 3.0))
    with pytest.raises(InvalidClickError, match='quaternion'):
        apply_transform((0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 0.0), (1.0, 2.0, 3.0))


# --- the no-image hint ---------------------------------------------------------------------------------

def _publisher(reliability: ReliabilityPolicy, topic_type: str = 'sensor_msgs/msg/Image') -> SimpleNamespace:
    return SimpleNamespace(node_name='cam', node_namespace='/', topic_type=topic_type,
                           qos_profile=SimpleNamespace(reliability=reliability))


def test_no_image_message_names_the_likely_cause() -> None:
    best_effort, reliable = ImageQoSSettings('best_effort', 1), ImageQoSSettings('reliable', 1)
    assert 'nothing publishes' in no_image_message('/cam/image', 6, best_effort, [])
    mismatch = no_image_message('/cam/image', 6, reliable, [_publisher(ReliabilityPolicy.BEST_EFFORT)])
    assert 'QoS mismatch' in mismatch
    assert 'best_effort' in mismatch
    assert '/cam' in mismatch
    string_publisher = _publisher(ReliabilityPolicy.RELIABLE, 'std_msgs/msg/String')
    wrong = no_image_message('/cam/image', 6, best_effort, [string_publisher])
    assert 'std_msgs/msg/String' in wrong
    other = no_image_message('/cam/image', 6, best_effort, [_publisher(ReliabilityPolicy.RELIABLE)])
    assert 'compatible QoS' in other
