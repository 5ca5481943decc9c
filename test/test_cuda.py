"""The CUDA path: the same model and tracker on the GPU agree with the CPU (skipped without a GPU).

Run on a machine with an NVIDIA GPU: ``scripts/in-env python -m pytest -m gpu``.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from video_frames import bikes_frames

from siamrcnn_ros.model import build_model
from siamrcnn_ros.tracking import Tracker

pytestmark = pytest.mark.gpu

BOX_XYWH = np.array([100.0, 60.0, 80.0, 140.0])


@pytest.fixture(scope='module')
def models() -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(0)
    cpu = build_model('demo', device='cpu')
    cuda = build_model(cpu.config, device='cuda')
    cuda.load_state_dict(cpu.state_dict())
    return cpu, cuda


def test_model_runs_on_cuda_and_returns_float32_on_the_gpu(models) -> None:
    _, cuda = models
    frame = cuda.extract(bikes_frames(1)[0])
    template = cuda.template(frame, torch.tensor([100.0, 60.0, 180.0, 200.0], device='cuda'))
    dets = cuda.redetect(frame, template)
    assert dets.boxes.device.type == 'cuda'
    assert dets.boxes.dtype == torch.float32
    assert dets.scores.dtype == torch.float32
    assert dets.features.shape[1:] == template.shape[1:]


def test_cuda_and_cpu_proposals_agree(models) -> None:
    cpu, cuda = models
    image = bikes_frames(1)[0]
    p_cpu = cpu.extract(image).proposals[:20]
    p_cuda = cuda.extract(image).proposals[:20].float().cpu()
    # Autocast (bf16/fp16) changes scores slightly, so the order of near-equal proposals may differ:
    # compare the sets of the best boxes by their best match.
    distances = torch.cdist(p_cpu, p_cuda).min(dim=1).values
    assert (distances < 8.0).float().mean() > 0.8


def test_tracker_runs_on_cuda(models) -> None:
    _, cuda = models
    frames = bikes_frames(4)
    tracker = Tracker(cuda)
    result = tracker.init(frames[0], BOX_XYWH)
    assert result.present
    for frame in frames[1:]:
        result = tracker.update(frame)
        assert result.box.shape == (4,)
        assert 0.0 <= result.confidence <= 1.0


def test_every_head_call_of_a_frame_runs_under_the_same_precision(models, monkeypatch) -> None:
    """Re-detection, the first-frame-tracklet scores and the pair scores all go through the model's public
    methods, so all three run the head under the model's inference mode and autocast (issue 19, item 1)."""
    from siamrcnn_ros.model.head import RedetectionStage
    from siamrcnn_ros.tracking.defaults import tracker_settings

    _, cuda = models
    seen = []
    forward = RedetectionStage.forward

    def recording_forward(self, reference, roi):
        seen.append((torch.is_inference_mode_enabled(), torch.is_autocast_enabled('cuda'),
                     torch.get_autocast_dtype('cuda')))
        return forward(self, reference, roi)

    monkeypatch.setattr(RedetectionStage, 'forward', recording_forward)
    tracker = Tracker(cuda, tracker_settings('demo'))
    frames = bikes_frames(4)
    tracker.init(frames[0], BOX_XYWH)
    for frame in frames[1:]:
        tracker.update(frame)
    assert len(seen) > 3 * 6  # cascade, scoring, ff-tracklet and pair scores in each of three frames
    assert set(seen) == {(True, True, torch.bfloat16)}
