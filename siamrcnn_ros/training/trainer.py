"""The training loop (SPEC §4): pairs -> examples -> actor losses -> optimizer step, with checkpoints.

``Trainer(config).run()`` trains ``config.steps`` optimizer steps of ``config.batch_size`` examples:

* ``phase='head'``: the Siamese cascade head only; backbone, FPN and RPN stay frozen in eval mode
  (SPEC §2: only the re-detection head is trained for tracking).
* ``phase='detector'``: backbone, FPN and RPN, class-agnostic, with torchvision's RPN losses.
* ``phase='joint'``: all of it at once (RPN losses + cascade losses), for backbones trained from scratch.

Each step draws its pairs and augmentations from ``(seed, step, index)``; the learning rate is a
function of the step; checkpoints hold the weights, the optimizer and the RNG states (``state.py``).
So ``run(stop_at=N)`` followed by ``run(resume=True)`` gives the same weights as one uninterrupted run.
On CUDA the forward passes run under bf16 autocast (no loss scaling needed); on the CPU in float32.

Hard example mining (SPEC §4) plugs in through ``hard_negatives``: a callable giving, for a pair and
the step, ``[E, C, P, P]`` RoI features of other videos' objects (or None), passed to the loss as
extra negatives; ``hard_examples: {enabled: true}`` in the YAML builds ``hard_examples.HardExampleMiner``.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from siamrcnn_ros.model.checkpoints import load_checkpoint_into, load_detector_into, read_checkpoint
from siamrcnn_ros.model.config import ModelConfig, get_preset
from siamrcnn_ros.model.siamrcnn import SiamRCNN, build_model
from siamrcnn_ros.training.actors import detector_losses, head_losses, joint_losses
from siamrcnn_ros.training.examples import example_rng, make_detection_example, make_pair_example, torch_generator
from siamrcnn_ros.training.loop import train_steps
from siamrcnn_ros.training.pairs import Pair, PairSampler
from siamrcnn_ros.training.precision import training_autocast
from siamrcnn_ros.training.schedule import build_optimizer, lr_factor
from siamrcnn_ros.training.settings import TrainingConfig
from siamrcnn_ros.training.state import (
    CheckpointPaths,
    load_training_state,
    resume_paths,
    save_training_checkpoint,
)

HardNegatives = Callable[[Pair, int], Tensor | None]


@dataclass(frozen=True)
class TrainingResult:
    """What ``Trainer.run`` did.

    Attributes:
        start_step: the step it started at (0, or the resumed checkpoint's).
        step: the number of completed steps at the end.
        checkpoint: the model file of the last checkpoint written, or None.
        history: per step run, the batch-mean losses (``'total'`` and each part) as floats.
        seconds: wall time of the steps.
    """

    start_step: int
    step: int
    checkpoint: Path | None
    history: list[dict[str, float]]
    seconds: float


def model_config_of(config: TrainingConfig) -> ModelConfig:
    """The model config of a run: its preset with its overrides."""
    preset = get_preset(config.model.preset)
    return preset.with_overrides(config.model.overrides) if config.model.overrides else preset


class Trainer:
    """Trains a ``SiamRCNN`` as ``config`` says.

    Args:
        config: the run's settings.
        datasets: one list of ``AnnotatedVideo`` per entry of ``config.datasets`` (same order); None reads
            them with ``read_training_videos``. Given datasets without ``config.datasets`` get weight 1 each.
        hard_negatives: optional provider of extra negative RoI features per pair (hard example mining); when
            None and ``config.hard_examples.enabled`` (head phase), the video hard example miner
            (``hard_examples.build_hard_example_miner``) is built on all the datasets' videos.

    Raises:
        ValueError: inconsistent settings (e.g. per-stage tuples that do not match the head's stages).
    """

    def __init__(self, config: TrainingConfig, *, datasets: Sequence[Sequence[Any]] | None = None,
                 hard_negatives: HardNegatives | None = None) -> None:
        self.config = config
        self.model_config = model_config_of(config)
        stages = self.model_config.head.num_stages
        for name, value in (('loss.cls_weights', config.loss.cls_weights),
                            ('roi_sampling.batch_size_per_image', config.roi_sampling.batch_size_per_image)):
            if len(value) != stages:
                raise ValueError(f'{name} has {len(value)} entries but the model head has {stages} stages')
        if datasets is None:
            if not config.datasets:
                raise ValueError('the config lists no datasets (datasets: [{reader: ..., root: ...}])')
            from siamrcnn_ros.datasets.videos import read_training_videos
            datasets = [read_training_videos(spec.root, spec.reader, spec.split) for spec in config.datasets]
            weights = [spec.weight for spec in config.datasets]
        elif config.datasets:
            if len(config.datasets) != len(datasets):
                raise ValueError(f'{len(datasets)} datasets given for {len(config.datasets)} in the config')
            weights = [spec.weight for spec in config.datasets]
        else:
            weights = [1.0] * len(datasets)
        self.sampler = PairSampler(datasets, weights, max_frame_gap=config.pairs.max_frame_gap, seed=config.seed,
                                   objects_per_pair=config.pairs.objects_per_pair)
        # The model's random initialisation (the head, and everything in the detector phase) follows the seed.
        torch.manual_seed(config.seed)
        init, head_only = config.model.init_checkpoint, False
        if init is not None and config.phase == 'head':
            # A head phase may start from a detector checkpoint with another head design: then only the
            # backbone, FPN and RPN are taken from it and the head starts from the seed.
            head_only = read_checkpoint(init).config.differences(self.model_config) not in ([], ['name'])
        self.model: SiamRCNN = build_model(self.model_config, checkpoint=None if head_only else init,
                                           detector_weights=config.model.detector_weights, device=config.device,
                                           precision='bf16')
        if head_only:
            load_detector_into(self.model, init, self.model_config)
        if hard_negatives is None and config.hard_examples.enabled and config.phase == 'head':
            hard_negatives = self._build_miner([video for videos in datasets for video in videos])
        self.hard_negatives = hard_negatives
        self._set_trainable()
        parameters = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = build_optimizer(parameters, self.config.optimizer)
        self.step = 0

    @property
    def output_dir(self) -> Path:
        return Path(self.config.output_dir)

    def run(self, *, resume: bool | str | Path = False, stop_at: int | None = None,
            progress: bool = True) -> TrainingResult:
        """Train up to ``stop_at`` (default: ``config.steps``) completed steps.

        Args:
            resume: False (start from the current state), True (the latest checkpoint under
                ``output_dir``, if any) or a checkpoint's model file (``step_*.safetensors``).
            stop_at: stop after this many completed steps (the schedule still spans ``config.steps``);
                a checkpoint is written there.
            progress: show a tqdm progress bar with the losses.
        """
        if resume:
            self._resume(resume)
        end = self.config.steps if stop_at is None else min(int(stop_at), self.config.steps)
        with _ExampleLoader(self._make_examples, self.config.data_threads) as loader:
            done = train_steps(self, lambda step: self._train_step(step, loader.get(step, end)), end=end,
                               total=self.config.steps, desc=f'train {self.config.phase}',
                               log_interval=self.config.log_interval,
                               checkpoint_interval=self.config.checkpoint_interval, progress=progress)
        return TrainingResult(done.start_step, done.step, done.checkpoint, done.history, done.seconds)

    def save(self, paths: CheckpointPaths) -> CheckpointPaths:
        """Write a checkpoint of the current state to ``paths``."""
        save_training_checkpoint(paths, self.model, self.model_config, self.optimizer, step=self.step,
                                 training_config=self.config.to_dict(), phase=self.config.phase)
        return paths

    # Internals ----------------------------------------------------------------------------------------

    def _make_examples(self, step: int) -> list[tuple[Pair, Any]]:
        """The pairs of ``step`` with their augmented examples (a pure function of the seed and the step)."""
        config, transform = self.config, self.model_config.transform
        pairs = self.sampler.batch(step, config.batch_size)
        if config.phase == 'detector':
            return [(pair, make_detection_example(pair, example_rng(config.seed, step, index), config.augment,
                                                  transform)) for index, pair in enumerate(pairs)]
        return [(pair, make_pair_example(pair, example_rng(config.seed, step, index), config.augment, transform,
                                         config.roi_sampling.trajectory_boxes)) for index, pair in enumerate(pairs)]

    def _train_step(self, step: int, examples: list[tuple[Pair, Any]]) -> dict[str, float]:
        config = self.config
        factor = lr_factor(step, config.steps, config.schedule)
        for group in self.optimizer.param_groups:
            group['lr'] = config.optimizer.lr * factor
        self._set_modes()
        self.optimizer.zero_grad(set_to_none=True)
        sums: dict[str, float] = {}
        for index, (pair, example) in enumerate(examples):
            with training_autocast(self.model.device):
                if config.phase == 'head':
                    negatives = self.hard_negatives(pair, step) if self.hard_negatives is not None else None
                    total, parts = head_losses(self.model, example, config, torch_generator(config.seed, step, index),
                                               extra_negative_features=negatives)
                elif config.phase == 'joint':
                    total, parts = joint_losses(self.model, example, config, torch_generator(config.seed, step, index))
                else:
                    total, parts = detector_losses(self.model, example)
            if not torch.isfinite(total):
                raise RuntimeError(f'step {step}: the loss is not finite ({float(total)}); parts: '
                                   f'{ {k: float(v) for k, v in parts.items()} }')
            (total / config.batch_size).backward()
            for key, value in {'total': total, **parts}.items():
                sums[key] = sums.get(key, 0.0) + float(value.detach()) / config.batch_size
        if config.optimizer.grad_clip_norm > 0:
            parameters = [p for group in self.optimizer.param_groups for p in group['params']]
            torch.nn.utils.clip_grad_norm_(parameters, config.optimizer.grad_clip_norm)
        self.optimizer.step()
        sums['lr'] = config.optimizer.lr * factor
        return sums

    def _build_miner(self, videos: list[Any]) -> HardNegatives:
        """The video hard example miner of ``config.hard_examples`` (its cache under the output folder by default)."""
        from siamrcnn_ros.training.hard_examples import build_hard_example_miner
        settings = self.config.hard_examples
        cache_dir = settings.cache_dir if settings.cache_dir is not None else self.output_dir / 'hard_examples'
        return build_hard_example_miner(self.model, videos, settings, seed=self.config.seed, cache_dir=cache_dir)

    def _set_trainable(self) -> None:
        self.model.requires_grad_(False)
        if self.config.phase == 'head':
            self.model.head.requires_grad_(True)
        elif self.config.phase == 'joint':
            self.model.requires_grad_(True)
        else:
            self.model.backbone.requires_grad_(True)
            self.model.rpn.requires_grad_(True)
        if self.model.config.backbone.pretrained_trunk:  # an ImageNet trunk from a wheel stays as it is
            self.model.backbone.body.requires_grad_(False)

    def _set_modes(self) -> None:
        self.model.train()  # the head only (SiamRCNN.train keeps backbone and RPN in eval)
        if self.config.phase in ('detector', 'joint'):
            self.model.backbone.train()
            self.model.rpn.train()

    def _resume(self, resume: bool | str | Path) -> None:
        paths = resume_paths(self.output_dir, resume)
        if paths is None:
            return
        load_checkpoint_into(self.model, paths.model, expected_config=self.model_config)
        self._set_trainable()
        self.step = load_training_state(paths.state, self.optimizer)


def steps_per_second(result: TrainingResult) -> float:
    """Completed steps per second of wall time in ``result`` (NaN when no step ran)."""
    count = result.step - result.start_step
    return count / result.seconds if count and result.seconds > 0 else math.nan


class _ExampleLoader:
    """Makes each step's examples, with ``threads > 0`` one step ahead in a thread pool (file reading,
    decoding and OpenCV augmentation release the GIL) while the current step trains. Examples are a
    pure function of ``(seed, step)``, so the threads change the speed, never the result."""

    def __init__(self, make: Callable[[int], list[tuple[Pair, Any]]], threads: int) -> None:
        self._make = make
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix='examples') if threads > 0 else None
        self._pending: dict[int, Future[list[tuple[Pair, Any]]]] = {}

    def get(self, step: int, end: int) -> list[tuple[Pair, Any]]:
        """The examples of ``step``; starts making those of ``step + 1`` when it is before ``end``."""
        if self._pool is None:
            return self._make(step)
        future = self._pending.pop(step, None) or self._pool.submit(self._make, step)
        if step + 1 < end and step + 1 not in self._pending:
            self._pending[step + 1] = self._pool.submit(self._make, step + 1)
        return future.result()

    def __enter__(self) -> _ExampleLoader:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            for future in self._pending.values():
                future.cancel()
            self._pool.shutdown(wait=True)
