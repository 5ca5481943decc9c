"""Box2Seg library (SPEC §5): crop windows and the exact paste-back, mask combination (smaller on top),
network shapes, the predictor and the checkpoints, on tiny hand-built inputs with random weights."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from siamrcnn_ros.box2seg import (
    Box2Seg,
    Box2SegConfig,
    Box2SegNet,
    build_box2seg,
    combine_masks,
    crop_images,
    crop_windows,
    load_box2seg_checkpoint_into,
    paste_masks,
    read_box2seg_checkpoint,
    save_box2seg_checkpoint,
)
from siamrcnn_ros.box2seg.crops import box_channel, resample_windows
from siamrcnn_ros.model.checkpoints import CheckpointError

# Small enough for the CPU: 32-pixel crops, narrow ASPP and decoder (the backbone stays MobileNetV3-Large).
SMALL = Box2SegConfig(name='small', crop_size=32, aspp_channels=16, low_level_channels=8, decoder_channels=16)


def small_net(seed: int = 0) -> Box2SegNet:
    torch.manual_seed(seed)
    return Box2SegNet(SMALL).eval()


# --- crops ---------------------------------------------------------------------------------------------------

def test_windows_are_squares_around_the_box_with_the_context_margin() -> None:
    boxes = np.array([[10.0, 20.0, 50.0, 30.0], [0.0, 0.0, 8.0, 16.0]])  # 40 x 10 and 8 x 16
    windows = crop_windows(boxes, context=0.25)
    # 40 * 1.5 = 60 wide, 10 * 1.5 = 15 high -> a 60-pixel square around the centre (30, 25).
    torch.testing.assert_close(windows, torch.tensor([[0.0, -5.0, 60.0, 55.0], [-8.0, -4.0, 16.0, 20.0]]))
    torch.testing.assert_close(crop_windows(boxes[:1], context=0.0), torch.tensor([[10.0, 5.0, 50.0, 45.0]]))


@pytest.mark.parametrize('bad', [[[5, 5, 5, 9]], [[5, 5, 9, 3]], [[0, 0, np.nan, 4]], [[0, 0, 4]]])
def test_windows_refuse_empty_or_malformed_boxes(bad: list) -> None:
    with pytest.raises(ValueError, match='xyxy'):
        crop_windows(np.array(bad, dtype=float), 0.25)


def test_crop_then_paste_puts_a_mask_back_on_its_pixels() -> None:
    height, width = 60, 80
    mask = np.zeros((height, width), bool)
    mask[10:30, 20:50] = True
    mask[12:16, 52:56] = True  # a second part, inside the window (x 12.5..57.5) but outside the box
    boxes = np.array([[20.0, 10.0, 50.0, 30.0], [60.0, 40.0, 79.0, 59.0]])
    windows = crop_windows(boxes, 0.25)
    crops = resample_windows(torch.from_numpy(mask).float()[None, None], windows, 64)[:, 0]  # [2, 64, 64]
    pasted = paste_masks(crops, windows, (height, width))
    assert pasted.shape == (2, height, width)
    np.testing.assert_array_equal((pasted[0] >= 0.5).numpy(), mask)  # lands on the right pixels, nothing else
    # The second window (x 55.25..83.75, y 35.25..63.75) reaches past the image: only its inside is written,
    # and pixels outside each window stay 0.
    assert pasted[1, :35].abs().sum() == 0
    assert pasted[1, :, :55].abs().sum() == 0
    assert pasted[0, :, 57:].abs().sum() == 0


def test_paste_of_a_constant_crop_fills_exactly_the_window_pixels() -> None:
    windows = torch.tensor([[2.0, 3.0, 6.0, 7.0], [-1.0, -1.0, 1.6, 1.4]])
    pasted = paste_masks(torch.ones(2, 8, 8), windows, (10, 9))
    expected = np.zeros((2, 10, 9))
    expected[0, 3:7, 2:6] = 1  # pixel centres 2.5..5.5 and 3.5..6.5 lie inside
    expected[1, 0:1, 0:2] = 1  # centres (0.5, 0.5) and (1.5, 0.5); row 1's centre 1.5 > 1.4
    np.testing.assert_array_equal(pasted.numpy(), expected)
    assert paste_masks(torch.zeros(0, 8, 8), torch.zeros(0, 4), (10, 9)).shape == (0, 10, 9)


def test_crop_images_normalises_and_marks_the_box() -> None:
    image = np.full((20, 30, 3), 255, np.uint8)
    windows = torch.tensor([[0.0, 0.0, 10.0, 10.0], [25.0, 0.0, 35.0, 10.0]])  # the second half outside
    crops = crop_images(image, windows, 16)
    assert crops.shape == (2, 3, 16, 16)
    assert crops[0].min() > 2  # white is far above the mean
    assert torch.all(crops[1, :, :, 12:] == 0)  # outside the image: the mean colour, 0 after normalising
    channel = box_channel(torch.tensor([[2.5, 0.0, 5.0, 10.0]]), windows[:1], 16)  # x 4..8 crop pixels
    assert channel.shape == (1, 1, 16, 16)
    np.testing.assert_array_equal(channel[0, 0, 0].numpy(), [0] * 4 + [1] * 4 + [0] * 8)


# --- combination ---------------------------------------------------------------------------------------------

def test_combination_puts_the_smaller_mask_on_top() -> None:
    big = np.zeros((6, 8), bool)
    big[0:5, 0:7] = True  # 35 pixels
    middle = np.zeros((6, 8), bool)
    middle[2:6, 3:8] = True  # 20 pixels
    small = np.zeros((6, 8), bool)
    small[3:5, 4:6] = True  # 4 pixels, inside both
    labels = combine_masks(np.stack([small, big, middle]), [7, 3, 5])
    assert labels.dtype == np.int32
    assert labels.shape == (6, 8)
    assert labels[3, 4] == 7  # all three overlap: the smallest wins
    assert labels[2, 3] == 5  # big and middle: middle wins
    assert labels[0, 0] == 3
    assert labels[5, 7] == 5
    assert labels[5, 0] == 0
    np.testing.assert_array_equal(labels > 0, big | middle | small)
    # The order of the masks does not matter when the sizes differ.
    np.testing.assert_array_equal(combine_masks(np.stack([big, middle, small]), [3, 5, 7]), labels)


def test_combination_tie_goes_to_the_earlier_mask() -> None:
    first = np.zeros((4, 4), bool)
    first[0:2, 0:3] = True
    second = np.zeros((4, 4), bool)
    second[1:3, 1:4] = True  # as many pixels (6), overlapping first at row 1, cols 1-2
    assert combine_masks(np.stack([first, second]), [1, 2])[1, 1] == 1
    assert combine_masks(np.stack([second, first]), [2, 1])[1, 1] == 2
    assert combine_masks(torch.from_numpy(np.stack([first, second])), [1, 2])[1, 2] == 1


def test_combination_of_no_masks_and_refused_input() -> None:
    np.testing.assert_array_equal(combine_masks(np.zeros((0, 3, 4), bool), []), np.zeros((3, 4), np.int32))
    with pytest.raises(ValueError, match='bool'):
        combine_masks(np.zeros((1, 3, 4), np.uint8), [1])
    with pytest.raises(ValueError, match='2 ids for 1 masks'):
        combine_masks(np.zeros((1, 3, 4), bool), [1, 2])
    with pytest.raises(ValueError, match='>= 1'):
        combine_masks(np.zeros((1, 3, 4), bool), [0])


# --- network and predictor -----------------------------------------------------------------------------------

@pytest.mark.parametrize('batch', [0, 1, 3])
def test_network_gives_one_logit_map_per_crop(batch: int) -> None:
    net = small_net()
    with torch.inference_mode():
        out = net(torch.randn(batch, 4, 32, 32))
    assert out.shape == (batch, 1, 32, 32)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()
    with pytest.raises(ValueError, match=r'\[B, 4, S, S\]'):
        net(torch.randn(1, 3, 32, 32))


def test_resnet50_variant_builds_and_runs() -> None:
    torch.manual_seed(0)
    net = Box2SegNet(Box2SegConfig(backbone='resnet50', crop_size=32, aspp_channels=8, low_level_channels=8,
                                   decoder_channels=8)).eval()
    with torch.inference_mode():
        assert net(torch.randn(2, 4, 32, 32)).shape == (2, 1, 32, 32)


def test_config_round_trip_and_refusals() -> None:
    assert Box2SegConfig.from_dict(json.loads(json.dumps(SMALL.to_dict()))) == SMALL
    with pytest.raises(ValueError, match=r'unknown key\(s\) in box2seg_config: box2seg_config\.crop'):
        Box2SegConfig.from_dict({'crop': 64})
    with pytest.raises(ValueError, match='multiple of 16'):
        Box2SegConfig(crop_size=40)
    with pytest.raises(ValueError, match='backbone'):
        Box2SegConfig(backbone='xception65')
    assert SMALL.differences(Box2SegConfig()) == ['name', 'crop_size', 'aspp_channels', 'low_level_channels',
                                                  'decoder_channels']


def test_predictor_returns_one_image_sized_mask_per_box() -> None:
    predictor = Box2Seg(small_net(), device='cpu')
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    boxes = np.array([[5.0, 5.0, 20.0, 30.0], [30.0, 10.0, 49.0, 39.0], [0.0, 0.0, 50.0, 40.0]])
    probabilities = predictor.predict_probabilities(image, boxes)
    assert probabilities.shape == (3, 40, 50)
    assert probabilities.dtype == np.float32
    assert probabilities.min() >= 0
    assert probabilities.max() <= 1
    masks = predictor.predict(image, boxes)
    assert masks.shape == (3, 40, 50)
    assert masks.dtype == np.bool_
    np.testing.assert_array_equal(masks, probabilities >= SMALL.mask_threshold)
    # Batched over the boxes: each box's mask is what it gets alone.
    np.testing.assert_allclose(predictor.predict_probabilities(image, boxes[1:2])[0], probabilities[1], atol=1e-5)
    # 0 outside the crop window of the first box (15 x 25: a 37.5-pixel square, x -6.25..31.25, y -1.25..36.25).
    assert probabilities[0, :, 31:].max() == 0
    assert probabilities[0, 36:].max() == 0
    assert probabilities[0, :36, :31].min() > 0
    assert predictor.predict(image, np.zeros((0, 4))).shape == (0, 40, 50)
    labels = predictor.label_map(image, boxes, [1, 2, 3])
    assert labels.shape == (40, 50)
    assert set(np.unique(labels)) <= {0, 1, 2, 3}


def test_predictor_refuses_bad_images_and_boxes() -> None:
    predictor = Box2Seg(small_net(), device='cpu')
    image = np.zeros((10, 10, 3), np.uint8)
    with pytest.raises(ValueError, match='uint8'):
        predictor.predict(image.astype(np.float32), np.array([[0.0, 0.0, 5.0, 5.0]]))
    with pytest.raises(ValueError, match=r'\[H, W, 3\]'):
        predictor.predict(image[:, :, 0], np.array([[0.0, 0.0, 5.0, 5.0]]))
    with pytest.raises(ValueError, match=r'row 1 is \[3.0, 3.0, 3.0, 8.0\]'):
        predictor.predict(image, np.array([[0.0, 0.0, 5.0, 5.0], [3.0, 3.0, 3.0, 8.0]]))
    with pytest.raises(ValueError, match='precision'):
        Box2Seg(small_net(), device='cpu', precision='int8')


def test_core_does_not_import_ros() -> None:
    # In a fresh interpreter: other test modules of the same pytest run import rclpy themselves.
    code = "import sys, siamrcnn_ros.box2seg; assert 'rclpy' not in sys.modules, 'box2seg imported rclpy'"
    subprocess.run([sys.executable, '-c', code], check=True, timeout=120)


# --- checkpoints ---------------------------------------------------------------------------------------------

def test_checkpoint_round_trip_float32_and_float16(tmp_path: Path) -> None:
    net = small_net(seed=1)
    save_box2seg_checkpoint(tmp_path / 'full.safetensors', net, SMALL, extra_metadata={'step': '7'})
    save_box2seg_checkpoint(tmp_path / 'half.safetensors', net, SMALL, dtype=torch.float16)
    checkpoint = read_box2seg_checkpoint(tmp_path / 'full.safetensors')
    assert checkpoint.config == SMALL
    assert checkpoint.metadata['step'] == '7'
    assert checkpoint.metadata['format'] == 'siamrcnn_ros.box2seg'
    other = small_net(seed=2)
    assert load_box2seg_checkpoint_into(other, tmp_path / 'full.safetensors', expected_config=SMALL) == SMALL
    for key, value in net.state_dict().items():
        torch.testing.assert_close(other.state_dict()[key], value, rtol=0, atol=0)
    half = read_box2seg_checkpoint(tmp_path / 'half.safetensors')
    assert half.state_dict['classifier.weight'].dtype == torch.float16
    assert (tmp_path / 'half.safetensors').stat().st_size < 0.6 * (tmp_path / 'full.safetensors').stat().st_size
    built = build_box2seg(checkpoint=tmp_path / 'half.safetensors', device='cpu')  # the config from the file
    assert built.config == SMALL
    assert built.net.classifier.weight.dtype == torch.float32
    torch.testing.assert_close(built.net.classifier.weight, net.classifier.weight, rtol=1e-3, atol=1e-4)


def test_checkpoint_refusals_name_the_problem(tmp_path: Path) -> None:
    path = tmp_path / 'net.safetensors'
    save_box2seg_checkpoint(path, small_net(), SMALL)
    with pytest.raises(CheckpointError, match='differing fields: name, crop_size'):
        build_box2seg(Box2SegConfig(name='other', crop_size=64, aspp_channels=16, low_level_channels=8,
                                    decoder_channels=16), checkpoint=path, device='cpu')
    with pytest.raises(CheckpointError, match='no such file'):
        read_box2seg_checkpoint(tmp_path / 'missing.safetensors')
    (tmp_path / 'junk.safetensors').write_bytes(b'not a safetensors file')
    with pytest.raises(CheckpointError, match='not a readable safetensors file'):
        read_box2seg_checkpoint(tmp_path / 'junk.safetensors')
    save_file({'x': torch.zeros(1)}, str(tmp_path / 'detector.safetensors'),
              metadata={'format': 'siamrcnn_ros', 'version': '1', 'config': '{}'})
    with pytest.raises(CheckpointError, match="format='siamrcnn_ros'"):
        read_box2seg_checkpoint(tmp_path / 'detector.safetensors')
    save_file({'x': torch.zeros(1)}, str(tmp_path / 'newer.safetensors'),
              metadata={'format': 'siamrcnn_ros.box2seg', 'version': '99', 'config': '{}'})
    with pytest.raises(CheckpointError, match='update the package'):
        read_box2seg_checkpoint(tmp_path / 'newer.safetensors')
    wider = Box2SegConfig(name='small', crop_size=32, aspp_channels=24, low_level_channels=8, decoder_channels=16)
    save_box2seg_checkpoint(tmp_path / 'wider.safetensors', Box2SegNet(wider), SMALL)  # lies about its config
    with pytest.raises(CheckpointError, match='shape mismatch'):
        build_box2seg(checkpoint=tmp_path / 'wider.safetensors', device='cpu')
    with pytest.raises(ValueError, match='reserved'):
        save_box2seg_checkpoint(path, small_net(), SMALL, extra_metadata={'config': 'x'})
