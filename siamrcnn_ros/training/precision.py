"""Mixed precision for the training loops (the tracker's and Box2Seg's): bfloat16 autocast on CUDA only.

bfloat16 keeps float32's exponent range, so no loss scaling is needed; on the CPU the loops stay in float32
(CPU autocast is slower than float32 for these small convolutions on the 2-core machines we train on).
"""
from __future__ import annotations

import contextlib
from typing import Any

import torch


def training_autocast(device: torch.device) -> contextlib.AbstractContextManager[Any]:
    """The context a training step's forward pass runs in: ``torch.autocast('cuda', bfloat16)`` when ``device``
    is a CUDA device, a no-op context otherwise."""
    if device.type == 'cuda':
        return torch.autocast('cuda', dtype=torch.bfloat16)
    return contextlib.nullcontext()
