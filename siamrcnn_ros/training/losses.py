"""The Siamese cascade losses of the re-detection head (SPEC §2 step 4, §4; paper §3.2).

For one pair (reference object, target frame):

1. Candidate RoIs of the target frame = the frozen RPN's proposals ∪ the target's ground-truth box and
   jittered copies of it ∪ the other objects' boxes and jittered copies (look-alike distractors are the
   negatives that matter for tracking). ``candidate_rois`` builds them.
2. Stage 0 labels the candidates against the *target object's* box only (IoU >= its threshold = 1, else
   0: every other object is background) and samples a fixed number with at most a fraction of
   positives (``sample_rois``). These RoIs run through the cascade (``CascadeRedetectionHead.run_cascade``);
   each stage regresses the boxes of the previous one, detached (Cascade R-CNN).
3. Stage k re-labels the boxes it received with its own threshold, samples (per-stage settings) and
   computes ``loss_cls_stage{k}`` (cross-entropy) and ``loss_box_stage{k}`` (smooth-L1 or L1 on the
   deltas encoded with the stage's ``BoxCoder``, positives only, normalised by the sampled count as in
   torchvision's Fast R-CNN loss).

Hard example mining (SPEC §4) plugs in through ``extra_negative_features``: RoI features of other
videos' objects, classified by every stage against the same reference as background, with their mean
cross-entropy added to ``loss_cls_stage{k}`` times ``LossSettings.hard_negative_scale``.

All boxes here are ``[N, 4]`` float32 xyxy pixels of the network's (augmented, resized) image.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn import functional as F  # noqa: N812
from torchvision.ops import boxes as box_ops

from siamrcnn_ros.model.head import CascadeRedetectionHead
from siamrcnn_ros.training.settings import LossSettings, RoISamplingSettings


def jitter_boxes(boxes: Tensor, count: int, jitter: float, generator: torch.Generator) -> Tensor:
    """``count`` random variations of each box: centre moved by up to ``jitter`` of its size, width and
    height scaled by up to ``exp(±jitter)``.

    Args:
        boxes: ``[K, 4]`` float xyxy.
        count: variations per box.
        jitter: largest relative change.
        generator: CPU generator deciding the draws.

    Returns:
        ``[K * count, 4]`` float32 xyxy (box by box, on ``boxes``' device).
    """
    if count == 0 or len(boxes) == 0:
        return boxes.new_zeros((0, 4), dtype=torch.float32)
    boxes = boxes.float()
    noise = (torch.rand((len(boxes), count, 4), generator=generator) * 2 - 1) * jitter  # [K, count, 4] in ±jitter
    noise = noise.to(boxes.device)
    width = (boxes[:, 2] - boxes[:, 0])[:, None]  # [K, 1]
    height = (boxes[:, 3] - boxes[:, 1])[:, None]
    cx = (boxes[:, 0] + boxes[:, 2])[:, None] / 2 + noise[..., 0] * width  # [K, count]
    cy = (boxes[:, 1] + boxes[:, 3])[:, None] / 2 + noise[..., 1] * height
    w = width * torch.exp(noise[..., 2])
    h = height * torch.exp(noise[..., 3])
    jittered = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)  # [K, count, 4]
    return jittered.reshape(-1, 4)  # [K * count, 4]


def candidate_rois(proposals: Tensor, target_box: Tensor, other_boxes: Tensor, image_size: tuple[int, int],
                   settings: RoISamplingSettings, generator: torch.Generator,
                   extra_boxes: Tensor | None = None) -> Tensor:
    """The RoIs a pair's losses are sampled from (step 1 above).

    Args:
        proposals: ``[P, 4]`` float xyxy RPN proposals of the target frame (no gradient).
        target_box: ``[4]`` float xyxy ground truth of the target object.
        other_boxes: ``[K, 4]`` float xyxy of the other visible objects (``K = 0`` allowed).
        image_size: ``(h, w)`` of the image; jittered boxes are clipped to it.
        settings: ``gt_jitter_count`` and ``gt_jitter``.
        generator: CPU generator for the jitter.
        extra_boxes: ``[T, 4]`` float xyxy further candidates (the object's trajectory boxes), or None.

    Returns:
        ``[P + (1 + K) * (1 + count) + T, 4]`` float32 xyxy, degenerate boxes dropped.
    """
    gts = torch.cat([target_box.float()[None], other_boxes.float().reshape(-1, 4)])  # [1 + K, 4]
    jittered = jitter_boxes(gts, settings.gt_jitter_count, settings.gt_jitter, generator)
    jittered = box_ops.clip_boxes_to_image(jittered, image_size)
    extra = proposals.new_zeros((0, 4)) if extra_boxes is None else extra_boxes.float().reshape(-1, 4)
    rois = torch.cat([proposals.float(), gts, jittered, extra])  # [P + (1 + K)(1 + count) + T, 4]
    keep = box_ops.remove_small_boxes(rois, 1.0)
    return rois[keep]


def sample_rois(labels: Tensor, batch_size: int, positive_fraction: float, generator: torch.Generator) -> Tensor:
    """At most ``batch_size`` indices with at most ``positive_fraction * batch_size`` positives, the rest
    negatives (all of the smaller group when there are too few), in random order within each group.

    Args:
        labels: ``[N]`` int64, 1 = positive, 0 = negative.
        batch_size: largest number of indices returned.
        positive_fraction: largest share of positives.
        generator: CPU generator of the random choice.

    Returns:
        ``[M]`` int64 indices into ``labels``, positives first, ``M <= batch_size``.
    """
    positive = torch.nonzero(labels == 1).flatten()
    negative = torch.nonzero(labels == 0).flatten()
    num_pos = min(len(positive), int(batch_size * positive_fraction))
    num_neg = min(len(negative), batch_size - num_pos)
    pos_order = torch.randperm(len(positive), generator=generator)[:num_pos].to(labels.device)
    neg_order = torch.randperm(len(negative), generator=generator)[:num_neg].to(labels.device)
    return torch.cat([positive[pos_order], negative[neg_order]])


def label_rois(boxes: Tensor, target_box: Tensor, iou_threshold: float) -> Tensor:
    """``[N]`` int64: 1 where a box overlaps the target's ``[4]`` box with IoU >= the threshold, else 0."""
    if len(boxes) == 0:
        return boxes.new_zeros(0, dtype=torch.int64)
    iou = box_ops.box_iou(boxes.float(), target_box.float()[None])[:, 0]  # [N]
    return (iou >= iou_threshold).to(torch.int64)


def cascade_losses(head: CascadeRedetectionHead, pool: Callable[[Tensor], Tensor], reference: Tensor, rois: Tensor,
                   target_box: Tensor, image_size: tuple[int, int], *, sampling: RoISamplingSettings,
                   settings: LossSettings, generator: torch.Generator,
                   extra_negative_features: Tensor | None = None) -> dict[str, Tensor]:
    """Per-stage classification and box losses of one pair (steps 2-3 above), unweighted.

    Args:
        head: the Siamese cascade head (its stages are trained).
        pool: ``[N, 4]`` xyxy boxes -> ``[N, C, P, P]`` RoI features of the target frame.
        reference: ``[1, C, P, P]`` RoI features of the object in the reference frame (the template).
        rois: ``[N, 4]`` float xyxy candidates (``candidate_rois``), no gradient.
        target_box: ``[4]`` float xyxy ground truth of the object in the target frame.
        image_size: ``(h, w)`` of the target image; regressed boxes are clipped to it.
        sampling: per-stage RoI sampling.
        settings: the box loss kind and the hard-negative scale.
        generator: CPU generator of the sampling.
        extra_negative_features: ``[E, C, P, P]`` RoI features that are never the reference object (hard
            negatives from other videos, SPEC §4), or None.

    Returns:
        ``{'loss_cls_stage{k}': scalar, 'loss_box_stage{k}': scalar}`` for every stage k (float32).
    """
    num_stages = head.num_stages
    thresholds = head.config.stage_iou_thresholds
    if len(sampling.batch_size_per_image) != num_stages:
        raise ValueError(f'roi_sampling has {len(sampling.batch_size_per_image)} stages, the head {num_stages}')
    if target_box.shape != (4,):
        raise ValueError(f'target_box must be [4] xyxy, got shape {tuple(target_box.shape)}')
    if extra_negative_features is not None:
        expected = tuple(reference.shape[1:])
        if extra_negative_features.dim() != 4 or tuple(extra_negative_features.shape[1:]) != expected:
            raise ValueError(f'extra_negative_features must be [E, {", ".join(map(str, expected))}], '
                             f'got {tuple(extra_negative_features.shape)}')
    target_box = target_box.float().to(rois.device)
    labels = label_rois(rois, target_box, thresholds[0])
    chosen = sample_rois(labels, sampling.batch_size_per_image[0], sampling.positive_fractions[0], generator)
    cascade = head.run_cascade(pool, reference, rois[chosen].detach(), image_size)
    losses: dict[str, Tensor] = {}
    for k in range(num_stages):
        boxes, logits, deltas = cascade.stage_boxes[k], cascade.stage_logits[k], cascade.stage_deltas[k]
        labels = label_rois(boxes, target_box, thresholds[k])
        index = sample_rois(labels, sampling.batch_size_per_image[k], sampling.positive_fractions[k], generator)
        labels, logits, deltas, boxes = labels[index], logits[index], deltas[index], boxes[index]
        cls_loss = F.cross_entropy(logits, labels) if len(index) else logits.sum() * 0
        if extra_negative_features is not None and len(extra_negative_features):
            extra_logits, _ = head.stages[k](reference, extra_negative_features.to(reference.dtype))
            background = extra_logits.new_zeros(len(extra_logits), dtype=torch.int64)
            cls_loss = cls_loss + settings.hard_negative_scale * F.cross_entropy(extra_logits.float(), background)
        positive = labels == 1
        targets = head.box_coders[k].encode_single(target_box.expand(int(positive.sum()), 4), boxes[positive])
        if settings.box_loss == 'smooth_l1':
            box_loss = F.smooth_l1_loss(deltas[positive], targets, beta=settings.smooth_l1_beta, reduction='sum')
        else:
            box_loss = F.l1_loss(deltas[positive], targets, reduction='sum')
        losses[f'loss_cls_stage{k}'] = cls_loss
        losses[f'loss_box_stage{k}'] = box_loss / max(len(index), 1)
    return losses


def weighted_total(losses: dict[str, Tensor], settings: LossSettings) -> Tensor:
    """The scalar to minimise: ``sum_k cls_weights[k] * loss_cls_stage{k} + box_weights[k] * loss_box_stage{k}``."""
    total = None
    for k, (w_cls, w_box) in enumerate(zip(settings.cls_weights, settings.box_weights, strict=True)):
        term = w_cls * losses[f'loss_cls_stage{k}'] + w_box * losses[f'loss_box_stage{k}']
        total = term if total is None else total + term
    if total is None:
        raise ValueError('no stage losses to weight')
    return total
