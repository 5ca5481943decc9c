"""The step loop both trainers run (``Trainer`` for the re-detector, ``Box2SegTrainer``): one optimizer step at a
time, a progress bar with the losses, TensorBoard scalars every ``log_interval`` steps and a checkpoint every
``checkpoint_interval`` steps and at the end."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tqdm import tqdm

from siamrcnn_ros.training.state import CheckpointPaths, checkpoint_paths, tensorboard_writer


class Trainable(Protocol):
    """What the loop needs of a trainer: its completed steps (advanced here), output folder and ``save``."""

    step: int

    @property
    def output_dir(self) -> Path: ...

    def save(self, paths: CheckpointPaths) -> CheckpointPaths: ...


@dataclass
class LoopResult:
    """What the loop did: the steps before and after, the last checkpoint's model file, each step's values
    (``{'total': ..., 'lr': ..., parts}``) and the wall time in seconds."""

    start_step: int
    step: int
    checkpoint: Path | None
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


AfterStep = Callable[[int, bool, Any, tqdm], None]
"""Called after each step with ``(step, last, writer, bar)``: e.g. a validation every N steps."""


def train_steps(trainer: Trainable, step_fn: Callable[[int], dict[str, float]], *, end: int, total: int, desc: str,
                log_interval: int, checkpoint_interval: int, progress: bool,
                after_step: AfterStep | None = None) -> LoopResult:
    """Run ``step_fn(step)`` (one optimizer step, returning its scalars) until ``trainer.step`` reaches ``end``.

    Args:
        trainer: advanced one step at a time; ``save`` writes its checkpoints.
        step_fn: trains step ``trainer.step`` and returns its values.
        end: stop after this many completed steps. total: the run's planned steps (the progress bar's length).
        desc: the progress bar's label.
        log_interval, checkpoint_interval: in steps; both also happen at ``end``.
        progress: show the progress bar.
        after_step: see ``AfterStep``.
    """
    start, history, last = trainer.step, [], None
    started = time.perf_counter()
    bar = tqdm(total=total, initial=start, disable=not progress, desc=desc, unit='step')
    with tensorboard_writer(trainer.output_dir, start) as writer, bar:
        while trainer.step < end:
            values = step_fn(trainer.step)
            trainer.step += 1
            history.append(values)
            bar.update(1)
            bar.set_postfix({key: f'{value:.3f}' for key, value in values.items() if key != 'lr'}, refresh=False)
            final = trainer.step == end
            if trainer.step % log_interval == 0 or final:
                for key, value in values.items():
                    writer.add_scalar(key if key == 'lr' else f'loss/{key}', value, trainer.step)
            if after_step is not None:
                after_step(trainer.step, final, writer, bar)
            if trainer.step % checkpoint_interval == 0 or final:
                last = trainer.save(checkpoint_paths(trainer.output_dir, trainer.step)).model
    return LoopResult(start, trainer.step, last, history, time.perf_counter() - started)
