"""Run the network on examples and return its losses (pytracking ltr's "actors").

Two phases:

* ``head`` (Siam R-CNN, SPEC §2/§4): backbone, FPN and RPN are frozen and run without gradient; the
  template is the RoIAlign of the reference box in the reference frame; the Siamese cascade head is
  trained with ``losses.cascade_losses`` on the target frame.
* ``detector``: backbone + FPN + RPN trained as a class-agnostic proposal network with torchvision's
  RPN losses (``loss_objectness``, ``loss_rpn_box_reg``) on every visible object's box, for when no
  COCO-trained detector is at hand (our machines).

Both return ``(total, {name: scalar})`` for one example; the trainer averages over the batch.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import Tensor
from torchvision.models.detection.image_list import ImageList

from siamrcnn_ros.model.rpn import propose
from siamrcnn_ros.model.siamrcnn import SiamRCNN
from siamrcnn_ros.training.examples import DetectionExample, PairExample, boxes_tensor, network_input
from siamrcnn_ros.training.losses import candidate_rois, cascade_losses, weighted_total
from siamrcnn_ros.training.settings import TrainingConfig


def head_losses(model: SiamRCNN, example: PairExample, config: TrainingConfig, generator: torch.Generator,
                extra_negative_features: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
    """The weighted cascade loss of one pair and its parts ``loss_{cls,box}_stage{k}``.

    Args:
        model: the re-detector; only its head needs gradients.
        example: the augmented pair.
        config: RoI sampling and loss settings.
        generator: CPU generator for the RoI jitter and sampling.
        extra_negative_features: ``[E, C, P, P]`` hard negatives (SPEC §4), or None.
    """
    device = model.device
    transform = model.config.transform
    with torch.no_grad():
        reference = network_input(example.reference_image, transform, device)
        reference_maps = model.backbone(reference.tensor)
        template = model.roi_pool(reference_maps, [boxes_tensor(example.reference_box[None], device)],
                                  [reference.resized_size])  # [1, C, P, P]
        target = network_input(example.target_image, transform, device)
        target_maps = model.backbone(target.tensor)
        proposals = propose(model.rpn, target.tensor, target.resized_size, target_maps)  # [P, 4]
        target_box = boxes_tensor(example.target_box, device)
        rois = candidate_rois(proposals, target_box, boxes_tensor(example.other_boxes, device).reshape(-1, 4),
                              target.resized_size, config.roi_sampling, generator)

    def pool(boxes: Tensor) -> Tensor:
        return model.roi_pool(target_maps, [boxes.float()], [target.resized_size])

    losses = cascade_losses(model.head, pool, template, rois, target_box, target.resized_size,
                            sampling=config.roi_sampling, settings=config.loss, generator=generator,
                            extra_negative_features=extra_negative_features)
    return weighted_total(losses, config.loss), losses


def detector_losses(model: SiamRCNN, example: DetectionExample) -> tuple[Tensor, dict[str, Tensor]]:
    """torchvision's class-agnostic RPN losses on one image (backbone, FPN and RPN in training mode).

    Returns:
        ``(loss_objectness + loss_rpn_box_reg, {'loss_objectness': ..., 'loss_rpn_box_reg': ...})``.
    """
    device = model.device
    image = network_input(example.image, model.config.transform, device)
    maps = model.backbone(image.tensor)
    targets = [{'boxes': boxes_tensor(example.boxes, device).reshape(-1, 4)}]
    # torchvision's RPN builds its anchors in the maps' dtype: under bf16 autocast a pixel coordinate of
    # even a small image would be rounded by several pixels, so the RPN and its losses run in float32.
    with torch.autocast(device.type, enabled=False):
        maps = OrderedDict((name, value.float()) for name, value in maps.items())
        _, losses = model.rpn(ImageList(image.tensor, [image.resized_size]), maps, targets)
    losses = {name: value.float() for name, value in losses.items()}
    return sum(losses.values()), losses  # type: ignore[return-value]
