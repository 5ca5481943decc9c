"""Box2Seg training checkpoints: the network file plus a training-state file, as the main trainer writes them.

Every ``checkpoint_interval`` steps, into ``<output_dir>/checkpoints/`` (names from
``siamrcnn_ros.training.state.checkpoint_paths``):

* ``step_0000100.safetensors``: the ``Box2SegNet`` (``save_box2seg_checkpoint``, float32), with extra
  metadata ``training_config`` (JSON) and ``step``; ``build_box2seg(checkpoint=...)`` loads it.
* ``step_0000100.state.safetensors``: the optimizer and the RNG states in the main trainer's training-state
  format, so ``siamrcnn_ros.training.state.load_training_state`` restores them.
"""
from __future__ import annotations

import json
import random
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

from siamrcnn_ros.box2seg.checkpoints import save_box2seg_checkpoint
from siamrcnn_ros.box2seg.config import Box2SegConfig
from siamrcnn_ros.training.state import STATE_FORMAT, CheckpointPaths


def save_box2seg_training_checkpoint(paths: CheckpointPaths, net: nn.Module, config: Box2SegConfig,
                                     optimizer: torch.optim.Optimizer, *, step: int,
                                     training_config: dict[str, Any]) -> None:
    """Write the state file, then the network file (``latest_checkpoint`` looks for the network file, so a crash
    in between leaves no half checkpoint)."""
    tensors: dict[str, torch.Tensor] = {}
    optimizer_state = optimizer.state_dict()
    plain_state: dict[str, dict[str, Any]] = {}
    for index, values in optimizer_state['state'].items():
        plain_state[str(index)] = {}
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f'optimizer.state.{index}.{name}'] = value.detach().cpu().contiguous()
            else:
                plain_state[str(index)][name] = value
    tensors['rng.torch'] = torch.get_rng_state()
    if torch.cuda.is_available():
        for device, rng in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f'rng.cuda.{device}'] = rng
    kind, keys, position, has_gauss, cached = np.random.get_state()
    tensors['rng.numpy.keys'] = torch.from_numpy(np.asarray(keys, dtype=np.int64))
    version, python_state, gauss = random.getstate()
    tensors['rng.python.state'] = torch.tensor(python_state, dtype=torch.int64)
    metadata = {
        'format': STATE_FORMAT, 'step': str(step),
        'optimizer.param_groups': json.dumps(optimizer_state['param_groups']),
        'optimizer.plain_state': json.dumps(plain_state),
        'rng.numpy': json.dumps([kind, int(position), int(has_gauss), float(cached)]),
        'rng.python': json.dumps([version, gauss]),
    }
    paths.state.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(paths.state), metadata=metadata)
    save_box2seg_checkpoint(paths.model, net, config,
                            extra_metadata={'training_config': json.dumps(training_config, sort_keys=True),
                                            'step': str(step)})
