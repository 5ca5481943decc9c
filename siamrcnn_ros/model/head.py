"""The Siamese cascade re-detection head (SPEC §2 steps 2-5, paper §3.1).

Every RoI is compared with a reference: its RoIAlign features are concatenated with the reference's
along channels and reduced back to ``C`` channels by a 1x1 conv ("conv_reduce"), then a box head, a
two-way classifier (0 = background, 1 = the reference object) and a class-agnostic box regression
follow. Three such stages form a Cascade R-CNN head; no weights are shared between stages and each
stage regresses the boxes of the previous one with its own box-coder weights.

The reference is the first-frame template for re-detection and a detection of the previous frame for
pair scoring (SPEC §2, "third stage"); both go through the same ``target_probability``.

Boxes are ``[N, 4]`` xyxy float pixels of the frame the ``pool`` function works in (the feature maps'
frame); features are ``[N, C, P, P]`` with ``P = HeadConfig.pooler_size`` (7).
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F  # noqa: N812
from torchvision.models.detection._utils import BoxCoder
from torchvision.models.detection.faster_rcnn import FastRCNNConvFCHead, TwoMLPHead
from torchvision.ops import boxes as box_ops

from siamrcnn_ros.model.config import FUSIONS, HEAD_TYPES, HeadConfig

# GroupNorm with 32 groups, as the reference "4conv1fc_gn" head (Wu & He's default group count).
_GN_GROUPS = 32


class RedetectionStage(nn.Module):
    """One cascade stage with its own weights: conv_reduce, box head, classifier and box regression.

    Args:
        in_channels: ``C``, channels of the reference and RoI features (the FPN's 256 in the paper).
        head_type: ``'4conv1fc_gn'`` (4 x conv3x3 ``C -> conv_dim`` with GroupNorm(32) and ReLU, then
            one fc of ``representation_size``) or ``'2fc'`` (two fc of ``representation_size``, like
            torchvision's ``TwoMLPHead``).
        representation_size: width of the last fully connected layer.
        conv_dim: channels of the 3x3 convs of ``4conv1fc_gn`` (a multiple of 32); unused by ``2fc``.
        pooler_size: ``P``, the RoIAlign output size the features come in.
        fusion: ``'concat'`` (the paper: conv_reduce sees ``[t, r]``) or ``'concat_product'`` (``[t, r, t * r]``).
    """

    def __init__(self, in_channels: int, *, head_type: str, representation_size: int, conv_dim: int,
                 pooler_size: int, fusion: str = 'concat') -> None:
        super().__init__()
        if head_type not in HEAD_TYPES:
            raise ValueError(f'head_type must be one of {HEAD_TYPES}, got {head_type!r}')
        if fusion not in FUSIONS:
            raise ValueError(f'fusion must be one of {FUSIONS}, got {fusion!r}')
        self.fusion = fusion
        if head_type == '4conv1fc_gn' and conv_dim % _GN_GROUPS:
            raise ValueError(f'conv_dim must be a multiple of {_GN_GROUPS} for GroupNorm, got {conv_dim}')
        self.in_channels = in_channels
        self.pooler_size = pooler_size
        # SPEC §2 step 3: concat(reference, roi) along channels (and their product with concat_product), then
        # back to C channels.
        parts = 3 if fusion == 'concat_product' else 2
        self.conv_reduce = nn.Conv2d(parts * in_channels, in_channels, kernel_size=1)
        nn.init.kaiming_normal_(self.conv_reduce.weight, mode='fan_out', nonlinearity='relu')
        nn.init.zeros_(self.conv_reduce.bias)
        self.box_head: nn.Module
        if head_type == '4conv1fc_gn':
            # torchvision's conv-fc head initialises its convs with Kaiming normal (fan_out), biases 0.
            self.box_head = FastRCNNConvFCHead((in_channels, pooler_size, pooler_size), [conv_dim] * 4,
                                               [representation_size],
                                               norm_layer=functools.partial(nn.GroupNorm, _GN_GROUPS))
        else:
            self.box_head = TwoMLPHead(in_channels * pooler_size * pooler_size, representation_size)
        self.cls_score = nn.Linear(representation_size, 2)
        self.bbox_pred = nn.Linear(representation_size, 4)
        # Initialisation of Fast R-CNN predictors (torchvision, detectron2): small normal weights, zero bias.
        nn.init.normal_(self.cls_score.weight, std=0.01)
        nn.init.normal_(self.bbox_pred.weight, std=0.001)
        nn.init.zeros_(self.cls_score.bias)
        nn.init.zeros_(self.bbox_pred.bias)

    def forward(self, reference: Tensor, roi: Tensor) -> tuple[Tensor, Tensor]:
        """Classify and regress the RoIs against the reference.

        Args:
            reference: ``[1, C, P, P]`` (broadcast to every RoI) or ``[N, C, P, P]`` (one per RoI), float.
            roi: ``[N, C, P, P]`` float RoI features.

        Returns:
            logits ``[N, 2]`` (column 1 = target) and class-agnostic box deltas ``[N, 4]``
            ``(dx, dy, dw, dh)``, both in the compute dtype (the autocast dtype under autocast).
        """
        expected = (self.in_channels, self.pooler_size, self.pooler_size)
        if roi.dim() != 4 or tuple(roi.shape[1:]) != expected:
            raise ValueError(f'roi features must be [N, {", ".join(map(str, expected))}], got {tuple(roi.shape)}')
        if reference.dim() != 4 or tuple(reference.shape[1:]) != expected or reference.shape[0] not in (1, len(roi)):
            raise ValueError(f'reference features must be [1 or {len(roi)}, {", ".join(map(str, expected))}], '
                             f'got {tuple(reference.shape)}')
        if reference.shape[0] == 1 and len(roi) > 1:
            # conv_reduce is 1x1, so conv(cat(t, r)) = W_t * t + W_r * r + b: with one template for all
            # RoIs its half is computed once and broadcast, instead of once per RoI (about half the
            # cost of conv_reduce, the largest part of the head on the CPU).
            weight, bias = self.conv_reduce.weight, self.conv_reduce.bias
            channels = self.in_channels
            x = F.conv2d(roi, weight[:, channels:2 * channels], None) + F.conv2d(reference, weight[:, :channels], bias)
            if self.fusion == 'concat_product':
                x = x + F.conv2d(reference * roi, weight[:, 2 * channels:], None)
        else:
            reference = reference.expand(len(roi), -1, -1, -1)  # [N, C, P, P], a view when broadcasting
            joined = [reference, roi, reference * roi] if self.fusion == 'concat_product' else [reference, roi]
            x = self.conv_reduce(torch.cat(joined, dim=1))  # [N, 2C or 3C, P, P] -> [N, C, P, P]
        # A ReLU after conv_reduce: without it conv_reduce and the box head's first layer (fc6 of 2fc, the
        # first conv of 4conv1fc) compose into one linear map of concat(t, r), and the template and the RoI
        # meet only in fc6's 128-1024 units; with it each of the C x P x P positions compares them.
        x = self.box_head(F.relu(x))  # [N, representation_size]
        return self.cls_score(x), self.bbox_pred(x)


@dataclass(frozen=True)
class CascadeOutput:
    """Everything the cascade computed, stage by stage (training computes per-stage losses from it).

    Attributes:
        stage_boxes: one ``[N, 4]`` float32 xyxy tensor per stage: the boxes that stage looked at
            (stage 0's are the caller's RoIs).
        stage_logits: one ``[N, 2]`` float32 tensor per stage (column 1 = target).
        stage_deltas: one ``[N, 4]`` float32 tensor per stage, the regression in that stage's box coder.
        final_boxes: ``[N, 4]`` float32 xyxy, the last stage's regression applied, clipped to the image.
    """

    stage_boxes: list[Tensor]
    stage_logits: list[Tensor]
    stage_deltas: list[Tensor]
    final_boxes: Tensor


class CascadeRedetectionHead(nn.Module):
    """The three-stage Siamese Cascade R-CNN head (SPEC §2 step 4).

    Attributes:
        stages: ``nn.ModuleList`` of ``RedetectionStage``, one per cascade stage, no shared weights.
        box_coders: one torchvision ``BoxCoder`` per stage with that stage's ``bbox_reg_weights``.

    Args:
        config: the head section of the model config.
        in_channels: ``C`` of the RoI features (the FPN's ``out_channels``).
    """

    def __init__(self, config: HeadConfig, in_channels: int) -> None:
        super().__init__()
        self.config = config
        self.stages = nn.ModuleList(
            RedetectionStage(in_channels, head_type=config.head_type, representation_size=config.representation_size,
                             conv_dim=config.conv_dim, pooler_size=config.pooler_size, fusion=config.fusion)
            for _ in range(config.num_stages))
        self.box_coders = [BoxCoder(weights) for weights in config.bbox_reg_weights]

    @property
    def num_stages(self) -> int:
        return len(self.stages)

    def run_cascade(self, pool: Callable[[Tensor], Tensor], reference: Tensor, boxes: Tensor,
                    image_size: tuple[int, int]) -> CascadeOutput:
        """Run the stages in turn, each on the boxes the previous one regressed (Cascade R-CNN).

        Args:
            pool: maps ``[N, 4]`` xyxy boxes to their ``[N, C, P, P]`` RoI features (RoIAlign on the frame's
                feature maps); the boxes are in the frame ``pool`` expects.
            reference: ``[1 or N, C, P, P]`` features of the reference (the first-frame template).
            boxes: ``[N, 4]`` float xyxy RoIs in ``pool``'s frame; ``N = 0`` is allowed.
            image_size: ``(height, width)`` of that frame in pixels; regressed boxes are clipped to it.

        Returns:
            The per-stage inputs and outputs and the final boxes (``CascadeOutput``). Scores are not
            included: SPEC §2 scores the final boxes with ``target_probability``.
        """
        if boxes.dim() != 2 or boxes.shape[-1] != 4:
            raise ValueError(f'boxes must be [N, 4] xyxy, got shape {tuple(boxes.shape)}')
        if len(image_size) != 2:
            raise ValueError(f'image_size must be (height, width), got {image_size!r}')
        height, width = int(image_size[0]), int(image_size[1])
        # Box arithmetic stays in float32: under fp16/bf16 autocast, pixel coordinates of an 800-1333 px
        # image would lose whole pixels.
        boxes = boxes.float()
        stage_boxes, stage_logits, stage_deltas = [], [], []
        for stage, coder in zip(self.stages, self.box_coders, strict=True):
            logits, deltas = stage(reference, pool(boxes))
            logits, deltas = logits.float(), deltas.float()
            stage_boxes.append(boxes)
            stage_logits.append(logits)
            stage_deltas.append(deltas)
            # As in Cascade R-CNN, the next stage's input boxes carry no gradient back through this
            # stage's regression; each stage is trained by its own losses.
            decoded = coder.decode_single(deltas.detach(), boxes)  # [N, 4]
            boxes = box_ops.clip_boxes_to_image(decoded, (height, width))
        return CascadeOutput(stage_boxes=stage_boxes, stage_logits=stage_logits, stage_deltas=stage_deltas,
                             final_boxes=boxes)

    def target_probability(self, reference: Tensor, roi: Tensor) -> Tensor:
        """Probability that each RoI shows the reference object: the mean over the stages of
        ``softmax(logits)[:, 1]`` (SPEC §2: the final re-detection score, and the pair score).

        Args:
            reference: ``[1 or N, C, P, P]`` reference features (broadcast when the batch is 1).
            roi: ``[N, C, P, P]`` RoI features; ``N = 0`` gives an empty result.

        Returns:
            ``[N]`` float32 in ``[0, 1]``.
        """
        total = roi.new_zeros(len(roi), dtype=torch.float32)
        for stage in self.stages:
            logits, _ = stage(reference, roi)
            # Softmax in float32: fp16/bf16 logits from autocast would round the probabilities.
            total = total + torch.softmax(logits.float(), dim=-1)[:, 1]
        return total / self.num_stages


def postprocess(boxes: Tensor, scores: Tensor, config: HeadConfig) -> Tensor:
    """Select the detections to report (SPEC §2 step 5): score threshold, NMS, top-k.

    Args:
        boxes: ``[N, 4]`` float xyxy.
        scores: ``[N]`` float target probabilities.
        config: ``score_thresh``, ``nms_thresh`` and ``detections_per_img`` are used.

    Returns:
        ``[K]`` int64 indices into ``boxes``, ``K <= detections_per_img``, sorted by decreasing score.
    """
    if boxes.dim() != 2 or boxes.shape[-1] != 4:
        raise ValueError(f'boxes must be [N, 4] xyxy, got shape {tuple(boxes.shape)}')
    if scores.shape != boxes.shape[:1]:
        raise ValueError(f'scores must be [{len(boxes)}] like the boxes, got shape {tuple(scores.shape)}')
    # Host sync: the number of boxes above the threshold (and NMS's output size) decides the shapes.
    candidates = torch.nonzero(scores >= config.score_thresh).flatten()  # [M]
    keep = box_ops.nms(boxes[candidates].float(), scores[candidates].float(), config.nms_thresh)  # sorted desc
    return candidates[keep[:config.detections_per_img]]
