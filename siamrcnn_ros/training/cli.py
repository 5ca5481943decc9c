"""``siamrcnn-train --config FILE``: train the re-detector head (or the detector) as one YAML file says."""
from __future__ import annotations

import argparse
import sys

from siamrcnn_ros.training.run_cli import add_run_arguments, resume_from, with_run_overrides
from siamrcnn_ros.training.settings import load_training_config
from siamrcnn_ros.training.trainer import Trainer, steps_per_second


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='siamrcnn-train',
        description='Train Siam R-CNN (SPEC §4): the re-detection head on frame pairs (phase "head"), or a '
                    'class-agnostic backbone + RPN (phase "detector"). Checkpoints, TensorBoard logs and the '
                    'resolved settings go to the output folder of the YAML file.')
    add_run_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = with_run_overrides(load_training_config(args.config), args)
        trainer = Trainer(config)
        result = trainer.run(resume=resume_from(args), stop_at=args.steps, progress=not args.no_progress)
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
