"""What the two training commands share (``siamrcnn-train``, ``siamrcnn-train-box2seg``): their run options and
how those change the YAML run settings."""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import TypeVar

T = TypeVar('T')


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config``, ``--resume``, ``--steps``, ``--device``, ``--output-dir`` and ``--no-progress``."""
    parser.add_argument('--config', required=True, type=Path, help='the run\'s YAML settings file')
    parser.add_argument('--resume', nargs='?', const='latest', default=None, metavar='CHECKPOINT',
                        help='continue from a checkpoint (a step_*.safetensors file; without a value: the latest '
                             'one in the output folder, or from scratch if there is none)')
    parser.add_argument('--steps', type=int, default=None,
                        help='stop after this many completed steps (the schedule still spans the config\'s steps)')
    parser.add_argument('--device', default=None, help='override the config\'s device (auto, cpu, cuda, cuda:N)')
    parser.add_argument('--output-dir', type=Path, default=None, help='override the config\'s output folder')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')


def with_run_overrides(config: T, args: argparse.Namespace) -> T:
    """``config`` (a run's frozen settings with ``device`` and ``output_dir`` fields) with the command line's
    ``--device`` and ``--output-dir`` (made absolute), checked again by the class."""
    changes = {}
    if args.device is not None:
        changes['device'] = args.device
    if args.output_dir is not None:
        changes['output_dir'] = str(args.output_dir.resolve())
    return dataclasses.replace(config, **changes) if changes else config


def resume_from(args: argparse.Namespace) -> bool | Path:
    """The trainers' ``resume``: False (from scratch), True (the latest checkpoint) or a checkpoint file."""
    if args.resume is None:
        return False
    return True if args.resume == 'latest' else Path(args.resume)
