"""The tracker core is plain PyTorch/NumPy: importing any of it never loads rclpy or ROS messages.

The node is a thin adapter; everything else must run where ROS is not installed (a training
server, a notebook). The core modules are imported in a fresh interpreter and sys.modules is
checked after each, so an import hidden anywhere in the import graph is caught.
"""
from __future__ import annotations

import pkgutil
import subprocess
import sys

from conftest import REPO_ROOT

# Subpackages and modules that make up the core; the ROS adapter (node, msg, srv) is the rest.
CORE_NAMES = {'boxes', 'model', 'tracking', 'evaluation', 'datasets', 'training', 'box2seg'}
ROS_MODULES = ('rclpy', 'sensor_msgs', 'std_msgs', 'cv_bridge', 'builtin_interfaces', 'siamrcnn_ros.msg')


def core_modules() -> list[str]:
    """Every module under the core names that exists in the source tree."""
    found = []
    for info in pkgutil.walk_packages([str(REPO_ROOT / 'siamrcnn_ros')], prefix='siamrcnn_ros.'):
        if info.name.split('.')[1] in CORE_NAMES:
            found.append(info.name)
    return sorted(found)


def test_core_modules_are_found() -> None:
    assert 'siamrcnn_ros.boxes' in core_modules()


def test_core_modules_do_not_import_ros() -> None:
    """Imports every core module in one fresh interpreter, checking sys.modules after each."""
    modules = core_modules()
    code = (f'import importlib, sys\n'
            f'for name in {modules!r}:\n'
            f'    importlib.import_module(name)\n'
            f'    leaked = [m for m in {ROS_MODULES!r} if m in sys.modules]\n'
            f'    if leaked:\n'
            f'        sys.exit(f"{{name}} imports {{leaked}}")\n'
            f'print(len({modules!r}))')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(len(modules))
