"""The Box2Seg network (SPEC §5, paper §3.4): a DeepLabV3+-style box-to-mask network.

Encoder: a torchvision backbone (MobileNetV3-Large or ResNet-50) with a dilated last stage
(output stride 16, as torchvision's DeepLabV3 builds them) and torchvision's ``ASPP`` on its last
features. Decoder (DeepLabV3+): the ASPP output, upsampled to stride 4, concatenated with the
projected stride-4 backbone features, two 3x3 convolutions, a 1x1 convolution to one logit per
pixel, upsampled to the crop size. The paper uses DeepLabV3+ with Xception-65 pretrained on
Mapillary and COCO; here everything is randomly initialised (``weights=None``), trained by
``siamrcnn-train-box2seg``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812 (the usual name)
from torch import Tensor, nn
from torchvision.models import mobilenet_v3_large, resnet50
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.models.segmentation.deeplabv3 import ASPP

from siamrcnn_ros.box2seg.config import Box2SegConfig

# Input channels: normalised RGB plus the box channel.
INPUT_CHANNELS = 4
# Normalisation of the RGB channels (ImageNet statistics on the 0-255 scale, as torchvision's backbones).
IMAGE_MEAN = (123.675, 116.28, 103.53)
IMAGE_STD = (58.395, 57.12, 57.375)


class Box2SegNet(nn.Module):
    """DeepLabV3+-style network from a box crop to the object's mask logits in that crop.

    Input ``[B, 4, S, S]`` float32: channels 0-2 are the RGB crop normalised with ``IMAGE_MEAN`` /
    ``IMAGE_STD`` (zero, i.e. the mean colour, outside the image); channel 3 is 1 inside the box the
    crop was made for and 0 elsewhere. The box channel tells the network which object is meant when
    several overlap in the crop (the crop only centres it), and how far the box reaches on the side
    where the square window added extra context. ``S`` is ``config.crop_size``.

    Output ``[B, 1, S, S]`` float32 logits (sigmoid = probability that the pixel is the object's).
    Batch sizes of 0 are allowed in eval mode; in training mode BatchNorm needs B >= 2.
    """

    def __init__(self, config: Box2SegConfig) -> None:
        super().__init__()
        self.config = config
        self.backbone, low_channels, high_channels = _build_backbone(config.backbone)
        self.aspp = ASPP(high_channels, config.aspp_rates, out_channels=config.aspp_channels)
        self.low_level = nn.Sequential(
            nn.Conv2d(low_channels, config.low_level_channels, 1, bias=False),
            nn.BatchNorm2d(config.low_level_channels), nn.ReLU())
        fused = config.aspp_channels + config.low_level_channels
        self.decoder = nn.Sequential(
            nn.Conv2d(fused, config.decoder_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(config.decoder_channels), nn.ReLU(),
            nn.Conv2d(config.decoder_channels, config.decoder_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(config.decoder_channels), nn.ReLU())
        self.classifier = nn.Conv2d(config.decoder_channels, 1, 1)
        # MobileNetV3's BatchNorm layers come with momentum 0.01, made for fine-tuning pretrained weights; from a
        # random init the running statistics would then trail the weights for hundreds of steps.
        for module in self.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.momentum = 0.1

    def forward(self, crops: Tensor) -> Tensor:
        """``[B, 4, S, S]`` crops (see the class docstring) -> ``[B, 1, S, S]`` mask logits."""
        if crops.ndim != 4 or crops.shape[1] != INPUT_CHANNELS:
            raise ValueError(f'crops must be [B, {INPUT_CHANNELS}, S, S], got shape {tuple(crops.shape)}')
        size = crops.shape[-2:]
        if crops.shape[0] == 0:
            return crops.new_zeros((0, 1, *size))
        features = self.backbone(crops)
        low = self.low_level(features['low'])  # [B, C_low, S/4, S/4]
        high = self.aspp(features['high'])  # [B, C_aspp, S/16, S/16]
        high = F.interpolate(high, size=low.shape[-2:], mode='bilinear', align_corners=False)
        logits = self.classifier(self.decoder(torch.cat([high, low], dim=1)))  # [B, 1, S/4, S/4]
        return F.interpolate(logits, size=size, mode='bilinear', align_corners=False)


def _build_backbone(name: str) -> tuple[nn.Module, int, int]:
    """(the backbone returning ``{'low': stride-4, 'high': stride-16}`` features, their channels), with a
    4-channel first convolution."""
    if name == 'resnet50':
        net = resnet50(weights=None, replace_stride_with_dilation=[False, False, True])
        net.conv1 = _widened(net.conv1)
        return IntermediateLayerGetter(net, {'layer1': 'low', 'layer4': 'high'}), 256, 2048
    features = mobilenet_v3_large(weights=None, dilated=True).features
    # Blocks marked _is_cn start a new stride (torchvision's DeepLabV3 and LR-ASPP find the stages the same
    # way); the block before the second of them is the last one at stride 4. The high-level features are
    # those of the last inverted-residual block (160 channels), not of the final 1x1 expansion to 960 that
    # torchvision's DeepLabV3 uses: an ASPP on 960 channels would hold half of the network's weights
    # (a float16 checkpoint past 10 MB) and cost a third of its CPU time.
    strided = [i for i, block in enumerate(features) if getattr(block, '_is_cn', False)]
    low, high = strided[1] - 1, len(features) - 2
    features = features[:high + 1]
    features[0][0] = _widened(features[0][0])
    return (IntermediateLayerGetter(features, {str(low): 'low', str(high): 'high'}),
            features[low].out_channels, features[high].out_channels)


def _widened(conv: nn.Conv2d) -> nn.Conv2d:
    """A copy of the first convolution with the box channel as a fourth input (RGB weights kept, so a
    pretrained backbone would keep what it learnt; the box weights get the layer's default init)."""
    wider = nn.Conv2d(INPUT_CHANNELS, conv.out_channels, conv.kernel_size, stride=conv.stride, padding=conv.padding,
                      dilation=conv.dilation, groups=conv.groups, bias=conv.bias is not None)
    with torch.no_grad():
        wider.weight[:, :3] = conv.weight
        if conv.bias is not None:
            wider.bias.copy_(conv.bias)
    return wider
