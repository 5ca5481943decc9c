"""The Box2Seg training loop: mask samples -> crops -> BCE + Dice -> optimizer step, with checkpoints.

``Box2SegTrainer(config).run()`` trains ``config.steps`` steps of ``config.batch_size`` crops. Each
step's samples and augmentations are a pure function of ``(seed, step, index)``, the learning rate
a function of the step (``siamrcnn_ros.training.schedule.lr_factor``), and checkpoints hold the
weights, the optimizer and the RNG states (dropout in the ASPP draws from torch's RNG): so
``run(stop_at=N)`` followed by ``run(resume=True)`` gives the same weights as one uninterrupted run.
On CUDA the forward runs under bf16 autocast; on the CPU in float32. The optional validation
reports the mean J (mask IoU in image pixels) with ground-truth boxes.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from siamrcnn_ros.box2seg.checkpoints import load_box2seg_checkpoint_into
from siamrcnn_ros.box2seg.network import Box2SegNet
from siamrcnn_ros.box2seg.predictor import Box2Seg
from siamrcnn_ros.box2seg.training.losses import mask_losses
from siamrcnn_ros.box2seg.training.samples import MaskSample, SampleDrawer, mask_sample_table
from siamrcnn_ros.box2seg.training.settings import Box2SegTrainingConfig
from siamrcnn_ros.box2seg.training.state import save_box2seg_training_checkpoint
from siamrcnn_ros.datasets.videos import read_training_videos
from siamrcnn_ros.model.siamrcnn import resolve_device
from siamrcnn_ros.training.loop import train_steps
from siamrcnn_ros.training.precision import training_autocast
from siamrcnn_ros.training.schedule import build_optimizer, lr_factor
from siamrcnn_ros.training.state import (
    CheckpointPaths,
    load_training_state,
    resume_paths,
)


@dataclass(frozen=True)
class Box2SegTrainingResult:
    """What ``Box2SegTrainer.run`` did.

    Attributes:
        start_step: the step it started at (0, or the resumed checkpoint's).
        step: completed steps at the end.
        checkpoint: the network file of the last checkpoint written, or None.
        history: per step run, ``{'total', 'bce', 'dice', 'lr'}`` as floats.
        validation: ``(step, mean J)`` of each validation run.
        box_as_mask_j: mean J of the filled ground-truth boxes on the validation samples (the score to beat), or
            None without validation.
        seconds: wall time of the steps.
    """

    start_step: int
    step: int
    checkpoint: Path | None
    history: list[dict[str, float]]
    validation: list[tuple[int, float]]
    box_as_mask_j: float | None
    seconds: float


class Box2SegTrainer:
    """Trains a ``Box2SegNet`` as ``config`` says.

    Args:
        config: the run's settings.
        datasets: one list of ``AnnotatedVideo`` per entry of ``config.datasets`` (same order); None reads them
            with ``read_training_videos``.
        validation_videos: the validation videos; None reads ``config.validation`` (if it names a reader).
    """

    def __init__(self, config: Box2SegTrainingConfig, *, datasets: Sequence[Sequence[Any]] | None = None,
                 validation_videos: Sequence[Any] | None = None) -> None:
        self.config = config
        if datasets is None:
            if not config.datasets:
                raise ValueError('the config lists no datasets (datasets: [{reader: ..., root: ...}])')
            datasets = [read_training_videos(spec.root, spec.reader, spec.split) for spec in config.datasets]
        weights = [spec.weight for spec in config.datasets] if config.datasets else [1.0] * len(datasets)
        if len(weights) != len(datasets):
            raise ValueError(f'{len(datasets)} datasets given for {len(config.datasets)} in the config')
        self.drawer = SampleDrawer(datasets, weights, seed=config.seed, min_mask_pixels=config.min_mask_pixels)
        if validation_videos is None and config.validation.reader is not None:
            spec = config.validation
            validation_videos = read_training_videos(spec.root, spec.reader, spec.split)
        self.validation_samples = (self._validation_samples(validation_videos)
                                   if validation_videos is not None else [])
        self._box_as_mask_j: float | None = None
        self.device = resolve_device(config.device)
        torch.manual_seed(config.seed)  # the random initialisation follows the seed
        self.net = Box2SegNet(config.network)
        if config.init_checkpoint is not None:
            load_box2seg_checkpoint_into(self.net, config.init_checkpoint, expected_config=config.network)
        self.net.to(self.device)
        self.optimizer = build_optimizer(self.net.parameters(), self.config.optimizer)
        self.step = 0

    @property
    def output_dir(self) -> Path:
        return Path(self.config.output_dir)

    def run(self, *, resume: bool | str | Path = False, stop_at: int | None = None,
            progress: bool = True) -> Box2SegTrainingResult:
        """Train up to ``stop_at`` (default ``config.steps``) completed steps.

        Args:
            resume: False, True (the latest checkpoint under ``output_dir``, if any) or a ``step_*.safetensors``.
            stop_at: stop after this many completed steps (the schedule still spans ``config.steps``); a
                checkpoint is written there.
            progress: show a tqdm progress bar with the losses.
        """
        if resume:
            self._resume(resume)
        config = self.config
        end = config.steps if stop_at is None else min(int(stop_at), config.steps)
        validation: list[tuple[int, float]] = []

        def validate_every(step: int, final: bool, writer: Any, bar: Any) -> None:
            if self.validation_samples and (step % config.validation.interval == 0 or final):
                score = self.validate()
                validation.append((step, score))
                writer.add_scalar('validation/J', score, step)
                bar.write(f'step {step}: validation J {score:.3f} on {len(self.validation_samples)} samples '
                          f'(filled boxes: {self.box_as_mask_j():.3f})')

        done = train_steps(self, self._train_step, end=end, total=config.steps, desc='train box2seg',
                           log_interval=config.log_interval, checkpoint_interval=config.checkpoint_interval,
                           progress=progress, after_step=validate_every)
        baseline = self.box_as_mask_j() if self.validation_samples else None
        return Box2SegTrainingResult(done.start_step, done.step, done.checkpoint, done.history, validation, baseline,
                                     done.seconds)

    def save(self, paths: CheckpointPaths) -> CheckpointPaths:
        """Write a checkpoint of the current state to ``paths``."""
        save_box2seg_training_checkpoint(paths, self.net, self.config.network, self.optimizer, step=self.step,
                                         training_config=self.config.to_dict())
        return paths

    def validate(self) -> float:
        """Mean J (mask IoU in image pixels; 1 when both masks are empty) of the validation samples, GT boxes in.

        Runs the network in eval mode (the next training step switches back) and draws nothing from torch's
        RNG (no dropout in eval mode), so validating does not change the training.
        """
        predictor = Box2Seg(self.net, device=self.device)
        scores = []
        for sample in self.validation_samples:
            truth = sample.video.read_mask(sample.frame) == sample.obj + 1  # [H, W]
            mask = predictor.predict(sample.video.read_frame(sample.frame), sample.box[None])[0]
            union = np.count_nonzero(truth | mask)
            scores.append(np.count_nonzero(truth & mask) / union if union else 1.0)
        self.net.requires_grad_(True)
        return float(np.mean(scores))

    def box_as_mask_j(self) -> float:
        """Mean J of the validation samples' ground-truth boxes filled as masks (computed once): what a network
        must beat to add anything over the box."""
        if self._box_as_mask_j is None:
            scores = []
            for sample in self.validation_samples:
                truth = sample.video.read_mask(sample.frame) == sample.obj + 1  # [H, W]
                x0, y0, x1, y1 = np.round(sample.box).astype(int)
                filled = np.zeros_like(truth)
                filled[max(y0, 0):y1, max(x0, 0):x1] = True
                scores.append(np.count_nonzero(truth & filled) / max(np.count_nonzero(truth | filled), 1))
            self._box_as_mask_j = float(np.mean(scores))
        return self._box_as_mask_j

    # Internals ----------------------------------------------------------------------------------------

    def _train_step(self, step: int) -> dict[str, float]:
        config = self.config
        factor = lr_factor(step, config.steps, config.schedule)
        for group in self.optimizer.param_groups:
            group['lr'] = config.optimizer.lr * factor
        examples = [self.drawer.example(step, index, config.network, config.augment)
                    for index in range(config.batch_size)]
        crops = torch.stack([example.crop for example in examples]).to(self.device)  # [B, 4, S, S]
        targets = torch.stack([example.target for example in examples]).to(self.device)  # [B, 1, S, S]
        self.net.train()
        self.optimizer.zero_grad(set_to_none=True)
        with training_autocast(self.device):
            logits = self.net(crops)
        total, parts = mask_losses(logits, targets, config.loss)
        if not torch.isfinite(total):
            raise RuntimeError(f'step {step}: the loss is not finite ({float(total)})')
        total.backward()
        if config.optimizer.grad_clip_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), config.optimizer.grad_clip_norm)
        self.optimizer.step()
        return {'total': float(total.detach()), **{key: float(value.detach()) for key, value in parts.items()},
                'lr': config.optimizer.lr * factor}

    def _validation_samples(self, videos: Sequence[Any]) -> list[MaskSample]:
        """A fixed draw of ``validation.samples`` (object, frame) samples with a mask (seeded by the run's seed)."""
        table = mask_sample_table(videos)
        if not len(table):
            raise ValueError('the validation videos have no object with an instance mask')
        rng = np.random.default_rng([self.config.seed, 991])
        rows = rng.choice(len(table), size=min(self.config.validation.samples, len(table)), replace=False)
        samples = [MaskSample(videos[int(v)], int(o), int(f)) for v, o, f in table[np.sort(rows)]]
        # Objects hidden behind others have (almost) no mask pixels: J would measure nothing there.
        return [s for s in samples
                if np.count_nonzero(s.video.read_mask(s.frame) == s.obj + 1) >= self.config.min_mask_pixels]

    def _resume(self, resume: bool | str | Path) -> None:
        paths = resume_paths(self.output_dir, resume)
        if paths is None:
            return
        load_box2seg_checkpoint_into(self.net, paths.model, expected_config=self.config.network)
        self.step = load_training_state(paths.state, self.optimizer)
