"""Issue 18, item 7: camera-size images from another process reach the node, and losses show in /diagnostics.

A publisher process sends 640x480 rgb8 images (921,600 bytes, above Fast DDS's 512 KiB shared-memory segment)
at 30 Hz to a node with the default configuration (best-effort image subscription). With the package's Fast DDS
profile in both processes (``scripts/in-env`` sets FASTDDS_DEFAULT_PROFILES_FILE) at least 95 % arrive. A
publisher without the profile loses nearly all of them; the node then reports them as lost by DDS and as missing
from the camera's rate, and warns.
"""
from __future__ import annotations

import json
import os

import pytest

pytest.importorskip('rclpy', reason='needs rclpy: run the tests through scripts/in-env')
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from node_processes import NODE_NAME, interrupt, spin_until, start_helper, start_node, wait_active

pytestmark = [pytest.mark.ros, pytest.mark.slow]  # about 50 s on 2 busy cores: two publisher processes
IMAGE_TOPIC = '/camera/image_raw'
WIDTH, HEIGHT, RATE_HZ, COUNT = 640, 480, 30.0, 90
TIMEOUT_S = 90.0
DDS_PROFILE_VARIABLES = ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE')  # Fast DDS 3, 2


class Diagnostics:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.messages: list[str] = []

    def __call__(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith(f'{NODE_NAME}:'):
                self.values = {kv.key: kv.value for kv in status.values}
                self.messages.append(status.message)

    def count(self, key: str) -> int:
        return int(self.values.get(key, 0))


def _publish(node: rclpy.node.Node, diagnostics: Diagnostics, env: dict[str, str] | None) -> tuple[int, int]:
    """Runs one publisher process (``env``: its environment); returns (images it published, images the node
    received from it, by the node's diagnostics)."""
    before = diagnostics.count('images received')
    publisher = start_helper('siamrcnn_ros.tools.pattern_camera', IMAGE_TOPIC, WIDTH, HEIGHT, RATE_HZ, COUNT, env=env)
    try:  # spin meanwhile: the diagnostics must not queue up behind a blocked reader
        spin_until(node, lambda: publisher.poll() is not None, TIMEOUT_S, 'the publisher to finish')
        line = publisher.stdout.readline()
        assert line, f'the publisher ended without a result: {publisher.stderr.read()}'
        published = json.loads(line)['published']
    finally:
        interrupt(publisher)
    # The node's counters, one diagnostics period (1 s) after the last image at least.
    seen = len(diagnostics.messages)
    spin_until(node, lambda: len(diagnostics.messages) >= seen + 2, TIMEOUT_S, 'two more diagnostics messages')
    return published, diagnostics.count('images received') - before


def test_camera_size_images_from_another_process_arrive_and_losses_are_reported(ros_domain_id: int,
                                                                                 tmp_path) -> None:
    node_process = start_node(tmp_path, '-r', f'image:={IMAGE_TOPIC}')
    rclpy.init()
    try:
        node = rclpy.create_node('image_transport_test')
        wait_active(node, node_process, timeout=TIMEOUT_S)
        diagnostics = Diagnostics()
        node.create_subscription(DiagnosticArray, '/diagnostics', diagnostics, 10)
        spin_until(node, lambda: bool(diagnostics.values), TIMEOUT_S, 'diagnostics of the node')

        published, received = _publish(node, diagnostics, env=None)  # the profile in both processes
        assert received >= 0.95 * published, f'{received} of {published} {WIDTH}x{HEIGHT} images arrived'
        assert diagnostics.count('images lost by DDS') == 0, diagnostics.values

        # A camera process without the profile (Fast DDS defaults): its large images are lost, and the node says so.
        bare = {name: value for name, value in os.environ.items() if name not in DDS_PROFILE_VARIABLES}
        published, received = _publish(node, diagnostics, env=bare)
        lost = diagnostics.count('images lost by DDS')
        assert received < 0.5 * published, 'the Fast DDS defaults delivered them: is this test still needed?'
        assert lost >= 0.5 * published, diagnostics.values
        # 'images missing (stamp gaps)' is not asserted here: it is counted between images that arrive, and when
        # the bare publisher's images are nearly all lost there may be no two of them to measure a gap between
        # (seen in a fresh-clone run: 0 gaps with every image lost); the DDS count above is the signal.
        assert any('images lost by DDS' in message for message in diagnostics.messages[-10:]), diagnostics.messages
        node.destroy_node()
    finally:
        rclpy.shutdown()
        status = interrupt(node_process)
    assert status == 0, (tmp_path / 'node.err').read_text()
    assert 'Fast DDS profile' in (tmp_path / 'node.err').read_text()  # the log line about the lost images
