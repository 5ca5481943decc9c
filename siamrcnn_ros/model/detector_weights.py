"""Backbone + FPN + RPN weights from a torchvision COCO Faster R-CNN checkpoint (SPEC §2).

Siam R-CNN takes its backbone and RPN from a COCO-trained Faster R-CNN and keeps them frozen. Our
module names are torchvision's (``backbone.body.*``, ``backbone.fpn.*``, ``rpn.head.*``), so a
torchvision checkpoint loads as it is; its box head (``roi_heads.*``) is not used and is dropped.

Sources:

* a torchvision weights enum name, e.g. ``'FasterRCNN_ResNet50_FPN_Weights.COCO_V1'``: downloaded
  by torchvision into ``$TORCH_HOME/hub/checkpoints`` on first use (needs internet once);
* a local ``.pth`` file, read with ``torch.load(weights_only=True)``: tensors and plain containers
  only, never arbitrary pickled objects.

torchvision ships COCO Faster R-CNN weights for ResNet-50-FPN
(``FasterRCNN_ResNet50_FPN_Weights.COCO_V1``, ``FasterRCNN_ResNet50_FPN_V2_Weights.COCO_V1`` (the
v2 model has a different, 4-conv RPN head and GroupNorm FPN, so it does not fit our ResNet-50
presets)) and for MobileNetV3-Large-FPN (``FasterRCNN_MobileNet_V3_Large_FPN_Weights.COCO_V1``,
fits the ``mobile`` preset; the ``..._320_FPN`` weights have the same tensors). There are none for
ResNet-101: the ``paper`` preset needs a checkpoint trained elsewhere (same module names).
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

# The parts of a Faster R-CNN checkpoint that Siam R-CNN uses.
DETECTOR_PREFIXES = ('backbone.', 'rpn.')
_SHOWN = 5  # key names listed in an error message


class DetectorWeightsError(ValueError):
    """A detector checkpoint could not be read, or does not fit the model; the message names the source."""


def load_detector_weights(model: nn.Module, source: str | Path) -> list[str]:
    """Copy the ``backbone.*`` and ``rpn.*`` tensors of a torchvision Faster R-CNN checkpoint into ``model``.

    Args:
        model: a module with ``backbone`` and ``rpn`` submodules named as in torchvision (``SiamRCNN``).
        source: a local ``.pth`` file, or the name of a torchvision weights enum value
            (``'FasterRCNN_ResNet50_FPN_Weights.COCO_V1'``).

    Returns:
        the names of the checkpoint keys that were loaded (sorted).

    Raises:
        DetectorWeightsError: unreadable or non-tensor file, no network for a download, or a
            checkpoint of another architecture (missing/unexpected keys, shape mismatches); the
            message names the source and the first offending keys.
    """
    state = read_detector_state_dict(source)
    wanted = OrderedDict((k, v) for k, v in state.items() if k.startswith(DETECTOR_PREFIXES))
    if not wanted:
        raise DetectorWeightsError(f'{source}: no backbone.* or rpn.* tensors; is this a torchvision Faster '
                                   f'R-CNN checkpoint? First keys: {_first(list(state))}')
    metadata = getattr(state, '_metadata', None)
    if metadata is not None:  # module versions (torchvision renames old RPN head keys by them)
        wanted._metadata = metadata  # type: ignore[attr-defined]
    own = model.state_dict()
    mismatched = [f'{k} (file {tuple(v.shape)}, model {tuple(own[k].shape)})' for k, v in wanted.items()
                  if k in own and v.shape != own[k].shape]
    if mismatched:
        raise DetectorWeightsError(f'{source}: does not fit the model: {len(mismatched)} shape mismatch(es) '
                                   f'{_first(mismatched)}; check that the backbone in the config is the '
                                   "checkpoint's")
    result = model.load_state_dict(wanted, strict=False)
    missing = [k for k in result.missing_keys if k.startswith(DETECTOR_PREFIXES)]
    if missing or result.unexpected_keys:
        raise DetectorWeightsError(
            f'{source}: does not fit the model: {len(missing)} missing key(s) {_first(missing)}, '
            f'{len(result.unexpected_keys)} unexpected key(s) {_first(result.unexpected_keys)}; '
            "check that the backbone in the config is the checkpoint's")
    return sorted(wanted)


def read_detector_state_dict(source: str | Path) -> dict[str, Tensor]:
    """The full state dict of a torchvision detector checkpoint, from a file or a weights enum name (CPU tensors).

    A training checkpoint of torchvision's detection references (``{'model': state_dict, ...}``)
    is accepted too.
    """
    path = Path(source)
    if path.is_file():
        return _read_file(path)
    name = str(source)
    if '_Weights.' not in name:
        raise DetectorWeightsError(f'{name}: no such file, and not a torchvision weights name '
                                   "such as 'FasterRCNN_ResNet50_FPN_Weights.COCO_V1'")
    return _download(name)


def _read_file(path: Path) -> dict[str, Tensor]:
    try:
        loaded: Any = torch.load(path, weights_only=True, map_location='cpu')
    except Exception as error:  # a corrupt file can fail anywhere in the unpickler (IndexError, ...)
        raise DetectorWeightsError(f'{path}: not a readable PyTorch checkpoint of tensors ({error})') from error
    if isinstance(loaded, dict) and isinstance(loaded.get('model'), dict):
        loaded = loaded['model']
    if not isinstance(loaded, dict) or not all(isinstance(v, Tensor) for v in loaded.values()):
        raise DetectorWeightsError(f'{path}: expected a state dict (names -> tensors), got {type(loaded).__name__}')
    return loaded


def _download(name: str) -> dict[str, Tensor]:
    import torchvision  # local: only this path needs the weights registry

    try:
        weights = torchvision.models.get_weight(name)
    except (ValueError, KeyError, AttributeError) as error:
        raise DetectorWeightsError(f'{name}: not a torchvision weights name ({error})') from error
    try:
        return weights.get_state_dict(progress=False, check_hash=True)
    except (OSError, RuntimeError) as error:  # URLError is an OSError
        raise DetectorWeightsError(
            f'{name}: could not download {weights.url} ({error}). Without internet, download the file on '
            'another machine and pass its path instead, or copy it into $TORCH_HOME/hub/checkpoints') from error


def _first(keys: list[str]) -> str:
    shown = ', '.join(keys[:_SHOWN])
    return f'[{shown}{", ..." if len(keys) > _SHOWN else ""}]'
