"""Message types of the bag tools: a ``rosbags`` typestore that knows this package's messages, and storage ids.

Bags are read and written with ``rosbags`` (pure Python, no ROS install needed: ENVIRONMENT.md); the bytes
inside are CDR as rclpy serialises them, so messages are decoded and encoded with ``rclpy.serialization``
into the same message classes the node uses. ``rosbags`` itself needs the type definitions only to record
them in the bag (the schema that ``ros2 bag``, Foxglove and other readers use), so our ``.msg`` files are
registered into its typestore here.

Bytes: rclpy's serializer leaves the alignment padding between fields as it finds it in memory, so the
same message serialised by two runs of a program differs in those bytes (seen with the Kilted pip wheels).
``cdr_bytes`` re-encodes through ``rosbags``, which writes zeros there: equal messages, equal bags.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rclpy.serialization import serialize_message
from rosbags.rosbag2 import StoragePlugin
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

PACKAGE = 'siamrcnn_ros'
STORAGES: dict[str, StoragePlugin] = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}
"""rosbag2 storage ids (``ros2 bag record -s ...``) -> the ``rosbags`` writer plugin."""
_SUFFIXES = {'.mcap': 'mcap', '.db3': 'sqlite3'}


def package_msg_dir() -> Path:
    """The folder holding this package's ``.msg`` files.

    The installed copy (``<prefix>/share/siamrcnn_ros/msg`` of an ament prefix on ``AMENT_PREFIX_PATH``: a
    ROS 2 install or a colcon workspace) comes first, because the rclpy classes were generated from it;
    else the source tree's ``msg/`` (a pip install of the repository).

    Raises:
        FileNotFoundError: neither has any ``.msg`` file.
    """
    candidates = [Path(prefix) / 'share' / PACKAGE / 'msg'
                  for prefix in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if prefix]
    candidates.append(Path(__file__).resolve().parents[2] / 'msg')
    for folder in candidates:
        if any(folder.glob('*.msg')):
            return folder
    raise FileNotFoundError(f'no .msg files of {PACKAGE} in {", ".join(str(c) for c in candidates)}: build the '
                            f'package (colcon build, or make setup) or run from the source tree')


def typestore_with_package_types(store: Stores = Stores.ROS2_KILTED) -> Typestore:
    """``store``'s standard ROS 2 types plus every ``siamrcnn_ros/msg/*`` type (from ``package_msg_dir``)."""
    typestore = get_typestore(store)
    types = {}
    for path in sorted(package_msg_dir().glob('*.msg')):
        types.update(get_types_from_msg(path.read_text(), f'{PACKAGE}/msg/{path.stem}'))
    typestore.register(types)
    return typestore


def bag_storage(path: Path) -> str:
    """The storage id (``'mcap'`` or ``'sqlite3'``) of the bag at ``path``: a bag folder or one storage file.

    Raises:
        ValueError: no ``.mcap`` or ``.db3`` file there (compressed and other storages are not supported).
    """
    files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
    found = {_SUFFIXES[p.suffix] for p in files if p.suffix in _SUFFIXES}
    if len(found) != 1:
        raise ValueError(f'{path} is not a rosbag2 bag with one storage: expected .mcap or .db3 files, found '
                         f'{", ".join(p.name for p in files) or "nothing"}')
    return found.pop()


def cdr_bytes(msg: Any, msgtype: str, typestore: Typestore) -> bytes:
    """An rclpy message as CDR bytes (what a subscriber receives), with zeroed padding (module docstring).

    Args:
        msg: the rclpy message.
        msgtype: its type, ``'pkg/msg/Type'``, known to ``typestore``.
        typestore: e.g. ``typestore_with_package_types()``.
    """
    decoded = typestore.deserialize_cdr(serialize_message(msg), msgtype)
    return bytes(typestore.serialize_cdr(decoded, msgtype))
