"""The node's lifecycle driven from another process, as a lifecycle manager would: configure, activate,
deactivate, cleanup, shutdown; services refuse while inactive; parameters are validated over the wire;
diagnostics report state, device (a CUDA request without a GPU is a warning) and a missing camera; the debug
image carries the source header. A configure with invalid parameters fails with the reason.
"""
from __future__ import annotations

import pytest

pytest.importorskip('rclpy', reason='needs rclpy: run the tests through scripts/in-env')
import numpy as np
import rclpy
import torch
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from lifecycle_msgs.msg import State, Transition
from lifecycle_msgs.srv import ChangeState, GetState
from node_processes import NODE_NAME, call, interrupt, spin_until, start_node
from rcl_interfaces.srv import SetParameters
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from siamrcnn_ros.msg import Box
from siamrcnn_ros.node.conversions import ns_to_stamp
from siamrcnn_ros.node.images import rgb_to_image_msg
from siamrcnn_ros.srv import SetTarget

pytestmark = pytest.mark.ros
TIMEOUT_S = 120.0
BOX = Box(x_min=10.0, y_min=10.0, x_max=60.0, y_max=50.0)


class Client:
    """The test's side: lifecycle, parameter and target services, diagnostics, debug images."""

    def __init__(self, node: rclpy.node.Node) -> None:
        self.node = node
        self.change = node.create_client(ChangeState, f'{NODE_NAME}/change_state')
        self.get = node.create_client(GetState, f'{NODE_NAME}/get_state')
        self.set_parameters = node.create_client(SetParameters, f'{NODE_NAME}/set_parameters')
        self.set_target = node.create_client(SetTarget, f'{NODE_NAME}/set_target')
        self.status: DiagnosticStatus | None = None
        self.debug_images: list[Image] = []
        node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, 10)
        node.create_subscription(Image, f'{NODE_NAME}/debug_image', self.debug_images.append, 10)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith(f'{NODE_NAME}:'):
                self.status = status

    def value(self, key: str) -> str:
        return {kv.key: kv.value for kv in self.status.values}[key] if self.status else ''

    def transition(self, transition_id: int) -> bool:
        return call(self.node, self.change, ChangeState.Request(transition=Transition(id=transition_id)),
                    TIMEOUT_S).success

    def state(self) -> int:
        return call(self.node, self.get, GetState.Request(), TIMEOUT_S).current_state.id

    def wait_diagnostics(self, state: str) -> None:
        spin_until(self.node, lambda: self.value('state') == state, TIMEOUT_S, f'diagnostics with state {state}')

    def set_parameter(self, name: str, value: object) -> tuple[bool, str]:
        request = SetParameters.Request(parameters=[Parameter(name, value=value).to_parameter_msg()])
        result = call(self.node, self.set_parameters, request, TIMEOUT_S).results[0]
        return result.successful, result.reason


def test_lifecycle_driven_from_another_process(ros_domain_id: int, tmp_path) -> None:
    node_process = start_node(tmp_path, '-p', 'auto_activate:=false', '-p', 'model.device:=cuda',
                              '-p', 'no_image_warning_s:=1.0', '-r', 'image:=/cam/image')
    rclpy.init()
    try:
        client = Client(rclpy.create_node('lifecycle_test'))
        assert client.state() == State.PRIMARY_STATE_UNCONFIGURED
        client.wait_diagnostics('unconfigured')

        assert client.transition(Transition.TRANSITION_CONFIGURE)
        assert client.state() == State.PRIMARY_STATE_INACTIVE
        refused = call(client.node, client.set_target, SetTarget.Request(box=BOX), TIMEOUT_S)
        assert not refused.success
        assert 'inactive' in refused.message
        client.wait_diagnostics('inactive')
        if torch.cuda.is_available():
            assert client.value('device').startswith('cuda')
        else:  # the CUDA request fell back to the CPU: a warning, never silent
            assert client.value('device') == 'cpu'
            assert client.status.level == DiagnosticStatus.WARN
            assert 'falling back to the CPU' in client.status.message

        assert client.set_parameter('tracker.tdpa.beta', 0.0) == (False, 'tracker.tdpa.beta must be a number in '
                                                                         '(0.0, 1.0], got 0.0')
        assert client.set_parameter('tracker.tdpa.alpha', 0.5) == (True, '')

        assert client.transition(Transition.TRANSITION_ACTIVATE)
        assert client.state() == State.PRIMARY_STATE_ACTIVE
        spin_until(client.node, lambda: 'no image received' in (client.status.message if client.status else ''),
                   TIMEOUT_S, 'the no-image warning in diagnostics')
        _debug_image_has_the_source_header(client)

        assert client.transition(Transition.TRANSITION_DEACTIVATE)
        assert client.state() == State.PRIMARY_STATE_INACTIVE
        client.wait_diagnostics('inactive')
        assert client.value('targets') == '0'  # deactivate clears the targets
        assert client.transition(Transition.TRANSITION_CLEANUP)
        assert client.state() == State.PRIMARY_STATE_UNCONFIGURED
        client.wait_diagnostics('unconfigured')
        assert client.transition(Transition.TRANSITION_UNCONFIGURED_SHUTDOWN)
        assert client.state() == State.PRIMARY_STATE_FINALIZED
        client.node.destroy_node()
    finally:
        rclpy.shutdown()
        status = interrupt(node_process)
    log = (tmp_path / 'node.err').read_text()
    assert status == 0, log
    assert 'no image received on /cam/image for' in log
    assert 'inactive: targets cleared, model moved to the CPU (GPU memory released)' in log


def _debug_image_has_the_source_header(client: Client) -> None:
    node = client.node
    publisher = node.create_publisher(Image, '/cam/image', 10)
    spin_until(node, lambda: publisher.get_subscription_count() > 0, TIMEOUT_S, 'the image subscription')
    answer = call(node, client.set_target, SetTarget.Request(box=BOX), TIMEOUT_S)
    assert answer.success, answer.message
    rgb = np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    header = Header(stamp=ns_to_stamp(1_000_000_000), frame_id='cam')
    publisher.publish(rgb_to_image_msg(rgb, header))
    spin_until(node, lambda: len(client.debug_images) > 0, TIMEOUT_S, 'a debug image')
    debug = client.debug_images[0]
    assert debug.header == header
    assert (debug.height, debug.width, debug.encoding) == (96, 128, 'rgb8')
    client.wait_diagnostics('active')
    spin_until(node, lambda: client.value('targets') == '1', TIMEOUT_S, 'diagnostics with one target')


def test_configure_fails_with_the_reason_on_invalid_parameters(ros_domain_id: int) -> None:
    from rclpy.lifecycle import TransitionCallbackReturn

    from siamrcnn_ros.node.node import SiamRCNNNode

    rclpy.init()
    try:
        node = SiamRCNNNode(parameter_overrides=[Parameter('tracker.tdpa.beta', value=0.0)])
        assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
        assert node.set_parameters([Parameter('tracker.tdpa.beta', value=0.25)])[0].successful  # fixed ...
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS  # ... configure works
        node.close()
        node.destroy_node()
    finally:
        rclpy.shutdown()
