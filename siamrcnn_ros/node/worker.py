"""Newest-frame-wins hand-over from the ROS callbacks to one worker thread that runs the tracker.

The camera publishes faster than the tracker runs (30 Hz against a few Hz on a CPU). A queue would
grow a backlog of ever older frames (SPEC §7, "Known pain"); instead a one-slot buffer keeps only the
newest frame: putting a frame into a full slot replaces the waiting one, and that replaced frame is
counted as dropped. The worker thread takes whatever is in the slot when it is free, so the frame it
processes is at most one camera period old, and the executor's callbacks (images, targets, services,
parameters) never wait for inference.
"""
from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar('T')


class LatestSlot(Generic[T]):
    """A thread-safe buffer of capacity one in which a new item replaces the waiting one."""

    def __init__(self) -> None:
        self._item: T | None = None
        self._full = False
        self._closed = False
        self._dropped = 0
        self._busy = False  # an item was taken and task_done() not called yet
        self._condition = threading.Condition()

    @property
    def dropped(self) -> int:
        """Items replaced before anyone took them, since construction."""
        with self._condition:
            return self._dropped

    def put(self, item: T) -> bool:
        """Stores ``item``; returns ``True`` when it replaced a waiting item (which is then dropped)."""
        with self._condition:
            replaced = self._full
            if replaced:
                self._dropped += 1
            self._item, self._full = item, True
            self._condition.notify()
            return replaced

    def take(self, timeout: float | None = None) -> T | None:
        """Removes and returns the waiting item; waits up to ``timeout`` seconds; ``None`` if none came or closed.

        Like ``queue.Queue``, the taker calls ``task_done()`` when it has finished with the item.
        """
        with self._condition:
            if not self._full and not self._closed:
                self._condition.wait(timeout)
            if not self._full:
                return None
            item, self._item, self._full = self._item, None, False
            self._busy = True
            return item

    def task_done(self) -> None:
        """Marks the last taken item as finished (wakes ``wait_empty``)."""
        with self._condition:
            self._busy = False
            self._condition.notify_all()

    def wait_empty(self, timeout: float) -> bool:
        """Waits until no item is waiting or in progress; returns whether that happened within ``timeout`` s."""
        with self._condition:
            return self._condition.wait_for(lambda: not self._full and not self._busy, timeout)

    def discard(self) -> bool:
        """Drops the waiting item without counting it; returns whether there was one."""
        with self._condition:
            had, self._item, self._full = self._full, None, False
            self._condition.notify_all()
            return had

    def close(self) -> None:
        """Wakes a waiting ``take``; later ``take`` calls return at once."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()


class FrameWorker(Generic[T]):
    """One background thread that calls ``process(item)`` on the newest submitted item, dropping older ones.

    Args:
        process: the slow work (tracking one frame). Runs on the worker thread only.
        on_error: called on the worker thread with the item and the exception when ``process`` raises;
            the worker then goes on with the next item (a node must not die on one bad frame).
        name: the thread's name (shows in debuggers and thread dumps).
    """

    def __init__(self, process: Callable[[T], None], on_error: Callable[[T, Exception], None],
                 name: str = 'siamrcnn-worker') -> None:
        self._process = process
        self._on_error = on_error
        self._slot: LatestSlot[T] = LatestSlot()
        self._stop = threading.Event()
        self._processed = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def dropped(self) -> int:
        """Items replaced in the slot before the worker took them."""
        return self._slot.dropped

    @property
    def processed(self) -> int:
        """Items ``process`` finished (successfully or not)."""
        return self._processed

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def submit(self, item: T) -> bool:
        """Hands ``item`` to the worker; returns ``True`` when an unprocessed older item was dropped for it."""
        if self._stop.is_set():
            raise RuntimeError('the worker is stopped; create a new one')
        return self._slot.put(item)

    def wait_idle(self, timeout: float) -> bool:
        """Waits until no item is waiting or being processed; returns whether that happened within ``timeout`` s."""
        return self._slot.wait_empty(timeout)

    def stop(self, timeout: float = 10.0) -> bool:
        """Stops after the item in progress (the waiting one is discarded); returns whether the thread ended."""
        self._stop.set()
        self._slot.close()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            item = self._slot.take(timeout=0.2)
            if item is None:
                continue
            try:
                if not self._stop.is_set():
                    self._process(item)
            except Exception as error:  # one bad frame must not end the worker
                try:
                    self._on_error(item, error)
                except Exception:  # nor may a failing error report
                    traceback.print_exc()
            finally:
                self._processed += 1
                self._slot.task_done()
