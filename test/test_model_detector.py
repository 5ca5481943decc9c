"""Backbone + FPN + RPN, preprocessing and torchvision detector weights (siamrcnn_ros.model, issue 3).

The central check: a torchvision Faster R-CNN with random weights, saved to a file and loaded into
our backbone + RPN, gives the same proposals as torchvision's own RPN on the same real frame.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_fpn, fasterrcnn_resnet50_fpn
from video_frames import bikes_frames

from siamrcnn_ros.model import DetectorWeightsError, ModelConfig, SiamRCNN, get_preset, load_detector_weights
from siamrcnn_ros.model.backbone import build_backbone
from siamrcnn_ros.model.config import BackboneConfig, RPNConfig, TransformConfig
from siamrcnn_ros.model.preprocessing import image_to_tensor, preprocess, to_original, to_resized
from siamrcnn_ros.model.rpn import build_rpn

MIN_SIZE, MAX_SIZE = 320, 512


@pytest.fixture(scope='module')
def frame() -> np.ndarray:
    return bikes_frames(1)[0]  # 272 x 640 x 3 RGB


def our_config(backbone: str, *, frozen_batchnorm: bool) -> ModelConfig:
    """Our config mirroring torchvision's detector of that backbone, at MIN_SIZE / MAX_SIZE."""
    if backbone == 'resnet50':
        rpn = RPNConfig()  # torchvision's defaults: 5 levels, 1000 / 1000 at test time, NMS 0.7
    else:  # torchvision's mobilenet detector: 3 levels of 5 sizes each, score threshold 0.05
        rpn = RPNConfig(anchor_sizes=((32, 64, 128, 256, 512),) * 3, score_thresh=0.05)
    return ModelConfig(name=f'tv-{backbone}', transform=TransformConfig(min_size=MIN_SIZE, max_size=MAX_SIZE),
                       backbone=BackboneConfig(name=backbone, frozen_batchnorm=frozen_batchnorm), rpn=rpn)


def torchvision_detector(backbone: str, config: ModelConfig) -> torch.nn.Module:
    torch.manual_seed(0)
    builder = fasterrcnn_resnet50_fpn if backbone == 'resnet50' else fasterrcnn_mobilenet_v3_large_fpn
    mean = [v / 255 for v in config.transform.image_mean]
    std = [v / 255 for v in config.transform.image_std]
    return builder(weights=None, weights_backbone=None, min_size=MIN_SIZE, max_size=MAX_SIZE, image_mean=mean,
                   image_std=std).eval()


def torchvision_proposals(detector: torch.nn.Module, image: np.ndarray) -> torch.Tensor:
    """torchvision's own RPN proposals, ``[P, 4]`` in resized-image pixels."""
    with torch.inference_mode():
        images, _ = detector.transform([torch.from_numpy(image).permute(2, 0, 1).float() / 255])
        proposals, _ = detector.rpn(images, detector.backbone(images.tensors))
    return proposals[0]


@pytest.mark.parametrize('backbone', ['resnet50', 'mobilenet_v3_large'])
def test_proposals_equal_torchvision_after_loading_its_checkpoint(backbone, frame, tmp_path) -> None:
    # torchvision's detectors without pretrained weights use plain BatchNorm2d; so does our config here.
    config = our_config(backbone, frozen_batchnorm=False)
    detector = torchvision_detector(backbone, config)
    path = tmp_path / 'detector.pth'
    torch.save(detector.state_dict(), path)
    ours = SiamRCNN(config).eval()
    loaded = load_detector_weights(ours, path)
    assert loaded
    assert all(key.startswith(('backbone.', 'rpn.')) for key in loaded)
    assert not any(key.startswith('roi_heads.') for key in loaded)

    expected = torchvision_proposals(detector, frame)
    proposals = ours.extract(frame).proposals
    assert proposals.dtype == torch.float32
    assert len(expected) > 50
    assert proposals.shape == expected.shape
    assert torch.allclose(proposals, expected, atol=1e-4)


def test_frozen_batchnorm_model_loads_the_same_checkpoint_and_computes_the_same_features(frame, tmp_path) -> None:
    config = our_config('resnet50', frozen_batchnorm=False)
    detector = torchvision_detector('resnet50', config)
    path = tmp_path / 'detector.pth'
    torch.save(detector.state_dict(), path)  # holds BatchNorm's num_batches_tracked, which FrozenBN drops
    plain, frozen = SiamRCNN(config), SiamRCNN(our_config('resnet50', frozen_batchnorm=True))
    load_detector_weights(plain, path)
    load_detector_weights(frozen, path)
    maps_plain, maps_frozen = plain.extract(frame).feature_maps, frozen.extract(frame).feature_maps
    assert list(maps_plain) == list(maps_frozen) == ['0', '1', '2', '3', 'pool']
    for name in maps_plain:
        assert torch.allclose(maps_plain[name], maps_frozen[name], rtol=1e-4, atol=1e-4)


@pytest.fixture(scope='module')
def r50_checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp('weights') / 'r50.pth'
    torch.save(fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None).state_dict(), path)
    return path


@pytest.mark.parametrize(('backbone', 'problem'), [('resnet18', r'27 shape mismatch\(es\) \[backbone\.body\.layer1'),
                                                   ('resnet101', r'missing key\(s\) \[backbone\.body\.layer3\.6')])
def test_a_checkpoint_of_another_backbone_is_refused_naming_the_file_and_keys(backbone, problem,
                                                                              r50_checkpoint) -> None:
    model = SiamRCNN(get_preset('fast', **{'backbone.name': backbone}))
    with pytest.raises(DetectorWeightsError, match=rf'r50\.pth: does not fit the model: .*{problem}'):
        load_detector_weights(model, r50_checkpoint)


def test_training_checkpoint_with_a_model_entry_is_accepted(tmp_path) -> None:
    torch.manual_seed(0)
    detector = fasterrcnn_mobilenet_v3_large_fpn(weights=None, weights_backbone=None)
    path = tmp_path / 'train.pth'
    torch.save({'model': detector.state_dict(), 'epoch': 3}, path)
    model = SiamRCNN(get_preset('mobile', **{'backbone.frozen_batchnorm': False}))
    load_detector_weights(model, path)
    assert torch.equal(model.rpn.head.cls_logits.weight, detector.rpn.head.cls_logits.weight)


class _NotATensor:
    """A picklable object that ``torch.load(weights_only=True)`` must refuse to rebuild."""


@pytest.mark.parametrize(('content', 'message'), [
    (b'this is not a checkpoint', 'not a readable PyTorch checkpoint'),
    (pickle.dumps({'backbone.x': _NotATensor()}, protocol=2), 'not a readable PyTorch checkpoint'),
], ids=['garbage', 'pickled-object'])
def test_unreadable_or_unsafe_files_are_refused(content, message, tmp_path) -> None:
    path = tmp_path / 'bad.pth'
    path.write_bytes(content)
    with pytest.raises(DetectorWeightsError, match=message):
        load_detector_weights(SiamRCNN(get_preset('demo')), path)


def test_state_dict_without_detector_keys_is_refused(tmp_path) -> None:
    path = tmp_path / 'classifier.pth'
    torch.save({'fc.weight': torch.zeros(2, 2)}, path)
    with pytest.raises(DetectorWeightsError, match=r'classifier\.pth: no backbone'):
        load_detector_weights(SiamRCNN(get_preset('demo')), path)


@pytest.mark.parametrize(('source', 'message'), [
    ('does/not/exist.pth', 'no such file'),
    ('NoSuchDetector_Weights.COCO_V1', 'not a torchvision weights name'),
])
def test_missing_file_and_unknown_weights_name_are_refused(source, message) -> None:
    with pytest.raises(DetectorWeightsError, match=message):
        load_detector_weights(SiamRCNN(get_preset('demo')), source)


@pytest.mark.parametrize(('name', 'strides'), [('resnet18', (4, 8, 16, 32, 64)),
                                               ('mobilenet_v3_large', (32, 32, 64))])
def test_backbone_levels_channels_and_torchvision_names(name, strides) -> None:
    backbone = build_backbone(BackboneConfig(name=name, out_channels=128))
    with torch.inference_mode():
        maps = backbone.eval()(torch.zeros(1, 3, 128, 192))
    assert backbone.out_channels == 128
    assert [tuple(m.shape) for m in maps.values()] == [(1, 128, 128 // s, 192 // s) for s in strides]
    assert all(key.startswith(('body.', 'fpn.')) for key in backbone.state_dict())


@pytest.mark.parametrize(('name', 'fpn_strides', 'trunk_layers'),
                         [('resnet18', (8, 16), ['layer2', 'layer3']),
                          ('mobilenet_v3_large', (8, 16, 32), ['6', '12', '16']),
                          ('mobilenet_v3_large', (4, 32), ['3', '16'])])
def test_fpn_strides_pick_the_last_trunk_layer_of_each_stride(name, fpn_strides, trunk_layers) -> None:
    backbone = build_backbone(BackboneConfig(name=name, out_channels=64, fpn_strides=fpn_strides))
    assert list(backbone.body.return_layers) == trunk_layers
    with torch.inference_mode():
        maps = backbone.eval()(torch.zeros(1, 3, 128, 192))
    strides = (*fpn_strides, fpn_strides[-1] * 2)  # the FPN levels, then 'pool'
    assert [tuple(m.shape) for m in maps.values()] == [(1, 64, 128 // s, 192 // s) for s in strides]
    if name == 'mobilenet_v3_large':  # each returned layer is the last one at its stride: the next one halves it
        body = dict(backbone.body.named_children())
        for layer, stride in zip(trunk_layers, fpn_strides, strict=True):
            following = body.get(str(int(layer) + 1))
            assert following is None or getattr(following, '_is_cn', False), (layer, stride)


@pytest.mark.parametrize('strides', [(8, 8), (16, 8), (2, 4), (64,)])
def test_bad_fpn_strides_are_refused(strides) -> None:
    with pytest.raises(ValueError, match='fpn_strides must be increasing values'):
        BackboneConfig(name='resnet18', fpn_strides=strides)


def test_demo_preset_pools_small_objects_from_the_stride_8_map() -> None:
    model = SiamRCNN(get_preset('shapes'))
    with torch.inference_mode():
        maps = model.backbone.eval()(torch.zeros(1, 3, 320, 448))
    assert [m.shape[-1] for m in maps.values()] == [56, 28, 14, 7]  # strides 8, 16, 32 and 'pool' 64
    # Fill each map with its level number: the pooled value says which map a box was pooled from.
    marked = {name: torch.full_like(m, float(level)) for level, (name, m) in enumerate(maps.items())}
    boxes = torch.tensor([[10.0, 10.0, 58.0, 58.0],  # 48 px, typical of the synthetic world: stride 8
                          [0.0, 0.0, 300.0, 300.0]])  # 300 px: stride 16 (FPN's canonical 224 px -> level 4)
    with torch.inference_mode():
        pooled = model.roi_pool(marked, [boxes], [(320, 448)])  # [2, 128, 7, 7]
    assert pooled.mean(dim=(1, 2, 3)).tolist() == [0.0, 1.0]


def test_mobile_preset_has_torchvision_mobilenet_detector_layout() -> None:
    ours = SiamRCNN(get_preset('mobile'))
    theirs = fasterrcnn_mobilenet_v3_large_fpn(weights=None, weights_backbone=None)
    # torchvision's untrained detector has plain BatchNorm (with num_batches_tracked), ours FrozenBatchNorm2d.
    wanted = ('backbone.', 'rpn.')
    ours_shapes = {k: tuple(v.shape) for k, v in ours.state_dict().items() if k.startswith(wanted)}
    their_shapes = {k: tuple(v.shape) for k, v in theirs.state_dict().items()
                    if k.startswith(wanted) and not k.endswith('num_batches_tracked')}
    assert ours_shapes == their_shapes


def test_backbone_is_frozen_unless_layers_are_made_trainable() -> None:
    config = BackboneConfig(name='resnet18')
    assert not any(p.requires_grad for p in build_backbone(config).parameters())
    trainable = {n for n, p in build_backbone(config, trainable_layers=2).named_parameters() if p.requires_grad}
    assert any(n.startswith('body.layer4.') for n in trainable)
    assert any(n.startswith('body.layer3.') for n in trainable)
    assert any(n.startswith('fpn.') for n in trainable)
    assert not any(n.startswith(('body.layer2.', 'body.layer1.', 'body.conv1')) for n in trainable)
    with pytest.raises(ValueError, match='trainable_layers'):
        build_backbone(config, trainable_layers=6)


def test_rpn_needs_one_anchor_tuple_per_feature_level() -> None:
    with pytest.raises(ValueError, match='anchor_sizes has 5 entries'):
        build_rpn(RPNConfig(), in_channels=256, num_levels=3)
    rpn = build_rpn(RPNConfig(pre_nms_top_n=7, post_nms_top_n=5), in_channels=256, num_levels=5)
    assert rpn.pre_nms_top_n() == 7
    assert rpn.post_nms_top_n() == 5


def test_preprocessing_sizes_padding_and_normalisation(frame) -> None:
    config = TransformConfig(min_size=MIN_SIZE, max_size=MAX_SIZE)
    net = preprocess(frame, config, torch.device('cpu'))
    # 272 x 640: the long edge limits the scale to 512 / 640 = 0.8.
    assert net.image_size == (272, 640)
    assert net.resized_size == (217, 512)
    assert net.tensor.shape == (1, 3, 224, 512)  # padded to multiples of 32
    assert net.tensor.dtype == torch.float32
    assert torch.all(net.tensor[:, :, 217:] == 0)
    # A uniform image of the mean colour normalises to zero everywhere inside the image.
    grey = np.broadcast_to(np.array([124, 116, 104], dtype=np.uint8), (60, 90, 3))
    flat = preprocess(grey, config, torch.device('cpu')).tensor
    assert flat.abs().max() < 0.01
    # A torch tensor gives the same as the array.
    assert torch.equal(preprocess(torch.from_numpy(frame), config, torch.device('cpu')).tensor, net.tensor)


def test_boxes_map_between_original_and_resized_pixels() -> None:
    boxes = torch.tensor([[0.0, 0.0, 640.0, 272.0], [100.0, 50.0, 180.0, 90.0]])
    resized = to_resized(boxes, (272, 640), (217, 512))
    assert torch.allclose(resized[0], torch.tensor([0.0, 0.0, 512.0, 217.0]))
    assert torch.allclose(resized[1], torch.tensor([80.0, 50 * 217 / 272, 144.0, 90 * 217 / 272]))
    assert torch.allclose(to_original(resized, (217, 512), (272, 640)), boxes, atol=1e-4)
    with pytest.raises(ValueError, match=r'\[N, 4\]'):
        to_resized(torch.zeros(4), (272, 640), (217, 512))


@pytest.mark.parametrize(('image', 'error', 'message'), [
    (np.zeros((20, 30, 3), dtype=np.float32), TypeError, 'uint8'),
    (torch.zeros(20, 30, 3), TypeError, 'uint8'),
    (np.zeros((20, 30), dtype=np.uint8), ValueError, r'H x W x 3.*\(20, 30\)'),
    (np.zeros((3, 20, 30), dtype=np.uint8), ValueError, r'H x W x 3.*\(3, 20, 30\)'),
    (np.zeros((20, 30, 4), dtype=np.uint8), ValueError, r'H x W x 3'),
    (np.zeros((0, 30, 3), dtype=np.uint8), ValueError, 'empty'),
    ([[[0, 0, 0]]], TypeError, 'list'),
])
def test_bad_images_are_refused_clearly(image, error, message) -> None:
    with pytest.raises(error, match=message):
        image_to_tensor(image)
