"""The checkpoints that ship with the package, and how a ``checkpoint`` argument is resolved.

One checkpoint is committed: ``checkpoints/demo.safetensors``, the ``demo`` preset trained on the
synthetic world (``checkpoints/README.md`` has its config and command). It lives at the repository
root in a source checkout, and in ``share/siamrcnn_ros/checkpoints`` of a ROS 2 install.

One vocabulary names a checkpoint everywhere: the ``checkpoint`` argument of ``build_model`` and
``build_box2seg``, ``--checkpoint`` of the tools, the node's ``model.checkpoint`` and ``mask.checkpoint``
(``names_default`` and ``names_none`` read it):

* ``'default'`` (``DEFAULT``): the preset's shipped checkpoint when it has one, else random weights;
* ``'none'`` or None: random weights (tests, timing, plumbing);
* a path: that file.

The Box2Seg network (``siamrcnn_ros.box2seg``) ships one checkpoint of its own, ``BOX2SEG_SHIPPED``
(``checkpoints/box2seg.safetensors``); ``resolve_box2seg_checkpoint`` reads the same three
kinds of value for it (``build_box2seg(checkpoint=...)``, ``--box2seg-checkpoint``, ``mask.checkpoint``).
"""
from __future__ import annotations

import contextlib
from pathlib import Path

DEFAULT = 'default'
NONE = 'none'

# Preset name -> file name in the checkpoints folder.
SHIPPED = {'demo': 'demo.safetensors'}
# The Box2Seg checkpoint's file name in the same folders (one network for every preset).
BOX2SEG_SHIPPED = 'box2seg.safetensors'

_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # .../siamrcnn_ros


def checkpoint_folders() -> list[Path]:
    """Where shipped checkpoints are looked for, in order: the source tree, then the ROS 2 share folder."""
    folders = [_PACKAGE_DIR.parent / 'checkpoints']
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
    except ImportError:  # no ROS environment: only the source tree
        return folders
    with contextlib.suppress(PackageNotFoundError, ValueError):  # not installed as a ROS package
        folders.append(Path(get_package_share_directory('siamrcnn_ros')) / 'checkpoints')
    return folders


def shipped_checkpoint(preset: str, folders: list[Path] | None = None) -> Path | None:
    """The shipped checkpoint of ``preset``, or None when it has none or the file is not there.

    ``folders``: where to look; default ``checkpoint_folders()``.
    """
    name = SHIPPED.get(preset)
    return None if name is None else _find_shipped(name, folders)


def shipped_box2seg_checkpoint(folders: list[Path] | None = None) -> Path | None:
    """The shipped Box2Seg checkpoint (``BOX2SEG_SHIPPED``), or None when the file is not there."""
    return _find_shipped(BOX2SEG_SHIPPED, folders)


def _find_shipped(name: str, folders: list[Path] | None) -> Path | None:
    for folder in checkpoint_folders() if folders is None else folders:
        if (folder / name).is_file():
            return folder / name
    return None


def names_default(checkpoint: str | Path | None) -> bool:
    """Whether a ``checkpoint`` argument means the shipped checkpoint: ``'default'`` (``''``, a ROS parameter left
    empty, reads the same)."""
    return isinstance(checkpoint, str) and checkpoint.lower() in ('', DEFAULT)


def names_none(checkpoint: str | Path | None) -> bool:
    """Whether a ``checkpoint`` argument means random weights: ``'none'`` (or None from Python)."""
    return checkpoint is None or (isinstance(checkpoint, str) and checkpoint.lower() == NONE)


def resolve_checkpoint(preset: str | None, checkpoint: str | Path | None) -> Path | None:
    """The file a ``checkpoint`` argument names (see the module docstring); None = random weights.

    Args:
        preset: the preset name the model is built from, or None for an explicit ``ModelConfig``
            (then ``'default'`` means random weights: only presets ship checkpoints).
        checkpoint: ``'default'``, ``'none'``, None, ``''`` (= ``'default'``) or a path.
    """
    if names_none(checkpoint):
        return None
    if names_default(checkpoint):
        return None if preset is None else shipped_checkpoint(preset)
    return Path(checkpoint).expanduser()


def resolve_box2seg_checkpoint(checkpoint: str | Path | None, folders: list[Path] | None = None) -> Path | None:
    """The Box2Seg file a ``checkpoint`` argument names; None = random weights (the caller warns).

    Args:
        checkpoint: ``'default'`` or ``''`` (the shipped ``BOX2SEG_SHIPPED`` if present, else None),
            ``'none'`` or None (random weights), or a path.
        folders: where the shipped file is looked for; default ``checkpoint_folders()``.
    """
    if names_none(checkpoint):
        return None
    if names_default(checkpoint):
        return shipped_box2seg_checkpoint(folders)
    return Path(checkpoint).expanduser()
