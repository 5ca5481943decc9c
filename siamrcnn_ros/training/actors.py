"""Run the network on examples and return its losses (pytracking ltr's "actors").

Two phases:

* ``head`` (Siam R-CNN, SPEC §2/§4): backbone, FPN and RPN are frozen and run without gradient; the
  template is the RoIAlign of the reference box in the reference frame; the Siamese cascade head is
  trained with ``losses.cascade_losses`` on the target frame.
* ``detector``: backbone + FPN + RPN trained as a class-agnostic proposal network with torchvision's
  RPN losses (``loss_objectness``, ``loss_rpn_box_reg``) on every visible object's box, for when no
  COCO-trained detector is at hand (our machines).
* ``joint``: both at once on a pair, the backbone learning from the RPN losses of the target frame's
  objects and from the cascade losses (through the template and the RoI features). A COCO backbone
  already tells objects apart; one trained from scratch on objectness alone does not (on the synthetic
  world the head phase on such a frozen backbone stalled at a stage-0 classification loss of ~0.42).

Both return ``(total, {name: scalar})`` for one example; the trainer averages over the batch.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F  # noqa: N812

from siamrcnn_ros.model.siamrcnn import FrameFeatures, SiamRCNN
from siamrcnn_ros.training.examples import DetectionExample, PairExample, boxes_tensor
from siamrcnn_ros.training.hard_examples.embedding import batch_hard_triplet_loss
from siamrcnn_ros.training.losses import candidate_rois, cascade_losses, weighted_total
from siamrcnn_ros.training.settings import TrainingConfig


def head_losses(model: SiamRCNN, example: PairExample, config: TrainingConfig, generator: torch.Generator,
                extra_negative_features: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
    """The weighted cascade loss of one pair and its parts ``loss_{cls,box}_stage{k}``.

    With several reference objects (``pairs.objects_per_pair``) the backbone and RPN run once per frame and
    each object gets its own candidate RoIs and cascade losses; total and parts are their means, so the loss
    keeps the scale of one object.

    Args:
        model: the re-detector; only its head needs gradients.
        example: the augmented pair.
        config: RoI sampling and loss settings.
        generator: CPU generator for the RoI jitter and sampling.
        extra_negative_features: ``[E, C, P, P]`` hard negatives (SPEC §4) for the pair's first object, or None.
    """
    with torch.no_grad():
        _, reference = model.training_frame(example.reference_image, proposals=False)
        _, target = model.training_frame(example.target_image)
    templates = _templates(model, example, reference)
    parts = _objects_cascade_losses(model, example, config, generator, templates, target, extra_negative_features)
    return weighted_total(parts, config.loss), parts


def joint_losses(model: SiamRCNN, example: PairExample, config: TrainingConfig,
                 generator: torch.Generator) -> tuple[Tensor, dict[str, Tensor]]:
    """The cascade losses of one pair (all its reference objects, as ``head_losses``) plus the RPN losses of
    its target frame, backbone included.

    Returns:
        ``(weighted cascade total + loss_objectness + loss_rpn_box_reg, parts)``.
    """
    _, reference = model.training_frame(example.reference_image, proposals=False)
    target_input, target = model.training_frame(example.target_image)
    rpn_total, rpn_parts = model.rpn_losses(target_input, target,
                                            boxes_tensor(example.visible_boxes, model.device).reshape(-1, 4))
    templates = _templates(model, example, reference)
    parts = _objects_cascade_losses(model, example, config, generator, templates, target, None)
    total = weighted_total(parts, config.loss) + rpn_total
    parts.update(rpn_parts)
    if config.loss.identity_weight > 0:
        parts['loss_identity'] = identity_loss(model, example, templates, target, config.loss.identity_margin)
        total = total + config.loss.identity_weight * parts['loss_identity']
    return total, parts


def identity_loss(model: SiamRCNN, example: PairExample, templates: Tensor, target: FrameFeatures,
                  margin: float) -> Tensor:
    """Batch-hard triplet loss on the RoI features of the example's reference objects in both frames.

    Each of the ``M`` objects appears twice (reference and target frame); its ``[C * P * P]`` RoI features,
    flattened and L2-normalised, should lie closer to its other view than to any view of the other objects
    by ``margin``. Gradients reach the backbone and FPN through both frames' maps. 0 (with a graph) when
    ``M < 2``: no anchor has a negative.

    Args:
        templates: ``[M, C, P, P]`` the objects' RoI features in the reference frame (``_templates``).
        target: the target frame's features (``SiamRCNN.training_frame``).

    Returns:
        A float32 scalar.
    """
    count = len(example)
    target_boxes = np.stack([example.object(index)[1] for index in range(count)])  # [M, 4] xyxy pixels
    target_views = model.pool(target, boxes_tensor(target_boxes, model.device))
    vectors = F.normalize(torch.cat([templates, target_views]).flatten(1).float(), dim=1)  # [2M, C * P * P]
    labels = torch.arange(count, device=vectors.device).repeat(2)  # [2M]
    return batch_hard_triplet_loss(vectors, labels, margin=margin)


def _templates(model: SiamRCNN, example: PairExample, reference: FrameFeatures) -> Tensor:
    """``[M, C, P, P]`` RoI features of the example's reference objects in the reference frame; with gradient
    when its maps have one."""
    return model.pool(reference, boxes_tensor(example.reference_boxes, model.device))


def _objects_cascade_losses(model: SiamRCNN, example: PairExample, config: TrainingConfig,
                            generator: torch.Generator, templates: Tensor, target: FrameFeatures,
                            extra_negative_features: Tensor | None) -> dict[str, Tensor]:
    """Mean over the example's reference objects of ``cascade_losses``, each object against its own target box
    (the other visible objects are its distractors); hard negatives go to the first object only.

    Args:
        templates: ``[M, C, P, P]`` the reference objects' features (``_templates``).
        target: the target frame's features (``SiamRCNN.training_frame``: maps with or without gradient,
            proposals without).
    """
    device = model.device
    target_size, proposals = target.resized_size, target.proposals

    def pool(boxes: Tensor) -> Tensor:
        return model.pool(target, boxes)

    sums: dict[str, Tensor] = {}
    for index in range(len(example)):
        _, target_box, other_boxes = example.object(index)
        target_box = boxes_tensor(target_box, device)
        with torch.no_grad():
            rois = candidate_rois(proposals, target_box, boxes_tensor(other_boxes, device).reshape(-1, 4),
                                  target_size, config.roi_sampling, generator,
                                  extra_boxes=boxes_tensor(example.trajectory_boxes[index], device))
        losses = cascade_losses(model.head, pool, templates[index:index + 1], rois, target_box, target_size,
                                sampling=config.roi_sampling, settings=config.loss, generator=generator,
                                extra_negative_features=extra_negative_features if index == 0 else None)
        for key, value in losses.items():
            sums[key] = sums[key] + value if key in sums else value
    return {key: value / len(example) for key, value in sums.items()}


def detector_losses(model: SiamRCNN, example: DetectionExample) -> tuple[Tensor, dict[str, Tensor]]:
    """torchvision's class-agnostic RPN losses on one image (backbone, FPN and RPN in training mode).

    Returns:
        ``(loss_objectness + loss_rpn_box_reg, {'loss_objectness': ..., 'loss_rpn_box_reg': ...})``.
    """
    network_input, frame = model.training_frame(example.image, proposals=False)
    return model.rpn_losses(network_input, frame, boxes_tensor(example.boxes, model.device).reshape(-1, 4))
