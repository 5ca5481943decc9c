"""Box2Seg checkpoints: safetensors files that carry the ``Box2SegConfig`` they were trained with.

The same ideas as the re-detector's checkpoints (``siamrcnn_ros.model.checkpoints``), with their own
format string so neither kind loads as the other. String metadata:

- ``format``: ``'siamrcnn_ros.box2seg'``;
- ``version``: ``CHECKPOINT_VERSION`` of the code that wrote it (a newer file is refused);
- ``config``: ``Box2SegConfig.to_dict()`` as JSON, so loading builds the right network;
- ``created``: ISO 8601 UTC time of writing;
- any extra string entries of the caller (training step, dataset, ...).

Floating-point tensors may be stored as float16 (``dtype=torch.float16``: a shipped file half the
size); loading casts them to the network's dtype.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from siamrcnn_ros.box2seg.config import Box2SegConfig
from siamrcnn_ros.model.checkpoints import (
    CheckpointError,
    read_checkpoint_file,
    state_dict_problems,
    write_checkpoint_file,
)

CHECKPOINT_FORMAT = 'siamrcnn_ros.box2seg'
CHECKPOINT_VERSION = 1

__all__ = ['CHECKPOINT_FORMAT', 'CHECKPOINT_VERSION', 'Box2SegCheckpoint', 'CheckpointError',
           'load_box2seg_checkpoint_into', 'read_box2seg_checkpoint', 'save_box2seg_checkpoint']


@dataclass(frozen=True)
class Box2SegCheckpoint:
    """A Box2Seg checkpoint read from disk.

    Attributes:
        config: the network config the weights belong to.
        state_dict: parameter and buffer tensors on the CPU, by ``state_dict`` key (as stored: float16 files
            give float16 tensors).
        metadata: all string metadata of the file.
    """

    config: Box2SegConfig
    state_dict: dict[str, Tensor]
    metadata: dict[str, str]


def save_box2seg_checkpoint(path: str | os.PathLike[str], module: nn.Module, config: Box2SegConfig, *,
                            extra_metadata: dict[str, str] | None = None, dtype: torch.dtype | None = None) -> None:
    """Write ``module``'s state dict and ``config`` to a safetensors file, atomically (temporary file + rename).

    Args:
        path: destination file; its folder is created if needed.
        module: the ``Box2SegNet``.
        config: the config it was built from.
        extra_metadata: further str -> str entries (``format``, ``version``, ``config``, ``created`` are reserved).
        dtype: store the floating-point tensors in this dtype (``torch.float16`` halves the file); None keeps them.
    """
    write_checkpoint_file(path, module, {'format': CHECKPOINT_FORMAT, 'version': str(CHECKPOINT_VERSION),
                                         'config': json.dumps(config.to_dict(), sort_keys=True)},
                          extra_metadata, dtype)


def read_box2seg_checkpoint(path: str | os.PathLike[str]) -> Box2SegCheckpoint:
    """Read and validate a file written by ``save_box2seg_checkpoint``.

    Raises:
        CheckpointError: missing file, not a (complete) safetensors file, not a Box2Seg checkpoint (e.g. a
            re-detector checkpoint), a newer version, or an invalid config; the message names the file.
    """
    path = Path(path)
    metadata, state_dict, version = read_checkpoint_file(path, CHECKPOINT_FORMAT, 'Box2Seg checkpoint',
                                                         CHECKPOINT_VERSION)
    if version != CHECKPOINT_VERSION:  # no older Box2Seg layout exists
        raise CheckpointError(f'Box2Seg checkpoint {path}: version {version}, this code reads version '
                              f'{CHECKPOINT_VERSION}')
    try:
        config = Box2SegConfig.from_dict(json.loads(metadata['config']))
    except KeyError:
        raise CheckpointError(f'Box2Seg checkpoint {path}: the metadata has no config') from None
    except (json.JSONDecodeError, ValueError, TypeError) as error:
        raise CheckpointError(f'Box2Seg checkpoint {path}: invalid config: {error}') from error
    return Box2SegCheckpoint(config=config, state_dict=state_dict, metadata=metadata)


def load_box2seg_checkpoint_into(module: nn.Module, path: str | os.PathLike[str],
                                 expected_config: Box2SegConfig | None = None) -> Box2SegConfig:
    """Load a checkpoint's weights into ``module`` strictly (cast to the module's dtypes); return its config.

    Raises:
        CheckpointError: as ``read_box2seg_checkpoint``; the file's config differs from ``expected_config``
            (the differing fields named); or keys are missing, unexpected or of another shape (listed).
    """
    checkpoint = read_box2seg_checkpoint(path)
    if expected_config is not None and expected_config != checkpoint.config:
        fields = expected_config.differences(checkpoint.config)
        raise CheckpointError(f'Box2Seg checkpoint {path}: saved with config {checkpoint.config.name!r}, the network '
                              f'was built with {expected_config.name!r}; differing fields: {", ".join(fields)}')
    expected = module.state_dict()
    found = checkpoint.state_dict
    problems = state_dict_problems(expected, found)
    if problems:
        raise CheckpointError(f'Box2Seg checkpoint {path}: does not fit the {type(module).__name__}: '
                              f'{"; ".join(problems)}')
    module.load_state_dict({key: value.to(expected[key].dtype) for key, value in found.items()}, strict=True)
    return checkpoint.config
