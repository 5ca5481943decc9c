"""Training of the re-detector (SPEC §4), split like pytracking's ltr: data -> model -> loss weighting -> trainer.

``settings`` (one YAML file per run) -> ``pairs`` / ``augment`` / ``examples`` (data) -> ``actors`` and
``losses`` (network outputs to weighted losses) -> ``trainer`` (loop, checkpoints, resume) -> ``cli``.
"""
from siamrcnn_ros.training.settings import TrainingConfig, load_training_config
from siamrcnn_ros.training.trainer import Trainer, TrainingResult

__all__ = ['Trainer', 'TrainingConfig', 'TrainingResult', 'load_training_config']
