"""Training (issue 6, SPEC §4): settings, pairs, augmentations, cascade losses, trainer, resume, siamrcnn-train."""
from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO_ROOT
from training_videos import write_got10k, write_videos

from siamrcnn_ros.datasets.videos import AnnotatedVideo
from siamrcnn_ros.model import build_model
from siamrcnn_ros.model.checkpoints import read_checkpoint
from siamrcnn_ros.model.config import TransformConfig
from siamrcnn_ros.model.siamrcnn import SiamRCNN
from siamrcnn_ros.training.augment import Augmentation, apply_augmentation, draw_augmentation, flip_boxes
from siamrcnn_ros.training.losses import candidate_rois, cascade_losses, sample_rois
from siamrcnn_ros.training.pairs import PairSampler
from siamrcnn_ros.training.schedule import lr_factor
from siamrcnn_ros.training.settings import (
    AugmentSettings,
    LossSettings,
    RoISamplingSettings,
    ScheduleSettings,
    TrainingConfig,
    load_training_config,
)
from siamrcnn_ros.training.trainer import Trainer

# A demo-preset model shrunk for tests: 96 x 128 images, 32 FPN channels, a 64-wide head, few proposals.
TINY_MODEL = {'preset': 'shapes', 'overrides': {'transform.min_size': 96, 'transform.max_size': 128,
                                              'backbone.out_channels': 32, 'head.representation_size': 64,
                                              'rpn.pre_nms_top_n': 50, 'rpn.post_nms_top_n': 30}}


def tiny_config(output_dir: Path, **changes: object) -> TrainingConfig:
    data = {'model': TINY_MODEL, 'steps': 30, 'batch_size': 2, 'device': 'cpu', 'output_dir': str(output_dir),
            'optimizer': {'lr': 0.02}, 'schedule': {'kind': 'constant', 'warmup_steps': 3},
            # A fixed scale keeps the image shapes few, which keeps the CPU convolutions warm.
            'augment': {'scale_range': [1.0, 1.0]},
            'roi_sampling': {'batch_size_per_image': [32, 32, 32]}, 'checkpoint_interval': 1000, 'seed': 3}
    data.update(changes)
    return TrainingConfig.from_dict(data)


@pytest.fixture(scope='module')
def videos(tmp_path_factory: pytest.TempPathFactory) -> list[AnnotatedVideo]:
    return write_videos(tmp_path_factory.mktemp('videos'), count=3, frames=6)


# Settings ---------------------------------------------------------------------------------------------


def test_config_refuses_unknown_keys_by_name(tmp_path: Path) -> None:
    path = tmp_path / 'run.yaml'
    path.write_text('steps: 10\noptimizer: {lrr: 0.1, name: sgd}\nstepz: 3\n')
    with pytest.raises(ValueError, match=r'training\.stepz') as error:
        load_training_config(path)
    path.write_text('optimizer: {lrr: 0.1}\n')
    with pytest.raises(ValueError, match=r'training\.optimizer\.lrr') as error:
        load_training_config(path)
    assert str(path) in str(error.value)
    path.write_text('datasets: [{reader: got10k, root: data, colour: red}]\n')
    with pytest.raises(ValueError, match=r'training\.datasets\[0\]\.colour'):
        load_training_config(path)


def test_config_loads_yaml_relative_to_its_folder(tmp_path: Path) -> None:
    path = tmp_path / 'run.yaml'
    path.write_text('model: {preset: shapes, overrides: {transform.min_size: 96}}\n'
                    'datasets: [{reader: got10k, root: data, weight: 2}]\n'
                    'loss: {cls_weights: [1, 0.5, 0.25], box_weights: [1, 1, 1]}\n'
                    'output_dir: out\nsteps: 7\n')
    config = load_training_config(path)
    assert config.steps == 7
    assert config.datasets[0].root == str(tmp_path / 'data')
    assert config.datasets[0].weight == 2.0
    assert config.loss.cls_weights == (1.0, 0.5, 0.25)
    assert config.output_dir == str(tmp_path / 'out')
    assert config.loss.hard_negative_scale == pytest.approx(0.12)
    assert TrainingConfig.from_dict(config.to_dict()) == config


def test_config_refuses_bad_values() -> None:
    with pytest.raises(ValueError, match='phase'):
        TrainingConfig.from_dict({'phase': 'everything'})
    with pytest.raises(ValueError, match=r'optimizer\.name'):
        TrainingConfig.from_dict({'optimizer': {'name': 'rmsprop'}})
    with pytest.raises(ValueError, match=r'training\.steps must be int'):
        TrainingConfig.from_dict({'steps': 'many'})


def test_lr_schedule_warmup_step_and_cosine() -> None:
    step = ScheduleSettings(kind='step', warmup_steps=10, warmup_factor=0.1, milestones=(0.5, 0.75), gamma=0.1)
    assert lr_factor(0, 100, step) == pytest.approx(0.1)
    assert lr_factor(5, 100, step) == pytest.approx(0.55)
    assert lr_factor(10, 100, step) == pytest.approx(1.0)
    assert lr_factor(50, 100, step) == pytest.approx(0.1)
    assert lr_factor(80, 100, step) == pytest.approx(0.01)
    cosine = ScheduleSettings(kind='cosine', warmup_steps=0, min_lr_factor=0.1)
    assert lr_factor(0, 101, cosine) == pytest.approx(1.0)
    assert lr_factor(50, 101, cosine) == pytest.approx(0.55)
    assert lr_factor(100, 101, cosine) == pytest.approx(0.1)


# Pairs and augmentation -------------------------------------------------------------------------------


def _video_with_gaps(tmp_path: Path) -> AnnotatedVideo:
    boxes = np.full((2, 20, 4), np.nan)
    boxes[0, :10] = [10, 10, 30, 30]  # object 0: frames 0-9
    boxes[0, 15:] = [12, 12, 32, 32]  # ... absent 10-14, back 15-19
    boxes[1, 5] = [40, 40, 40, 60]  # object 1: one degenerate (zero-width) box only: never visible
    frames = tuple(tmp_path / f'{t}.png' for t in range(20))
    return AnnotatedVideo('gaps', 'synthetic', frames, ('a', 'b'), boxes, None)


def test_pairs_respect_visibility_gap_and_seed(tmp_path: Path) -> None:
    video = _video_with_gaps(tmp_path)
    sampler = PairSampler([[video]], [1.0], max_frame_gap=3, seed=5)
    pairs = [sampler.sample(step, index) for step in range(50) for index in range(2)]
    visible = video.visible(0)
    for pair in pairs:
        assert pair.obj == 0
        assert visible[pair.reference]
        assert visible[pair.target]
        assert 0 < abs(pair.target - pair.reference) <= 3
    assert {p.reference for p in pairs} >= {0, 9, 15, 19}
    again = PairSampler([[video]], [1.0], max_frame_gap=3, seed=5)
    assert [(p.reference, p.target) for p in pairs] == [(again.sample(s, i).reference, again.sample(s, i).target)
                                                        for s in range(50) for i in range(2)]
    other = PairSampler([[video]], [1.0], max_frame_gap=3, seed=6)
    assert [(p.reference, p.target) for p in pairs] != [(other.sample(s, i).reference, other.sample(s, i).target)
                                                        for s in range(50) for i in range(2)]


def _video_of_three(tmp_path: Path) -> AnnotatedVideo:
    boxes = np.full((3, 12, 4), np.nan)
    boxes[0] = [10, 10, 30, 30]  # always visible
    boxes[1, :6] = [40, 10, 60, 30]  # frames 0-5
    boxes[2, 3:] = [70, 10, 90, 30]  # frames 3-11
    frames = tuple(tmp_path / f'{t}.png' for t in range(12))
    return AnnotatedVideo('three', 'synthetic', frames, ('a', 'b', 'c'), boxes, None)


def test_companions_are_other_objects_visible_in_both_frames(tmp_path: Path) -> None:
    video = _video_of_three(tmp_path)
    single = PairSampler([[video]], [1.0], max_frame_gap=4, seed=2)
    several = PairSampler([[video]], [1.0], max_frame_gap=4, seed=2, objects_per_pair=3)
    counts = set()
    for step in range(60):
        one, many = single.sample(step, 0), several.sample(step, 0)
        assert one.companions == ()
        # The companions are drawn last: the pair itself is the one the paper's sampler draws.
        assert (many.obj, many.reference, many.target) == (one.obj, one.reference, one.target)
        assert many.obj not in many.companions
        assert len(set(many.companions)) == len(many.companions)
        both = {k for k in range(3) if video.visible(k)[many.reference] and video.visible(k)[many.target]}
        assert set(many.companions) == both - {many.obj}  # at most 2 others exist: all are taken
        assert many.objects == (many.obj, *many.companions)
        np.testing.assert_array_equal(many.reference_boxes, video.boxes[list(many.objects), many.reference])
        visible_boxes, rows = many.target_boxes()
        for obj, row in zip(many.objects, rows, strict=True):
            np.testing.assert_array_equal(visible_boxes[row], video.boxes[obj, many.target])
        counts.add(len(many.companions))
    assert counts == {1, 2}  # object 0 is always there; objects 1 and 2 overlap in frames 3-5 only
    with pytest.raises(ValueError, match='objects_per_pair'):
        PairSampler([[video]], [1.0], max_frame_gap=4, seed=2, objects_per_pair=0)
    with pytest.raises(ValueError, match='objects_per_pair'):
        TrainingConfig.from_dict({'pairs': {'objects_per_pair': 0}})


def test_one_frame_video_gives_the_same_frame_twice(tmp_path: Path) -> None:
    still = AnnotatedVideo('still', 'coco', (tmp_path / 'a.jpg',), ('1', '2'),
                           np.array([[[1, 2, 30, 40]], [[50, 5, 70, 25]]], dtype=float), None)
    sampler = PairSampler([[still]], [1.0], max_frame_gap=100, seed=0)
    pair = sampler.sample(0, 0)
    assert pair.reference == pair.target == 0
    boxes, rows = pair.target_boxes()
    assert boxes.shape == (2, 4)
    assert len(rows) == 1
    np.testing.assert_array_equal(boxes[rows[0]], still.boxes[pair.obj, 0])


def test_pair_sampler_refuses_datasets_without_objects(tmp_path: Path) -> None:
    empty = AnnotatedVideo('empty', 'got10k', (tmp_path / 'a.jpg',), ('1',), np.full((1, 1, 4), np.nan), None)
    with pytest.raises(ValueError, match='no video with a visible object'):
        PairSampler([[empty]], [1.0], max_frame_gap=1, seed=0)


def test_flip_box_by_hand() -> None:
    np.testing.assert_array_equal(flip_boxes(np.array([[1.0, 2.0, 4.0, 6.0]]), 10), [[6.0, 2.0, 9.0, 6.0]])
    image = np.zeros((8, 10, 3), np.uint8)
    image[2:6, 1:4] = 255
    flipped, boxes = apply_augmentation(image, np.array([[1.0, 2.0, 4.0, 6.0]]), Augmentation(size=(8, 10), flip=True))
    np.testing.assert_array_equal(boxes, [[6.0, 2.0, 9.0, 6.0]])
    assert (flipped[2:6, 6:9] == 255).all()
    assert flipped.sum() == image.sum()


def test_scale_moves_boxes_with_the_image() -> None:
    image = np.zeros((96, 128, 3), np.uint8)
    image[20:60, 40:100] = 200
    resized, boxes = apply_augmentation(image, np.array([[40.0, 20.0, 100.0, 60.0]]), Augmentation(size=(48, 64)))
    assert resized.shape == (48, 64, 3)
    np.testing.assert_allclose(boxes, [[20.0, 10.0, 50.0, 30.0]])
    assert (resized[10:30, 20:50] == 200).all()
    assert (resized[:10] == 0).all()
    assert (resized[:, 50:] == 0).all()


def test_drawn_augmentations_keep_the_box_on_the_object() -> None:
    settings = AugmentSettings(motion_blur_prob=0.5, grayscale_prob=0.5, gamma_prob=0.5, flip_prob=0.5,
                               scale_range=(0.5, 1.0))
    transform = TransformConfig(min_size=96, max_size=128)
    image = np.zeros((120, 160, 3), np.uint8)
    image[30:70, 20:60] = 255
    rng = np.random.default_rng(0)
    seen_flip = False
    for _ in range(20):
        draw = draw_augmentation(rng, settings, transform, image.shape[:2])
        assert 0.5 * 96 - 1 <= min(draw.size) <= 96
        assert max(draw.size) <= 128
        out, boxes = apply_augmentation(image, np.array([[20.0, 30.0, 60.0, 70.0]]), draw)
        assert out.shape[:2] == draw.size
        x0, y0, x1, y1 = np.round(boxes[0]).astype(int)
        inner = out[y0 + 3:y1 - 3, x0 + 3:x1 - 3]  # away from the (blurred) edges
        assert inner.mean() > 200
        outside = out.copy()
        outside[max(y0 - 5, 0):y1 + 5, max(x0 - 5, 0):x1 + 5] = 0
        assert outside.max() == 0
        seen_flip |= draw.flip
    assert seen_flip


# Losses -----------------------------------------------------------------------------------------------


def test_sample_rois_caps_positives() -> None:
    labels = torch.tensor([1] * 10 + [0] * 100)
    generator = torch.Generator().manual_seed(0)
    index = sample_rois(labels, 32, 0.25, generator)
    assert len(index) == 32
    assert int(labels[index].sum()) == 8
    assert len(set(index.tolist())) == 32
    few = sample_rois(torch.tensor([1, 0, 0]), 32, 0.25, generator)
    assert sorted(few.tolist()) == [0, 1, 2]


def _tiny_model() -> SiamRCNN:
    config = TrainingConfig.from_dict({'model': TINY_MODEL})
    torch.manual_seed(0)
    from siamrcnn_ros.training.trainer import model_config_of
    return build_model(model_config_of(config), device='cpu')


def _loss_inputs(model: SiamRCNN) -> dict:
    torch.manual_seed(1)
    maps = model.backbone(torch.randn(1, 3, 96, 128))

    def pool(boxes: torch.Tensor) -> torch.Tensor:
        return model.roi_pool(maps, [boxes], [(96, 128)])

    target = torch.tensor([30.0, 20.0, 70.0, 60.0])
    rois = torch.cat([target[None] + torch.randn(20, 4) * 3, torch.rand(40, 4).sort(dim=1).values[:, [0, 1, 2, 3]]
                      * torch.tensor([60.0, 40.0, 128.0, 96.0])])  # [60, 4] near and far from the target
    rois[:, 2:] = torch.maximum(rois[:, 2:], rois[:, :2] + 4)
    return {'pool': pool, 'reference': pool(target[None]), 'rois': rois, 'target_box': target,
            'image_size': (96, 128)}


def test_cascade_losses_named_per_stage_and_trainable() -> None:
    model = _tiny_model()
    model.head.requires_grad_(True)
    with torch.no_grad():
        inputs = _loss_inputs(model)
    losses = cascade_losses(model.head, **inputs, sampling=RoISamplingSettings(batch_size_per_image=(16, 16, 16)),
                            settings=LossSettings(), generator=torch.Generator().manual_seed(0))
    assert sorted(losses) == sorted(f'loss_{kind}_stage{k}' for kind in ('cls', 'box') for k in range(3))
    # Untrained classifier: zero-bias, tiny weights, so cross-entropy is close to log 2 at every stage.
    for k in range(3):
        assert losses[f'loss_cls_stage{k}'].item() == pytest.approx(np.log(2), abs=0.05)
        assert losses[f'loss_box_stage{k}'].item() > 0
    sum(losses.values()).backward()
    for stage in model.head.stages:
        assert stage.cls_score.weight.grad.abs().sum() > 0
        assert stage.bbox_pred.weight.grad.abs().sum() > 0


def test_extra_negative_features_enter_the_classification_loss() -> None:
    model = _tiny_model()
    model.head.requires_grad_(True)
    with torch.no_grad():
        inputs = _loss_inputs(model)
        for stage in model.head.stages:  # a classifier that says "target" to everything makes negatives costly
            stage.cls_score.bias.copy_(torch.tensor([-2.0, 2.0]))
    extra = torch.randn(5, 32, 7, 7)
    settings = LossSettings(hard_negative_scale=0.12)
    sampling = RoISamplingSettings(batch_size_per_image=(16, 16, 16))
    plain = cascade_losses(model.head, **inputs, sampling=sampling, settings=settings,
                           generator=torch.Generator().manual_seed(0))
    mined = cascade_losses(model.head, **inputs, sampling=sampling, settings=settings,
                           generator=torch.Generator().manual_seed(0), extra_negative_features=extra)
    for k in range(3):
        assert mined[f'loss_cls_stage{k}'].item() > plain[f'loss_cls_stage{k}'].item() + 0.12
        assert mined[f'loss_box_stage{k}'].item() == pytest.approx(plain[f'loss_box_stage{k}'].item())
    with pytest.raises(ValueError, match='extra_negative_features'):
        cascade_losses(model.head, **inputs, sampling=sampling, settings=settings,
                       generator=torch.Generator().manual_seed(0), extra_negative_features=torch.randn(5, 32, 5, 5))


def test_several_reference_objects_average_their_own_pair_losses(videos: list[AnnotatedVideo]) -> None:
    """Each reference object is scored as its own pair (its own target box positive, the others negative) and
    the example's losses are the mean over the objects: the sum of the one-object losses drawn with the same
    generator in turn, halved."""
    from siamrcnn_ros.training.actors import head_losses
    from siamrcnn_ros.training.examples import PairExample, example_rng, make_pair_example
    config = tiny_config(Path('unused'), pairs={'objects_per_pair': 2})
    model = _tiny_model()
    sampler = PairSampler([videos], [1.0], max_frame_gap=5, seed=0, objects_per_pair=2)
    pair = next(p for p in (sampler.sample(step, 0) for step in range(20)) if p.companions)
    example = make_pair_example(pair, example_rng(0, 0, 0), config.augment, model.config.transform)
    assert len(example) == 2
    assert example.target_rows[0] != example.target_rows[1]
    with torch.no_grad():
        total, parts = head_losses(model, example, config, torch.Generator().manual_seed(4))
        generator = torch.Generator().manual_seed(4)
        singles = [head_losses(model, PairExample(example.reference_image, example.reference_boxes[[m]],
                                                  example.target_image, example.visible_boxes,
                                                  (example.target_rows[m],)), config, generator)
                   for m in range(2)]
    assert singles[0][0].item() != pytest.approx(singles[1][0].item())
    assert total.item() == pytest.approx((singles[0][0].item() + singles[1][0].item()) / 2, rel=1e-5)
    for key, value in parts.items():
        assert value.item() == pytest.approx((singles[0][1][key].item() + singles[1][1][key].item()) / 2,
                                             rel=1e-5, abs=1e-7)


def test_trajectory_boxes_are_the_objects_own_boxes_moved_with_the_target_frame(videos: list[AnnotatedVideo]) -> None:
    from siamrcnn_ros.training.examples import example_rng, make_pair_example
    transform = _tiny_model().config.transform
    sampler = PairSampler([videos], [1.0], max_frame_gap=5, seed=0, objects_per_pair=2)
    pair = next(p for p in (sampler.sample(step, 0) for step in range(20)) if p.companions)
    still = AugmentSettings(flip_prob=0.0, scale_range=(1.0, 1.0))  # 96 x 128 frames stay as they are
    plain = make_pair_example(pair, example_rng(0, 1, 0), still, transform)
    example = make_pair_example(pair, example_rng(0, 1, 0), still, transform, trajectory_boxes=3)
    assert plain.trajectory_boxes.shape == (2, 0, 4)
    assert example.trajectory_boxes.shape == (2, 3, 4)
    # Drawn after everything else: the images and boxes are those of the example without them.
    np.testing.assert_array_equal(example.target_image, plain.target_image)
    np.testing.assert_array_equal(example.visible_boxes, plain.visible_boxes)
    for obj, boxes in zip(pair.objects, example.trajectory_boxes, strict=True):
        for box in boxes:  # each is the object's box in one of its frames
            assert np.isclose(pair.video.boxes[obj], box).all(axis=1).any(), box
    flipped = make_pair_example(pair, example_rng(0, 1, 0), AugmentSettings(flip_prob=1.0, scale_range=(1.0, 1.0)),
                                transform, trajectory_boxes=3)
    width = flipped.target_image.shape[1]
    np.testing.assert_allclose(flipped.trajectory_boxes[..., [2, 1, 0, 3]] * [-1, 1, -1, 1] + [width, 0, width, 0],
                               example.trajectory_boxes)


def test_candidate_rois_take_the_extra_boxes() -> None:
    target, others = torch.tensor([10.0, 10.0, 40.0, 40.0]), torch.tensor([[50.0, 50.0, 80.0, 90.0]])
    extra = torch.tensor([[60.0, 10.0, 90.0, 40.0], [5.0, 50.0, 35.0, 80.0]])
    settings = RoISamplingSettings(gt_jitter_count=2)
    rois = candidate_rois(torch.zeros((0, 4)), target, others, (96, 128), settings, torch.Generator().manual_seed(0),
                          extra_boxes=extra)
    assert rois.shape == (2 * 3 + 2, 4)
    torch.testing.assert_close(rois[-2:], extra)
    with pytest.raises(ValueError, match='trajectory_boxes'):
        RoISamplingSettings(trajectory_boxes=-1)


# Trainer ----------------------------------------------------------------------------------------------


def test_head_training_lowers_the_loss_and_leaves_backbone_and_rpn_alone(videos: list[AnnotatedVideo],
                                                                          tmp_path: Path) -> None:
    trainer = Trainer(tiny_config(tmp_path, steps=24, batch_size=1), datasets=[videos])
    frozen = {k: v.clone() for k, v in trainer.model.state_dict().items() if not k.startswith('head.')}
    head_before = {k: v.clone() for k, v in trainer.model.head.state_dict().items()}
    result = trainer.run(progress=False)
    totals = [h['total'] for h in result.history]
    assert len(totals) == 24
    assert np.mean(totals[-5:]) < 0.85 * np.mean(totals[:5])
    classification = [sum(h[f'loss_cls_stage{k}'] for k in range(3)) for h in result.history]
    assert np.mean(classification[-5:]) < 0.8 * np.mean(classification[:5])
    after = trainer.model.state_dict()
    assert all(torch.equal(value, after[key]) for key, value in frozen.items())
    assert not all(torch.equal(value, trainer.model.head.state_dict()[key]) for key, value in head_before.items())


def test_checkpoint_resumes_exactly(videos: list[AnnotatedVideo], tmp_path: Path) -> None:
    changes = {'steps': 6, 'checkpoint_interval': 3, 'augment': {}, 'schedule': {'warmup_steps': 2}}
    straight = Trainer(tiny_config(tmp_path / 'straight', **changes), datasets=[videos])
    straight.run(progress=False)
    first = Trainer(tiny_config(tmp_path / 'split', **changes), datasets=[videos])
    assert first.run(stop_at=3, progress=False).step == 3
    second = Trainer(tiny_config(tmp_path / 'split', **changes), datasets=[videos])
    result = second.run(resume=True, progress=False)
    assert (result.start_step, result.step) == (3, 6)
    expected, got = straight.model.state_dict(), second.model.state_dict()
    assert all(torch.equal(expected[key], got[key]) for key in expected)
    momentum = [straight.optimizer.state[p]['momentum_buffer'] for p in straight.optimizer.param_groups[0]['params']]
    resumed = [second.optimizer.state[p]['momentum_buffer'] for p in second.optimizer.param_groups[0]['params']]
    assert all(torch.equal(a, b) for a, b in zip(momentum, resumed, strict=True))


def test_detector_phase_trains_backbone_and_rpn_only(videos: list[AnnotatedVideo], tmp_path: Path) -> None:
    config = tiny_config(tmp_path, phase='detector', steps=3, optimizer={'name': 'adamw', 'lr': 1e-3})
    trainer = Trainer(config, datasets=[videos])
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    result = trainer.run(progress=False)
    assert set(result.history[0]) == {'total', 'loss_objectness', 'loss_rpn_box_reg', 'lr'}
    after = trainer.model.state_dict()
    changed = {key for key in before if not torch.equal(before[key], after[key])}
    assert any(key.startswith('backbone.fpn.') for key in changed)
    assert any(key.startswith('backbone.body.') for key in changed)
    assert any(key.startswith('rpn.head.') for key in changed)
    assert not any(key.startswith('head.') for key in changed)
    assert read_checkpoint(result.checkpoint).metadata['phase'] == 'detector'


def test_joint_phase_trains_everything_with_both_losses(videos: list[AnnotatedVideo], tmp_path: Path) -> None:
    config = tiny_config(tmp_path, phase='joint', steps=3, optimizer={'name': 'adamw', 'lr': 1e-3})
    trainer = Trainer(config, datasets=[videos])
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    result = trainer.run(progress=False)
    parts = {f'loss_{kind}_stage{k}' for kind in ('cls', 'box') for k in range(3)}
    assert set(result.history[0]) == {'total', 'lr', 'loss_objectness', 'loss_rpn_box_reg', *parts}
    first = result.history[0]
    assert first['total'] == pytest.approx(sum(first[name] for name in parts | {'loss_objectness', 'loss_rpn_box_reg'}),
                                           rel=1e-5)
    after = trainer.model.state_dict()
    changed = {key for key in before if not torch.equal(before[key], after[key])}
    for prefix in ('backbone.body.', 'backbone.fpn.', 'rpn.head.', 'head.stages.0.', 'head.stages.2.'):
        assert any(key.startswith(prefix) for key in changed), prefix
    assert read_checkpoint(result.checkpoint).metadata['phase'] == 'joint'


def test_joint_phase_identity_loss_enters_the_total_and_reaches_the_backbone(videos: list[AnnotatedVideo],
                                                                             tmp_path: Path) -> None:
    from siamrcnn_ros.training.actors import _templates, identity_loss, joint_losses
    from siamrcnn_ros.training.examples import torch_generator
    with pytest.raises(ValueError, match='identity_weight'):
        tiny_config(tmp_path, phase='head', pairs={'objects_per_pair': 3}, loss={'identity_weight': 1.0})
    with pytest.raises(ValueError, match='objects_per_pair'):
        tiny_config(tmp_path, phase='joint', loss={'identity_weight': 1.0})
    plain = tiny_config(tmp_path, phase='joint', pairs={'objects_per_pair': 3})
    # Unit vectors are at most 2 apart, so a margin of 5 makes every triplet count: the loss is positive.
    config = tiny_config(tmp_path, phase='joint', pairs={'objects_per_pair': 3},
                         loss={'identity_weight': 2.0, 'identity_margin': 5.0})
    trainer = Trainer(config, datasets=[videos])
    example = next(e for step in range(20) for _, e in trainer._make_examples(step) if len(e) >= 2)
    torch.manual_seed(0)
    total, parts = joint_losses(trainer.model, example, config, torch_generator(config.seed, 0, 0))
    torch.manual_seed(0)
    plain_total, plain_parts = joint_losses(trainer.model, example, plain, torch_generator(config.seed, 0, 0))
    assert 'loss_identity' in parts
    assert 'loss_identity' not in plain_parts
    identity = parts['loss_identity'].item()
    assert identity > 3.0
    assert total.item() == pytest.approx(plain_total.item() + 2.0 * identity, rel=1e-5)
    # The identity loss alone moves the backbone: its gradient reaches the first convolution.
    trainer.model.zero_grad()
    _, reference = trainer.model.training_frame(example.reference_image, proposals=False)
    _, target = trainer.model.training_frame(example.target_image, proposals=False)
    templates = _templates(trainer.model, example, reference)
    loss = identity_loss(trainer.model, example, templates, target, margin=5.0)
    loss.backward()
    first = next(p for name, p in trainer.model.named_parameters() if name.startswith('backbone.body.'))
    assert first.grad is not None
    assert float(first.grad.abs().sum()) > 0


def _trained_detector(videos: list[AnnotatedVideo], tmp_path: Path) -> tuple[Trainer, Path]:
    """A tiny detector phase of 2 steps and the checkpoint it saved (``tmp_path/detector.safetensors``)."""
    from siamrcnn_ros.model.checkpoints import save_checkpoint
    detector = Trainer(tiny_config(tmp_path / 'detector', phase='detector', steps=2), datasets=[videos])
    detector.run(progress=False)
    path = tmp_path / 'detector.safetensors'
    save_checkpoint(path, detector.model, detector.model_config)
    return detector, path


def test_head_phase_takes_the_detector_of_a_checkpoint_with_another_head(videos: list[AnnotatedVideo],
                                                                       tmp_path: Path) -> None:
    from siamrcnn_ros.model.checkpoints import CheckpointError
    detector, path = _trained_detector(videos, tmp_path)
    model = {**TINY_MODEL, 'init_checkpoint': str(path),
             'overrides': {**TINY_MODEL['overrides'], 'head.fusion': 'concat_product'}}
    head = Trainer(tiny_config(tmp_path / 'head', model=model), datasets=[videos])
    trained = detector.model.state_dict()
    for key, value in head.model.state_dict().items():
        if not key.startswith('head.'):
            assert torch.equal(value, trained[key]), key
    # The head is the new design's, not the checkpoint's (whose conv_reduce takes 2C channels).
    assert head.model.head.stages[0].conv_reduce.weight.shape == (32, 3 * 32, 1, 1)
    assert trained['head.stages.0.conv_reduce.weight'].shape == (32, 2 * 32, 1, 1)
    # Anything but the head must match.
    other = {**model, 'overrides': {**model['overrides'], 'rpn.post_nms_top_n': 20}}
    with pytest.raises(CheckpointError, match=r'rpn\.post_nms_top_n'):
        Trainer(tiny_config(tmp_path / 'other', model=other), datasets=[videos])


def test_pixel_rois_head_starts_from_a_plain_detector_and_joint_phase_trains(videos: list[AnnotatedVideo],
                                                                             tmp_path: Path) -> None:
    detector, path = _trained_detector(videos, tmp_path)
    pixels = {**TINY_MODEL, 'overrides': {**TINY_MODEL['overrides'], 'head.pixel_rois': True}}
    head = Trainer(tiny_config(tmp_path / 'head', model={**pixels, 'init_checkpoint': str(path)}, steps=2),
                   datasets=[videos])
    # conv_reduce takes [t, r] with 32 FPN + 3 pixel channels each and gives 35.
    assert head.model.head.stages[0].conv_reduce.weight.shape == (35, 2 * 35, 1, 1)
    assert torch.equal(head.model.state_dict()['backbone.fpn.layer_blocks.0.0.weight'],
                       detector.model.state_dict()['backbone.fpn.layer_blocks.0.0.weight'])
    result = head.run(progress=False)
    assert all(math.isfinite(row['total']) for row in result.history)
    # The joint phase feeds the image to the RoI pooling and only the FPN levels to the RPN's losses.
    joint = Trainer(tiny_config(tmp_path / 'joint', model=pixels, phase='joint', steps=2), datasets=[videos])
    rows = joint.run(progress=False).history
    assert all(math.isfinite(row['total']) and row['loss_objectness'] > 0 for row in rows)


def test_trainer_checks_stage_count(videos: list[AnnotatedVideo], tmp_path: Path) -> None:
    config = tiny_config(tmp_path, loss={'cls_weights': [1, 1], 'box_weights': [1, 1]})
    with pytest.raises(ValueError, match=r'loss\.cls_weights has 2 entries but the model head has 3'):
        Trainer(config, datasets=[videos])


# Command line -----------------------------------------------------------------------------------------


def _write_tiny_yaml(folder: Path) -> Path:
    write_got10k(folder / 'got10k', count=2, frames=5)
    overrides = ', '.join(f'{key}: {value}' for key, value in TINY_MODEL['overrides'].items())
    path = folder / 'tiny.yaml'
    path.write_text(f'model: {{preset: shapes, overrides: {{{overrides}}}}}\n'
                    'datasets: [{reader: got10k, root: got10k}]\n'
                    'steps: 3\nbatch_size: 2\ndevice: cpu\ncheckpoint_interval: 2\nlog_interval: 1\n'
                    'roi_sampling: {batch_size_per_image: [16, 16, 16]}\n'
                    'output_dir: run\n')
    return path


def test_cli_trains_end_to_end_and_writes_a_loadable_checkpoint(tmp_path: Path) -> None:
    path = _write_tiny_yaml(tmp_path)
    command = [sys.executable, '-m', 'siamrcnn_ros.training.cli', '--config', str(path), '--no-progress']
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert 'steps 0 -> 3 of 3' in done.stdout
    checkpoints = tmp_path / 'run' / 'checkpoints'
    assert sorted(p.name for p in checkpoints.glob('step_*')) == [
        'step_0000002.safetensors', 'step_0000002.state.safetensors',
        'step_0000003.safetensors', 'step_0000003.state.safetensors']
    assert any((tmp_path / 'run' / 'tensorboard').glob('events.out.tfevents.*'))
    model = build_model('shapes', checkpoint=checkpoints / 'step_0000003.safetensors', device='cpu')
    assert model.config.transform.min_size == 96
    assert read_checkpoint(checkpoints / 'step_0000003.safetensors').metadata['step'] == '3'
    frame = model.extract(np.zeros((96, 128, 3), np.uint8))
    assert frame.feature_maps['0'].shape[1] == 32
    resumed = subprocess.run([*command, '--resume'], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
                             check=False)
    assert resumed.returncode == 0, resumed.stderr
    assert 'already at step 3 of 3' in resumed.stdout


def test_cli_fails_clearly_on_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / 'bad.yaml'
    path.write_text('steps: 3\nlearning_rate: 0.1\n')
    done = subprocess.run([sys.executable, '-m', 'siamrcnn_ros.training.cli', '--config', str(path)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert 'training.learning_rate' in done.stderr


@pytest.mark.gpu
@pytest.mark.parametrize('phase', ['head', 'detector', 'joint'])
def test_training_runs_on_cuda_under_autocast(videos: list[AnnotatedVideo], tmp_path: Path, phase: str) -> None:
    config = tiny_config(tmp_path, phase=phase, steps=4, device='cuda', checkpoint_interval=2)
    trainer = Trainer(config, datasets=[videos])
    result = trainer.run(progress=False)
    assert all(np.isfinite(h['total']) for h in result.history)
    assert trainer.model.device.type == 'cuda'
    resumed = Trainer(config, datasets=[videos])
    resumed.run(resume=result.checkpoint.with_name('step_0000002.safetensors'), progress=False)
    expected, got = trainer.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(expected[key], got[key]) for key in expected)
    model = build_model('shapes', checkpoint=result.checkpoint, device='cpu')
    assert model.config == trainer.model_config


# siamrcnn-train's configs (the Box2Seg trainer's *box2seg*.yaml are tested with it).
@pytest.mark.parametrize('path', sorted(p for p in (REPO_ROOT / 'config' / 'training').glob('*.yaml')
                                        if 'box2seg' not in p.name), ids=lambda p: p.name)
def test_shipped_training_configs_load(path: Path) -> None:
    config = load_training_config(path)
    assert config.datasets
    assert Path(config.output_dir).is_absolute()


def test_data_threads_change_nothing_but_speed(videos: list[AnnotatedVideo], tmp_path: Path) -> None:
    results = []
    for threads in (0, 2):
        trainer = Trainer(tiny_config(tmp_path / str(threads), steps=4, data_threads=threads, augment={}),
                          datasets=[videos])
        results.append((trainer.run(progress=False).history, trainer.model.state_dict()))
    (history0, weights0), (history2, weights2) = results
    assert history0 == history2
    assert all(torch.equal(weights0[key], weights2[key]) for key in weights0)
