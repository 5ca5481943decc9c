"""Pair scoring between detections: the spatial gate and the head's pair score (SPEC §2, "third stage")."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from siamrcnn_ros.model.config import HeadConfig
from siamrcnn_ros.model.head import CascadeRedetectionHead
from siamrcnn_ros.model.pairs import gated_pairs, score_pairs, spatial_distance
from siamrcnn_ros.tracking import locality

C = 8
IMAGE_SIZE = (200, 1000)  # (height, width): x differences are in thousandths, y differences in 1/200
GAMMA = 0.06


def tiny_head() -> CascadeRedetectionHead:
    torch.manual_seed(0)
    return CascadeRedetectionHead(HeadConfig(head_type='2fc', representation_size=16), in_channels=C).eval()


def random_feats(n: int, seed: int) -> Tensor:
    return torch.randn(n, C, 7, 7, generator=torch.Generator().manual_seed(seed))


def test_spatial_distance_hand_computed() -> None:
    a = torch.tensor([[100.0, 50.0, 200.0, 150.0]])  # cx 150, cy 100, w 100, h 100
    b = torch.tensor([[130.0, 50.0, 230.0, 150.0],   # cx moved by 30 px of 1000: 0.03
                      [100.0, 50.0, 200.0, 160.0],   # h +10 px of 200 (0.05), cy +5 px (0.025): 0.05
                      [100.0, 50.0, 200.0, 150.0]])  # identical: 0
    distance = spatial_distance(a, b, IMAGE_SIZE)
    assert distance.shape == (1, 3)
    assert distance.dtype == torch.float32
    assert torch.allclose(distance, torch.tensor([[0.03, 0.05, 0.0]]), atol=1e-7)


def test_spatial_distance_agrees_with_tracking_locality() -> None:
    generator = torch.Generator().manual_seed(0)
    image_size = (480, 640)
    corners = torch.rand(20, 2, 2, generator=generator) * torch.tensor([640.0, 480.0])
    boxes = torch.cat([corners.amin(dim=1), corners.amax(dim=1)], dim=1)  # [20, 2, 2] -> [20, 4]
    ours = spatial_distance(boxes[:12], boxes[12:], image_size)
    reference = locality.spatial_distance(boxes[:12].numpy(), boxes[12:].numpy(), image_size)
    assert ours.shape == reference.shape == (12, 8)
    np.testing.assert_allclose(ours.numpy(), reference, atol=1e-6)
    ours64 = spatial_distance(boxes[:12].double(), boxes[12:].double(), image_size)
    assert ours64.dtype == torch.float64
    np.testing.assert_allclose(ours64.numpy(), reference, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize('bad_size', [(0, 10), (10,), (10, -1), (math.nan, 10)])
def test_spatial_distance_rejects_bad_image_size(bad_size: tuple) -> None:
    with pytest.raises(ValueError, match='image_size'):
        spatial_distance(torch.zeros(1, 4), torch.zeros(1, 4), bad_size)


def test_spatial_distance_rejects_bad_boxes() -> None:
    with pytest.raises(ValueError, match=r'boxes_b must be \[N, 4\]'):
        spatial_distance(torch.zeros(1, 4), torch.zeros(4), IMAGE_SIZE)


# A reference box and detections shifted in x by 59 px (distance 0.059 < gamma) and 61 px (0.061 > gamma),
# and in y by 11 px of 200 (0.055) and 13 px (0.065).
REF_BOXES = torch.tensor([[100.0, 50.0, 200.0, 150.0], [600.0, 50.0, 700.0, 150.0]])
DET_BOXES = torch.tensor([[159.0, 50.0, 259.0, 150.0],   # ref 0: 0.059 -> scored
                          [161.0, 50.0, 261.0, 150.0],   # ref 0: 0.061 -> -inf
                          [600.0, 61.0, 700.0, 161.0],   # ref 1: 0.055 -> scored
                          [600.0, 63.0, 700.0, 163.0]])  # ref 1: 0.065 -> -inf


def test_gated_pairs_boundary() -> None:
    ref_idx, det_idx = gated_pairs(REF_BOXES, DET_BOXES, IMAGE_SIZE, GAMMA)
    assert ref_idx.dtype == det_idx.dtype == torch.int64
    assert list(zip(ref_idx.tolist(), det_idx.tolist(), strict=True)) == [(0, 0), (1, 2)]


def test_gate_is_strict() -> None:
    # Powers of two make the distances exact: 64 px of 1024 is 0.0625, the gate itself; 63 px is inside.
    ref = torch.tensor([[128.0, 0.0, 256.0, 128.0]])
    dets = ref + torch.tensor([[64.0, 0.0, 64.0, 0.0], [63.0, 0.0, 63.0, 0.0]])
    assert spatial_distance(ref, dets, (256, 1024)).tolist() == [[0.0625, 63 / 1024]]
    ref_idx, det_idx = gated_pairs(ref, dets, (256, 1024), 0.0625)
    assert ref_idx.tolist() == [0]
    assert det_idx.tolist() == [1]


def test_score_pairs_boundary_and_values() -> None:
    head = tiny_head()
    ref_feats, det_feats = random_feats(2, 1), random_feats(4, 2)
    with torch.no_grad():
        scores = score_pairs(head, REF_BOXES, ref_feats, DET_BOXES, det_feats, IMAGE_SIZE, GAMMA)
        alone_00 = head.target_probability(ref_feats[0:1], det_feats[0:1])
        alone_12 = head.target_probability(ref_feats[1:2], det_feats[2:3])
    assert scores.shape == (2, 4)
    assert scores.dtype == torch.float32
    finite = torch.isfinite(scores)
    assert finite.nonzero().tolist() == [[0, 0], [1, 2]]
    assert bool((scores[~finite] == -math.inf).all())
    assert torch.allclose(scores[0, 0], alone_00[0], atol=1e-6)
    assert torch.allclose(scores[1, 2], alone_12[0], atol=1e-6)


class RowCounter:
    """Forward hook that records how many rows each call of a stage saw."""

    def __init__(self) -> None:
        self.rows: list[int] = []

    def __call__(self, module: nn.Module, inputs: tuple[Tensor, Tensor], output: object) -> None:
        self.rows.append(len(inputs[1]))


def test_only_gated_pairs_reach_the_head() -> None:
    head = tiny_head()
    counter = RowCounter()
    handles = [stage.register_forward_hook(counter) for stage in head.stages]
    try:
        with torch.no_grad():
            score_pairs(head, REF_BOXES, random_feats(2, 1), DET_BOXES, random_feats(4, 2), IMAGE_SIZE, GAMMA)
            assert counter.rows == [2, 2, 2]  # one batched call per stage, 2 of the 8 pairs
            counter.rows.clear()
            far = DET_BOXES + torch.tensor([0.0, 40.0, 0.0, 40.0])  # 0.2 of the height away from everything
            scores = score_pairs(head, REF_BOXES, random_feats(2, 1), far, random_feats(4, 2), IMAGE_SIZE, GAMMA)
    finally:
        for handle in handles:
            handle.remove()
    assert counter.rows == []
    assert bool((scores == -math.inf).all())


@pytest.mark.parametrize(('r', 'd'), [(0, 3), (2, 0), (0, 0)])
def test_score_pairs_empty(r: int, d: int) -> None:
    scores = score_pairs(tiny_head(), REF_BOXES[:r], random_feats(r, 1), DET_BOXES[:d], random_feats(d, 2),
                         IMAGE_SIZE, GAMMA)
    assert scores.shape == (r, d)
    assert scores.dtype == torch.float32


def test_score_pairs_rejects_mismatched_features() -> None:
    with pytest.raises(ValueError, match='det_feats has 3 rows but det_boxes has 4'):
        score_pairs(tiny_head(), REF_BOXES, random_feats(2, 1), DET_BOXES, random_feats(3, 2), IMAGE_SIZE, GAMMA)


@pytest.mark.gpu
def test_score_pairs_on_cuda_matches_cpu() -> None:
    head = tiny_head()
    ref_feats, det_feats = random_feats(2, 1), random_feats(4, 2)
    with torch.no_grad():
        on_cpu = score_pairs(head, REF_BOXES, ref_feats, DET_BOXES, det_feats, IMAGE_SIZE, GAMMA)
        with torch.autocast('cuda', dtype=torch.float16):
            on_cuda = score_pairs(head.cuda(), REF_BOXES.cuda(), ref_feats.cuda(), DET_BOXES.cuda(),
                                  det_feats.cuda(), IMAGE_SIZE, GAMMA)
    assert on_cuda.device.type == 'cuda'
    assert on_cuda.dtype == torch.float32
    assert torch.equal(torch.isfinite(on_cuda).cpu(), torch.isfinite(on_cpu))
    finite = torch.isfinite(on_cpu)
    assert torch.allclose(on_cuda.cpu()[finite], on_cpu[finite], atol=0.01)
