"""What every training run's settings share (the re-detector's ``TrainingConfig`` and ``Box2SegTrainingConfig``):
the length of the run, its seed and device, the logging and checkpoint intervals, the output folder, and the
conversion to and from nested mappings (``settings_tree``)."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from siamrcnn_ros.settings_tree import build_dataclass, check_settings, setting

R = TypeVar('R', bound='RunSettings')


@dataclass(frozen=True)
class RunSettings:
    """The shared fields; a subclass redeclares a field to give it its own default.

    Attributes:
        steps: optimizer steps in total.
        seed: seeds the sampling, the augmentations, the initialisation and torch's RNG.
        device: ``'auto'``, ``'cpu'``, ``'cuda'``, ``'cuda:N'``.
        checkpoint_interval: write a checkpoint every this many steps (and at the end).
        log_interval: TensorBoard scalars every this many steps.
        output_dir: checkpoints and TensorBoard logs go here; relative to the YAML file's folder.
    """

    SECTION: ClassVar[str] = 'run'
    """How errors name the top level of the run's YAML file."""

    steps: int = setting(1000, low=1)
    seed: int = 0
    device: str = 'auto'
    checkpoint_interval: int = setting(500, low=1)
    log_interval: int = setting(10, low=1)
    output_dir: str = 'runs/train'

    def __post_init__(self) -> None:
        check_settings(self)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible nested dict (tuples become lists); ``from_dict`` inverts it."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls: type[R], data: dict[str, Any]) -> R:
        """Build from nested mappings; unknown keys raise ``ValueError`` naming them (dotted)."""
        return build_dataclass(cls, data, cls.SECTION)
