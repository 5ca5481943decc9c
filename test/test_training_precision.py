"""training_autocast: the training loops' mixed precision (bfloat16 autocast on CUDA only)."""
from __future__ import annotations

import pytest
import torch

from siamrcnn_ros.training.precision import training_autocast


def test_cpu_training_stays_float32() -> None:
    layer = torch.nn.Linear(4, 3)
    with training_autocast(torch.device('cpu')):
        assert not torch.is_autocast_enabled('cpu')
        assert layer(torch.ones(2, 4)).dtype == torch.float32


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device (none on the CI machine)')
def test_cuda_training_runs_in_bfloat16() -> None:
    layer = torch.nn.Linear(4, 3).cuda()
    with training_autocast(torch.device('cuda')):
        assert layer(torch.ones(2, 4, device='cuda')).dtype == torch.bfloat16
    assert layer(torch.ones(2, 4, device='cuda')).dtype == torch.float32
