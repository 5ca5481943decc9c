"""The Siamese cascade re-detection head on tiny hand-built inputs (SPEC §2 steps 3-5)."""
from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor
from torchvision.models.detection._utils import BoxCoder
from torchvision.ops import roi_align

from siamrcnn_ros.model.config import HeadConfig
from siamrcnn_ros.model.head import CascadeRedetectionHead, RedetectionStage, postprocess

C = 8  # feature channels of the tiny heads
P = 7  # pooler size
IMAGE_SIZE = (100, 120)  # (height, width)


def tiny_config(head_type: str, fusion: str = 'concat') -> HeadConfig:
    return HeadConfig(head_type=head_type, representation_size=16, conv_dim=32, fusion=fusion)


def tiny_head(head_type: str, seed: int = 0, fusion: str = 'concat') -> CascadeRedetectionHead:
    torch.manual_seed(seed)
    return CascadeRedetectionHead(tiny_config(head_type, fusion), in_channels=C).eval()


def feature_pool(seed: int = 1):
    """A RoIAlign on a fixed random [1, C, 100, 120] feature map (stride 1): boxes [N, 4] -> [N, C, 7, 7]."""
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(1, C, *IMAGE_SIZE, generator=generator)

    def pool(boxes: Tensor) -> Tensor:
        return roi_align(features, [boxes], output_size=P, spatial_scale=1.0, sampling_ratio=2, aligned=True)

    return pool


def random_feats(n: int, seed: int) -> Tensor:
    return torch.randn(n, C, P, P, generator=torch.Generator().manual_seed(seed))


BOXES = torch.tensor([[10.0, 10.0, 30.0, 50.0], [40.0, 20.0, 90.0, 60.0], [0.0, 0.0, 119.0, 99.0]])


@pytest.mark.parametrize('head_type', ['4conv1fc_gn', '2fc'])
@pytest.mark.parametrize('n', [0, 1, 5])
def test_stage_and_probability_shapes(head_type: str, n: int) -> None:
    head = tiny_head(head_type)
    reference, roi = random_feats(1, 2), random_feats(n, 3)
    with torch.no_grad():
        logits, deltas = head.stages[0](reference, roi)
        prob = head.target_probability(reference, roi)
    assert logits.shape == (n, 2)
    assert deltas.shape == (n, 4)
    assert prob.shape == (n,)
    assert prob.dtype == torch.float32
    assert bool(((prob >= 0) & (prob <= 1)).all())


@pytest.mark.parametrize('head_type', ['4conv1fc_gn', '2fc'])
@pytest.mark.parametrize('n', [0, 3])
def test_run_cascade_shapes(head_type: str, n: int) -> None:
    head = tiny_head(head_type)
    with torch.no_grad():
        out = head.run_cascade(feature_pool(), random_feats(1, 2), BOXES[:n], IMAGE_SIZE)
    assert len(out.stage_boxes) == len(out.stage_logits) == len(out.stage_deltas) == 3
    for boxes, logits, deltas in zip(out.stage_boxes, out.stage_logits, out.stage_deltas, strict=True):
        assert boxes.shape == (n, 4)
        assert logits.shape == (n, 2)
        assert deltas.shape == (n, 4)
        assert logits.dtype == deltas.dtype == boxes.dtype == torch.float32
    assert out.final_boxes.shape == (n, 4)
    assert torch.equal(out.stage_boxes[0], BOXES[:n])
    height, width = IMAGE_SIZE
    assert bool((out.final_boxes >= 0).all())
    assert bool((out.final_boxes[:, 0::2] <= width).all() and (out.final_boxes[:, 1::2] <= height).all())


@pytest.mark.parametrize('fusion', ['concat', 'concat_product'])
@pytest.mark.parametrize('head_type', ['4conv1fc_gn', '2fc'])
def test_reference_broadcast_equals_repeated_reference(head_type: str, fusion: str) -> None:
    head = tiny_head(head_type, fusion=fusion)
    reference, roi = random_feats(1, 2), random_feats(4, 3)
    with torch.no_grad():
        broadcast = head.stages[1](reference, roi)
        repeated = head.stages[1](reference.repeat(4, 1, 1, 1), roi)
        # One template for all RoIs takes the split conv_reduce path: same arithmetic, other rounding.
        torch.testing.assert_close(head.target_probability(reference, roi),
                                   head.target_probability(reference.repeat(4, 1, 1, 1), roi), rtol=0, atol=1e-6)
    torch.testing.assert_close(broadcast[0], repeated[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(broadcast[1], repeated[1], rtol=1e-5, atol=1e-6)


def test_product_fusion_is_conv_reduce_over_reference_roi_and_their_product() -> None:
    stage = tiny_head('2fc', fusion='concat_product').stages[0]
    assert stage.conv_reduce.in_channels == 3 * C
    reference, roi = random_feats(3, 2), random_feats(3, 3)
    with torch.no_grad():
        logits, _ = stage(reference, roi)
        by_hand = stage.box_head(torch.relu(stage.conv_reduce(torch.cat([reference, roi, reference * roi], dim=1))))
        torch.testing.assert_close(logits, stage.cls_score(by_hand))
        # The product makes the score depend on how reference and RoI agree position by position: swapping the
        # RoIs' product term for another pairing's changes the output.
        other = stage.box_head(torch.relu(stage.conv_reduce(torch.cat([reference, roi, reference * roi.flip(0)],
                                                                      dim=1))))
        assert not torch.allclose(stage.cls_score(other), logits)
    with pytest.raises(ValueError, match='fusion'):
        HeadConfig(fusion='sum')
    with pytest.raises(ValueError, match='fusion'):
        RedetectionStage(C, head_type='2fc', representation_size=16, conv_dim=32, pooler_size=P, fusion='sum')


def test_stage_rejects_mismatched_shapes() -> None:
    stage = tiny_head('2fc').stages[0]
    with pytest.raises(ValueError, match=r'reference features must be \[1 or 4'):
        stage(random_feats(2, 0), random_feats(4, 1))
    with pytest.raises(ValueError, match='roi features'):
        stage(random_feats(1, 0), torch.zeros(4, C, 5, 5))


def test_gn_head_needs_conv_dim_multiple_of_32() -> None:
    with pytest.raises(ValueError, match='multiple of 32'):
        RedetectionStage(C, head_type='4conv1fc_gn', representation_size=16, conv_dim=48, pooler_size=P)


def test_stages_have_separate_weights() -> None:
    head = tiny_head('4conv1fc_gn')
    pool, reference = feature_pool(), random_feats(1, 2)
    with torch.no_grad():
        before = head.run_cascade(pool, reference, BOXES, IMAGE_SIZE)
        for parameter in head.stages[1].parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
        after = head.run_cascade(pool, reference, BOXES, IMAGE_SIZE)
    # Stage 0 and the boxes it hands to stage 1 are untouched ...
    assert torch.equal(before.stage_logits[0], after.stage_logits[0])
    assert torch.equal(before.stage_deltas[0], after.stage_deltas[0])
    assert torch.equal(before.stage_boxes[1], after.stage_boxes[1])
    # ... stage 1's outputs and everything downstream of them change.
    assert not torch.allclose(before.stage_logits[1], after.stage_logits[1])
    assert not torch.allclose(before.stage_deltas[1], after.stage_deltas[1])
    assert not torch.allclose(before.stage_boxes[2], after.stage_boxes[2])
    assert not torch.allclose(before.final_boxes, after.final_boxes)
    keys = head.state_dict().keys()
    assert {key.split('.')[1] for key in keys if key.startswith('stages.')} == {'0', '1', '2'}


def _set_constant_deltas(stage: RedetectionStage, deltas: tuple[float, float, float, float]) -> None:
    with torch.no_grad():
        stage.bbox_pred.weight.zero_()
        stage.bbox_pred.bias.copy_(torch.tensor(deltas))


def test_cascade_applies_each_stages_regression_with_its_own_weights() -> None:
    head = tiny_head('2fc')
    # Stage weights (10, 10, 5, 5), (20, 20, 10, 10), (30, 30, 15, 15) (SPEC §2). Constant deltas per stage:
    _set_constant_deltas(head.stages[0], (2.0, -4.0, 0.0, 5 * math.log(2)))
    _set_constant_deltas(head.stages[1], (0.0, 0.0, 0.0, 0.0))
    _set_constant_deltas(head.stages[2], (-3.0, 6.0, 15 * math.log(0.5), 0.0))
    box = torch.tensor([[10.0, 10.0, 30.0, 50.0]])  # cx 20, cy 30, w 20, h 40
    with torch.no_grad():
        out = head.run_cascade(feature_pool(), random_feats(1, 2), box, IMAGE_SIZE)
    # Stage 0: cx += 2/10 * 20 = 24; cy += -4/10 * 40 = 14; w = 20; h *= 2 -> [14, -26, 34, 54], clipped at y = 0.
    assert torch.allclose(out.stage_boxes[1], torch.tensor([[14.0, 0.0, 34.0, 54.0]]), atol=1e-5)
    # Stage 1 leaves the boxes as they are.
    assert torch.allclose(out.stage_boxes[2], out.stage_boxes[1], atol=1e-5)
    # Stage 2 on [14, 0, 34, 54] (cx 24, cy 27, w 20, h 54): cx += -3/30 * 20 = 22; cy += 6/30 * 54 = 37.8;
    # w *= 0.5 = 10; h = 54 -> [17, 10.8, 27, 64.8].
    assert torch.allclose(out.final_boxes, torch.tensor([[17.0, 10.8, 27.0, 64.8]]), atol=1e-4)
    # The same as decoding each stage's own deltas with its own BoxCoder.
    for k in range(3):
        coder = BoxCoder(head.config.bbox_reg_weights[k])
        decoded = coder.decode_single(out.stage_deltas[k], out.stage_boxes[k]).clamp(min=0)
        decoded[:, 0::2] = decoded[:, 0::2].clamp(max=IMAGE_SIZE[1])
        decoded[:, 1::2] = decoded[:, 1::2].clamp(max=IMAGE_SIZE[0])
        following = out.stage_boxes[k + 1] if k < 2 else out.final_boxes
        assert torch.allclose(decoded, following, atol=1e-5)


def test_cascade_pools_each_stages_input_boxes() -> None:
    head = tiny_head('2fc')
    _set_constant_deltas(head.stages[0], (5.0, 0.0, 0.0, 0.0))
    pool = feature_pool()
    pooled: list[Tensor] = []

    def recording_pool(boxes: Tensor) -> Tensor:
        pooled.append(boxes.clone())
        return pool(boxes)

    with torch.no_grad():
        out = head.run_cascade(recording_pool, random_feats(1, 2), BOXES, IMAGE_SIZE)
    assert len(pooled) == 3
    for k in range(3):
        assert torch.equal(pooled[k], out.stage_boxes[k])


@pytest.mark.parametrize('head_type', ['4conv1fc_gn', '2fc'])
def test_target_probability_is_mean_of_stage_softmax(head_type: str) -> None:
    head = tiny_head(head_type)
    reference, roi = random_feats(1, 2), random_feats(6, 3)
    with torch.no_grad():
        manual = torch.stack([torch.softmax(stage(reference, roi)[0], dim=1)[:, 1] for stage in head.stages])
        prob = head.target_probability(reference, roi)
    assert torch.allclose(prob, manual.mean(dim=0), atol=1e-7)


@pytest.mark.parametrize('head_type', ['4conv1fc_gn', '2fc'])
def test_bfloat16_autocast_gives_float32_scores_and_boxes(head_type: str) -> None:
    head = tiny_head(head_type)
    reference, roi = random_feats(1, 2), random_feats(3, 3)
    with torch.no_grad():
        exact = head.target_probability(reference, roi)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            prob = head.target_probability(reference, roi)
            out = head.run_cascade(feature_pool(), reference, BOXES, IMAGE_SIZE)
    assert prob.dtype == torch.float32
    assert torch.allclose(prob, exact, atol=0.02)
    assert out.final_boxes.dtype == torch.float32
    assert out.stage_logits[2].dtype == torch.float32


@pytest.mark.gpu
@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_cuda_autocast(dtype: torch.dtype) -> None:
    head = tiny_head('4conv1fc_gn').cuda()
    reference, roi = random_feats(1, 2).cuda(), random_feats(3, 3).cuda()
    features = torch.randn(1, C, *IMAGE_SIZE, generator=torch.Generator().manual_seed(1)).cuda()

    def pool(boxes: Tensor) -> Tensor:
        return roi_align(features, [boxes], output_size=P, spatial_scale=1.0, sampling_ratio=2, aligned=True)

    with torch.no_grad():
        exact = head.target_probability(reference, roi)
        exact_cascade = head.run_cascade(pool, reference, BOXES.cuda(), IMAGE_SIZE)
        with torch.autocast('cuda', dtype=dtype):
            prob = head.target_probability(reference, roi)
            cascade = head.run_cascade(pool, reference, BOXES.cuda(), IMAGE_SIZE)
            empty = head.run_cascade(pool, reference, BOXES[:0].cuda(), IMAGE_SIZE)
    assert prob.dtype == torch.float32
    assert torch.allclose(prob, exact, atol=0.02)
    assert cascade.final_boxes.dtype == torch.float32
    assert torch.allclose(cascade.final_boxes, exact_cascade.final_boxes, atol=0.5)
    assert empty.final_boxes.shape == (0, 4)


def test_head_output_does_not_depend_on_other_rois() -> None:
    head = tiny_head('4conv1fc_gn')
    reference, roi = random_feats(1, 2), random_feats(5, 3)
    with torch.no_grad():
        alone = head.target_probability(reference, roi[2:3])
        batched = head.target_probability(reference, roi)
    assert torch.allclose(alone, batched[2:3], atol=1e-6)


def test_initialisation_of_predictors() -> None:
    head = tiny_head('2fc')
    for stage in head.stages:
        assert torch.count_nonzero(stage.cls_score.bias) == 0
        assert torch.count_nonzero(stage.bbox_pred.bias) == 0
        assert 0.005 < float(stage.cls_score.weight.detach().std()) < 0.015
        assert float(stage.bbox_pred.weight.detach().std()) < 0.002


# postprocess: hand-built boxes and scores.
POST_CONFIG = HeadConfig(nms_thresh=0.5, detections_per_img=2, score_thresh=0.1)


def test_postprocess_threshold_nms_and_topk() -> None:
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0],      # 0: score 0.9
                          [1.0, 0.0, 11.0, 10.0],      # 1: IoU 0.82 with 0, suppressed
                          [50.0, 50.0, 60.0, 60.0],    # 2: score 0.3
                          [100.0, 100.0, 110.0, 110.0],  # 3: below threshold
                          [200.0, 0.0, 210.0, 10.0]])  # 4: score 0.5
    scores = torch.tensor([0.9, 0.8, 0.3, 0.05, 0.5])
    keep = postprocess(boxes, scores, POST_CONFIG)
    assert keep.dtype == torch.int64
    assert keep.tolist() == [0, 4]  # 2 would be third; detections_per_img = 2
    wide = HeadConfig(nms_thresh=0.5, detections_per_img=10, score_thresh=0.1)
    assert postprocess(boxes, scores, wide).tolist() == [0, 4, 2]
    no_nms = HeadConfig(nms_thresh=0.9, detections_per_img=10, score_thresh=0.1)
    assert postprocess(boxes, scores, no_nms).tolist() == [0, 1, 4, 2]


def test_postprocess_threshold_is_inclusive_and_empty_inputs_work() -> None:
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [20.0, 0.0, 30.0, 10.0]])
    assert postprocess(boxes, torch.tensor([0.1, 0.0999]), POST_CONFIG).tolist() == [0]
    assert postprocess(boxes, torch.tensor([0.01, 0.02]), POST_CONFIG).shape == (0,)
    empty = postprocess(torch.zeros(0, 4), torch.zeros(0), POST_CONFIG)
    assert empty.shape == (0,)
    assert empty.dtype == torch.int64


def test_postprocess_rejects_mismatched_scores() -> None:
    with pytest.raises(ValueError, match=r'scores must be \[2\]'):
        postprocess(torch.zeros(2, 4), torch.zeros(3), POST_CONFIG)
