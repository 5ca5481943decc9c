"""The optimizer of a run and its learning-rate schedule, a pure function of the step (so resuming needs no
scheduler state). Shared by every trainer of the project."""
from __future__ import annotations

import bisect
import math
from collections.abc import Iterable

import torch

from siamrcnn_ros.training.settings import OptimizerSettings, ScheduleSettings


def lr_factor(step: int, total_steps: int, settings: ScheduleSettings) -> float:
    """The multiplier of the base learning rate at ``step`` (0-based) of ``total_steps``.

    A linear warm-up from ``warmup_factor`` to 1 over ``warmup_steps``, multiplied by the decay:
    1 (``constant``), ``gamma ** (milestones passed)`` (``step``; milestones are fractions of the
    total), or a half cosine from 1 to ``min_lr_factor`` over the whole run (``cosine``).
    """
    if step < 0 or total_steps < 1:
        raise ValueError(f'need step >= 0 and total_steps >= 1, got {step} and {total_steps}')
    warmup = 1.0
    if step < settings.warmup_steps:
        alpha = step / settings.warmup_steps
        warmup = settings.warmup_factor * (1 - alpha) + alpha
    if settings.kind == 'constant':
        decay = 1.0
    elif settings.kind == 'step':
        boundaries = sorted(round(m * total_steps) for m in settings.milestones)
        decay = settings.gamma ** bisect.bisect_right(boundaries, step)
    else:
        progress = min(step / max(total_steps - 1, 1), 1.0)
        decay = settings.min_lr_factor + (1 - settings.min_lr_factor) * 0.5 * (1 + math.cos(math.pi * progress))
    return warmup * decay


def build_optimizer(parameters: Iterable[torch.nn.Parameter], settings: OptimizerSettings) -> torch.optim.Optimizer:
    """SGD with momentum or AdamW over ``parameters``, as ``settings`` says (the base learning rate before
    ``lr_factor``)."""
    parameters = list(parameters)
    if settings.name == 'sgd':
        return torch.optim.SGD(parameters, lr=settings.lr, momentum=settings.momentum,
                               weight_decay=settings.weight_decay)
    return torch.optim.AdamW(parameters, lr=settings.lr, betas=settings.betas, weight_decay=settings.weight_decay)
