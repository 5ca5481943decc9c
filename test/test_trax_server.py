"""``siamrcnn-trax`` driven over the real TraX protocol by vot-trax's client, as the VOT toolkit does.

The server runs in its own process (demo preset and its shipped checkpoint, CPU); the client sends real frames
as image paths, a rectangle and a polygon initialisation, and reads back rectangles with a
``confidence`` property per frame, which VOT's long-term analysis needs.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from video_frames import bikes_frames

trax = pytest.importorskip('trax', reason='vot-trax is a requirement of the project (requirements/base.txt)')
from trax import FileImage, ImageChannel, Polygon, Rectangle  # noqa: E402
from trax.client import Client  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def frame_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp('frames')
    paths = []
    for index, frame in enumerate(bikes_frames(4)):
        path = folder / f'{index + 1:08d}.jpg'
        cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        paths.append(path)
    return paths


def run_session(frame_files: list[Path], objects: list, tmp_path: Path) -> list[list]:
    """Starts the server, initialises with ``objects`` on frame 1, sends the other frames; the replies per frame."""
    stderr = (tmp_path / 'server.log').open('w')
    command = [sys.executable, '-m', 'siamrcnn_ros.tools.trax_server', '--preset', 'demo', '--device', 'cpu']
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, bufsize=0)
    try:
        # vot-trax 4.0.2's client fails with log=False (None passed where ctypes wants a callback): keep the log.
        protocol_log: list[str] = []
        client = Client(stream=(process.stdin.fileno(), process.stdout.fileno()), timeout=120,
                        log=protocol_log.append)
        replies = []
        images = {ImageChannel.COLOR: FileImage.create(str(frame_files[0]))}
        state, _ = client.initialize(images, [(region, {}) for region in objects], {})
        replies.append(state)
        for path in frame_files[1:]:
            state, _ = client.frame({ImageChannel.COLOR: FileImage.create(str(path))}, {}, [])
            replies.append(state)
        client.quit()
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
        stderr.close()
    return replies


def test_trax_session_reports_boxes_and_confidence(frame_files, tmp_path) -> None:
    replies = run_session(frame_files, [Rectangle.create(100, 60, 80, 140)], tmp_path)
    assert len(replies) == len(frame_files)
    first_region, first_properties = replies[0][0]
    np.testing.assert_allclose(first_region.bounds(), (100, 60, 80, 140), atol=1e-3)
    assert float(first_properties['confidence']) == pytest.approx(1.0)
    for state in replies[1:]:
        assert len(state) == 1
        region, properties = state[0]
        _, _, w, h = region.bounds()
        assert w > 0
        assert h > 0
        assert 0.0 <= float(properties['confidence']) <= 1.0


def test_trax_multiobject_and_polygon_initialisation(frame_files, tmp_path) -> None:
    polygon = Polygon.create([(300, 80), (380, 80), (380, 220), (300, 220)])
    replies = run_session(frame_files, [Rectangle.create(100, 60, 80, 140), polygon], tmp_path)
    assert [len(state) for state in replies] == [2] * len(frame_files)
    np.testing.assert_allclose(replies[0][1][0].bounds(), (300, 80, 80, 140), atol=1e-3)
