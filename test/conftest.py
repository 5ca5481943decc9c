"""Shared pytest setup: GPU tests skip without CUDA, with the reason shown."""
from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import pytest

TEST_DIR = Path(__file__).resolve().parent
REPO_ROOT = TEST_DIR.parent
sys.path.insert(0, str(TEST_DIR))  # test helpers (msg_samples, ...) import by name


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _cuda_available():
        return
    skip_gpu = pytest.mark.skip(reason='needs a CUDA GPU; none is visible to torch on this machine')
    for item in items:
        if 'gpu' in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture
def ros_domain_id(monkeypatch: pytest.MonkeyPatch) -> int:
    """A random DDS domain for one test, so concurrent runs on one machine do not hear each other."""
    domain = random.randint(1, 100)
    monkeypatch.setenv('ROS_DOMAIN_ID', str(domain))
    monkeypatch.setenv('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    assert os.environ['ROS_DOMAIN_ID'] == str(domain)
    return domain
