"""`siamrcnn-doctor`: reports what this installation can do, for bug reports and first checks.

Prints one line per component (Python, PyTorch and its devices, torchvision, OpenCV, rclpy and
the RMW implementation, this package's messages) and exits non-zero if a component the tracker
cannot work without is missing. Also runs as `ros2 run siamrcnn_ros siamrcnn-doctor`.
"""
from __future__ import annotations

import argparse
import importlib
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    """One line of the report: a component, whether it works, and what was found."""

    name: str
    ok: bool
    detail: str
    required: bool


def _version_of(module_name: str) -> str:
    module = importlib.import_module(module_name)
    return str(getattr(module, '__version__', 'installed'))


def _torch_detail() -> str:
    import torch

    if torch.cuda.is_available():
        names = ', '.join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        return f'{torch.__version__}, CUDA {torch.version.cuda}: {names}'
    return f'{torch.__version__}, no CUDA device visible (the tracker runs on the CPU)'


def _rclpy_detail() -> str:
    import rclpy  # noqa: F401  (import check only)
    from rclpy.utilities import get_rmw_implementation_identifier

    return f'importable, RMW {get_rmw_implementation_identifier()}'


def _messages_detail() -> str:
    from siamrcnn_ros.msg import Track, TrackArray  # noqa: F401
    from siamrcnn_ros.srv import ClearTarget, SetTarget  # noqa: F401

    return 'siamrcnn_ros.msg and siamrcnn_ros.srv import'


def _run(name: str, probe: Callable[[], str], required: bool) -> Check:
    try:
        return Check(name, True, probe(), required)
    except Exception as error:  # report any failure of the probe, whatever its kind
        return Check(name, False, f'{type(error).__name__}: {error}', required)


def run_checks() -> list[Check]:
    """Runs every check; none raises."""
    return [
        Check('python', sys.version_info >= (3, 10), platform.python_version(), True),
        _run('torch', _torch_detail, True),
        _run('torchvision', lambda: _version_of('torchvision'), True),
        _run('opencv', lambda: _version_of('cv2'), True),
        _run('safetensors', lambda: _version_of('safetensors'), True),
        _run('rclpy', _rclpy_detail, False),
        _run('messages', _messages_detail, False),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='siamrcnn-doctor', description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    checks = run_checks()
    width = max(len(check.name) for check in checks)
    for check in checks:
        mark = 'ok  ' if check.ok else ('FAIL' if check.required else 'miss')
        print(f'{mark} {check.name:<{width}}  {check.detail}')
    failed = [check.name for check in checks if check.required and not check.ok]
    if failed:
        print(f'siamrcnn-doctor: missing required components: {", ".join(failed)}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
