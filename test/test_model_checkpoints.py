"""The project's safetensors checkpoints: exact round trips and clear refusals."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from siamrcnn_ros.model.checkpoints import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    Checkpoint,
    CheckpointError,
    load_checkpoint_into,
    read_checkpoint,
    save_checkpoint,
)
from siamrcnn_ros.model.config import PRESETS, HeadConfig, ModelConfig
from siamrcnn_ros.model.head import CascadeRedetectionHead

C = 8
CONFIG = PRESETS['demo'].with_overrides({'head.representation_size': 16, 'name': 'tiny'})


def tiny_head(seed: int, head_config: HeadConfig = CONFIG.head) -> CascadeRedetectionHead:
    torch.manual_seed(seed)
    return CascadeRedetectionHead(head_config, in_channels=C).eval()


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    path = tmp_path / 'head.safetensors'
    save_checkpoint(path, tiny_head(0), CONFIG, extra_metadata={'run': 'unit-test'})
    return path


def test_round_trip_reproduces_outputs_bitwise(saved: Path) -> None:
    original, restored = tiny_head(0), tiny_head(1)
    reference = torch.randn(1, C, 7, 7, generator=torch.Generator().manual_seed(2))
    roi = torch.randn(5, C, 7, 7, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert not torch.equal(original.target_probability(reference, roi), restored.target_probability(reference, roi))
        config = load_checkpoint_into(restored, saved, expected_config=CONFIG)
        assert torch.equal(original.target_probability(reference, roi), restored.target_probability(reference, roi))
    assert config == CONFIG
    for key, value in original.state_dict().items():
        assert torch.equal(value, restored.state_dict()[key])


def test_read_checkpoint_gives_config_tensors_and_metadata(saved: Path) -> None:
    checkpoint = read_checkpoint(saved)
    assert isinstance(checkpoint, Checkpoint)
    assert checkpoint.config == CONFIG
    assert checkpoint.metadata['format'] == CHECKPOINT_FORMAT
    assert checkpoint.metadata['version'] == str(CHECKPOINT_VERSION)
    assert checkpoint.metadata['run'] == 'unit-test'
    assert ModelConfig.from_dict(json.loads(checkpoint.metadata['config'])) == CONFIG
    assert checkpoint.metadata['created'][:4].isdigit()
    assert set(checkpoint.state_dict) == set(tiny_head(0).state_dict())


def test_save_is_atomic_and_overwrites(saved: Path) -> None:
    save_checkpoint(saved, tiny_head(5), CONFIG)
    assert os.listdir(saved.parent) == [saved.name]  # no temporary file left behind
    mask = os.umask(0o022)
    os.umask(mask)
    assert saved.stat().st_mode & 0o777 == 0o666 & ~mask  # a new file's mode, not the temporary file's 0600
    restored = tiny_head(0)
    load_checkpoint_into(restored, saved)
    assert torch.equal(restored.stages[2].cls_score.weight, tiny_head(5).stages[2].cls_score.weight)


class Tied(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Linear(4, 4)
        self.decoder = nn.Linear(4, 4)
        self.decoder.weight = self.encoder.weight


def test_shared_tensors_are_saved(tmp_path: Path) -> None:
    torch.manual_seed(0)
    module = Tied()
    save_checkpoint(tmp_path / 'tied.safetensors', module, CONFIG)
    torch.manual_seed(1)
    restored = Tied()
    load_checkpoint_into(restored, tmp_path / 'tied.safetensors')
    assert torch.equal(restored.encoder.weight, module.encoder.weight)
    assert restored.decoder.weight is restored.encoder.weight


def test_reserved_metadata_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match='reserved'):
        save_checkpoint(tmp_path / 'x.safetensors', tiny_head(0), CONFIG, extra_metadata={'version': '7'})


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r'nowhere\.safetensors: no such file'):
        read_checkpoint(tmp_path / 'nowhere.safetensors')


def test_truncated_file(saved: Path) -> None:
    data = saved.read_bytes()
    truncated = saved.with_name('truncated.safetensors')
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r'truncated\.safetensors: not a readable safetensors file'):
        read_checkpoint(truncated)


def test_random_bytes_file(tmp_path: Path) -> None:
    path = tmp_path / 'noise.safetensors'
    path.write_bytes(bytes(torch.randint(0, 256, (1000,), generator=torch.Generator().manual_seed(0),
                                         dtype=torch.uint8).tolist()))
    with pytest.raises(CheckpointError, match=r'noise\.safetensors: not a readable safetensors file'):
        read_checkpoint(path)


def test_safetensors_file_without_our_metadata(tmp_path: Path) -> None:
    path = tmp_path / 'foreign.safetensors'
    save_file(tiny_head(0).state_dict(), str(path))
    with pytest.raises(CheckpointError, match=r'foreign\.safetensors: not a siamrcnn_ros checkpoint'):
        read_checkpoint(path)
    other = tmp_path / 'other_format.safetensors'
    save_file({'w': torch.zeros(2)}, str(other), metadata={'format': 'pt'})
    with pytest.raises(CheckpointError, match=r"other_format\.safetensors: not a siamrcnn_ros checkpoint.*'pt'"):
        read_checkpoint(other)


def _write_raw(path: Path, **metadata: str) -> Path:
    save_file({'w': torch.zeros(2)}, str(path), metadata={'format': CHECKPOINT_FORMAT, **metadata})
    return path


def test_future_version_is_refused(tmp_path: Path) -> None:
    path = _write_raw(tmp_path / 'future.safetensors', version=str(CHECKPOINT_VERSION + 1),
                      config=json.dumps(CONFIG.to_dict()))
    with pytest.raises(CheckpointError, match=rf'future\.safetensors: written by a newer siamrcnn_ros '
                                              rf'\(checkpoint version {CHECKPOINT_VERSION + 1}'):
        read_checkpoint(path)


@pytest.mark.parametrize(('metadata', 'problem'), [
    ({'config': '{}'}, 'missing or invalid version'),
    ({'version': 'one', 'config': '{}'}, "invalid version 'one'"),
    ({'version': '0', 'config': '{}'}, 'unsupported checkpoint version 0'),
    ({'version': '1'}, 'no model config'),
    ({'version': '1', 'config': '{not json'}, 'not valid JSON'),
    ({'version': '1', 'config': '{"head": {"depth": 3}}'}, r'unknown key\(s\) in config\.head: config\.head\.depth'),
    ({'version': '1', 'config': '{"backbone": {"name": "vgg"}}'}, "backbone name must be one of"),
])
def test_bad_metadata_is_refused(tmp_path: Path, metadata: dict[str, str], problem: str) -> None:
    path = _write_raw(tmp_path / 'bad.safetensors', **metadata)
    with pytest.raises(CheckpointError, match=rf'bad\.safetensors: .*{problem}'):
        read_checkpoint(path)


def test_other_preset_is_refused_naming_the_fields(tmp_path: Path) -> None:
    path = tmp_path / 'fast.safetensors'
    save_checkpoint(path, tiny_head(0), PRESETS['fast'])
    with pytest.raises(CheckpointError) as error:
        load_checkpoint_into(tiny_head(1), path, expected_config=PRESETS['paper'])
    message = str(error.value)
    assert 'fast.safetensors' in message
    assert "'fast'" in message
    assert "'paper'" in message
    for field in ('backbone.name', 'transform.min_size', 'rpn.post_nms_top_n', 'name'):
        assert field in message
    assert 'head.' not in message  # fast and paper share the head config


def test_state_dict_mismatch_lists_keys_and_shapes(saved: Path) -> None:
    gn_head = tiny_head(0, HeadConfig(head_type='4conv1fc_gn', representation_size=16, conv_dim=32))
    with pytest.raises(CheckpointError, match=r'head\.safetensors: does not fit.*missing key.*unexpected key'):
        load_checkpoint_into(gn_head, saved)
    wider = tiny_head(0, HeadConfig(head_type='2fc', representation_size=32))
    with pytest.raises(CheckpointError, match=r'shape mismatch.*stages\.0\.box_head\.fc6\.weight '
                                              r'\(file \(16, 392\), module \(32, 392\)\)'):
        load_checkpoint_into(wider, saved)


def test_checkpoint_error_is_a_value_error() -> None:
    assert issubclass(CheckpointError, ValueError)
