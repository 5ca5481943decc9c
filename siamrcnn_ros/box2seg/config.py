"""Configuration of the Box2Seg network (SPEC §5): one frozen dataclass, the only place its defaults live.

Box2Seg turns a box into a mask: it crops a square window around the box (the box plus a context
margin), runs a DeepLabV3+-style network on the crop and maps the mask back to image pixels. The
config fixes the architecture and the crop geometry, so a checkpoint carries it (``to_dict`` /
``from_dict``) and loading builds the same network.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from siamrcnn_ros.settings_tree import build_dataclass

BACKBONES = ('mobilenet_v3_large', 'resnet50')


@dataclass(frozen=True)
class Box2SegConfig:
    """Architecture and crop geometry of a Box2Seg network.

    Attributes:
        name: a label for the config (kept in checkpoints; compared on loading).
        backbone: ``'mobilenet_v3_large'`` (small, for the CPU) or ``'resnet50'`` (torchvision, randomly
            initialised; both with output stride 16 through a dilated last stage, as torchvision's
            DeepLabV3 builds them).
        crop_size: side of the square network input, pixels (a multiple of 16, the output stride).
        context: margin added on each side of the box as a fraction of its width (left/right) and
            height (top/bottom); the window is then widened on its shorter side to a square, so the
            crop is never distorted.
        aspp_rates: dilation rates of the ASPP's three 3x3 branches, in feature pixels (stride 16; the
            DeepLabV3+ paper's (6, 12, 18) are for 513-pixel crops, these fit the smaller crops here).
        aspp_channels: channels of every ASPP branch and of its projection.
        low_level_channels: channels the stride-4 backbone features are projected to (48 in DeepLabV3+).
        decoder_channels: channels of the decoder's two 3x3 convolutions.
        mask_threshold: a pixel belongs to the object when its probability is at least this.
    """

    name: str = 'box2seg'
    backbone: str = 'mobilenet_v3_large'
    crop_size: int = 128
    context: float = 0.25
    aspp_rates: tuple[int, int, int] = (2, 4, 6)
    aspp_channels: int = 128
    low_level_channels: int = 48
    decoder_channels: int = 96
    mask_threshold: float = 0.5

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES:
            raise ValueError(f'backbone must be one of {BACKBONES}, got {self.backbone!r}')
        if self.crop_size < 16 or self.crop_size % 16:
            raise ValueError(f'crop_size must be a positive multiple of 16, got {self.crop_size}')
        if not 0 <= self.context <= 4:
            raise ValueError(f'context must be in [0, 4], got {self.context}')
        if len(self.aspp_rates) != 3 or any(int(rate) < 1 for rate in self.aspp_rates):
            raise ValueError(f'aspp_rates must be three rates >= 1, got {self.aspp_rates}')
        for name in ('aspp_channels', 'low_level_channels', 'decoder_channels'):
            if getattr(self, name) < 1:
                raise ValueError(f'{name} must be >= 1, got {getattr(self, name)}')
        if not 0 < self.mask_threshold < 1:
            raise ValueError(f'mask_threshold must be in (0, 1), got {self.mask_threshold}')

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible dict (tuples become lists); ``from_dict`` inverts it."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Box2SegConfig:
        """Inverse of ``to_dict`` (``settings_tree.build_dataclass``); unknown keys raise ``ValueError`` naming them."""
        return build_dataclass(cls, data, 'box2seg_config')

    def differences(self, other: Box2SegConfig) -> list[str]:
        """Names of the fields where ``other`` differs from this config (``name`` included)."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [key for key in mine if mine[key] != theirs[key]]
