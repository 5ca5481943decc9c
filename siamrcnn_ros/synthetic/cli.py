"""``siamrcnn-make-world``: write the synthetic tracking world (GOT-10k splits and LaSOT long-term videos).

Examples::

    siamrcnn-make-world --root data/synthetic                       # the demo world of photos (~14,000 frames)
    siamrcnn-make-world --root data/synthetic_big --preset train    # the same with 300 training videos
    siamrcnn-make-world --root data/shapes --preset shapes          # the procedural world of flat shapes
    siamrcnn-make-world --root /tmp/world --preset tiny             # seconds, for tests (tiny_photo: with photos)
    siamrcnn-make-world --root data/big --train 500 --frames 150 --size 480x360 --seed 3

Running it again with the same settings and photos does nothing (``world.json`` records them); other
settings or another photo library (``opencv-doc`` installed or not) on an existing world need ``--overwrite``.
"""
from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from siamrcnn_ros.synthetic.settings import PRESETS
from siamrcnn_ros.synthetic.world import make_world, total_frames


def parse_size(text: str) -> tuple[int, int]:
    """``'320x240'`` -> ``(320, 240)``."""
    parts = text.lower().split('x')
    if len(parts) != 2 or not all(part.isdigit() for part in parts):
        raise argparse.ArgumentTypeError(f"size must be WIDTHxHEIGHT like 320x240, got {text!r}")
    return int(parts[0]), int(parts[1])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='siamrcnn-make-world', description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split('\n\n', 1)[1])
    parser.add_argument('--root', required=True, help='output folder (new, empty, or an earlier world)')
    parser.add_argument('--preset', choices=sorted(PRESETS), default='demo',
                        help='starting settings; the options below change single fields; default: %(default)s')
    parser.add_argument('--seed', type=int, default=None, help='world seed (default: the preset\'s, 0)')
    parser.add_argument('--train', type=int, default=None, help='number of training videos (GOT-10k layout)')
    parser.add_argument('--val', type=int, default=None, help='number of validation videos')
    parser.add_argument('--test', type=int, default=None, help='number of test videos')
    parser.add_argument('--long-term', type=int, default=None, help='number of long-term test videos (LaSOT layout)')
    parser.add_argument('--frames', type=int, default=None, help='frames per short video')
    parser.add_argument('--long-frames', type=int, default=None, help='frames per long-term video')
    parser.add_argument('--size', type=parse_size, default=None, help='frame size WIDTHxHEIGHT, e.g. 320x240')
    parser.add_argument('--overwrite', action='store_true', help='replace a world made with other settings')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    changes = {name: getattr(args, name) for name in ('seed', 'train', 'val', 'test', 'long_term', 'frames',
                                                       'long_frames') if getattr(args, name) is not None}
    if args.size is not None:
        changes['image_size'] = args.size
    try:
        settings = PRESETS[args.preset].with_overrides(**changes)
        with tqdm(total=total_frames(settings), unit='frame', desc='synthetic world', disable=args.no_progress,
                  leave=False) as bar:
            summary = make_world(args.root, settings, overwrite=args.overwrite, on_frame=lambda: bar.update())
    except (ValueError, OSError) as error:
        print(f'siamrcnn-make-world: error: {error}', file=sys.stderr)
        return 1
    videos = ', '.join(f'{count} {split}' for split, count in summary.videos.items())
    width, height = settings.scene.image_size
    if summary.skipped:
        print(f'siamrcnn-make-world: {summary.root} already holds this world ({videos}; seed {settings.seed}): '
              'nothing to do')
    else:
        per_frame = 1000 * summary.seconds / max(summary.frames, 1)
        print(f'siamrcnn-make-world: wrote {videos} videos ({summary.frames} frames, {width}x{height}, '
              f'seed {settings.seed}) to {summary.root} in {summary.seconds:.1f} s ({per_frame:.1f} ms/frame)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
