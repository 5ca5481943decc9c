"""``siamrcnn-train-box2seg --config FILE``: train the Box2Seg network (SPEC §5) as one YAML file says."""
from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from pathlib import Path

import torch

from siamrcnn_ros.box2seg.checkpoints import read_box2seg_checkpoint, save_box2seg_checkpoint
from siamrcnn_ros.box2seg.training.settings import load_box2seg_training_config
from siamrcnn_ros.box2seg.training.trainer import Box2SegTrainer


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='siamrcnn-train-box2seg',
        description='Train the Box2Seg box-to-mask network (SPEC §5) on data with instance masks. Checkpoints and '
                    'TensorBoard logs go to the output folder of the YAML file.')
    parser.add_argument('--config', required=True, type=Path, help='the run\'s YAML settings file')
    parser.add_argument('--resume', nargs='?', const='latest', default=None, metavar='CHECKPOINT',
                        help='continue from a checkpoint (a step_*.safetensors file; without a value: the latest '
                             'one in the output folder, or from scratch if there is none)')
    parser.add_argument('--steps', type=int, default=None,
                        help='stop after this many completed steps (the schedule still spans the config\'s steps)')
    parser.add_argument('--device', default=None, help='override the config\'s device (auto, cpu, cuda, cuda:N)')
    parser.add_argument('--output-dir', type=Path, default=None, help='override the config\'s output folder')
    parser.add_argument('--export', type=Path, default=None, metavar='FILE',
                        help='after training, also write the final weights as a float16 checkpoint to FILE (the '
                             'small file to ship; loads like any Box2Seg checkpoint)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load_box2seg_training_config(args.config)
        changes = {}
        if args.device is not None:
            changes['device'] = args.device
        if args.output_dir is not None:
            changes['output_dir'] = str(args.output_dir.resolve())
        config = dataclasses.replace(config, **changes)
        trainer = Box2SegTrainer(config)
        resume: bool | Path = False if args.resume is None else (True if args.resume == 'latest' else Path(args.resume))
        result = trainer.run(resume=resume, stop_at=args.steps, progress=not args.no_progress)
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
