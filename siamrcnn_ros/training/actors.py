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

from collections import OrderedDict

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F  # noqa: N812
from torchvision.models.detection.image_list import ImageList

from siamrcnn_ros.model.roi_pooling import fpn_levels
from siamrcnn_ros.model.rpn import propose
from siamrcnn_ros.model.siamrcnn import SiamRCNN
from siamrcnn_ros.training.examples import DetectionExample, PairExample, boxes_tensor, network_input
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
    device = model.device
    transform = model.config.transform
    with torch.no_grad():
        reference = network_input(example.reference_image, transform, device)
        reference_maps = model.feature_maps(reference.tensor)
        target = network_input(example.target_image, transform, device)
        target_maps = model.feature_maps(target.tensor)
        proposals = propose(model.rpn, target.tensor, target.resized_size, target_maps)  # [P, 4]
    templates = _templates(model, example, reference_maps, reference.resized_size)
    parts = _objects_cascade_losses(model, example, config, generator, templates, target_maps, target.resized_size,
                                    proposals, extra_negative_features)
    return weighted_total(parts, config.loss), parts


def joint_losses(model: SiamRCNN, example: PairExample, config: TrainingConfig,
                 generator: torch.Generator) -> tuple[Tensor, dict[str, Tensor]]:
    """The cascade losses of one pair (all its reference objects, as ``head_losses``) plus the RPN losses of
    its target frame, backbone included.

    Returns:
        ``(weighted cascade total + loss_objectness + loss_rpn_box_reg, parts)``.
    """
    device = model.device
    transform = model.config.transform
    reference = network_input(example.reference_image, transform, device)
    reference_maps = model.feature_maps(reference.tensor)
    target = network_input(example.target_image, transform, device)
    target_maps = model.feature_maps(target.tensor)
    rpn_total, rpn_parts = _rpn_losses(model, target.tensor, target.resized_size, target_maps,
                                       boxes_tensor(example.visible_boxes, device).reshape(-1, 4))
    with torch.no_grad():
        detached = OrderedDict((name, value.detach()) for name, value in target_maps.items())
        proposals = propose(model.rpn, target.tensor, target.resized_size, detached)  # [P, 4]
    templates = _templates(model, example, reference_maps, reference.resized_size)
    parts = _objects_cascade_losses(model, example, config, generator, templates, target_maps, target.resized_size,
                                    proposals, None)
    total = weighted_total(parts, config.loss) + rpn_total
    parts.update(rpn_parts)
    if config.loss.identity_weight > 0:
        parts['loss_identity'] = identity_loss(model, example, templates, target_maps, target.resized_size,
                                               config.loss.identity_margin)
        total = total + config.loss.identity_weight * parts['loss_identity']
    return total, parts


def identity_loss(model: SiamRCNN, example: PairExample, templates: Tensor, target_maps: OrderedDict[str, Tensor],
                  target_size: tuple[int, int], margin: float) -> Tensor:
    """Batch-hard triplet loss on the RoI features of the example's reference objects in both frames.

    Each of the ``M`` objects appears twice (reference and target frame); its ``[C * P * P]`` RoI features,
    flattened and L2-normalised, should lie closer to its other view than to any view of the other objects
    by ``margin``. Gradients reach the backbone and FPN through both frames' maps. 0 (with a graph) when
    ``M < 2``: no anchor has a negative.

    Args:
        templates: ``[M, C, P, P]`` the objects' RoI features in the reference frame (``_templates``).
        target_maps: the target frame's FPN maps; target_size: its resized ``(h, w)``, pixels.

    Returns:
        A float32 scalar.
    """
    count = len(example)
    target_boxes = np.stack([example.object(index)[1] for index in range(count)])  # [M, 4] xyxy pixels
    target_views = model.roi_pool(target_maps, [boxes_tensor(target_boxes, model.device)], [target_size])
    vectors = F.normalize(torch.cat([templates, target_views]).flatten(1).float(), dim=1)  # [2M, C * P * P]
    labels = torch.arange(count, device=vectors.device).repeat(2)  # [2M]
    return batch_hard_triplet_loss(vectors, labels, margin=margin)


def _templates(model: SiamRCNN, example: PairExample, reference_maps: OrderedDict[str, Tensor],
               reference_size: tuple[int, int]) -> Tensor:
    """``[M, C, P, P]`` RoI features of the example's reference objects in the reference frame (resized
    ``(h, w)`` = ``reference_size``); with gradient when the maps have one."""
    return model.roi_pool(reference_maps, [boxes_tensor(example.reference_boxes, model.device)], [reference_size])


def _objects_cascade_losses(model: SiamRCNN, example: PairExample, config: TrainingConfig,
                            generator: torch.Generator, templates: Tensor, target_maps: OrderedDict[str, Tensor],
                            target_size: tuple[int, int], proposals: Tensor,
                            extra_negative_features: Tensor | None) -> dict[str, Tensor]:
    """Mean over the example's reference objects of ``cascade_losses``, each object against its own target box
    (the other visible objects are its distractors); hard negatives go to the first object only.

    Args:
        templates: ``[M, C, P, P]`` the reference objects' features (``_templates``).
        target_maps: the target frame's FPN maps (with or without gradient); target_size: its resized ``(h, w)``.
        proposals: ``[P, 4]`` float xyxy RPN proposals of the target frame, no gradient.
    """
    device = model.device

    def pool(boxes: Tensor) -> Tensor:
        return model.roi_pool(target_maps, [boxes.float()], [target_size])

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


def _rpn_losses(model: SiamRCNN, image: Tensor, resized_size: tuple[int, int], maps: OrderedDict[str, Tensor],
                boxes: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """torchvision's RPN losses for ``boxes`` ``[K, 4]`` xyxy (resized-image pixels) on one image's maps."""
    # torchvision's RPN builds its anchors in the maps' dtype: under bf16 autocast a pixel coordinate of
    # even a small image would be rounded by several pixels, so the RPN and its losses run in float32.
    with torch.autocast(image.device.type, enabled=False):
        maps = OrderedDict((name, value.float()) for name, value in fpn_levels(maps).items())
        _, losses = model.rpn(ImageList(image, [resized_size]), maps, [{'boxes': boxes}])
    losses = {name: value.float() for name, value in losses.items()}
    return sum(losses.values()), losses  # type: ignore[return-value]


def detector_losses(model: SiamRCNN, example: DetectionExample) -> tuple[Tensor, dict[str, Tensor]]:
    """torchvision's class-agnostic RPN losses on one image (backbone, FPN and RPN in training mode).

    Returns:
        ``(loss_objectness + loss_rpn_box_reg, {'loss_objectness': ..., 'loss_rpn_box_reg': ...})``.
    """
    device = model.device
    image = network_input(example.image, model.config.transform, device)
    return _rpn_losses(model, image.tensor, image.resized_size, model.backbone(image.tensor),
                       boxes_tensor(example.boxes, device).reshape(-1, 4))
