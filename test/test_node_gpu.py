"""The node's model host on a GPU: CUDA when asked, the fallback is a warning, and deactivation frees GPU memory.

Needs a CUDA GPU (skipped without one). No ROS here: ``ModelHost`` and ``choose_device`` are the parts of the
node's lifecycle that touch the device (configure loads on the CPU, activate moves to the GPU, deactivate
moves back and empties the CUDA cache).
"""
from __future__ import annotations

import gc

import numpy as np
import pytest
import torch

from siamrcnn_ros.node.devices import ModelHost, choose_device
from siamrcnn_ros.tracking.tracker import MultiTracker

pytestmark = pytest.mark.gpu


def test_auto_and_cuda_choose_the_gpu_and_a_missing_index_falls_back_with_a_warning() -> None:
    assert choose_device('auto') == (torch.device('cuda'), '')
    assert choose_device('cuda:0') == (torch.device('cuda:0'), '')
    device, warning = choose_device(f'cuda:{torch.cuda.device_count()}')
    assert device == torch.device('cuda', 0)
    assert 'using cuda:0' in warning


def test_activate_runs_on_the_gpu_and_deactivate_frees_its_memory() -> None:
    torch.manual_seed(0)
    gc.collect()
    torch.cuda.empty_cache()
    baseline = torch.cuda.memory_allocated()
    host = ModelHost()
    host.load('demo', checkpoint='', detector_weights='', device='cuda')
    assert host.device_warning == ''
    assert torch.cuda.memory_allocated() == baseline  # configure loads on the CPU
    host.to_device()  # activate
    assert host.model.device.type == 'cuda'
    assert host.device_text.startswith('cuda:')
    tracker = MultiTracker(host.model)
    image = np.random.default_rng(0).integers(0, 255, (272, 640, 3), dtype=np.uint8)
    tracker.step(image, add={1: np.array([250.0, 80.0, 330.0, 200.0])})
    results = tracker.step(image)
    assert set(results) == {1}
    assert torch.cuda.memory_allocated() > baseline
    del tracker, results  # deactivate drops the session (templates, features) ...
    host.to_cpu()  # ... and moves the model back, emptying the cache
    assert host.model.device.type == 'cpu'
    assert torch.cuda.memory_allocated() == baseline
    assert torch.cuda.memory_reserved() == 0
    host.release()  # cleanup
    with pytest.raises(RuntimeError, match='configure the node first'):
        _ = host.model
