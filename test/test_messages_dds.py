"""Our messages and services cross a real DDS link between two OS processes (rclpy, Fast DDS).

This process publishes every message type with non-default values in every field and calls
both services; ros_receiver.py, started as a separate process, checks what arrives field by
field and reports back.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import msg_samples
import pytest
from conftest import TEST_DIR

rclpy = pytest.importorskip('rclpy', reason='needs rclpy: run the tests through scripts/in-env')
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy  # noqa: E402

from siamrcnn_ros.srv import ClearTarget, SetTarget  # noqa: E402

pytestmark = pytest.mark.ros
TIMEOUT_S = 60.0


def test_samples_have_no_default_field() -> None:
    """Guards the premise of the DDS and bag tests: a field left at its default proves nothing."""
    samples = [
        *msg_samples.sample_messages().values(),
        msg_samples.sample_set_target_request(),
        msg_samples.sample_set_target_response(),
        msg_samples.sample_clear_target_request(),
        msg_samples.sample_clear_target_response(),
    ]
    for sample in samples:
        assert msg_samples.default_fields(sample) == [], type(sample).__name__


def test_field_differences_reports_a_changed_field() -> None:
    expected = msg_samples.sample_messages()['siamrcnn_ros/msg/TrackArray']
    changed = msg_samples.sample_messages()['siamrcnn_ros/msg/TrackArray']
    changed.tracks[1].distractors[0].box.y_max = 1.0
    assert msg_samples.field_differences(expected, changed) == [
        'tracks[1].distractors[0].box.y_max: 220.5 != 1.0'
    ]


def test_messages_and_services_between_two_processes(ros_domain_id: int) -> None:
    receiver = subprocess.Popen(
        [sys.executable, str(TEST_DIR / 'ros_receiver.py'), str(TIMEOUT_S)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
    )
    try:
        assert receiver.stdout.readline().strip() == 'READY', receiver.stderr.read()
        responses = _publish_and_call(receiver)
        out, err = receiver.communicate(timeout=TIMEOUT_S)
    finally:
        receiver.kill()
    report = json.loads(out.strip().splitlines()[-1])

    expected_keys = set(msg_samples.sample_messages()) | {'set_target', 'clear_target'}
    assert set(report) == expected_keys, f'receiver got only {sorted(report)}; stderr: {err}'
    assert {key: diffs for key, diffs in report.items() if diffs} == {}
    assert msg_samples.field_differences(msg_samples.sample_set_target_response(), responses['set']) == []
    assert msg_samples.field_differences(msg_samples.sample_clear_target_response(), responses['clear']) == []


def _publish_and_call(receiver: subprocess.Popen) -> dict[str, object]:
    """Publishes the samples until the receiver has them all, and calls its two services."""
    rclpy.init()
    try:
        node = rclpy.create_node('siamrcnn_msg_sender')
        qos = QoSProfile(depth=10, reliability=QoSReliabilityPolicy.RELIABLE,
                         durability=QoSDurabilityPolicy.VOLATILE)
        publishers = {
            type_name: (node.create_publisher(type(sample), 'samples/' + type_name.rsplit('/', 1)[1].lower(), qos),
                        sample)
            for type_name, sample in msg_samples.sample_messages().items()
        }
        set_client = node.create_client(SetTarget, 'receiver/set_target')
        clear_client = node.create_client(ClearTarget, 'receiver/clear_target')
        assert set_client.wait_for_service(timeout_sec=TIMEOUT_S), 'set_target service never appeared'
        assert clear_client.wait_for_service(timeout_sec=TIMEOUT_S), 'clear_target service never appeared'

        futures = {'set': set_client.call_async(msg_samples.sample_set_target_request()),
                   'clear': clear_client.call_async(msg_samples.sample_clear_target_request())}
        deadline = time.monotonic() + TIMEOUT_S
        while receiver.poll() is None and time.monotonic() < deadline:
            for publisher, sample in publishers.values():
                if publisher.get_subscription_count() > 0:
                    publisher.publish(sample)
            rclpy.spin_once(node, timeout_sec=0.2)
            if all(future.done() for future in futures.values()) and _receiver_done_soon(receiver):
                break
        for future in futures.values():
            rclpy.spin_until_future_complete(node, future, timeout_sec=5.0)
            assert future.done(), 'a service call got no reply'
        node.destroy_node()
        return {name: future.result() for name, future in futures.items()}
    finally:
        rclpy.shutdown()


def _receiver_done_soon(receiver: subprocess.Popen) -> bool:
    try:
        receiver.wait(timeout=0.05)
    except subprocess.TimeoutExpired:
        return False
    return True
