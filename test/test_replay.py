"""``siamrcnn-replay`` end to end: bags written here (MCAP and sqlite3, rclpy-serialised real frames of bikes.mp4 as
rgb8, bgr8 and PNG CompressedImage), replayed with the demo preset on the CPU in a subprocess, outputs read back.

The three encodings of the same pixels, the two storages and the two ways to give the target (topic, --box)
must all give byte-identical Track messages: the replay is deterministic and only the pixels matter.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import REPO_ROOT
from video_frames import bikes_frames

rclpy_serialization = pytest.importorskip('rclpy.serialization', reason='needs rclpy: run through scripts/in-env')
from rosbags.rosbag2 import Reader, Writer  # noqa: E402
from sensor_msgs.msg import CompressedImage, Image  # noqa: E402

from siamrcnn_ros.msg import Box, TargetRequest, Track, TrackArray  # noqa: E402
from siamrcnn_ros.node.conversions import ns_to_stamp, stamp_to_ns  # noqa: E402
from siamrcnn_ros.tools.bag_types import STORAGES, typestore_with_package_types  # noqa: E402
from siamrcnn_ros.tools.replay_inputs import BagTarget, ImageIndex, schedule_targets  # noqa: E402
from siamrcnn_ros.tools.replay_stream import Problems, ReplayStream  # noqa: E402

pytestmark = pytest.mark.ros

FRAMES = 5
FIRST_STAMP = 1_700_000_000_000_000_000
PERIOD = 33_333_333  # 30 Hz
RECEIVE_DELAY = 5_000_000  # bag time = stamp + 5 ms, as a recorder receiving the camera's messages
FRAME_ID = 'camera_optical_frame'
TARGET_XYXY = (250.0, 60.0, 330.0, 200.0)  # pixels of bikes.mp4 (640x272)
IMAGE_TOPIC = '/camera/image_raw'
TARGET_TOPIC = '/siamrcnn_node/target'
TRACK_TOPIC = '/siamrcnn_node/track'
TRACKS_TOPIC = '/siamrcnn_node/tracks'


def image_msg(rgb: np.ndarray, index: int, encoding: str) -> Image | CompressedImage:
    """Frame ``index`` as the camera would send it: ``rgb8``, ``bgr8`` or ``png`` (CompressedImage)."""
    stamp = ns_to_stamp(FIRST_STAMP + index * PERIOD)
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if encoding == 'png':
        msg = CompressedImage(format='png', data=cv2.imencode('.png', bgr)[1].tobytes())
    else:
        pixels = rgb if encoding == 'rgb8' else bgr
        msg = Image(height=rgb.shape[0], width=rgb.shape[1], encoding=encoding, step=3 * rgb.shape[1],
                    data=np.ascontiguousarray(pixels).tobytes())
    msg.header.stamp, msg.header.frame_id = stamp, FRAME_ID
    return msg


def write_bag(path: Path, storage: str, encoding: str, target_stamp_ns: int | None) -> Path:
    """A bag of the first ``FRAMES`` frames of bikes.mp4 on ``IMAGE_TOPIC``, plus (unless ``target_stamp_ns`` is
    ``None``) a TargetRequest for ``TARGET_XYXY`` with that stamp, recorded 10 ms after the first image."""
    typestore = typestore_with_package_types()
    with Writer(path, version=9, storage_plugin=STORAGES[storage]) as writer:
        image_type = 'sensor_msgs/msg/CompressedImage' if encoding == 'png' else 'sensor_msgs/msg/Image'
        images = writer.add_connection(IMAGE_TOPIC, image_type, typestore=typestore)
        if target_stamp_ns is not None:
            target = writer.add_connection(TARGET_TOPIC, 'siamrcnn_ros/msg/TargetRequest', typestore=typestore)
        for index, rgb in enumerate(bikes_frames(FRAMES)):
            time_ns = FIRST_STAMP + index * PERIOD + RECEIVE_DELAY
            writer.write(images, time_ns, rclpy_serialization.serialize_message(image_msg(rgb, index, encoding)))
            if index == 0 and target_stamp_ns is not None:
                request = TargetRequest(target_id=0, box=Box(x_min=TARGET_XYXY[0], y_min=TARGET_XYXY[1],
                                                             x_max=TARGET_XYXY[2], y_max=TARGET_XYXY[3]))
                request.header.stamp, request.header.frame_id = ns_to_stamp(target_stamp_ns), FRAME_ID
                writer.write(target, time_ns + 10_000_000, rclpy_serialization.serialize_message(request))
    return path


def replay(*args: object) -> subprocess.CompletedProcess:
    command = [sys.executable, '-m', 'siamrcnn_ros.tools.replay', '--preset', 'demo', '--device', 'cpu',
               '--no-progress', *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, cwd=REPO_ROOT)


def read_topics(bag: Path) -> dict[str, list[tuple[int, bytes]]]:
    """``{topic: [(bag time ns, raw CDR bytes), ...]}`` in bag order."""
    out: dict[str, list[tuple[int, bytes]]] = {}
    with Reader(bag) as reader:
        for connection, time_ns, raw in reader.messages():
            out.setdefault(connection.topic, []).append((time_ns, bytes(raw)))
    return out


def image_stamps() -> list[int]:
    return [FIRST_STAMP + i * PERIOD for i in range(FRAMES)]


@pytest.fixture(scope='module')
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The rgb8 MCAP bag with its TargetRequest drawn on the first image, replayed once with a video."""
    root = tmp_path_factory.mktemp('replay')
    bag = write_bag(root / 'rgb8_mcap', 'mcap', 'rgb8', FIRST_STAMP)
    result = replay(bag, '--output', root / 'out', '--video', root / 'out.mp4')
    assert result.returncode == 0, result.stderr
    return {'root': root, 'bag': bag, 'result': result, 'topics': read_topics(root / 'out')}


def test_one_track_per_image_stamped_like_it(reference: dict[str, object]) -> None:
    topics = reference['topics']
    assert set(topics) == {TRACK_TOPIC, TRACKS_TOPIC}
    assert any(p.suffix == '.mcap' for p in (reference['root'] / 'out').iterdir())  # storage of the input
    tracks = [rclpy_serialization.deserialize_message(raw, Track) for _, raw in topics[TRACK_TOPIC]]
    arrays = [rclpy_serialization.deserialize_message(raw, TrackArray) for _, raw in topics[TRACKS_TOPIC]]
    assert len(tracks) == len(arrays) == FRAMES
    assert [stamp_to_ns(t.header.stamp) for t in tracks] == image_stamps()
    assert [stamp_to_ns(a.header.stamp) for a in arrays] == image_stamps()
    assert {t.header.frame_id for t in tracks} == {FRAME_ID}
    # Recorded at the source image's bag time.
    assert [time for time, _ in topics[TRACK_TOPIC]] == [s + RECEIVE_DELAY for s in image_stamps()]
    assert [time for time, _ in topics[TRACKS_TOPIC]] == [s + RECEIVE_DELAY for s in image_stamps()]
    # The target starts on the image it was drawn on: its first Track is the init result.
    first = tracks[0]
    assert first.target_id == 1
    assert first.state == Track.STATE_TRACKING
    assert first.present
    assert first.confidence == 1.0
    assert (first.box.x_min, first.box.y_min, first.box.x_max, first.box.y_max) == TARGET_XYXY
    for track, array in zip(tracks, arrays, strict=True):
        assert track.state in (Track.STATE_TRACKING, Track.STATE_LOST)
        assert list(array.tracks) == [track]
        assert track.latency.sec == 0
        assert track.latency.nanosec == 0
    assert f'{FRAMES}/{FRAMES} images of {IMAGE_TOPIC} tracked' in reference['result'].stdout


def test_annotated_video_has_a_frame_per_image(reference: dict[str, object]) -> None:
    capture = cv2.VideoCapture(str(reference['root'] / 'out.mp4'))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    assert len(frames) == FRAMES
    assert frames[0].shape == (272, 640, 3)


@pytest.mark.slow
def test_second_run_is_byte_identical(reference: dict[str, object]) -> None:
    out = reference['root'] / 'again'
    result = replay(reference['bag'], '--output', out)
    assert result.returncode == 0, result.stderr
    assert read_topics(out) == reference['topics']


@pytest.mark.slow
def test_bgr8_sqlite3_with_box_option_gives_the_same_tracks(reference: dict[str, object], tmp_path: Path) -> None:
    bag = write_bag(tmp_path / 'bgr8_sqlite3', 'sqlite3', 'bgr8', None)
    x0, y0, x1, y1 = TARGET_XYXY
    result = replay(bag, '--output', tmp_path / 'out', '--box', f'{x0},{y0},{x1 - x0},{y1 - y0}')
    assert result.returncode == 0, result.stderr
    assert any(p.suffix == '.db3' for p in (tmp_path / 'out').iterdir())
    assert read_topics(tmp_path / 'out') == reference['topics']


@pytest.mark.slow
def test_compressed_images_and_a_zero_stamp_target_give_the_same_tracks(reference: dict[str, object],
                                                                        tmp_path: Path) -> None:
    # A zero stamp means "the newest image when the request arrived": the first one here.
    bag = write_bag(tmp_path / 'png_mcap', 'mcap', 'png', 0)
    result = replay(bag, '--output', tmp_path / 'out', '--storage', 'sqlite3', '--copy-images')
    assert result.returncode == 0, result.stderr
    topics = read_topics(tmp_path / 'out')
    assert len(topics.pop(IMAGE_TOPIC)) == FRAMES
    assert topics == reference['topics']


@pytest.mark.slow
def test_box_at_starts_on_the_image_with_that_stamp(reference: dict[str, object], tmp_path: Path) -> None:
    x0, y0, x1, y1 = TARGET_XYXY
    result = replay(reference['bag'], '--output', tmp_path / 'out', '--box', f'{x0},{y0},{x1 - x0},{y1 - y0}',
                    '--box-at', image_stamps()[2] + 1000)
    assert result.returncode == 0, result.stderr
    topics = read_topics(tmp_path / 'out')
    tracks = [rclpy_serialization.deserialize_message(raw, Track) for _, raw in topics[TRACK_TOPIC]]
    arrays = [rclpy_serialization.deserialize_message(raw, TrackArray) for _, raw in topics[TRACKS_TOPIC]]
    assert [stamp_to_ns(t.header.stamp) for t in tracks] == image_stamps()[2:]
    assert tracks[0].state == Track.STATE_TRACKING
    assert [len(a.tracks) for a in arrays] == [0, 0, 1, 1, 1]  # a TrackArray per image, empty before the target


def test_schedule_targets_picks_the_nearest_stamp_or_the_newest_image() -> None:
    images = ImageIndex(times_ns=np.array([15, 25, 35, 45]), stamps_ns=np.array([10, 20, 30, 20]))  # looped at 3
    box = np.array(TARGET_XYXY)
    targets = [BagTarget(time_ns=40, stamp_ns=21, target_id=1, box=box),  # stamp 20 twice: nearest in bag time
               BagTarget(time_ns=16, stamp_ns=29, target_id=2, box=box),
               BagTarget(time_ns=30, stamp_ns=0, target_id=3, box=box),  # newest at time 30
               BagTarget(time_ns=5, stamp_ns=0, target_id=4, box=box)]  # before every image: the first
    schedule = schedule_targets(images, targets)
    assert {index: [t.target_id for t in ts] for index, ts in schedule.items()} == {3: [1], 2: [2], 1: [3], 0: [4]}
    with pytest.raises(ValueError, match='no images'):
        schedule_targets(ImageIndex(np.array([], dtype=np.int64), np.array([], dtype=np.int64)), targets)


def test_stream_skips_bad_images_and_resets_like_the_node() -> None:
    import torch

    from siamrcnn_ros.model import build_model
    from siamrcnn_ros.tracking.tracker import TrackerSettings

    torch.manual_seed(0)
    problems = Problems()
    stream = ReplayStream(build_model('demo', device='cpu'), TrackerSettings(), 4, 10**7, problems)
    frames = bikes_frames(3)
    first = stream.process(image_msg(frames[0], 0, 'rgb8'), [BagTarget(0, 0, 0, np.array(TARGET_XYXY))])
    assert [(t.target_id, t.state) for t in first.tracks] == [(1, Track.STATE_TRACKING)]  # id 0 -> the lowest free

    bad = image_msg(frames[1], 1, 'rgb8')
    bad.encoding = '32FC1'
    assert stream.process(bad) is None
    assert problems.counts == {'encoding': 1}
    second = stream.process(image_msg(frames[1], 1, 'rgb8'))
    assert [t.target_id for t in second.tracks] == [1]
    assert stamp_to_ns(second.array.header.stamp) == image_stamps()[1]

    # A looped bag: the stamp goes back, the stream restarts and the target is reported IDLE once.
    looped = stream.process(image_msg(frames[2], 0, 'rgb8'))
    assert problems.counts['stamp_backwards'] == 1
    assert [(t.target_id, t.state) for t in looped.tracks] == [(1, Track.STATE_IDLE)]
    assert list(looped.array.tracks) == []

    # Another camera mode: a reset again; a box outside the new image is refused, a good one starts.
    small = cv2.resize(frames[2], (320, 136), interpolation=cv2.INTER_AREA)
    targets = [BagTarget(0, 0, 2, np.array([400.0, 10.0, 500.0, 100.0])),
               BagTarget(0, 0, 3, np.array([10.0, 10.0, 60.0, 90.0]))]
    resized = stream.process(image_msg(small, 1, 'rgb8'), targets)
    assert problems.counts['resolution_change'] == 1
    assert problems.counts['box'] == 1
    assert [(t.target_id, t.state) for t in resized.tracks] == [(3, Track.STATE_TRACKING)]


def test_missing_bag_exits_non_zero_with_a_reason(tmp_path: Path) -> None:
    result = replay(tmp_path / 'nowhere', '--output', tmp_path / 'out')
    assert result.returncode == 1
    assert f'siamrcnn-replay: error: no bag at {tmp_path / "nowhere"}' in result.stderr
    assert not (tmp_path / 'out').exists()


def test_bad_topics_and_outputs_exit_non_zero_with_a_reason(reference: dict[str, object], tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from siamrcnn_ros.tools.replay import main  # in-process: these fail before the model is built

    def error_of(*args: object) -> str:
        assert main([*map(str, args), '--no-progress', '--device', 'cpu']) == 1
        return capsys.readouterr().err

    no_images = tmp_path / 'targets_only'
    with Writer(no_images, version=9, storage_plugin=STORAGES['mcap']) as writer:
        connection = writer.add_connection(TARGET_TOPIC, 'siamrcnn_ros/msg/TargetRequest',
                                           typestore=typestore_with_package_types())
        writer.write(connection, 1, rclpy_serialization.serialize_message(TargetRequest()))
    error = error_of(no_images, '--output', tmp_path / 'o1')
    assert 'the bag has no image topic' in error
    assert f'{TARGET_TOPIC} (siamrcnn_ros/msg/TargetRequest, 1)' in error

    error = error_of(reference['bag'], '--output', tmp_path / 'o2', '--image-topic', '/camera/nope')
    assert 'topic /camera/nope (--image-topic) is not in the bag' in error
    assert f'{IMAGE_TOPIC} (sensor_msgs/msg/Image, {FRAMES})' in error

    error = error_of(reference['bag'], '--output', tmp_path / 'o3', '--target-topic', IMAGE_TOPIC)
    assert 'has type sensor_msgs/msg/Image, not siamrcnn_ros/msg/TargetRequest' in error

    no_target = write_bag(tmp_path / 'no_target', 'sqlite3', 'rgb8', None)
    error = error_of(no_target, '--output', tmp_path / 'o4')
    assert 'no target: the bag has no siamrcnn_ros/msg/TargetRequest topic' in error

    error = error_of(reference['bag'], '--output', tmp_path / 'o5', '--box', '1,2,0,4')
    assert '--box must be four finite numbers' in error

    not_a_bag = tmp_path / 'folder'
    not_a_bag.mkdir()
    (not_a_bag / 'notes.txt').write_text('no bag here')
    error = error_of(not_a_bag, '--output', tmp_path / 'o6')
    assert 'is not a rosbag2 bag' in error

    error = error_of(reference['bag'], '--output', reference['root'] / 'out')
    assert 'exists: choose another --output or pass --overwrite' in error
    assert sorted(p.name for p in tmp_path.iterdir()) == ['folder', 'no_target', 'targets_only']  # nothing written
