"""Settings of one training run (SPEC §4): nested frozen dataclasses, read from a YAML file.

One YAML file per run (pytracking's ``train_settings``): every section is optional and every key
has its default here, the only place a default lives. Unknown keys are refused with their dotted
names, so a typo never silently trains with a default. Per-stage tuples (loss weights, RoI
sampling) need one entry per cascade stage of the model; ``trainer.py`` checks that against the
model config.

Example (``tiny.yaml``)::

    model: {preset: demo, overrides: {transform.min_size: 128, transform.max_size: 192}}
    datasets: [{reader: synthetic, root: data/synthetic, split: train}]
    steps: 200
    batch_size: 2
    optimizer: {name: sgd, lr: 0.01}
    output_dir: runs/tiny
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from siamrcnn_ros.settings_tree import check_settings, read_yaml_dataclass, setting
from siamrcnn_ros.training.run_settings import RunSettings

PHASES = ('head', 'detector', 'joint')
OPTIMIZERS = ('sgd', 'adamw')
SCHEDULES = ('constant', 'step', 'cosine')
BOX_LOSSES = ('smooth_l1', 'l1')
HARD_EXAMPLE_INDEXES = ('auto', 'hnsw', 'flat')


@dataclass(frozen=True)
class TrainingModelSettings:
    """The network to train.

    Attributes:
        preset: a model preset name (``siamrcnn_ros.model.PRESETS``).
        overrides: dotted model-config fields replaced in the preset, e.g. ``{'transform.min_size': 256}``.
        init_checkpoint: one of our checkpoints (e.g. the result of a ``detector`` phase) to start from;
            its config must equal the preset with the overrides.
        detector_weights: a torchvision Faster R-CNN checkpoint for backbone + FPN + RPN (COCO weights),
            loaded after ``init_checkpoint``.
    """

    preset: str = 'demo'
    overrides: dict[str, Any] = field(default_factory=dict)
    init_checkpoint: str | None = None
    detector_weights: str | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """One training dataset, read by ``siamrcnn_ros.datasets.videos.read_training_videos``.

    Attributes:
        reader: the layout (``'synthetic'``, ``'got10k'``, ``'lasot'``, ``'trackingnet'``,
            ``'imagenet_vid'``, ``'youtube_vos'``, ``'coco'``).
        root: its folder; relative paths are relative to the YAML file's folder.
        split: the split to read, or None for the reader's default.
        weight: relative probability of drawing a pair from this dataset.
    """

    reader: str
    root: str
    split: str | None = None
    weight: float = 1.0

    def __post_init__(self) -> None:
        if not self.weight > 0:
            raise ValueError(f'dataset weight must be > 0, got {self.weight} for {self.root!r}')


@dataclass(frozen=True)
class OptimizerSettings:
    """Optimizer of the trained parameters.

    Attributes:
        name: ``'sgd'`` (with momentum) or ``'adamw'``.
        lr: base learning rate.
        momentum: SGD momentum (ignored by AdamW).
        weight_decay: L2 (SGD) or decoupled (AdamW) weight decay.
        betas: AdamW's betas.
        grad_clip_norm: clip the global gradient norm to this; 0 = no clipping.
    """

    name: str = 'sgd'
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    grad_clip_norm: float = 10.0

    def __post_init__(self) -> None:
        if self.name not in OPTIMIZERS:
            raise ValueError(f'optimizer.name must be one of {OPTIMIZERS}, got {self.name!r}')
        if not self.lr > 0:
            raise ValueError(f'optimizer.lr must be > 0, got {self.lr}')


@dataclass(frozen=True)
class ScheduleSettings:
    """Learning rate over the steps: a linear warm-up, then constant, step decay or cosine.

    Attributes:
        kind: ``'constant'``, ``'step'`` or ``'cosine'``.
        warmup_steps: steps of linear warm-up from ``warmup_factor * lr`` to ``lr``.
        warmup_factor: the fraction of ``lr`` at step 0.
        milestones: for ``'step'``: fractions of the total steps where the lr is multiplied by ``gamma``.
        gamma: the factor of each milestone.
        min_lr_factor: for ``'cosine'``: the lr at the last step as a fraction of ``lr``.
    """

    kind: str = 'step'
    warmup_steps: int = 100
    warmup_factor: float = 0.1
    milestones: tuple[float, ...] = (0.7, 0.9)
    gamma: float = 0.1
    min_lr_factor: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULES:
            raise ValueError(f'schedule.kind must be one of {SCHEDULES}, got {self.kind!r}')
        if self.warmup_steps < 0:
            raise ValueError(f'schedule.warmup_steps must be >= 0, got {self.warmup_steps}')


@dataclass(frozen=True)
class PairSettings:
    """Reference / target pairs (SPEC §4).

    Attributes:
        max_frame_gap: the target frame is at most this many frames before or after the reference.
        objects_per_pair: (head phase) how many objects of the two frames serve as references against the same target
            frame: the drawn object plus up to ``objects_per_pair - 1`` others visible in both frames (drawn
            at random). Each is a pair of its own for the losses (the others' boxes are its negatives), so the
            same RoIs are positive for one reference and negative for the next, and the head cannot lower its
            loss without comparing the RoI with the reference. The backbone and RPN run once per frame for all
            of them; only the head's cost grows. 1 (default) is the paper's one object per pair.
    """

    max_frame_gap: int = 100
    objects_per_pair: int = 1

    def __post_init__(self) -> None:
        if self.max_frame_gap < 0:
            raise ValueError(f'pairs.max_frame_gap must be >= 0, got {self.max_frame_gap}')
        if isinstance(self.objects_per_pair, bool) or not isinstance(self.objects_per_pair, int) \
                or self.objects_per_pair < 1:
            raise ValueError(f'pairs.objects_per_pair must be an int >= 1, got {self.objects_per_pair!r}')


@dataclass(frozen=True)
class AugmentSettings:
    """Augmentations (SPEC §4: motion blur, grayscale, gamma, flip, scale), drawn per image.

    Attributes:
        motion_blur_prob: probability of a linear motion blur.
        motion_blur_max_kernel: longest blur kernel, pixels of the resized image (odd lengths 3..this).
        grayscale_prob: probability of turning the image gray (3 equal channels).
        gamma_prob: probability of a gamma change.
        gamma_range: gamma drawn log-uniformly in this range.
        flip_prob: probability of a horizontal flip.
        scale_range: the short edge is drawn uniformly in ``scale_range * transform.min_size`` (and the long
            edge capped at the same multiple of ``transform.max_size``); ``(0.8, 1.0)`` is the paper's
            [640, 800] for an 800-pixel preset.
    """

    motion_blur_prob: float = 0.1
    motion_blur_max_kernel: int = 9
    grayscale_prob: float = 0.1
    gamma_prob: float = 0.3
    gamma_range: tuple[float, float] = (0.7, 1.5)
    flip_prob: float = 0.5
    scale_range: tuple[float, float] = (0.8, 1.0)

    def __post_init__(self) -> None:
        for name in ('motion_blur_prob', 'grayscale_prob', 'gamma_prob', 'flip_prob'):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f'augment.{name} must be in [0, 1], got {value}')
        low, high = self.scale_range
        if not 0 < low <= high:
            raise ValueError(f'augment.scale_range must satisfy 0 < low <= high, got {self.scale_range}')
        if not 0 < self.gamma_range[0] <= self.gamma_range[1]:
            raise ValueError(f'augment.gamma_range must satisfy 0 < low <= high, got {self.gamma_range}')


@dataclass(frozen=True)
class RoISamplingSettings:
    """Which RoIs of the target frame each cascade stage is trained on (SPEC §4).

    The candidates are the RPN proposals of the target frame plus every visible object's ground-truth
    box and ``gt_jitter_count`` jittered copies of each. Stage 0 samples ``batch_size_per_image[0]``
    of them with at most ``positive_fractions[0]`` positives; those RoIs run through the cascade
    (Cascade R-CNN), and stage k's loss is computed on a sample of the boxes it received, re-labelled
    with its own IoU threshold, of at most ``batch_size_per_image[k]`` with at most
    ``positive_fractions[k]`` positives. The default keeps every positive of the later stages: their
    share grows as the regression improves the boxes, which is what Cascade R-CNN relies on.

    Attributes:
        batch_size_per_image: RoIs per target frame, one entry per cascade stage.
        positive_fractions: largest fraction of positives among them, one entry per stage.
        gt_jitter_count: jittered ground-truth boxes added to the candidates.
        gt_jitter: largest jitter: centre shift as a fraction of width/height and log-scale change.
        trajectory_boxes: per reference object, its boxes from this many other frames of its video (drawn
            among the frames that show it) placed in the target frame as further candidates: where the object
            was or will be, so plain background unless it is still there (labelled by IoU like every RoI). The
            tracker adds the previous frame's boxes to the RoIs (SPEC §2); a head that never saw such a box on
            background during training may score it as the object, and a static background box makes a long,
            self-consistent tracklet for TDPA. 0 (default): none, as the paper.
    """

    batch_size_per_image: tuple[int, ...] = (64, 64, 64)
    positive_fractions: tuple[float, ...] = (0.25, 1.0, 1.0)
    gt_jitter_count: int = 8
    gt_jitter: float = 0.25
    trajectory_boxes: int = 0

    def __post_init__(self) -> None:
        if len(self.batch_size_per_image) != len(self.positive_fractions) or not self.batch_size_per_image:
            raise ValueError('roi_sampling.batch_size_per_image and positive_fractions need one entry per stage, '
                             f'got {self.batch_size_per_image} and {self.positive_fractions}')
        if any(n < 1 for n in self.batch_size_per_image):
            raise ValueError(f'roi_sampling.batch_size_per_image must be >= 1, got {self.batch_size_per_image}')
        if any(not 0 < p <= 1 for p in self.positive_fractions):
            raise ValueError(f'roi_sampling.positive_fractions must be in (0, 1], got {self.positive_fractions}')
        if isinstance(self.trajectory_boxes, bool) or not isinstance(self.trajectory_boxes, int) \
                or self.trajectory_boxes < 0:
            raise ValueError(f'roi_sampling.trajectory_boxes must be an int >= 0, got {self.trajectory_boxes!r}')


@dataclass(frozen=True)
class LossSettings:
    """Weights of the cascade losses (SPEC §4); one entry per stage.

    Attributes:
        cls_weights: weight of ``loss_cls_stage{k}``.
        box_weights: weight of ``loss_box_stage{k}``.
        box_loss: ``'smooth_l1'`` or ``'l1'`` on the encoded deltas of the positives.
        smooth_l1_beta: the smooth-L1 transition point (in encoded-delta units).
        hard_negative_scale: weight of the extra (hard) negatives in the classification loss relative to the
            sampled RoIs (SPEC §4: 0.12 in the reference); used only when they are given.
        identity_weight: (joint phase, not in the paper) weight of ``loss_identity``, a batch-hard triplet loss
            on the L2-normalised RoI features of the pair's reference objects in both frames, which teaches a
            backbone trained from scratch to tell objects apart the way an ImageNet / COCO backbone already
            does; needs ``pairs.objects_per_pair >= 2``. 0 = off.
        identity_margin: the triplet margin on those unit vectors (Euclidean distance).
    """

    cls_weights: tuple[float, ...] = (1.0, 1.0, 1.0)
    box_weights: tuple[float, ...] = (1.0, 1.0, 1.0)
    box_loss: str = 'smooth_l1'
    smooth_l1_beta: float = 1.0 / 9
    hard_negative_scale: float = 0.12
    identity_weight: float = 0.0
    identity_margin: float = 0.2

    def __post_init__(self) -> None:
        if len(self.cls_weights) != len(self.box_weights) or not self.cls_weights:
            raise ValueError(f'loss.cls_weights and box_weights need one entry per stage, got {self.cls_weights} '
                             f'and {self.box_weights}')
        if self.box_loss not in BOX_LOSSES:
            raise ValueError(f'loss.box_loss must be one of {BOX_LOSSES}, got {self.box_loss!r}')
        if not self.identity_weight >= 0 or not self.identity_margin > 0:
            raise ValueError(f'loss.identity_weight must be >= 0 and loss.identity_margin > 0, got '
                             f'{self.identity_weight} and {self.identity_margin}')


@dataclass(frozen=True)
class HardExampleSettings:
    """Video hard example mining (SPEC §4, paper §3.2): extra negatives from other videos' ground-truth boxes.

    When enabled (head phase), the trainer first caches the RoI features of every ground-truth box of the
    training videos (frozen backbone), trains a small embedding network with the batch-hard triplet loss on
    them, indexes all embeddings, and then at each step adds ``sampled`` of the ``neighbours`` nearest boxes
    of the reference box from other videos to the classification loss as negatives (weighted by
    ``loss.hard_negative_scale``). See ``siamrcnn_ros.training.hard_examples``.

    Attributes:
        enabled: mine hard negatives (head phase only).
        cache_dir: folder of the feature cache and the embedding (reused when they match the backbone, the
            videos and these settings); None = ``<output_dir>/hard_examples``; relative to the YAML folder.
        frame_stride: cache every this-many-th visible frame of each object (1 = every box, as in the paper).
        neighbours: nearest boxes of other videos retrieved per reference (10,000 in the paper; 50,000 for LaSOT).
        sampled: of those, drawn as extra negatives per pair (100 in the paper).
        index: ``'auto'`` (exact below 500,000 boxes, else HNSW), ``'hnsw'`` or ``'flat'`` (exact).
        hnsw_m: HNSW graph degree.
        ef_search: HNSW search breadth (raised to the number of neighbours asked for).
        embedding_dim: size of the box embedding.
        embedding_steps: optimizer steps of the embedding network.
        embedding_identities: objects per triplet batch (P).
        embedding_boxes: boxes per object per triplet batch (K).
        embedding_lr: Adam learning rate of the embedding network.
        triplet_margin: margin of the batch-hard triplet loss; null = soft margin.
    """

    enabled: bool = False
    cache_dir: str | None = None
    frame_stride: int = 1
    neighbours: int = 10000
    sampled: int = 100
    index: str = 'auto'
    hnsw_m: int = 32
    ef_search: int = 128
    embedding_dim: int = 128
    embedding_steps: int = 300
    embedding_identities: int = 16
    embedding_boxes: int = 4
    embedding_lr: float = 1e-3
    triplet_margin: float | None = 0.2

    def __post_init__(self) -> None:
        for name in ('frame_stride', 'neighbours', 'sampled', 'hnsw_m', 'ef_search', 'embedding_dim',
                     'embedding_steps', 'embedding_identities', 'embedding_boxes'):
            if getattr(self, name) < 1:
                raise ValueError(f'hard_examples.{name} must be >= 1, got {getattr(self, name)}')
        if self.embedding_boxes < 2:
            raise ValueError(f'hard_examples.embedding_boxes must be >= 2 (a positive per anchor), '
                             f'got {self.embedding_boxes}')
        if self.index not in HARD_EXAMPLE_INDEXES:
            raise ValueError(f'hard_examples.index must be one of {HARD_EXAMPLE_INDEXES}, got {self.index!r}')
        if not self.embedding_lr > 0:
            raise ValueError(f'hard_examples.embedding_lr must be > 0, got {self.embedding_lr}')


@dataclass(frozen=True)
class TrainingConfig(RunSettings):
    """One training run.

    Attributes:
        phase: ``'head'`` (Siam R-CNN: backbone + RPN frozen, the re-detection head trained),
            ``'detector'`` (backbone + FPN + RPN trained as a class-agnostic proposal network on the
            videos' boxes, for when no COCO weights are at hand) or ``'joint'`` (everything at once: the
            RPN losses of the target frame's objects plus the cascade losses, the backbone learning from
            both; for a backbone trained from scratch, whose proposal features alone do not tell objects
            apart; hard example mining needs the frozen backbone of ``'head'``).
        steps: optimizer steps in total.
        batch_size: pairs (head, joint) or images (detector) per step.
        seed: seeds the pair sampling, the augmentations, the model's initialisation and torch's RNG.
        device: ``'auto'``, ``'cpu'``, ``'cuda'``, ``'cuda:N'``; on CUDA the forward runs under bf16 autocast.
        checkpoint_interval: write a checkpoint every this many steps (and at the end).
        log_interval: TensorBoard scalars every this many steps.
        hard_examples: video hard example mining (off by default).
        data_threads: threads that read and augment the next step's examples while a step trains (0 = none:
            in the loop, best on a 2-core CPU; a few on a GPU machine, where the loop waits for the data).
        output_dir: checkpoints and TensorBoard logs go here; relative to the YAML file's folder.
    """

    model: TrainingModelSettings = field(default_factory=TrainingModelSettings)
    datasets: tuple[DatasetSpec, ...] = ()
    phase: str = setting('head', choices=PHASES)
    steps: int = setting(1000, low=1)
    batch_size: int = setting(2, low=1)
    optimizer: OptimizerSettings = field(default_factory=OptimizerSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    pairs: PairSettings = field(default_factory=PairSettings)
    augment: AugmentSettings = field(default_factory=AugmentSettings)
    roi_sampling: RoISamplingSettings = field(default_factory=RoISamplingSettings)
    loss: LossSettings = field(default_factory=LossSettings)
    hard_examples: HardExampleSettings = field(default_factory=HardExampleSettings)
    data_threads: int = setting(0, low=0)
    output_dir: str = 'runs/train'

    SECTION = 'training'

    def __post_init__(self) -> None:
        check_settings(self)
        if self.loss.identity_weight > 0 and (self.phase != 'joint' or self.pairs.objects_per_pair < 2):
            raise ValueError('loss.identity_weight > 0 needs phase: joint (it trains the backbone) and '
                             f'pairs.objects_per_pair >= 2 (negatives), got phase {self.phase!r} and '
                             f'objects_per_pair {self.pairs.objects_per_pair}')



def load_training_config(path: str | Path) -> TrainingConfig:
    """Read a run's YAML file; dataset roots, the output folder and the model's files are resolved against
    its folder.

    Raises:
        ValueError: the file is not a YAML mapping, has unknown keys (named) or invalid values.
        FileNotFoundError: no such file.
    """
    path = Path(path)
    config = read_yaml_dataclass(path, TrainingConfig, 'training')
    base = path.resolve().parent
    datasets = tuple(dataclasses.replace(spec, root=str(base / spec.root)) for spec in config.datasets)
    model = config.model
    if model.init_checkpoint is not None:
        model = dataclasses.replace(model, init_checkpoint=str(base / model.init_checkpoint))
    if model.detector_weights is not None and (base / model.detector_weights).is_file():
        # A file next to the YAML; anything else stays as written (a weights enum name, an absolute path).
        model = dataclasses.replace(model, detector_weights=str(base / model.detector_weights))
    hard_examples = config.hard_examples
    if hard_examples.cache_dir is not None:
        hard_examples = dataclasses.replace(hard_examples, cache_dir=str(base / hard_examples.cache_dir))
    return dataclasses.replace(config, model=model, datasets=datasets, hard_examples=hard_examples,
                               output_dir=str(base / config.output_dir))
