"""The receiving process of test_messages_dds.py: a separate OS process with its own rclpy.

Subscribes to one topic per siamrcnn_ros message type and serves ~/set_target and
~/clear_target; checks every received message and request field by field against the
samples, answers the services with the sample responses, and prints one JSON report line
to stdout when it has received everything (or at its deadline).
"""
from __future__ import annotations

import json
import sys
import time

import msg_samples
import rclpy
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy

from siamrcnn_ros.srv import ClearTarget, SetTarget

RELIABLE = QoSProfile(depth=10, reliability=QoSReliabilityPolicy.RELIABLE,
                      durability=QoSDurabilityPolicy.VOLATILE)


def topic_of(type_name: str) -> str:
    return 'samples/' + type_name.rsplit('/', 1)[1].lower()


def main() -> int:
    deadline = time.monotonic() + float(sys.argv[1])
    samples = msg_samples.sample_messages()
    report: dict[str, list[str]] = {}

    rclpy.init()
    node = rclpy.create_node('siamrcnn_msg_receiver')

    def on_message(type_name: str, msg: object) -> None:
        report.setdefault(type_name, msg_samples.field_differences(samples[type_name], msg))

    for type_name, sample in samples.items():
        node.create_subscription(type(sample), topic_of(type_name),
                                 lambda msg, t=type_name: on_message(t, msg), RELIABLE)

    def on_set_target(request: SetTarget.Request, response: SetTarget.Response) -> SetTarget.Response:
        report['set_target'] = msg_samples.field_differences(msg_samples.sample_set_target_request(), request)
        expected = msg_samples.sample_set_target_response()
        response.success, response.message, response.target_id = expected.success, expected.message, expected.target_id
        return response

    def on_clear_target(request: ClearTarget.Request, response: ClearTarget.Response) -> ClearTarget.Response:
        report['clear_target'] = msg_samples.field_differences(msg_samples.sample_clear_target_request(), request)
        expected = msg_samples.sample_clear_target_response()
        response.success, response.message = expected.success, expected.message
        return response

    node.create_service(SetTarget, 'receiver/set_target', on_set_target)
    node.create_service(ClearTarget, 'receiver/clear_target', on_clear_target)
    print('READY', flush=True)

    wanted = set(samples) | {'set_target', 'clear_target'}
    while time.monotonic() < deadline and not wanted <= set(report):
        rclpy.spin_once(node, timeout_sec=0.1)
    # Serve a little longer so the service replies leave before the process ends.
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.1)
    print(json.dumps(report), flush=True)
    node.destroy_node()
    rclpy.shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
