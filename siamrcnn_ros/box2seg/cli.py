"""``siamrcnn-train-box2seg --config FILE``: train the Box2Seg network (SPEC §5) as one YAML file says."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

from siamrcnn_ros.box2seg.checkpoints import read_box2seg_checkpoint, save_box2seg_checkpoint
from siamrcnn_ros.box2seg.training.settings import load_box2seg_training_config
from siamrcnn_ros.box2seg.training.trainer import Box2SegTrainer
from siamrcnn_ros.training.run_cli import add_run_arguments, resume_from, with_run_overrides


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='siamrcnn-train-box2seg',
        description='Train the Box2Seg box-to-mask network (SPEC §5) on data with instance masks. Checkpoints and '
                    'TensorBoard logs go to the output folder of the YAML file.')
    add_run_arguments(parser)
    parser.add_argument('--export', type=Path, default=None, metavar='FILE',
                        help='after training, also write the final weights as a float16 checkpoint to FILE (the '
                             'small file to ship; loads like any Box2Seg checkpoint)')
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = with_run_overrides(load_box2seg_training_config(args.config), args)
        trainer = Box2SegTrainer(config)
        result = trainer.run(resume=resume_from(args), stop_at=args.steps, progress=not args.no_progress)
        if args.export is not None:
            metadata = dict(read_box2seg_checkpoint(result.checkpoint).metadata) if result.checkpoint else {}
            extra = {key: metadata[key] for key in ('training_config', 'step') if key in metadata}
            save_box2seg_checkpoint(args.export, trainer.net, config.network, extra_metadata=extra,
                                    dtype=torch.float16)
    except (ValueError, FileNotFoundError, OSError, RuntimeError) as error:
        print(f'siamrcnn-train-box2seg: error: {error}', file=sys.stderr)
        return 1
    if not result.history:
        print(f'siamrcnn-train-box2seg: already at step {result.step} of {config.steps}; nothing to train')
        return 0
    count = result.step - result.start_step
    speed = count / result.seconds if result.seconds > 0 else math.nan
    score = (f', validation J {result.validation[-1][1]:.3f} (filled boxes {result.box_as_mask_j:.3f})'
             if result.validation else '')
    exported = f', exported {args.export}' if args.export is not None else ''
    print(f'siamrcnn-train-box2seg: steps {result.start_step} -> {result.step} of {config.steps} '
          f'({speed:.2f} steps/s), last loss {result.history[-1]["total"]:.4f}{score}, '
          f'checkpoint {result.checkpoint}{exported}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
