"""Training checkpoints: the model, the optimizer, the step and the RNG states, all in safetensors (no pickle).

Every ``checkpoint_interval`` steps the trainer writes two files into ``<output_dir>/checkpoints/``:

* ``step_0000100.safetensors``: the whole ``SiamRCNN`` through ``siamrcnn_ros.model.checkpoints.save_checkpoint``
  (the model config embedded), with extra metadata ``training_config`` (JSON), ``step`` and ``phase``.
  ``build_model(config, checkpoint=...)`` loads it like any of our checkpoints.
* ``step_0000100.state.safetensors``: what an exact resume needs besides the weights: the optimizer's
  tensors (``optimizer.state.<param>.<name>``) with its other values and param groups as JSON metadata,
  and the RNG states of torch (CPU and CUDA), NumPy's global generator and Python's ``random``.

The learning rate is a pure function of the step (``schedule.py``), so the step is the scheduler's state.
"""
from __future__ import annotations

import contextlib
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from siamrcnn_ros.model.checkpoints import save_checkpoint
from siamrcnn_ros.model.config import ModelConfig

STATE_FORMAT = 'siamrcnn_ros.training_state'
_STEP_FILE = re.compile(r'^step_(\d+)\.safetensors$')


@dataclass(frozen=True)
class CheckpointPaths:
    """The two files of one training checkpoint."""

    model: Path
    state: Path

    @classmethod
    def beside(cls, model_file: str | Path) -> CheckpointPaths:
        """A model file and its state file next to it (``step_0000100.safetensors`` ->
        ``step_0000100.state.safetensors``)."""
        model_file = Path(model_file)
        stem = model_file.name.removesuffix('.safetensors')
        return cls(model_file, model_file.with_name(f'{stem}.state.safetensors'))


def checkpoint_paths(output_dir: str | Path, step: int) -> CheckpointPaths:
    """Where the checkpoint of ``step`` lives under ``output_dir``."""
    return CheckpointPaths.beside(Path(output_dir) / 'checkpoints' / f'step_{step:07d}.safetensors')


def latest_checkpoint(output_dir: str | Path) -> CheckpointPaths | None:
    """The checkpoint with the highest step under ``output_dir`` that has both files, or None."""
    folder = Path(output_dir) / 'checkpoints'
    steps = sorted((int(m.group(1)) for p in folder.glob('step_*.safetensors') if (m := _STEP_FILE.match(p.name))),
                   reverse=True)
    for step in steps:
        paths = checkpoint_paths(output_dir, step)
        if paths.state.is_file():
            return paths
    return None


def resume_paths(output_dir: str | Path, resume: bool | str | Path) -> CheckpointPaths | None:
    """The checkpoint a trainer's ``run(resume=...)`` continues from.

    Args:
        output_dir: the run's output folder.
        resume: True (the latest complete checkpoint under ``output_dir``; None when there is none yet) or the
            path of a ``step_*.safetensors`` model file (its ``.state.safetensors`` must lie next to it).

    Raises:
        FileNotFoundError: a named model file without its state file.
    """
    if resume is True:
        return latest_checkpoint(output_dir)
    paths = CheckpointPaths.beside(resume)
    if not paths.state.is_file():
        raise FileNotFoundError(f'no training state next to {paths.model} (expected {paths.state})')
    return paths


@contextlib.contextmanager
def tensorboard_writer(output_dir: str | Path, start_step: int) -> Iterator[Any]:
    """A TensorBoard ``SummaryWriter`` on ``<output_dir>/tensorboard``, closed on exit. ``purge_step`` drops the
    events a crashed run logged after ``start_step``, the checkpoint it resumes from."""
    from torch.utils.tensorboard import SummaryWriter
    writer = SummaryWriter(log_dir=str(Path(output_dir) / 'tensorboard'), purge_step=start_step or None)
    try:
        yield writer
    finally:
        writer.close()


def save_training_state(path: str | Path, optimizer: torch.optim.Optimizer, *, step: int) -> None:
    """Write the state file of one checkpoint: the optimizer's tensors and values, the step and every RNG state.

    Shared by every trainer of the project (the re-detector's here, Box2Seg's); ``load_training_state`` reads it.
    """
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
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=metadata)


def save_training_checkpoint(paths: CheckpointPaths, model: nn.Module, model_config: ModelConfig,
                             optimizer: torch.optim.Optimizer, *, step: int, training_config: dict[str, Any],
                             phase: str) -> None:
    """Write the model file and the state file of one checkpoint (the state first: the model file is
    what ``latest_checkpoint`` looks for, so a crash in between leaves no half checkpoint)."""
    save_training_state(paths.state, optimizer, step=step)
    save_checkpoint(paths.model, model, model_config,
                    extra_metadata={'training_config': json.dumps(training_config, sort_keys=True),
                                    'step': str(step), 'phase': phase})


def load_training_state(path: str | Path, optimizer: torch.optim.Optimizer) -> int:
    """Restore the optimizer and every RNG from a state file; return its step.

    Raises:
        ValueError: not a training-state file, or its optimizer does not fit ``optimizer``.
    """
    with safe_open(str(path), framework='pt', device='cpu') as file:
        metadata = dict(file.metadata() or {})
        tensors = {key: file.get_tensor(key) for key in file.keys()}  # noqa: SIM118 (safe_open is not a dict)
    if metadata.get('format') != STATE_FORMAT:
        raise ValueError(f'{path}: not a training-state file (format={metadata.get("format")!r})')
    plain_state = json.loads(metadata['optimizer.plain_state'])
    state: dict[int, dict[str, Any]] = {int(index): dict(values) for index, values in plain_state.items()}
    prefix = 'optimizer.state.'
    for key, value in tensors.items():
        if key.startswith(prefix):
            index, name = key[len(prefix):].split('.', 1)
            state.setdefault(int(index), {})[name] = value
    try:
        optimizer.load_state_dict({'state': state, 'param_groups': json.loads(metadata['optimizer.param_groups'])})
    except (ValueError, KeyError) as error:
        raise ValueError(f'{path}: the optimizer state does not fit this run: {error}') from error
    torch.set_rng_state(tensors['rng.torch'])
    cuda_states = [tensors[f'rng.cuda.{d}'] for d in range(torch.cuda.device_count()) if f'rng.cuda.{d}' in tensors]
    if cuda_states and len(cuda_states) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda_states)
    kind, position, has_gauss, cached = json.loads(metadata['rng.numpy'])
    np.random.set_state((kind, tensors['rng.numpy.keys'].numpy().astype(np.uint32), position, has_gauss, cached))
    version, gauss = json.loads(metadata['rng.python'])
    random.setstate((version, tuple(int(v) for v in tensors['rng.python.state'].tolist()), gauss))
    return int(metadata['step'])
