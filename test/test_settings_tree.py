"""``settings_tree``: the one converter from nested mappings to the project's frozen-dataclass settings."""
from __future__ import annotations

import json

import pytest

from siamrcnn_ros.box2seg.config import Box2SegConfig
from siamrcnn_ros.model.config import PRESETS, ModelConfig
from siamrcnn_ros.settings_tree import build_dataclass, flatten, unflatten
from siamrcnn_ros.tracking.defaults import tracker_settings
from siamrcnn_ros.tracking.tracker import TrackerSettings


def test_flatten_and_unflatten_round_trip_a_settings_tree() -> None:
    settings = tracker_settings('demo')
    flat = flatten(settings)
    assert flat['tdpa.w_loc'] == 0.0
    assert flat['search_shift'] == 0.5
    assert unflatten({'a.b': 1, 'a.c': 2, 'd': 3}) == {'a': {'b': 1, 'c': 2}, 'd': 3}
    assert build_dataclass(TrackerSettings, unflatten(flat), '') == settings


@pytest.mark.parametrize('name', sorted(PRESETS))
def test_every_model_preset_goes_through_json_and_back(name: str) -> None:
    config = PRESETS[name]
    assert ModelConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert Box2SegConfig.from_dict(json.loads(json.dumps(Box2SegConfig().to_dict()))) == Box2SegConfig()


def test_errors_name_the_field_by_its_dotted_path() -> None:
    with pytest.raises(ValueError, match=r'unknown key\(s\) in tdpa: tdpa\.alhpa'):
        build_dataclass(TrackerSettings, {'tdpa': {'alhpa': 0.3}}, '')
    with pytest.raises(ValueError, match=r'tdpa\.max_gap must be int'):
        build_dataclass(TrackerSettings, {'tdpa': {'max_gap': 1.5}}, '')
    with pytest.raises(ValueError, match=r'^tdpa\.gamma must be a number in \(0\.0, inf\]'):
        build_dataclass(TrackerSettings, {'tdpa': {'gamma': 0}}, '')
    with pytest.raises(ValueError, match=r'run\.tdpa\.beta must be float'):
        build_dataclass(TrackerSettings, {'tdpa': {'beta': 'high'}}, 'run')
    assert build_dataclass(TrackerSettings, {'tdpa': {'w_loc': 0}}, '').tdpa.w_loc == 0.0  # YAML's 0 for 0.0
