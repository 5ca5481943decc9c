"""``siamrcnn-track``: track one object through a video file or an image sequence, offline.

Examples::

    siamrcnn-track bikes.mp4 --box 320,120,60,140 --video outputs/bikes.mp4
    siamrcnn-track ~/data/LaSOT/airplane/airplane-1 --checkpoint model.safetensors --output-dir results/lasot
    siamrcnn-track ~/data/DAVIS/JPEGImages/480p/bear --box 100,90,260,200 --masks results/davis_masks

The source is a video file or a sequence folder in the OTB, LaSOT or GOT-10k layout (then the first
frame's annotation is the default box). Results are written as the benchmarks expect them: one
``x,y,w,h`` line per frame plus a confidence file (see ``siamrcnn_ros.evaluation.results``).
With ``--masks DIR`` the target is also segmented by Box2Seg in every frame where it is present, and the
masks are written in the DAVIS layout: ``DIR/<name>/00000.png, ...`` (indexed PNGs, 1 = the target,
0 = background; all 0 where the target is absent), the files ``siamrcnn-eval --metrics davis`` reads.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from tqdm import tqdm

from siamrcnn_ros.boxes import xyxy_to_xywh
from siamrcnn_ros.model.default_weights import DEFAULT
from siamrcnn_ros.tools.common import add_tracker_arguments, build_tracker

if TYPE_CHECKING:
    from siamrcnn_ros.box2seg import Box2Seg

TARGET_LABEL = 1
"""The target's value in the mask PNGs (DAVIS: object 1; 0 = background)."""


def parse_box(text: str) -> np.ndarray:
    """``'x,y,w,h'`` (pixels, commas or spaces) -> ``[4]`` float64 xywh; ``ValueError`` otherwise."""
    parts = text.replace(',', ' ').split()
    try:
        box = np.array([float(p) for p in parts], dtype=np.float64)
    except ValueError:
        raise ValueError(f'--box must be four numbers x,y,w,h (pixels), got {text!r}') from None
    if box.shape != (4,) or not np.isfinite(box).all() or box[2] <= 0 or box[3] <= 0:
        raise ValueError(f'--box must be four finite numbers x,y,w,h with w, h > 0, got {text!r}')
    return box


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='siamrcnn-track', description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('source', help='a video file, or a sequence folder (OTB, LaSOT, GOT-10k layout or images)')
    parser.add_argument('--layout', default='auto', choices=['auto', 'otb', 'lasot', 'got10k', 'images', 'video'],
                        help='layout of the source; default: detected from its files')
    parser.add_argument('--box', default=None,
                        help="first-frame box 'x,y,w,h' in pixels; default: the sequence's first annotation")
    parser.add_argument('--output-dir', default='outputs/track', help='where results go; default: %(default)s')
    parser.add_argument('--results-format', default='otb', choices=['otb', 'got10k'],
                        help='otb: <name>.txt (OTB, LaSOT, UAV123); got10k: <name>/<name>_001.txt; '
                             'both with a confidence file')
    parser.add_argument('--name', default=None, help='sequence name in the result files; default: the source name')
    parser.add_argument('--video', default=None, help='also write an annotated video (.mp4) here')
    parser.add_argument('--masks', default=None, metavar='DIR',
                        help='also segment the target (Box2Seg) and write DAVIS-layout masks to DIR/<name>/%%05d.png')
    parser.add_argument('--box2seg-checkpoint', default=DEFAULT,
                        help="Box2Seg checkpoint for --masks; default: the shipped checkpoints/box2seg.safetensors; "
                             "'none': random weights (with a warning)")
    parser.add_argument('--max-frames', type=int, default=None, help='stop after this many frames')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    add_tracker_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> dict[str, object]:
    """Tracks through the source as ``args`` say; returns a summary (frames, fps, output paths)."""
    from siamrcnn_ros.box2seg.tracking import segment_targets
    from siamrcnn_ros.datasets import open_sequence
    from siamrcnn_ros.drawing import draw_frame_info, draw_mask, draw_result
    from siamrcnn_ros.evaluation.mask_results import write_mask_result
    from siamrcnn_ros.evaluation.results import write_results

    sequence = open_sequence(args.source, layout=args.layout)
    if args.box is not None:
        first_box = parse_box(args.box)
    elif sequence.ground_truth is not None and np.isfinite(sequence.ground_truth[0]).all():
        first_box = sequence.ground_truth[0]
    else:
        raise ValueError(f'{args.source} has no first-frame annotation: give the box with --box x,y,w,h')
    if args.max_frames is not None and args.max_frames < 1:
        raise ValueError(f'--max-frames must be >= 1, got {args.max_frames}')
    total = len(sequence) if args.max_frames is None else min(len(sequence), args.max_frames)
    name = args.name or sequence.name
    tracker = build_tracker(args, 'siamrcnn-track')
    box2seg = build_box2seg_from_args(args, 'siamrcnn-track') if args.masks is not None else None

    boxes, confidences, times = [], [], []
    writer = None
    frames = tqdm(sequence.iter_frames(), total=total, unit='frame', desc=name, disable=args.no_progress)
    for index, image in enumerate(frames):
        if index >= total:
            break
        start = time.perf_counter()
        result = tracker.init(image, first_box) if index == 0 else tracker.update(image)
        times.append(time.perf_counter() - start)
        boxes.append(xyxy_to_xywh(result.box))
        confidences.append(result.confidence)
        mask = None
        if box2seg is not None:
            segmented = segment_targets(box2seg, image, {TARGET_LABEL: result})
            mask = segmented.masks[TARGET_LABEL]
            write_mask_result(args.masks, name, index, segmented.labels)
        if args.video is not None:
            annotated = draw_frame_info(draw_result(draw_mask(image, mask), result),
                                        f'{index}  {1.0 / times[-1]:.1f} fps')
            if writer is None:
                Path(args.video).parent.mkdir(parents=True, exist_ok=True)
                height, width = image.shape[:2]
                writer = cv2.VideoWriter(str(args.video), cv2.VideoWriter_fourcc(*'mp4v'), 25.0, (width, height))
                if not writer.isOpened():
                    raise RuntimeError(f'OpenCV cannot write the video {args.video}')
            writer.write(cv2.cvtColor(annotated, cv2.COLOR_RGB2BGR))
    if writer is not None:
        writer.release()
    if not boxes:
        raise ValueError(f'{args.source} has no frames')
    paths = write_results(args.output_dir, name, np.array(boxes), np.array(confidences), np.array(times),
                          layout=args.results_format)
    tracking_time = float(np.sum(times[1:])) if len(times) > 1 else float(times[0])
    fps = (len(times) - 1) / tracking_time if len(times) > 1 else 0.0
    if args.masks is not None:
        paths.append(Path(args.masks) / name)
    return {'name': name, 'frames': len(boxes), 'fps': fps, 'results': [str(p) for p in paths],
            'video': args.video}


def build_box2seg_from_args(args: argparse.Namespace, prog: str) -> Box2Seg:
    """The Box2Seg network of ``--box2seg-checkpoint`` on ``--device``; warns on stderr without trained weights."""
    import torch

    from siamrcnn_ros.box2seg import build_box2seg
    from siamrcnn_ros.model.default_weights import resolve_box2seg_checkpoint

    checkpoint = resolve_box2seg_checkpoint(args.box2seg_checkpoint)
    if checkpoint is None:
        print(f'{prog}: warning: no Box2Seg checkpoint (--box2seg-checkpoint none, or the shipped file is missing): '
              'the mask network has random weights and the masks are meaningless (useful only to check the pipeline)',
              file=sys.stderr)
        torch.manual_seed(0)  # the same random masks in every run
    return build_box2seg(checkpoint=checkpoint, device=args.device)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        summary = run(args)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f'siamrcnn-track: error: {error}', file=sys.stderr)
        return 1
    outputs = ', '.join(summary['results'] + ([summary['video']] if summary['video'] else []))
    print(f"{summary['name']}: {summary['frames']} frames, {summary['fps']:.2f} frames/s (init excluded); "
          f'wrote {outputs}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
