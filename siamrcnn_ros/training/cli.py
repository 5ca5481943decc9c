"""``siamrcnn-train --config FILE``: train the re-detector head (or the detector) as one YAML file says."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from siamrcnn_ros.training.settings import load_training_config
from siamrcnn_ros.training.trainer import Trainer, steps_per_second


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='siamrcnn-train',
        description='Train Siam R-CNN (SPEC §4): the re-detection head on frame pairs (phase "head"), or a '
                    'class-agnostic backbone + RPN (phase "detector"). Checkpoints, TensorBoard logs and the '
                    'resolved settings go to the output folder of the YAML file.')
    parser.add_argument('--config', required=True, type=Path, help='the run\'s YAML settings file')
    parser.add_argument('--resume', nargs='?', const='latest', default=None, metavar='CHECKPOINT',
                        help='continue from a checkpoint (a step_*.safetensors file; without a value: the latest '
                             'one in the output folder, or from scratch if there is none)')
    parser.add_argument('--steps', type=int, default=None,
                        help='stop after this many completed steps (the schedule still spans the config\'s steps)')
    parser.add_argument('--device', default=None, help='override the config\'s device (auto, cpu, cuda, cuda:N)')
    parser.add_argument('--output-dir', type=Path, default=None, help='override the config\'s output folder')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load_training_config(args.config)
        changes = {}
        if args.device is not None:
            changes['device'] = args.device
        if args.output_dir is not None:
            changes['output_dir'] = str(args.output_dir.resolve())
        if changes:
            config = type(config).from_dict({**config.to_dict(), **changes})
        trainer = Trainer(config)
        resume: bool | Path = False if args.resume is None else (True if args.resume == 'latest' else Path(args.resume))
        result = trainer.run(resume=resume, stop_at=args.steps, progress=not args.no_progress)
    except (ValueError, FileNotFoundError, OSError, RuntimeError) as error:
        print(f'siamrcnn-train: error: {error}', file=sys.stderr)
        return 1
    if not result.history:
        print(f'siamrcnn-train: {config.phase} phase already at step {result.step} of {config.steps}; nothing to train')
        return 0
    last = result.history[-1]['total']
    print(f'siamrcnn-train: {config.phase} phase, steps {result.start_step} -> {result.step} of {config.steps} '
          f'({steps_per_second(result):.2f} steps/s), last loss {last:.4f}, checkpoint {result.checkpoint}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
