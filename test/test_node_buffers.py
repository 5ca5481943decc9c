"""The node's frame buffer (recent frames by stamp) and its newest-frame-wins worker, without ROS."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from siamrcnn_ros.node.frame_buffer import Frame, FrameBuffer
from siamrcnn_ros.node.worker import FrameWorker, LatestSlot


def frame(stamp_ns: int, size: tuple[int, int] = (4, 6)) -> Frame:
    return Frame(stamp_ns=stamp_ns, image=np.zeros((*size, 3), np.uint8), header=None, arrival_s=0.0, index=0)


def nearest(buffer: FrameBuffer, stamp_ns: int) -> tuple[int, int]:
    found, offset = buffer.nearest(stamp_ns)
    return found.stamp_ns, offset


# --- frame buffer --------------------------------------------------------------------------------------

def test_empty_buffer_has_no_frames() -> None:
    buffer = FrameBuffer(3)
    assert buffer.newest() is None
    assert buffer.nearest(5) is None
    assert len(buffer) == 0


def test_buffer_keeps_the_last_frames_only() -> None:
    buffer = FrameBuffer(3)
    for stamp in (10, 20, 30, 40, 50):
        buffer.push(frame(stamp))
    assert buffer.stamps() == [30, 40, 50]
    assert buffer.newest().stamp_ns == 50
    assert buffer.capacity == 3


def test_nearest_frame_and_its_offset() -> None:
    buffer = FrameBuffer(5)
    for stamp in (100, 200, 300):
        buffer.push(frame(stamp))
    assert nearest(buffer, 200) == (200, 0)
    assert nearest(buffer, 260) == (300, 40)
    assert nearest(buffer, 10) == (100, 90)
    assert nearest(buffer, 10_000) == (300, -9700)
    assert buffer.nearest(150)[0].stamp_ns == 200  # a tie goes to the newer frame


def test_buffer_refuses_going_back_in_time_until_cleared() -> None:
    buffer = FrameBuffer(2)
    buffer.push(frame(100))
    buffer.push(frame(100))  # equal stamps are fine (unstamped cameras)
    with pytest.raises(ValueError, match='older than the newest'):
        buffer.push(frame(50))
    buffer.clear()
    buffer.push(frame(50))
    assert buffer.stamps() == [50]


def test_buffer_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match='capacity must be an int >= 1'):
        FrameBuffer(0)


def test_frame_size_is_height_width() -> None:
    assert frame(1, (7, 9)).size == (7, 9)


# --- one-slot buffer and worker ------------------------------------------------------------------------

def test_slot_keeps_only_the_newest_item_and_counts_the_dropped() -> None:
    slot: LatestSlot[int] = LatestSlot()
    assert slot.put(1) is False
    assert slot.put(2) is True
    assert slot.put(3) is True
    assert slot.dropped == 2
    assert slot.take(timeout=0) == 3
    assert slot.take(timeout=0) is None
    slot.task_done()
    assert slot.wait_empty(0.1)


def test_slot_take_waits_for_a_put_from_another_thread() -> None:
    slot: LatestSlot[str] = LatestSlot()
    threading.Timer(0.05, slot.put, args=('late',)).start()
    assert slot.take(timeout=5.0) == 'late'


def test_worker_processes_the_newest_item_and_drops_the_rest() -> None:
    """A slow consumer and a fast producer: processed items come in order, none twice, the backlog is dropped."""
    processed: list[int] = []
    gate = threading.Event()

    def slow(item: int) -> None:
        gate.wait(5.0)
        processed.append(item)

    worker: FrameWorker[int] = FrameWorker(slow, lambda item, error: None)
    worker.start()
    worker.submit(0)
    time.sleep(0.1)  # the worker is now blocked in slow(0)
    dropped = [worker.submit(i) for i in range(1, 10)]
    assert dropped == [False] + [True] * 8  # 1 waits in the slot, 2..9 each replace the waiting one
    gate.set()
    assert worker.wait_idle(5.0)
    assert processed == [0, 9]
    assert worker.dropped == 8
    assert worker.processed == 2
    assert worker.stop()
    assert not worker.running


def test_worker_survives_an_exception_and_reports_it() -> None:
    errors: list[tuple[int, str]] = []
    done: list[int] = []

    def process(item: int) -> None:
        if item == 1:
            raise RuntimeError('bad frame')
        done.append(item)

    worker: FrameWorker[int] = FrameWorker(process, lambda item, error: errors.append((item, str(error))))
    worker.start()
    for item in (1, 2):
        worker.submit(item)
        assert worker.wait_idle(5.0)
    assert errors == [(1, 'bad frame')]
    assert done == [2]
    assert worker.stop()


def test_a_stopped_worker_refuses_new_items() -> None:
    worker: FrameWorker[int] = FrameWorker(lambda item: None, lambda item, error: None)
    worker.start()
    assert worker.stop()
    with pytest.raises(RuntimeError, match='stopped'):
        worker.submit(1)
