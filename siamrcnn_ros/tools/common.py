"""Options shared by the command-line tools that build a tracker (model, weights, device, variant, settings)."""
from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from siamrcnn_ros.model import PRESETS
from siamrcnn_ros.model.default_weights import DEFAULT, resolve_checkpoint
from siamrcnn_ros.tracking.defaults import override, tracker_settings
from siamrcnn_ros.tracking.tracker import VARIANTS, MultiTracker, Tracker, TrackerSettings

if TYPE_CHECKING:
    from siamrcnn_ros.model import SiamRCNN


def add_tracker_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds --preset, --checkpoint, --detector-weights, --device, --variant, --set and --tdpa to ``parser``."""
    group = parser.add_argument_group('tracker')
    group.add_argument('--preset', default='demo', choices=sorted(PRESETS),
                       help='model preset (architecture and resolution); default: %(default)s')
    group.add_argument('--checkpoint', default=DEFAULT,
                       help="the project's own safetensors checkpoint; its stored config decides the architecture. "
                            "default: the preset's shipped checkpoint (demo: checkpoints/demo.safetensors); "
                            "'none': random weights")
    group.add_argument('--detector-weights', default=None,
                       help='torchvision COCO Faster R-CNN weights for backbone + RPN: a .pth file or a '
                            'torchvision weights name such as FasterRCNN_ResNet50_FPN_Weights.COCO_V1')
    group.add_argument('--device', default='auto', help='auto (CUDA when available), cuda, cuda:N or cpu')
    group.add_argument('--variant', default='tdpa', choices=VARIANTS,
                       help='target selection: tdpa (paper), argmax, short_term; default: %(default)s')
    group.add_argument('--set', action='append', default=[], metavar='NAME=VALUE', dest='settings',
                       help="a tracker setting other than the preset's shipped one (tracking.defaults.override): a "
                            'field of TrackerSettings or a dotted path, e.g. search_shift=0, tdpa.w_ff=1.0; '
                            'repeatable')
    group.add_argument('--tdpa', action='append', default=[], metavar='NAME=VALUE',
                       help='a TDPA setting, short for --set tdpa.NAME=VALUE (e.g. --tdpa w_loc=0); repeatable')


def settings_from_args(args: argparse.Namespace, prog: str) -> TrackerSettings:
    """The preset's shipped tracker settings with ``--variant``, ``--set`` and ``--tdpa`` applied; exits with
    status 2 and the reason on a bad setting."""
    items = [*args.settings, *(f'tdpa.{item}' for item in args.tdpa)]
    try:
        return override(tracker_settings(args.preset, args.variant), items)
    except ValueError as error:
        print(f'{prog}: bad tracker setting: {error}', file=sys.stderr)
        raise SystemExit(2) from error


def build_model_from_args(args: argparse.Namespace, prog: str, seed: int | None = None) -> SiamRCNN:
    """The re-detector the options describe; warns on stderr when the head has no trained weights.

    Args:
        args: parsed options of ``add_tracker_arguments``.
        prog: the tool's name, prefixed to the warning.
        seed: seeds torch before the model is built, so random weights are reproducible; None leaves it.
    """
    import torch

    from siamrcnn_ros.model import build_model  # heavy: imported only when a tool runs

    checkpoint = resolve_checkpoint(args.preset, args.checkpoint)
    if checkpoint is None:
        print(f'{prog}: warning: no checkpoint (preset {args.preset!r} ships none, or --checkpoint none): the '
              're-detection head has random weights and the results are meaningless (useful only to check the '
              'pipeline or measure speed)', file=sys.stderr)
    if seed is not None:
        torch.manual_seed(seed)
    return build_model(args.preset, checkpoint=checkpoint, detector_weights=args.detector_weights,
                       device=args.device)


def build_tracker(args: argparse.Namespace, prog: str, multi: bool = False) -> Tracker | MultiTracker:
    """The tracker the options describe (see ``build_model_from_args``)."""
    settings = settings_from_args(args, prog)  # checked before the model loads
    model = build_model_from_args(args, prog)
    return MultiTracker(model, settings) if multi else Tracker(model, settings)
