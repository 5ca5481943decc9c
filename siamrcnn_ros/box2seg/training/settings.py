"""Settings of one Box2Seg training run: nested frozen dataclasses, read from a YAML file.

Mirrors ``siamrcnn_ros.training.settings`` (whose dataset, optimizer and schedule sections it reuses):
every key has its default here, unknown keys are refused with their dotted names, relative paths are
relative to the YAML file's folder.

Example::

    network: {backbone: mobilenet_v3_large, crop_size: 128}
    datasets: [{reader: synthetic, root: ../../data/synthetic, split: train}]
    validation: {reader: synthetic, root: ../../data/synthetic, split: val}
    steps: 2000
    batch_size: 16
    optimizer: {name: adamw, lr: 0.001, weight_decay: 0.0001}
    schedule: {kind: cosine, warmup_steps: 100}
    output_dir: ../../runs/synthetic_box2seg
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from siamrcnn_ros.box2seg.config import Box2SegConfig
from siamrcnn_ros.settings_tree import check_settings, read_yaml_dataclass, setting
from siamrcnn_ros.training.run_settings import RunSettings
from siamrcnn_ros.training.settings import DatasetSpec, OptimizerSettings, ScheduleSettings


@dataclass(frozen=True)
class Box2SegAugmentSettings:
    """Augmentations of one training sample, drawn independently per sample.

    The box given to the network is the ground-truth box jittered like a tracker's box would be off, so
    the network learns to segment the whole object from an imperfect box (and not to cut the mask at it).

    Attributes:
        box_shift: largest shift of the box centre, as a fraction of the box's width (x) and height (y).
        box_scale: largest change of the box's width and height (independently), as a log factor: the
            factor is ``exp(u)`` with ``u`` uniform in ``[-box_scale, box_scale]``.
        flip_prob: probability of a horizontal flip (image, mask and box).
        brightness: largest brightness change, a fraction of 255 added to every channel.
        contrast: largest relative contrast change (``1 +- contrast`` around the image mean).
        saturation: largest relative saturation change (``1 +- saturation`` around the gray image).
        grayscale_prob: probability of a gray image (3 equal channels).
    """

    box_shift: float = 0.1
    box_scale: float = 0.15
    flip_prob: float = 0.5
    brightness: float = 0.1
    contrast: float = 0.2
    saturation: float = 0.2
    grayscale_prob: float = 0.05

    def __post_init__(self) -> None:
        for name in ('box_shift', 'box_scale', 'brightness', 'contrast', 'saturation'):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f'augment.{name} must be in [0, 1), got {getattr(self, name)}')
        for name in ('flip_prob', 'grayscale_prob'):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f'augment.{name} must be in [0, 1], got {getattr(self, name)}')


@dataclass(frozen=True)
class Box2SegLossSettings:
    """The mask loss: ``bce_weight * BCE + dice_weight * (1 - Dice)``, both per crop pixel, averaged over the batch.

    Attributes:
        bce_weight: weight of the binary cross-entropy on the logits.
        dice_weight: weight of the soft Dice loss on the probabilities (0 = BCE only).
    """

    bce_weight: float = 1.0
    dice_weight: float = 0.5

    def __post_init__(self) -> None:
        if self.bce_weight < 0 or self.dice_weight < 0 or self.bce_weight + self.dice_weight == 0:
            raise ValueError(f'loss weights must be >= 0 and not both 0, got {self.bce_weight}, {self.dice_weight}')


@dataclass(frozen=True)
class ValidationSettings:
    """Mean J (mask IoU in image pixels, ground-truth boxes in, no augmentation) on a fixed set of samples.

    Attributes:
        reader: the dataset layout (as in ``datasets``); None = no validation.
        root: its folder; relative to the YAML file's folder.
        split: the split, or None for the reader's default.
        samples: (frame, object) samples drawn once with the run's seed.
        interval: validate every this many steps (and at the end of the run).
    """

    reader: str | None = None
    root: str = ''
    split: str | None = None
    samples: int = 200
    interval: int = 500

    def __post_init__(self) -> None:
        if self.samples < 1 or self.interval < 1:
            raise ValueError(f'validation.samples and .interval must be >= 1, got {self.samples}, {self.interval}')


@dataclass(frozen=True)
class Box2SegTrainingConfig(RunSettings):
    """One Box2Seg training run.

    Attributes:
        network: the architecture and crop geometry (``Box2SegConfig``).
        init_checkpoint: a Box2Seg checkpoint to start from (its config must equal ``network``); relative to
            the YAML file's folder.
        datasets: the training data; only objects with an instance mask are used.
        min_mask_pixels: samples whose object has fewer mask pixels than this are skipped (redrawn).
        steps: optimizer steps in total.
        batch_size: crops per step (>= 2: the network has BatchNorm layers).
        optimizer: SGD or AdamW (``siamrcnn_ros.training.settings.OptimizerSettings``, its defaults: the same
            section means the same in both trainers' YAML files).
        schedule: learning rate over the steps (``ScheduleSettings``, its defaults).
        augment: box jitter, flip and colour changes.
        loss: BCE and Dice weights.
        validation: optional mean-J validation.
        seed: seeds the sampling, the augmentations, the initialisation and torch's RNG.
        device: ``'auto'``, ``'cpu'``, ``'cuda'``, ``'cuda:N'``; on CUDA the forward runs under bf16 autocast.
        checkpoint_interval: write a checkpoint every this many steps (and at the end).
        log_interval: TensorBoard scalars every this many steps.
        output_dir: checkpoints and TensorBoard logs; relative to the YAML file's folder.
    """

    network: Box2SegConfig = field(default_factory=Box2SegConfig)
    init_checkpoint: str | None = None
    datasets: tuple[DatasetSpec, ...] = ()
    min_mask_pixels: int = setting(16, low=1)
    steps: int = setting(2000, low=1)
    batch_size: int = 16
    optimizer: OptimizerSettings = field(default_factory=OptimizerSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    augment: Box2SegAugmentSettings = field(default_factory=Box2SegAugmentSettings)
    loss: Box2SegLossSettings = field(default_factory=Box2SegLossSettings)
    validation: ValidationSettings = field(default_factory=ValidationSettings)
    output_dir: str = 'runs/box2seg'

    SECTION = 'box2seg_training'

    def __post_init__(self) -> None:
        check_settings(self)
        if self.batch_size < 2:
            raise ValueError(f'batch_size must be >= 2 (BatchNorm needs two crops), got {self.batch_size}')



def load_box2seg_training_config(path: str | Path) -> Box2SegTrainingConfig:
    """Read a run's YAML file; dataset roots, the output folder and the init checkpoint are resolved
    against its folder.

    Raises:
        ValueError: not a YAML mapping, unknown keys (named) or invalid values.
        FileNotFoundError: no such file.
    """
    path = Path(path)
    config = read_yaml_dataclass(path, Box2SegTrainingConfig, 'box2seg_training')
    base = path.resolve().parent
    datasets = tuple(dataclasses.replace(spec, root=str(base / spec.root)) for spec in config.datasets)
    validation = config.validation
    if validation.reader is not None:
        validation = dataclasses.replace(validation, root=str(base / validation.root))
    init = None if config.init_checkpoint is None else str(base / config.init_checkpoint)
    return dataclasses.replace(config, datasets=datasets, validation=validation, init_checkpoint=init,
                               output_dir=str(base / config.output_dir))
