"""``siamrcnn-export``: a training checkpoint written again in float16, half the size, loading as float32."""
from __future__ import annotations

import pytest
import torch

from siamrcnn_ros.model import SiamRCNN
from siamrcnn_ros.model.checkpoints import CheckpointError, read_checkpoint, save_checkpoint
from siamrcnn_ros.model.config import PRESETS
from siamrcnn_ros.model.export import main

CONFIG = PRESETS['shapes'].with_overrides({'head.representation_size': 16, 'name': 'tiny'})


def test_export_halves_the_file_and_loads_back_within_float16_rounding(tmp_path) -> None:
    torch.manual_seed(0)
    model = SiamRCNN(CONFIG)
    source, shipped = tmp_path / 'step.safetensors', tmp_path / 'ship' / 'demo.safetensors'
    save_checkpoint(source, model, CONFIG)
    assert main([str(source), str(shipped), '--description', 'unit test']) == 0
    assert shipped.stat().st_size < 0.55 * source.stat().st_size
    stored = read_checkpoint(shipped)
    assert stored.config == CONFIG
    assert stored.metadata['description'] == 'unit test'
    assert stored.metadata['exported_from'] == 'step.safetensors'
    original = model.state_dict()
    for key, tensor in stored.state_dict.items():
        if original[key].is_floating_point():
            assert tensor.dtype == torch.float16, key
            assert torch.equal(tensor, original[key].half()), key
        else:  # integer buffers (BatchNorm counters) are kept as they are
            assert tensor.dtype == original[key].dtype, key
            assert torch.equal(tensor, original[key]), key
    restored = SiamRCNN(CONFIG)
    restored.load_state_dict(stored.state_dict)
    assert all(value.dtype == original[key].dtype for key, value in restored.state_dict().items())


def test_export_refuses_a_file_that_is_not_a_model_checkpoint(tmp_path, capsys) -> None:
    (tmp_path / 'bad.safetensors').write_bytes(b'not a checkpoint')
    assert main([str(tmp_path / 'bad.safetensors'), str(tmp_path / 'out.safetensors')]) == 1
    assert 'bad.safetensors' in capsys.readouterr().err
    assert not (tmp_path / 'out.safetensors').exists()
    with pytest.raises(CheckpointError):
        read_checkpoint(tmp_path / 'out.safetensors')
