"""The node's parameters: one dataclass tree, the YAML file covers it, invalid values are refused with a reason.

The last test sets them on the real node through rclpy, as ``ros2 param set`` would.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT

pytest.importorskip('rclpy', reason='needs rclpy: run the tests through scripts/in-env')
import rclpy
from rclpy.parameter import Parameter

from siamrcnn_ros.node import parameters
from siamrcnn_ros.tracking.defaults import tracker_settings
from siamrcnn_ros.tracking.settings import TDPASettings
from siamrcnn_ros.tracking.tracker import TrackerSettings

pytestmark = pytest.mark.ros
CONFIG = REPO_ROOT / 'config' / 'siamrcnn.yaml'


def flatten(tree: dict, prefix: str = '') -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flatten(value, f'{prefix}{key}.'))
        else:
            out[f'{prefix}{key}'] = value
    return out


def config_values(path: Path = CONFIG) -> dict:
    return flatten(yaml.safe_load(path.read_text())['/**']['ros__parameters'])


def test_every_field_of_the_settings_is_a_described_parameter() -> None:
    names = set(parameters.default_values())
    assert names == set(parameters.SPECS)
    assert all(spec.description and spec.applies for spec in parameters.PARAMETERS)


def test_defaults_come_from_the_tracker_settings() -> None:
    values = parameters.default_values()
    assert values['tracker.tdpa.alpha'] == TDPASettings().alpha
    assert values['tracker.tdpa.max_gap'] == TDPASettings().max_gap
    assert values['tracker.variant'] == TrackerSettings().variant
    assert parameters.settings_from_values(values) == parameters.NodeSettings()


def test_the_yaml_file_sets_every_parameter_with_valid_values_of_the_right_type() -> None:
    values = config_values()
    defaults = parameters.default_values()
    assert set(values) == set(defaults)
    for name, value in values.items():
        assert type(value) is type(defaults[name]), f'{name}: {value!r} is not a {type(defaults[name]).__name__}'
    settings = parameters.settings_from_values(values)
    differing = {name for name in values if values[name] != defaults[name]}
    # the file turns on auto-activation for simple setups, and carries the demo preset's tuned tracker settings
    # (siamrcnn_ros.tracking.defaults.TUNED) where the node's own defaults are the paper's
    assert differing == {'auto_activate', 'tracker.tdpa.w_loc', 'tracker.search_shift', 'tracker.search_scale'}
    assert settings.tracker == tracker_settings('demo')
    assert settings.model.preset == 'demo'
    assert settings.mask.enabled is False


@pytest.mark.parametrize(('name', 'value', 'reason'), [
    ('tracker.tdpa.beta', 0.0, r'tracker.tdpa.beta must be a number in \(0.0, 1.0\], got 0.0'),
    ('tracker.tdpa.w_ff', 1.5, r'tracker.tdpa.w_ff must be a number in \[0.0, 1.0\]'),
    ('tracker.tdpa.max_gap', 0, r'tracker.tdpa.max_gap must be an integer in \[1, 1000000\]'),
    ('tracker.variant', 'kalman', "variant must be one of"),
    ('model.preset', 'huge', 'preset must be one of'),
    ('model.device', 'gpu', "device must be 'auto'"),
    ('model.checkpoint', '/nonexistent/weights.safetensors', 'is not a file'),
    ('image_qos.reliability', 'sometimes', 'reliability must be one of'),
    ('image_qos.depth', 0, 'image_qos.depth must be an integer in'),
    ('max_targets', 0, 'max_targets must be an integer in'),
    ('max_targets', 2.5, 'max_targets must be int, got 2.5'),
    ('debug_image', 'yes', 'debug_image must be bool'),
    ('no_image_warning_s', 0.0, 'no_image_warning_s must be a number in'),
])
def test_invalid_values_are_refused_with_the_reason(name: str, value: object, reason: str) -> None:
    values = parameters.default_values()
    values[name] = value
    with pytest.raises(ValueError, match=reason):
        parameters.settings_from_values(values)


def test_integers_are_accepted_for_floats_and_missing_values_are_named() -> None:
    values = parameters.default_values()
    values['tracker.tdpa.w_loc'] = 7
    assert parameters.settings_from_values(values).tracker.tdpa.w_loc == 7.0
    del values['max_targets']
    with pytest.raises(ValueError, match=r"missing parameters: \['max_targets'\]"):
        parameters.settings_from_values(values)


def test_descriptors_carry_ranges_choices_and_when_changes_apply() -> None:
    alpha = parameters.descriptor(parameters.SPECS['tracker.tdpa.alpha'], float)
    assert (alpha.floating_point_range[0].from_value, alpha.floating_point_range[0].to_value) == (0.0, 1.0)
    assert 'targets set after the change' in alpha.additional_constraints
    depth = parameters.descriptor(parameters.SPECS['image_qos.depth'], int)
    assert (depth.integer_range[0].from_value, depth.integer_range[0].to_value) == (1, 100)
    variant = parameters.descriptor(parameters.SPECS['tracker.variant'], str)
    assert 'tdpa, argmax, short_term' in variant.additional_constraints
    assert parameters.descriptor(parameters.SPECS['auto_activate'], bool).read_only


def test_the_node_declares_them_and_refuses_invalid_values_on_set(ros_domain_id: int) -> None:
    """The node's own on-set callback, through rclpy's set_parameters as ``ros2 param set`` would call it."""
    from siamrcnn_ros.node.node import SiamRCNNNode

    rclpy.init()
    try:
        node = SiamRCNNNode(parameter_overrides=[Parameter('tracker.tdpa.alpha', value=0.4)])
        assert node.get_parameter('tracker.tdpa.alpha').value == 0.4  # the override wins over the default
        assert node.get_parameter('model.preset').value == 'demo'
        refused = node.set_parameters([Parameter('tracker.tdpa.beta', value=0.0)])[0]
        assert not refused.successful
        assert 'tracker.tdpa.beta must be a number in (0.0, 1.0]' in refused.reason
        assert node.get_parameter('tracker.tdpa.beta').value == 0.3
        checkpoint = node.set_parameters([Parameter('model.checkpoint', value='/nonexistent.safetensors')])[0]
        assert not checkpoint.successful
        assert 'is not a file' in checkpoint.reason
        out_of_range = node.set_parameters([Parameter('tracker.tdpa.w_ff', value=3.0)])[0]
        assert not out_of_range.successful  # rclpy checks the descriptor's range first
        wrong_type = node.set_parameters([Parameter('max_targets', value='many')])[0]
        assert not wrong_type.successful
        read_only = node.set_parameters([Parameter('auto_activate', value=True)])[0]
        assert not read_only.successful
        accepted = node.set_parameters([Parameter('tracker.tdpa.beta', value=0.2)])[0]
        assert accepted.successful
        assert node.get_parameter('tracker.tdpa.beta').value == 0.2
        node.destroy_node()
    finally:
        rclpy.shutdown()
