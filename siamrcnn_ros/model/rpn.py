"""The class-agnostic region proposal network (SPEC §2), torchvision's ``RegionProposalNetwork``.

``build_rpn`` makes torchvision's module (names ``head.conv.0.0.*``, ``head.cls_logits.*``,
``head.bbox_pred.*``, so that inside ``SiamRCNN`` they read ``rpn.head.*`` as in torchvision's
Faster R-CNN checkpoints). ``propose`` runs it at test time for one image. It does what
``RegionProposalNetwork.forward`` does in eval mode, with two differences that matter under CUDA
autocast: the anchors and the box decoding stay float32 (torchvision would build anchors in the
feature maps' dtype, and bf16 cannot hold a pixel coordinate of a large image to better than a
few pixels), and there is no training branch (the RPN is frozen in Siam R-CNN).
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import Tensor
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.rpn import RegionProposalNetwork, RPNHead, concat_box_prediction_layers

from siamrcnn_ros.model.config import RPNConfig
from siamrcnn_ros.model.roi_pooling import fpn_levels

# Training-time settings of torchvision's Faster R-CNN; unused at inference, needed by the constructor.
_FG_IOU, _BG_IOU, _BATCH_PER_IMAGE, _POSITIVE_FRACTION = 0.7, 0.3, 256, 0.5


def build_rpn(config: RPNConfig, *, in_channels: int, num_levels: int) -> RegionProposalNetwork:
    """torchvision's RPN with the anchors and test-time filtering of ``config`` (random weights).

    Args:
        config: anchors (one tuple of sizes per level, pixels of the resized image), NMS and top-n.
        in_channels: channels of every feature map (the FPN's ``out_channels``).
        num_levels: number of feature maps the backbone returns; must equal ``len(config.anchor_sizes)``.

    Returns:
        a ``RegionProposalNetwork`` whose pre/post-NMS top-n are the config's in both modes.
    """
    if len(config.anchor_sizes) != num_levels:
        raise ValueError(f'rpn.anchor_sizes has {len(config.anchor_sizes)} entries but the backbone returns '
                         f'{num_levels} feature maps; give one tuple of anchor sizes per map')
    sizes_per_level = {len(sizes) for sizes in config.anchor_sizes}
    if len(sizes_per_level) != 1:
        # RPNHead shares its convs over levels, so every level needs the same number of anchors.
        raise ValueError(f'every level needs the same number of anchor sizes, got {config.anchor_sizes}')
    anchors = AnchorGenerator(config.anchor_sizes, (config.aspect_ratios,) * num_levels)
    head = RPNHead(in_channels, anchors.num_anchors_per_location()[0])
    top_n = {'training': config.pre_nms_top_n, 'testing': config.pre_nms_top_n}
    post_top_n = {'training': config.post_nms_top_n, 'testing': config.post_nms_top_n}
    rpn = RegionProposalNetwork(anchors, head, _FG_IOU, _BG_IOU, _BATCH_PER_IMAGE, _POSITIVE_FRACTION,
                                top_n, post_top_n, config.nms_thresh, score_thresh=config.score_thresh)
    rpn.min_size = config.min_size  # torchvision's constructor fixes it at 1e-3
    return rpn


def propose(rpn: RegionProposalNetwork, image: Tensor, resized_size: tuple[int, int],
            features: OrderedDict[str, Tensor]) -> Tensor:
    """Proposals of one image: ``[P, 4]`` float32 xyxy in pixels of the resized image, best first.

    Args:
        rpn: from ``build_rpn``.
        image: ``[1, 3, H_pad, W_pad]`` the padded network input (only its shape is used).
        resized_size: ``(h, w)`` of the resized image inside the padding; proposals are clipped to it.
        features: the backbone's maps ``[1, C, h_l, w_l]``, any float dtype (bf16/fp16 under autocast).

    Proposals come after per-level top-n, clipping, small-box and score filtering, per-level NMS
    and the global top-n, exactly as torchvision's RPN in eval mode. The filtering and NMS make
    output sizes data-dependent, hence host syncs on CUDA (unavoidable without padding to a fixed size).
    """
    maps = list(fpn_levels(features).values())
    objectness, deltas = rpn.head(maps)
    device = maps[0].device
    with torch.autocast(device.type, enabled=False):
        # Anchors take the dtype of the maps they are given: zero-channel float32 stand-ins keep
        # them float32 without copying the maps.
        shapes = [m.new_empty((1, 0, *m.shape[-2:]), dtype=torch.float32) for m in maps]
        anchors = rpn.anchor_generator(ImageList(image, [resized_size]), shapes)
        per_level = [o[0].numel() for o in objectness]  # anchors per level = A * h_l * w_l
        objectness, deltas = concat_box_prediction_layers([o.float() for o in objectness],
                                                          [d.float() for d in deltas])
        boxes = rpn.box_coder.decode(deltas, anchors).view(1, -1, 4)  # [1, num_anchors, 4]
        proposals, _ = rpn.filter_proposals(boxes, objectness, [resized_size], per_level)
    return proposals[0]
