"""Box2Seg training: the loss falls on a tiny hand-made world, exact resume, YAML settings, the CLI,
sample drawing and the box jitter."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from siamrcnn_ros.box2seg import Box2SegConfig, build_box2seg, read_box2seg_checkpoint
from siamrcnn_ros.box2seg.cli import main
from siamrcnn_ros.box2seg.training.samples import SampleDrawer, jitter_box, mask_sample_table
from siamrcnn_ros.box2seg.training.settings import (
    Box2SegAugmentSettings,
    Box2SegTrainingConfig,
    load_box2seg_training_config,
)
from siamrcnn_ros.box2seg.training.trainer import Box2SegTrainer
from siamrcnn_ros.datasets.annotated_video import AnnotatedVideo

NETWORK = {'name': 'tiny', 'crop_size': 32, 'aspp_channels': 16, 'low_level_channels': 8, 'decoder_channels': 16}
HEIGHT, WIDTH = 48, 64


def write_video(folder: Path, seed: int, frames: int = 4) -> AnnotatedVideo:
    """Frames of noise with a bright ellipse (object 0) and a dark rectangle (object 1), and their masks as 8-bit
    grayscale PNGs (value k + 1 = object k); object 1 is absent from the last frame."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    paths, masks, boxes = [], [], np.full((2, frames, 4), np.nan)
    for t in range(frames):
        image = rng.integers(60, 190, (HEIGHT, WIDTH, 3), dtype=np.uint8)
        labels = np.zeros((HEIGHT, WIDTH), np.uint8)
        cx, cy = int(rng.integers(14, 50)), int(rng.integers(12, 36))
        cv2.ellipse(labels, (cx, cy), (10, 7), 0, 0, 360, 1, -1)
        if t < frames - 1:
            x, y = int(rng.integers(0, 44)), int(rng.integers(0, 30))
            labels[y:y + 14, x:x + 18] = np.where(labels[y:y + 14, x:x + 18] == 0, 2, 1)  # behind the ellipse
        image[labels == 1] = (240, 220, 40)
        image[labels == 2] = (20, 30, 90)
        for k in range(2):
            rows, cols = np.nonzero(labels == k + 1)
            if rows.size:
                boxes[k, t] = (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
        paths.append(folder / f'{t:05d}.jpg')
        masks.append(folder / f'{t:05d}.png')
        cv2.imwrite(str(paths[-1]), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
        cv2.imwrite(str(masks[-1]), labels)
    return AnnotatedVideo(name=folder.name, source='synthetic', frames=tuple(paths), object_ids=('0', '1'),
                          boxes=boxes, masks=tuple(masks))


@pytest.fixture(scope='module')
def videos(tmp_path_factory: pytest.TempPathFactory) -> list[AnnotatedVideo]:
    root = tmp_path_factory.mktemp('box2seg_world')
    return [write_video(root / f'video{i}', seed=i) for i in range(3)]


def tiny_config(output_dir: Path, **changes: object) -> Box2SegTrainingConfig:
    data = {'network': NETWORK, 'steps': 12, 'batch_size': 4, 'device': 'cpu', 'output_dir': str(output_dir),
            'optimizer': {'name': 'adamw', 'lr': 0.003}, 'schedule': {'kind': 'constant', 'warmup_steps': 0},
            'checkpoint_interval': 4, 'min_mask_pixels': 8, **changes}
    return Box2SegTrainingConfig.from_dict(data)


def test_sample_table_holds_every_visible_object_with_a_mask(videos: list[AnnotatedVideo]) -> None:
    table = mask_sample_table(videos)
    assert table.shape == (3 * (4 + 3), 3)  # the rectangle is absent from each video's last frame
    assert not ((table[:, 1] == 1) & (table[:, 2] == 3)).any()
    drawer = SampleDrawer([videos], [1.0], seed=3, min_mask_pixels=8)
    assert len(drawer) == len(table)
    first = drawer.draw(5, 2)
    again = drawer.draw(5, 2)
    assert (first.video, first.obj, first.frame) == (again.video, again.obj, again.frame)  # a pure function
    example = drawer.example(5, 2, Box2SegConfig(**NETWORK), Box2SegAugmentSettings())
    assert example.crop.shape == (4, 32, 32)
    assert example.target.shape == (1, 32, 32)
    assert 0 < float(example.target.mean()) < 1
    with pytest.raises(ValueError, match='no training video has an object with an instance mask'):
        SampleDrawer([[]], [1.0], seed=0, min_mask_pixels=1)


def test_box_jitter_stays_within_its_settings() -> None:
    rng = np.random.default_rng(0)
    box = np.array([10.0, 20.0, 50.0, 40.0])  # 40 x 20, centre (30, 30)
    jittered = np.stack([jitter_box(box, rng, 0.1, 0.2) for _ in range(500)])  # [500, 4]
    centres = (jittered[:, :2] + jittered[:, 2:]) / 2
    sizes = jittered[:, 2:] - jittered[:, :2]
    assert np.abs(centres - 30).max(axis=0) == pytest.approx([4.0, 2.0], abs=0.1)
    ratios = np.log(sizes / [40.0, 20.0])
    assert np.abs(ratios).max() <= 0.2 + 1e-9
    assert np.abs(ratios).max() > 0.19
    np.testing.assert_array_equal(jitter_box(box, rng, 0.0, 0.0), box)


def test_loss_falls_and_validation_scores(videos: list[AnnotatedVideo], tmp_path: Path) -> None:
    config = tiny_config(tmp_path / 'run', steps=24, checkpoint_interval=24, validation={'interval': 24})
    trainer = Box2SegTrainer(config, datasets=[videos], validation_videos=videos[:1])
    result = trainer.run(progress=False)
    losses = [values['total'] for values in result.history]
    assert len(losses) == 24
    assert np.mean(losses[-6:]) < 0.8 * np.mean(losses[:6])
    assert result.checkpoint == tmp_path / 'run' / 'checkpoints' / 'step_0000024.safetensors'
    [(step, score)] = result.validation
    assert step == 24
    assert 0 <= score <= 1
    assert 0.5 < result.box_as_mask_j < 1  # ellipses (about pi / 4 of their box) and partly hidden rectangles


def test_resume_gives_the_weights_of_an_uninterrupted_run(videos: list[AnnotatedVideo], tmp_path: Path) -> None:
    straight = Box2SegTrainer(tiny_config(tmp_path / 'straight', steps=6), datasets=[videos])
    straight.run(progress=False)
    first = Box2SegTrainer(tiny_config(tmp_path / 'split', steps=6), datasets=[videos])
    assert first.run(stop_at=4, progress=False).step == 4
    second = Box2SegTrainer(tiny_config(tmp_path / 'split', steps=6), datasets=[videos])
    result = second.run(resume=True, progress=False)
    assert (result.start_step, result.step) == (4, 6)
    for key, value in straight.net.state_dict().items():
        assert torch.equal(second.net.state_dict()[key], value), key


def test_yaml_settings_refuse_unknown_keys_and_resolve_paths(tmp_path: Path) -> None:
    path = tmp_path / 'run.yaml'
    path.write_text('network: {crop_size: 64}\ndatasets: [{reader: synthetic, root: data, split: train}]\n'
                    'augment: {box_shift: 0.2}\noutput_dir: out\n')
    config = load_box2seg_training_config(path)
    assert config.network.crop_size == 64
    assert config.augment.box_shift == 0.2
    assert config.datasets[0].root == str(tmp_path / 'data')
    assert config.output_dir == str(tmp_path / 'out')
    path.write_text('augment: {box_shfit: 0.2}\n')
    with pytest.raises(ValueError, match=r'box2seg_training\.augment\.box_shfit'):
        load_box2seg_training_config(path)
    path.write_text('network: {crop: 64}\n')
    with pytest.raises(ValueError, match=r'network\.crop'):
        load_box2seg_training_config(path)
    path.write_text('batch_size: 1\n')
    with pytest.raises(ValueError, match='batch_size must be >= 2'):
        load_box2seg_training_config(path)


def test_shipped_synthetic_config_reads() -> None:
    repo = Path(__file__).resolve().parent.parent
    config = load_box2seg_training_config(repo / 'config' / 'training' / 'synthetic_box2seg.yaml')
    assert config.datasets[0].reader == 'synthetic'
    assert Path(config.output_dir).resolve() == repo / 'runs' / 'synthetic_box2seg'
    assert config.validation.reader == 'synthetic'


def test_cli_trains_exports_float16_and_fails_clearly(videos: list[AnnotatedVideo], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    root = videos[0].frames[0].parent.parent
    path = tmp_path / 'run.yaml'
    path.write_text(f'network: {NETWORK}\ndatasets: [{{reader: davis, root: {root}}}]\nsteps: 2\nbatch_size: 2\n'
                    'output_dir: out\ndevice: cpu\n')
    assert main(['--config', str(path), '--no-progress']) == 1  # no DAVIS layout there
    assert 'siamrcnn-train-box2seg: error:' in capsys.readouterr().err
    davis = tmp_path / 'davis'
    for name, video in (('a', videos[0]), ('b', videos[1])):
        for kind, files in (('JPEGImages', video.frames), ('Annotations', video.masks)):
            folder = davis / kind / '480p' / name
            folder.mkdir(parents=True)
            for file in files:
                (folder / file.name).write_bytes(file.read_bytes())
    (davis / 'ImageSets' / '2017').mkdir(parents=True)
    (davis / 'ImageSets' / '2017' / 'train.txt').write_text('a\nb\n')
    path.write_text(path.read_text().replace(str(root), str(davis)))
    assert main(['--config', str(path), '--no-progress', '--export', str(tmp_path / 'small.safetensors')]) == 0
    assert 'steps 0 -> 2 of 2' in capsys.readouterr().out
    exported = read_box2seg_checkpoint(tmp_path / 'small.safetensors')
    assert exported.state_dict['classifier.weight'].dtype == torch.float16
    assert exported.metadata['step'] == '2'
    predictor = build_box2seg(checkpoint=tmp_path / 'small.safetensors', device='cpu')
    assert predictor.predict(videos[0].read_frame(0), videos[0].boxes[:, 0]).shape == (2, HEIGHT, WIDTH)
    assert main(['--config', str(path), '--no-progress', '--resume']) == 0
    assert 'nothing to train' in capsys.readouterr().out
