"""The project environment: setup is cached, in-env gives the messages and the tools."""
from __future__ import annotations

import os
import subprocess

import pytest
from conftest import REPO_ROOT

pytestmark = pytest.mark.ros


def _run(*command: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {'PYTHONPATH', 'LD_LIBRARY_PATH', 'AMENT_PREFIX_PATH'}}
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, env=env)


def test_second_setup_does_nothing() -> None:
    """With nothing changed, setup-env skips every step (README: seconds on a second run)."""
    first = _run('scripts/setup-env')
    assert first.returncode == 0, first.stderr
    second = _run('scripts/setup-env')
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip().splitlines() == [
        '[setup] environment ready: scripts/in-env COMMAND runs a command inside it'
    ]


def test_in_env_imports_messages_from_a_plain_shell() -> None:
    """The README's check, run as a newcomer would: no sourcing, no PYTHONPATH."""
    result = _run('scripts/in-env', 'python', '-c',
                  'from siamrcnn_ros.msg import Track, Tracklet, TrackArray; print(Track.STATE_LOST)')
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '3'


def test_in_env_without_a_command_explains_usage() -> None:
    result = _run('scripts/in-env')
    assert result.returncode == 2
    assert 'usage: scripts/in-env COMMAND' in result.stderr


def test_doctor_reports_every_component() -> None:
    result = _run('scripts/in-env', 'siamrcnn-doctor')
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[1] for line in lines] == [
        'python', 'torch', 'torchvision', 'opencv', 'safetensors', 'rclpy', 'messages']
    assert all(line.startswith('ok') for line in lines), result.stdout
