"""The assembled re-detector (siamrcnn_ros.model.SiamRCNN, issue 3): shapes, box frames, the RoI union,
empty cases, bad input, build_model and a safetensors round trip, on real frames of bikes.mp4 (CPU)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torchvision.ops import box_iou
from video_frames import bikes_frames

from siamrcnn_ros.model import FrameFeatures, Redetections, SiamRCNN, build_model, get_preset
from siamrcnn_ros.model.checkpoints import CheckpointError, save_checkpoint

HEIGHT, WIDTH = 272, 640  # bikes.mp4
RESIZED = (217, 512)  # demo preset: 320 / 512
BOX = torch.tensor([300.0, 80.0, 380.0, 250.0])  # a cyclist in the first frame, xyxy original pixels
CHANNELS, POOL = 128, 7  # the demo preset's FPN channels


@pytest.fixture(scope='module')
def frames() -> list[np.ndarray]:
    return bikes_frames(3)


@pytest.fixture(scope='module')
def model() -> SiamRCNN:
    torch.manual_seed(0)
    return build_model('shapes', device='cpu')


@pytest.fixture(scope='module')
def first(model, frames) -> FrameFeatures:
    return model.extract(frames[0])


def sparse_model(**overrides: object) -> SiamRCNN:
    """The demo model with a single RPN proposal and no score threshold: every RoI survives unless NMS-ed."""
    torch.manual_seed(0)
    config = get_preset('shapes', **{'rpn.post_nms_top_n': 1, 'head.score_thresh': 0.0, **overrides})
    return build_model(config, device='cpu')


def test_build_model_is_frozen_in_eval_mode_on_the_cpu(model) -> None:
    assert isinstance(model, SiamRCNN)
    assert model.config == get_preset('shapes')
    assert model.device == torch.device('cpu')
    assert model.feature_channels == CHANNELS
    assert model.precision == 'bf16'  # used on CUDA only
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())


def test_train_switches_only_the_head(model) -> None:
    try:
        model.train()
        assert model.head.training
        assert not model.backbone.training
        assert not model.rpn.training
    finally:
        model.eval()


def test_extract_gives_feature_maps_and_proposals_in_the_resized_frame(first) -> None:
    assert first.image_size == (HEIGHT, WIDTH)
    assert first.resized_size == RESIZED
    assert list(first.feature_maps) == ['0', '1', '2', 'pool']  # demo: FPN at strides 8, 16, 32
    assert all(m.shape[:2] == (1, CHANNELS) and m.dtype == torch.float32 for m in first.feature_maps.values())
    proposals = first.proposals
    assert proposals.dtype == torch.float32
    assert proposals.shape == (100, 4)  # demo: post_nms_top_n = 100
    assert torch.all(proposals[:, 2:] >= proposals[:, :2])
    assert torch.all(proposals >= 0)
    assert torch.all(proposals[:, [0, 2]] <= RESIZED[1])
    assert torch.all(proposals[:, [1, 3]] <= RESIZED[0])


def test_roi_features_of_original_boxes_equal_pooling_the_resized_boxes_by_hand(model, first) -> None:
    boxes = torch.stack([BOX, torch.tensor([0.0, 0.0, 640.0, 272.0])])
    resized = boxes * torch.tensor([512 / 640, 217 / 272, 512 / 640, 217 / 272])
    expected = model.roi_pool(first.feature_maps, [resized], [first.resized_size])
    features = model.roi_features(first, boxes)
    assert features.shape == (2, CHANNELS, POOL, POOL)
    assert features.dtype == torch.float32
    assert torch.allclose(features, expected, atol=1e-5)
    assert model.roi_features(first, torch.zeros(0, 4)).shape == (0, CHANNELS, POOL, POOL)


def test_template_of_one_or_several_boxes(model, first) -> None:
    one = model.template(first, BOX)
    assert one.shape == (1, CHANNELS, POOL, POOL)
    several = model.template(first, torch.stack([BOX, BOX + 10]))
    assert several.shape == (2, CHANNELS, POOL, POOL)
    assert torch.equal(several[0], one[0])
    with pytest.raises(ValueError, match=r'\[N, 4\]'):
        model.template(first, torch.zeros(2, 5))
    with pytest.raises(TypeError, match='tensor'):
        model.template(first, [300.0, 80.0, 380.0, 250.0])


def test_redetect_returns_scored_boxes_in_original_pixels_with_their_features(model, frames, first) -> None:
    template = model.template(first, BOX)
    frame = model.extract(frames[1])
    found = model.redetect(frame, template[0], extra_boxes=BOX[None])  # [C, P, P] template accepted
    assert isinstance(found, Redetections)
    count = len(found.boxes)
    assert 0 < count <= model.config.head.detections_per_img
    assert found.boxes.shape == (count, 4)
    assert found.scores.shape == (count,)
    assert found.features.shape == (count, CHANNELS, POOL, POOL)
    assert {found.boxes.dtype, found.scores.dtype, found.features.dtype} == {torch.float32}
    assert torch.all((found.scores >= 0) & (found.scores <= 1))
    assert torch.all(found.scores[:-1] >= found.scores[1:])
    # Original pixels: inside the 640 x 272 frame and not confined to the 512 x 217 resized one.
    assert torch.all(found.boxes >= 0)
    assert torch.all(found.boxes[:, [0, 2]] <= WIDTH + 1e-3)
    assert torch.all(found.boxes[:, [1, 3]] <= HEIGHT + 1e-3)
    assert found.boxes[:, [0, 2]].max() > RESIZED[1] or found.boxes[:, [1, 3]].max() > RESIZED[0]
    # The features are those of the returned boxes, and the scores the head's on them.
    assert torch.allclose(model.roi_features(frame, found.boxes), found.features, atol=1e-4)
    with torch.inference_mode():
        rescored = model.head.target_probability(template, found.features)
    assert torch.allclose(rescored, found.scores, atol=1e-5)


def test_an_extra_box_far_from_every_proposal_comes_back_as_a_detection(frames) -> None:
    model = sparse_model()
    frame = model.extract(frames[0])
    template = model.template(frame, BOX)
    proposal = frame.proposals  # [1, 4] resized pixels
    extra = torch.tensor([[2.0, 2.0, 60.0, 50.0], [560.0, 200.0, 636.0, 268.0]])  # opposite corners
    extra_resized = extra * torch.tensor([512 / 640, 217 / 272, 512 / 640, 217 / 272])
    assert proposal.shape == (1, 4)
    assert box_iou(proposal, extra_resized).max() == 0  # the case is as constructed: far from the proposal

    without = model.redetect(frame, template)
    with_extra = model.redetect(frame, template, extra_boxes=extra)
    assert len(without.boxes) == 1
    assert len(with_extra.boxes) == 3
    # Random regression weights are tiny (std 0.001), so the cascade barely moves the boxes.
    best_iou = box_iou(extra, with_extra.boxes).max(dim=1).values
    assert torch.all(best_iou > 0.95)
    assert box_iou(extra, without.boxes).max() < 0.1


def test_only_the_first_max_extra_boxes_join_the_rois(frames) -> None:
    model = sparse_model(**{'head.max_extra_boxes': 1})
    frame = model.extract(frames[0])
    template = model.template(frame, BOX)
    extra = torch.tensor([[2.0, 2.0, 60.0, 50.0], [560.0, 200.0, 636.0, 268.0]])
    found = model.redetect(frame, template, extra_boxes=extra)
    assert len(found.boxes) == 2  # the proposal and the first extra box
    assert box_iou(extra[:1], found.boxes).max() > 0.95
    assert box_iou(extra[1:], found.boxes).max() < 0.1


def test_no_proposals_no_extra_boxes_give_empty_results(frames) -> None:
    model = sparse_model(**{'rpn.score_thresh': 1.0})  # no objectness reaches probability 1
    frame = model.extract(frames[0])
    assert frame.proposals.shape == (0, 4)
    template = model.template(frame, BOX)
    for extra in (None, torch.zeros(0, 4)):
        found = model.redetect(frame, template, extra_boxes=extra)
        assert found.boxes.shape == (0, 4)
        assert found.scores.shape == (0,)
        assert found.features.shape == (0, CHANNELS, POOL, POOL)
    only_extra = model.redetect(frame, template, extra_boxes=BOX[None])
    assert only_extra.boxes.shape == (1, 4)
    scores = model.pair_scores(only_extra.boxes, only_extra.features, found.boxes, found.features, frame.image_size)
    assert scores.shape == (1, 0)
    assert scores.dtype == torch.float32


def test_pair_scores_are_probabilities_inside_the_gate_and_minus_inf_outside(model, frames, first) -> None:
    template = model.template(first, BOX)
    previous = model.redetect(first, template)
    frame = model.extract(frames[1])
    current = model.redetect(frame, template, extra_boxes=previous.boxes[:10])
    refs = previous.boxes[:10]
    scores = model.pair_scores(refs, previous.features[:10], current.boxes, current.features, frame.image_size)
    assert scores.shape == (len(refs), len(current.boxes))
    assert scores.dtype == torch.float32
    finite = torch.isfinite(scores)
    assert finite.any()
    assert torch.all((scores[finite] >= 0) & (scores[finite] <= 1))
    assert torch.all(scores[~finite] == -math.inf)
    # A box is always within the gate of itself.
    self_scores = model.pair_scores(refs, previous.features[:10], refs, previous.features[:10], frame.image_size)
    assert torch.all(torch.isfinite(self_scores.diagonal()))


@pytest.mark.parametrize(('image', 'error', 'message'), [
    (np.zeros((HEIGHT, WIDTH, 3), dtype=np.float64), TypeError, 'uint8'),
    (np.zeros((HEIGHT, WIDTH), dtype=np.uint8), ValueError, 'H x W x 3'),
    (np.zeros((0, WIDTH, 3), dtype=np.uint8), ValueError, 'empty'),
], ids=['float', 'grey', 'empty'])
def test_extract_refuses_bad_images(model, image, error, message) -> None:
    with pytest.raises(error, match=message):
        model.extract(image)


def test_redetect_refuses_a_template_of_the_wrong_shape(model, first) -> None:
    with pytest.raises(ValueError, match='template must be'):
        model.redetect(first, torch.zeros(2, CHANNELS, POOL, POOL))
    with pytest.raises(ValueError, match='extra_boxes'):
        model.redetect(first, model.template(first, BOX), extra_boxes=torch.zeros(3))


def test_build_model_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match='unknown preset'):
        build_model('no-such-preset', device='cpu')
    with pytest.raises(TypeError, match='ModelConfig or a preset name'):
        build_model(42, device='cpu')
    with pytest.raises(ValueError, match='device'):
        build_model('shapes', device='tpu:7')
    with pytest.raises(ValueError, match='precision'):
        build_model('shapes', device='cpu', precision='int8')
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match='no CUDA GPU'):
            build_model('shapes', device='cuda')


def test_whole_model_safetensors_round_trip_reproduces_redetections_exactly(model, frames, first, tmp_path) -> None:
    path = tmp_path / 'demo.safetensors'
    save_checkpoint(path, model, model.config)
    torch.manual_seed(123)  # a different random init, overwritten by the checkpoint
    loaded = build_model('shapes', checkpoint=path, device='cpu')
    template = model.template(first, BOX)
    frame = frames[1]
    before = model.redetect(model.extract(frame), template, extra_boxes=BOX[None])
    after = loaded.redetect(loaded.extract(frame), loaded.template(loaded.extract(frames[0]), BOX),
                            extra_boxes=BOX[None])
    assert torch.equal(after.boxes, before.boxes)
    assert torch.equal(after.scores, before.scores)
    assert torch.equal(after.features, before.features)


def test_checkpoint_config_wins_over_a_preset_name_but_not_over_an_explicit_config(model, tmp_path) -> None:
    torch.manual_seed(0)
    config = get_preset('shapes', **{'name': 'shapes-50', 'rpn.post_nms_top_n': 50})
    path = tmp_path / 'demo50.safetensors'
    save_checkpoint(path, SiamRCNN(config), config)
    assert build_model('shapes', checkpoint=path, device='cpu').config == config
    assert build_model(config, checkpoint=path, device='cpu').config == config
    with pytest.raises(CheckpointError, match=r'demo50\.safetensors.*rpn\.post_nms_top_n'):
        build_model(get_preset('shapes'), checkpoint=path, device='cpu')


def test_checkpoint_of_another_preset_is_refused(tmp_path) -> None:
    torch.manual_seed(0)
    config = get_preset('shapes', **{'name': 'shapes-wide', 'head.representation_size': 256})
    path = tmp_path / 'wide.safetensors'
    save_checkpoint(path, SiamRCNN(config), config)
    with pytest.raises(CheckpointError, match=r'wide\.safetensors.*head\.representation_size'):
        build_model(get_preset('shapes'), checkpoint=path, device='cpu')


# head.pixel_rois: the box's own pixels appended to its RoI features ------------------------------------


def seeded_model(**overrides: object) -> SiamRCNN:
    """A randomly initialised demo model; the same seed gives the same backbone and RPN whatever the head."""
    torch.manual_seed(0)
    return build_model(get_preset('shapes', **overrides), checkpoint=None, device='cpu')


def test_pixel_rois_append_the_normalised_colours_inside_the_box(frames) -> None:
    plain, pixels = seeded_model(), seeded_model(**{'head.pixel_rois': True})
    assert pixels.feature_channels == CHANNELS + 3
    image = frames[0].copy()
    colour = (200, 40, 90)
    image[60:200, 100:260] = colour  # a flat patch; the box below lies well inside it
    box = torch.tensor([[120.0, 80.0, 240.0, 180.0]])
    frame = pixels.extract(image)
    assert 'image' in frame.feature_maps
    template = pixels.template(frame, box)  # [1, C + 3, P, P]
    assert template.shape == (1, CHANNELS + 3, POOL, POOL)
    config = pixels.config.transform
    expected = [(c - m) / s for c, m, s in zip(colour, config.image_mean, config.image_std, strict=True)]
    for channel, value in enumerate(expected):
        assert torch.allclose(template[0, CHANNELS + channel], torch.full((POOL, POOL), value), atol=0.02)
    # The FPN part and the RPN are those of the same weights without the option.
    plain_frame = plain.extract(image)
    assert torch.equal(frame.proposals, plain_frame.proposals)
    assert torch.allclose(template[:, :CHANNELS], plain.template(plain_frame, box), atol=1e-6)
    # A box on another colour pools other pixels, so the head can tell them apart.
    elsewhere = pixels.template(frame, torch.tensor([[400.0, 20.0, 470.0, 100.0]]))
    assert not torch.allclose(elsewhere[0, CHANNELS:], template[0, CHANNELS:], atol=0.1)


def test_pixel_rois_redetect_and_pair_scores_run_on_the_wider_features(frames) -> None:
    model = seeded_model(**{'head.pixel_rois': True, 'head.score_thresh': 0.0})
    first = model.extract(frames[0])
    template = model.template(first, BOX[None])
    assert model.head.stages[0].conv_reduce.in_channels == 2 * (CHANNELS + 3)
    found = model.redetect(model.extract(frames[1]), template)
    assert len(found.boxes) > 0
    assert found.features.shape[1:] == (CHANNELS + 3, POOL, POOL)
    assert torch.isfinite(found.scores).all()


def test_pixel_rois_without_the_image_in_the_maps_is_a_clear_error(frames) -> None:
    model = seeded_model(**{'head.pixel_rois': True})
    frame = model.extract(frames[0])
    levels = type(frame.feature_maps)((k, v) for k, v in frame.feature_maps.items() if k != 'image')
    with pytest.raises(KeyError, match='pixel_rois needs the network input'):
        model.roi_pool(levels, [BOX[None]], [frame.resized_size])
