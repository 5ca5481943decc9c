"""``siamrcnn-replay``: track through the images of a rosbag2 bag offline and write the Track messages to a bag.

Examples::

    siamrcnn-replay recording/ --output recording_tracks/
    siamrcnn-replay recording.mcap --image-topic /camera/image_raw --box 320,120,60,140 --video tracks.mp4
    siamrcnn-replay recording/ --box-at 1700000000033333333 --box 320,120,60,140 --storage sqlite3

Every image of the image topic is tracked, in bag order, none dropped, so a replay is deterministic (same
bag, options and machine -> byte-identical messages; ``--seed`` fixes random weights). The image goes through
the node's own code: ``images.image_msg_to_rgb``, ``TrackingSession``, ``outputs.frame_tracks``; the output
bag holds what ``siamrcnn_node`` publishes for that frame on ``~/track`` (one Track per target) and
``~/tracks`` (one TrackArray per image), each stamped with the source image's header and recorded at the
source image's bag time. Targets come from the bag's TargetRequest topic, or from ``--box`` (see
``replay_inputs`` for the frame each starts on). ``Track.latency`` is 0 unless ``--record-latency``, since
a measured time would differ on every run.

Live instead, on a ROS 2 install: ``ros2 launch siamrcnn_ros siamrcnn.launch.py use_sim_time:=true
image_topic:=/camera/image_raw`` and ``ros2 bag play --clock recording/``; the node then drops frames it
cannot keep up with, as on a robot.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
from rclpy.serialization import deserialize_message
from rosbags.rosbag2 import Reader, ReaderError, Writer, WriterError
from tqdm import tqdm

from siamrcnn_ros.boxes import xywh_to_xyxy
from siamrcnn_ros.msg import Track
from siamrcnn_ros.node.outputs import debug_image
from siamrcnn_ros.node.parameters import NodeSettings
from siamrcnn_ros.tools import replay_inputs as inputs
from siamrcnn_ros.tools.bag_types import STORAGES, bag_storage, cdr_bytes, typestore_with_package_types
from siamrcnn_ros.tools.common import add_tracker_arguments, build_model_from_args, settings_from_args
from siamrcnn_ros.tools.replay_inputs import BagTarget, ImageIndex
from siamrcnn_ros.tools.replay_stream import Problems, ReplayStream
from siamrcnn_ros.tools.track import parse_box

TRACK_TYPE = 'siamrcnn_ros/msg/Track'
TRACK_ARRAY_TYPE = 'siamrcnn_ros/msg/TrackArray'
DEFAULT_NAMESPACE = '/siamrcnn_node'
"""Output topics are ``<namespace>/track`` and ``<namespace>/tracks``: the node's ``~/track`` and ``~/tracks``
under its default name, so a replayed bag and a recording of the live node look alike to consumers."""
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='siamrcnn-replay', description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('bag', help='rosbag2 bag: a folder with metadata.yaml, or one .mcap / .db3 file')
    parser.add_argument('--output', required=True, help='output bag folder (must not exist unless --overwrite)')
    parser.add_argument('--storage', choices=sorted(STORAGES), default=None,
                        help="storage of the output bag; default: the input bag's")
    parser.add_argument('--bag-version', type=int, choices=(8, 9), default=9,
                        help='rosbag2 metadata version of the output (8: Jazzy, 9: Kilted); default: %(default)s')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing output bag folder')
    parser.add_argument('--image-topic', default=None,
                        help='sensor_msgs/Image or CompressedImage topic; default: the only image topic of the bag')
    targets = parser.add_argument_group('target (one of)')
    targets.add_argument('--target-topic', default=None,
                         help='siamrcnn_ros/TargetRequest topic; default: the only one in the bag (used when '
                              'no --box is given)')
    targets.add_argument('--box', default=None,
                         help="target box 'x,y,w,h' in pixels (target id 1), on the first image unless --box-at")
    targets.add_argument('--box-at', type=int, default=None, metavar='STAMP_NS',
                         help='with --box: header stamp (ns) of the image the box was drawn on (nearest image)')
    parser.add_argument('--namespace', default=DEFAULT_NAMESPACE,
                        help='output topics <namespace>/track and <namespace>/tracks; default: %(default)s')
    parser.add_argument('--copy-images', action='store_true',
                        help='copy the image topic into the output bag as well (to view images and tracks together)')
    parser.add_argument('--video', default=None, help="also write the node's debug image of every frame to this .mp4")
    parser.add_argument('--video-fps', type=float, default=None,
                        help='frame rate of --video; default: from the image stamps (30 when they do not tell)')
    parser.add_argument('--record-latency', action='store_true',
                        help='store the measured processing time in Track.latency (the output then differs '
                             'between runs); default: 0')
    parser.add_argument('--max-targets', type=int, default=NodeSettings().max_targets,
                        help='targets tracked at once, as the node parameter; default: %(default)s')
    parser.add_argument('--seed', type=int, default=0,
                        help='torch seed set before the model is built (random weights are then reproducible); '
                             'default: %(default)s')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    add_tracker_arguments(parser)
    return parser


class VideoOutput:
    """An .mp4 of RGB frames; frames of another size than the first are resized to it (one video, one size)."""

    def __init__(self, path: str, fps: float) -> None:
        self._path, self._fps = path, fps
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None
        self.frames = 0

    def write(self, rgb: np.ndarray) -> None:
        height, width = rgb.shape[:2]
        if self._writer is None:
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
            self._size = (width, height)
            self._writer = cv2.VideoWriter(self._path, cv2.VideoWriter_fourcc(*'mp4v'), self._fps, self._size)
            if not self._writer.isOpened():
                raise RuntimeError(f'OpenCV cannot write the video {self._path}')
        if (width, height) != self._size:
            rgb = cv2.resize(rgb, self._size, interpolation=cv2.INTER_AREA)
        self._writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()


def video_fps(images: ImageIndex) -> float:
    """Frame rate from the median positive interval between image stamps; 30 when the stamps do not tell."""
    steps = np.diff(images.stamps_ns)
    steps = steps[steps > 0]
    return float(1e9 / np.median(steps)) if steps.size else 30.0


def command_line_targets(args: argparse.Namespace, images: ImageIndex) -> list[BagTarget]:
    """``--box`` (xywh) as one request for target 1: on the first image, or drawn on the image at ``--box-at``."""
    box = xywh_to_xyxy(parse_box(args.box))
    if args.box_at is None:
        return [BagTarget(int(images.times_ns[0]), 0, 1, box)]
    if args.box_at <= 0:
        raise ValueError(f'--box-at must be a positive stamp in nanoseconds, got {args.box_at}')
    return [BagTarget(int(images.times_ns[0]), int(args.box_at), 1, box)]


def prepare_output(args: argparse.Namespace) -> Path:
    """The output folder, checked (and removed with ``--overwrite`` when it is a bag)."""
    output = Path(args.output)
    if output.exists():
        if not args.overwrite:
            raise ValueError(f'output {output} exists: choose another --output or pass --overwrite')
        if not (output / 'metadata.yaml').is_file():
            raise ValueError(f'output {output} exists and is not a bag folder (no metadata.yaml): not overwriting it')
        shutil.rmtree(output)
    return output


def run(args: argparse.Namespace) -> dict[str, object]:
    """Replays the bag as ``args`` say; returns the summary (counts, rate, outputs)."""
    bag = Path(args.bag)
    if not bag.exists():
        raise FileNotFoundError(f'no bag at {bag}')
    if args.box_at is not None and args.box is None:
        raise ValueError('--box-at needs --box (the box drawn on that image)')
    if args.box is not None and args.target_topic is not None:
        raise ValueError('give the target either by --box or by --target-topic, not both')
    if args.max_targets < 1:
        raise ValueError(f'--max-targets must be >= 1, got {args.max_targets}')
    storage = args.storage or bag_storage(bag)  # checks that it is a bag before rosbags does
    with Reader(bag) as reader:
        topics = reader.topics
        image_topic = inputs.pick_topic(topics, args.image_topic, tuple(inputs.IMAGE_TYPES), '--image-topic')
        if image_topic is None:
            raise ValueError(f'the bag has no image topic ({" or ".join(inputs.IMAGE_TYPES)}); its topics: '
                             f'{inputs.describe_topics(topics)}')
        images = inputs.index_images(reader, image_topic)
        if len(images) == 0:
            raise ValueError(f'{image_topic} has no messages')
        if args.box is not None:
            targets, target_source = command_line_targets(args, images), '--box'
        else:
            target_topic = inputs.pick_topic(topics, args.target_topic, (inputs.TARGET_TYPE,), '--target-topic')
            if target_topic is None:
                raise ValueError(f'no target: the bag has no {inputs.TARGET_TYPE} topic; give the box with '
                                 f'--box x,y,w,h (first image) and --box-at STAMP_NS (another image)')
            targets, target_source = inputs.read_targets(reader, target_topic), target_topic
            if not targets:
                raise ValueError(f'{target_topic} has no messages: give the box with --box x,y,w,h')
        output = prepare_output(args)
        counts = replay(args, reader, image_topic, images, inputs.schedule_targets(images, targets), output, storage)
    counts.update(bag=str(bag), image_topic=image_topic, targets=target_source, output=str(output),
                  storage=storage, video=args.video)
    return counts


def replay(args: argparse.Namespace, reader: Reader, image_topic: str, images: ImageIndex,
           schedule: dict[int, list[BagTarget]], output: Path, storage: str) -> dict[str, object]:
    """Tracks every image of ``image_topic`` and writes the outputs; returns the counts for the summary."""
    problems = Problems()
    settings = settings_from_args(args, 'siamrcnn-replay')
    model = build_model_from_args(args, 'siamrcnn-replay', seed=args.seed)
    stream = ReplayStream(model, settings, args.max_targets,
                          NodeSettings().max_image_pixels, problems, record_latency=args.record_latency)
    image_class = inputs.message_class(reader.topics[image_topic].msgtype)
    typestore = typestore_with_package_types()
    namespace = '/' + args.namespace.strip('/') if args.namespace.strip('/') else ''
    video = VideoOutput(args.video, args.video_fps or video_fps(images)) if args.video else None
    states: Counter[int] = Counter()
    processed, track_time = 0, 0.0
    with Writer(output, version=args.bag_version, storage_plugin=STORAGES[storage]) as writer:
        track_out = writer.add_connection(f'{namespace}/track', TRACK_TYPE, typestore=typestore)
        array_out = writer.add_connection(f'{namespace}/tracks', TRACK_ARRAY_TYPE, typestore=typestore)
        image_out = _copy_connection(writer, reader, image_topic, typestore) if args.copy_images else None
        messages = tqdm(inputs.read_raw(reader, image_topic), total=len(images), unit='image', desc='replay',
                        disable=args.no_progress)
        for index, (time_ns, raw) in enumerate(messages):
            if image_out is not None:
                writer.write(image_out, time_ns, raw)
            start = time.monotonic()
            result = stream.process(deserialize_message(raw, image_class), schedule.get(index, ()),
                                    name=f'image {index}')
            if result is None:
                continue
            for track in result.tracks:
                writer.write(track_out, time_ns, cdr_bytes(track, TRACK_TYPE, typestore))
                states[track.state] += 1
            writer.write(array_out, time_ns, cdr_bytes(result.array, TRACK_ARRAY_TYPE, typestore))
            track_time += time.monotonic() - start
            processed += 1
            if video is not None:
                video.write(debug_image(result.outcome, None))
    if video is not None:
        video.close()
    return {'images': len(images), 'processed': processed, 'tracks': sum(states.values()),
            'tracking': states[Track.STATE_TRACKING], 'lost': states[Track.STATE_LOST],
            'fps': processed / track_time if track_time > 0 else 0.0, 'problems': dict(problems.counts),
            'video_frames': video.frames if video is not None else 0}


def _copy_connection(writer: Writer, reader: Reader, topic: str, typestore: object) -> object:
    """An output connection for ``topic`` with the input's type, definition and offered QoS."""
    info = reader.topics[topic]
    source = info.connections[0]
    return writer.add_connection(topic, info.msgtype, typestore=typestore, msgdef=source.msgdef.data or None,
                                 rihs01=source.digest or None,
                                 offered_qos_profiles=getattr(source.ext, 'offered_qos_profiles', ()))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        summary = run(args)
    except (ValueError, RuntimeError, OSError, ReaderError, WriterError) as error:
        print(f'siamrcnn-replay: error: {error}', file=sys.stderr)
        return 1
    problems = ', '.join(f'{count} {kind}' for kind, count in sorted(summary['problems'].items()))
    video = f" and {summary['video']} ({summary['video_frames']} frames)" if summary['video'] else ''
    print(f"{summary['bag']}: {summary['processed']}/{summary['images']} images of {summary['image_topic']} tracked "
          f"({summary['fps']:.2f} frames/s), targets from {summary['targets']}; {summary['tracks']} Track messages "
          f"({summary['tracking']} tracking, {summary['lost']} lost); problems: {problems or 'none'}; wrote "
          f"{summary['output']} ({summary['storage']}){video}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
