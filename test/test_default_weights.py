"""The shipped demo checkpoint and how ``checkpoint`` arguments resolve (``siamrcnn_ros.model.default_weights``)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from siamrcnn_ros.model import build_model
from siamrcnn_ros.model.checkpoints import read_checkpoint
from siamrcnn_ros.model.default_weights import resolve_checkpoint, shipped_checkpoint

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO_CHECKPOINT = REPO_ROOT / 'checkpoints' / 'demo.safetensors'


@pytest.mark.parametrize('value', [None, 'none', 'NONE'])
def test_none_means_random_weights(value) -> None:
    assert resolve_checkpoint('demo', value) is None


def test_default_is_the_presets_shipped_file_and_only_presets_ship_one(tmp_path) -> None:
    assert shipped_checkpoint('demo', [tmp_path]) is None  # not there
    (tmp_path / 'demo.safetensors').write_bytes(b'x')
    assert shipped_checkpoint('demo', [tmp_path / 'missing', tmp_path]) == tmp_path / 'demo.safetensors'
    assert shipped_checkpoint('paper', [tmp_path]) is None  # no shipped checkpoint for this preset
    assert resolve_checkpoint('paper', 'default') is None
    assert resolve_checkpoint(None, 'default') is None  # an explicit ModelConfig
    assert resolve_checkpoint('demo', '') == resolve_checkpoint('demo', 'default') == DEMO_CHECKPOINT
    assert resolve_checkpoint('demo', '~/w.safetensors') == Path.home() / 'w.safetensors'


def test_the_demo_checkpoint_is_committed_small_and_loaded_by_the_demo_preset() -> None:
    assert DEMO_CHECKPOINT.is_file(), 'checkpoints/demo.safetensors must ship with the repository'
    assert DEMO_CHECKPOINT.stat().st_size <= 25 * 2 ** 20
    stored = read_checkpoint(DEMO_CHECKPOINT)
    assert stored.config.name == 'demo'
    model = build_model('demo', device='cpu')  # no checkpoint argument: the shipped one
    state = model.state_dict()
    for name, tensor in stored.state_dict.items():
        assert torch.equal(state[name].float(), tensor.float()), name
    random = build_model('demo', checkpoint=None, device='cpu')
    name = next(k for k in stored.state_dict if k.startswith('head.'))
    assert not torch.equal(random.state_dict()[name], state[name])


@pytest.mark.parametrize(('extra', 'warned'), [([], False), (['--checkpoint', 'none'], True)])
def test_track_tool_warns_only_without_trained_weights(tmp_path, extra, warned) -> None:
    image_dir = tmp_path / 'seq'
    image_dir.mkdir()
    import cv2
    import numpy as np
    for index in range(2):
        cv2.imwrite(str(image_dir / f'{index + 1:08d}.jpg'), np.full((120, 160, 3), 40 * index, np.uint8))
    done = subprocess.run([sys.executable, '-m', 'siamrcnn_ros.tools.track', str(image_dir), '--box', '40,30,30,30',
                           '--device', 'cpu', '--no-progress', '--output-dir', str(tmp_path / 'out'), *extra],
                          capture_output=True, text=True, timeout=300, check=True)
    assert ('random weights' in done.stderr) == warned


def test_loading_the_shipped_checkpoint_reads_the_file_once(monkeypatch) -> None:
    from siamrcnn_ros.model import checkpoints

    opened = []
    safe_open = checkpoints.safe_open

    def counting_open(path, *args, **kwargs):  # the real safetensors reader, counted
        opened.append(Path(path).name)
        return safe_open(path, *args, **kwargs)

    monkeypatch.setattr(checkpoints, 'safe_open', counting_open)
    build_model('demo', device='cpu')
    assert opened == ['demo.safetensors']
