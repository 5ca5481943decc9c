"""Issue 18: what an outside client broke, driven the way such a client drives the node (its own OS process).

The node runs in its own process (``node_client.NodeClient``); this process only calls its ROS interfaces:
raw ``SetParameters`` requests (``use_sim_time``, an empty name, a ParameterValue type rclpy cannot read),
images with stamps that are not valid ROS times, two requests for one id before the next frame, a target set
before any image, and images with more data than ``step * height`` or ``is_bigendian`` on 8-bit pixels.
"""
from __future__ import annotations

import os
import random

import pytest

pytest.importorskip('rclpy', reason='needs rclpy: run the tests through scripts/in-env')
from node_client import NodeClient
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from std_msgs.msg import Header
from video_frames import bikes_frames

from siamrcnn_ros.node.images import rgb_to_image_msg

pytestmark = pytest.mark.ros


@pytest.fixture(scope='module')
def client(tmp_path_factory):
    """One node for the parameter and image-note tests (they leave it as they found it), in a domain of its own."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv('ROS_DOMAIN_ID', str(random.randint(101, 200)))
        patch.setenv('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
        assert os.environ['ROS_DOMAIN_ID']
        client = NodeClient(tmp_path_factory.mktemp('node'))
        try:
            yield client
        finally:
            status = client.close()
    assert status == 0, client.log()


def value(kind: int, **fields: object) -> ParameterValue:
    return ParameterValue(type=kind, **fields)


# --- items 1 to 3: SetParameters from a client -----------------------------------------------------------------

def test_use_sim_time_can_be_set_at_run_time(client: NodeClient) -> None:
    """Item 1: ``ros2 param set /siamrcnn_node use_sim_time true`` (and back) is accepted and the node lives."""
    for on in (True, False):
        answer = client.set_parameters([Parameter(name='use_sim_time', value=value(ParameterType.PARAMETER_BOOL,
                                                                                   bool_value=on))])
        assert answer is not None, f'no answer: the node died?\n{client.log()[-3000:]}'
        assert answer.results[0].successful, answer.results[0].reason
    assert client.alive_and_active()
    assert 'KeyError' not in client.log()


def test_an_empty_parameter_name_is_refused(client: NodeClient) -> None:
    """Item 2: the name ``''`` with an integer value is refused with a reason, and nothing named '' appears."""
    answer = client.set_parameters([Parameter(name='', value=value(ParameterType.PARAMETER_INTEGER,
                                                                   integer_value=3))])
    assert answer is not None, f'no answer: the node died?\n{client.log()[-3000:]}'
    assert not answer.results[0].successful
    assert 'not declared' in answer.results[0].reason
    assert client.alive_and_active()


def test_an_unknown_parameter_value_type_is_refused(client: NodeClient) -> None:
    """Item 3: ``ParameterValue.type = 99`` is refused by the node's guard (rclpy would raise ValueError and the
    process would end); a valid parameter in the same request is still set."""
    answer = client.set_parameters([
        Parameter(name='tracker.tdpa.alpha', value=value(99, double_value=0.5)),
        Parameter(name='tracker.tdpa.beta', value=value(ParameterType.PARAMETER_DOUBLE, double_value=0.25)),
    ])
    assert answer is not None, f'no answer: the node died?\n{client.log()[-3000:]}'
    first, second = answer.results
    assert not first.successful
    assert 'ParameterValue.type 99' in first.reason
    assert second.successful, second.reason
    assert client.alive_and_active()
    restore = client.set_parameters([Parameter(name='tracker.tdpa.beta', value=value(
        ParameterType.PARAMETER_DOUBLE, double_value=0.3))])
    assert restore.results[0].successful


# --- item 8: usable images with odd fields are accepted with a note --------------------------------------------

def test_images_with_extra_data_or_big_endian_8_bit_pixels_are_accepted_with_a_note(client: NodeClient) -> None:
    frame = bikes_frames(1)[0]
    longer = rgb_to_image_msg(frame, Header(frame_id='cam'))
    longer.header.stamp.sec = 100
    longer.data = bytes(longer.data) + bytes(100)  # 100 bytes more than step x height
    big_endian = rgb_to_image_msg(frame, Header(frame_id='cam'))
    big_endian.header.stamp.sec = 101
    big_endian.is_bigendian = 1  # rgb8: 8-bit components, byte order does not apply
    for msg in (longer, big_endian):
        client.image_pub.publish(msg)
        client.spin_until(lambda msg=msg: client.processed(msg.header.stamp.sec), f'the image stamped '
                                                                                  f'{msg.header.stamp.sec} s')
    values = client.fresh_diagnostics()
    assert values['accepted with a note: extra_data'] == '1', values
    assert values['accepted with a note: bigendian_8bit'] == '1', values
    assert 'is_bigendian = 1 on rgb8' in values['last note']
    assert all(values[f'rejected: {kind}'] == '0' for kind in ('data', 'encoding', 'size', 'decode')), values
    log = client.log()
    assert log.count('image accepted with a note: image data has') == 1  # one log line per kind
    assert log.count('image accepted with a note: is_bigendian') == 1
