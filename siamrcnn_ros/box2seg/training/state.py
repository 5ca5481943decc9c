"""Box2Seg training checkpoints: the network file plus a training-state file, as the main trainer writes them.

Every ``checkpoint_interval`` steps, into ``<output_dir>/checkpoints/`` (names from
``siamrcnn_ros.training.state.checkpoint_paths``):

* ``step_0000100.safetensors``: the ``Box2SegNet`` (``save_box2seg_checkpoint``, float32), with extra
  metadata ``training_config`` (JSON) and ``step``; ``build_box2seg(checkpoint=...)`` loads it.
* ``step_0000100.state.safetensors``: the optimizer and the RNG states, written by the main trainer's
  ``save_training_state``, so ``siamrcnn_ros.training.state.load_training_state`` restores them.
"""
from __future__ import annotations

import json
from typing import Any

import torch
from torch import nn

from siamrcnn_ros.box2seg.checkpoints import save_box2seg_checkpoint
from siamrcnn_ros.box2seg.config import Box2SegConfig
from siamrcnn_ros.training.state import CheckpointPaths, save_training_state


def save_box2seg_training_checkpoint(paths: CheckpointPaths, net: nn.Module, config: Box2SegConfig,
                                     optimizer: torch.optim.Optimizer, *, step: int,
                                     training_config: dict[str, Any]) -> None:
    """Write the state file, then the network file (``latest_checkpoint`` looks for the network file, so a crash
    in between leaves no half checkpoint)."""
    save_training_state(paths.state, optimizer, step=step)
    save_box2seg_checkpoint(paths.model, net, config,
                            extra_metadata={'training_config': json.dumps(training_config, sort_keys=True),
                                            'step': str(step)})
