"""What the node reports on /diagnostics, and its rate-limited problem log (no ROS graph needed)."""
from __future__ import annotations

import pytest

pytest.importorskip('diagnostic_msgs', reason='needs the ROS message wheels: run the tests through scripts/in-env')
from diagnostic_msgs.msg import DiagnosticStatus

from siamrcnn_ros.node.diagnostics import PROBLEM_KINDS, Health, ProblemLog, diagnostic_status

pytestmark = pytest.mark.ros


def values(status: DiagnosticStatus) -> dict[str, str]:
    return {kv.key: kv.value for kv in status.values}


def test_rates_latency_and_dropped_frames_are_reported() -> None:
    health = Health()
    for i in range(11):
        health.image_received(100.0 + i / 30)
    for i in range(3):
        health.frame_processed(100.0 + i * 0.5, processing_s=0.4, stamp_latency_s=0.45 + i * 0.1)
    for _ in range(8):
        health.frame_dropped()
    snapshot = health.snapshot(101.0)
    assert snapshot.input_rate_hz == pytest.approx(30.0)
    assert snapshot.output_rate_hz == pytest.approx(2.0)
    status = diagnostic_status(snapshot, name='/siamrcnn_node: tracker', state='active', device='cpu', targets=1)
    assert status.level == DiagnosticStatus.OK
    assert status.message == 'active, tracking 1 target(s) on cpu'
    reported = values(status)
    assert reported['frames dropped'] == '8'
    assert reported['frames processed'] == '3'
    assert reported['processing time (ms)'] == '400.0'
    assert reported['latency from stamp, mean (ms)'] == '550.0'
    assert reported['latency from stamp, max (ms)'] == '650.0'
    assert {f'rejected: {kind}' for kind in PROBLEM_KINDS} <= set(reported)
    assert status.hardware_id == 'cpu'


def test_fallback_missing_images_and_recent_problems_warn() -> None:
    health = Health()
    health.problem('encoding', 'image rejected: 32FC1', now=50.0)
    snapshot = health.snapshot(55.0)
    status = diagnostic_status(snapshot, name='n: tracker', state='active', device='cpu', targets=0,
                               device_warning='model.device is cuda but ...: falling back to the CPU',
                               no_image_for_s=12.0)
    assert status.level == DiagnosticStatus.WARN
    assert 'falling back to the CPU' in status.message
    assert 'no image received for 12 s' in status.message
    assert '1 inputs rejected or failed in the last 10 s (last: encoding: image rejected: 32FC1)' in status.message
    assert values(status)['rejected: encoding'] == '1'
    later = diagnostic_status(health.snapshot(70.0), name='n: tracker', state='inactive', device='', targets=0)
    assert later.level == DiagnosticStatus.OK  # the problem is older than 10 s
    assert values(later)['device'] == 'none'
    with pytest.raises(ValueError, match='unknown problem kind'):
        health.problem('cosmic rays', '')


def test_problem_log_counts_every_problem_but_logs_one_line_per_kind_and_period() -> None:
    lines: list[str] = []
    health = Health()
    log = ProblemLog(health, lines.append, every_s=60.0)
    for _ in range(5):
        log('box', 'target request rejected: NaN')
    log('click', 'click outside the image')
    assert lines == ['target request rejected: NaN', 'click outside the image']
    assert health.snapshot(0.0).problems['box'] == 5
    fast = ProblemLog(health, lines.append, every_s=0.0)
    fast('size', 'a')
    fast('size', 'b')
    assert lines[-2:] == ['a', 'b']
