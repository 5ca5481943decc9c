"""Starting and stopping the OS processes of the node tests (node, camera, receiver), and waiting on rclpy."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import rclpy
from conftest import REPO_ROOT, TEST_DIR
from lifecycle_msgs.msg import State
from lifecycle_msgs.srv import GetState

NODE_NAME = '/siamrcnn_node'
CONFIG = REPO_ROOT / 'config' / 'siamrcnn.yaml'


def start_node(log_dir: Path, *ros_args: str) -> subprocess.Popen:
    """``siamrcnn_node`` with the package's params file, on the CPU, plus ``ros_args``; output to log files."""
    command = [sys.executable, '-m', 'siamrcnn_ros.node.node', '--ros-args', '--params-file', str(CONFIG),
               '-p', 'model.device:=cpu', *ros_args]
    process = subprocess.Popen(command, stdout=(log_dir / 'node.out').open('w'),
                               stderr=(log_dir / 'node.err').open('w'), env=os.environ.copy(), cwd=REPO_ROOT)
    process.log_dir = log_dir  # for node_log_tail
    return process


def node_log_tail(node_process: subprocess.Popen, lines: int = 30) -> str:
    """The last ``lines`` lines of a ``start_node`` process's stderr, for failure messages."""
    path = getattr(node_process, 'log_dir', None)
    if path is None or not (path / 'node.err').exists():
        return '(no node log)'
    return '\n'.join((path / 'node.err').read_text(errors='replace').splitlines()[-lines:])


def _default_sigint() -> None:
    """In the child before exec: SIGINT back to its default, so that Python installs its Ctrl-C handler even when
    the tests themselves run with SIGINT ignored (as a background shell job does), and ``interrupt`` works."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_helper(script: str, *args: object, env: dict[str, str] | None = None) -> subprocess.Popen:
    """A helper process, a script of test/ (node_camera.py, node_receiver.py) or a module run with ``-m`` (a
    dotted name without ``.py``); waits for its READY line. ``env``: its environment (default: this process's)."""
    program = [str(TEST_DIR / script)] if script.endswith('.py') else ['-m', script]
    process = subprocess.Popen([sys.executable, *program, *map(str, args)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=os.environ.copy() if env is None else env,
                               cwd=TEST_DIR, preexec_fn=_default_sigint)
    line = process.stdout.readline().strip()
    if line != 'READY':
        process.kill()
        raise RuntimeError(f'{script} did not start: {line!r} {process.stderr.read()}')
    return process


def interrupt(process: subprocess.Popen, timeout: float = 30.0) -> int:
    """SIGINT (as Ctrl-C), then waits; kills it if it does not end. Returns the exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def read_json(path: Path) -> object:
    return json.loads(path.read_text())


def spin_until(node: rclpy.node.Node, condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Spins ``node`` until ``condition()`` holds; ``AssertionError`` naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f'timed out after {timeout:.0f} s waiting for {what}')
        rclpy.spin_once(node, timeout_sec=0.05)


def call(node: rclpy.node.Node, client: object, request: object, timeout: float) -> object:
    """Calls a service and spins until the answer; ``AssertionError`` when none comes."""
    assert client.wait_for_service(timeout_sec=timeout), f'service {client.srv_name} never appeared'
    future = client.call_async(request)
    spin_until(node, future.done, timeout, f'the answer of {client.srv_name}')
    return future.result()


def wait_active(node: rclpy.node.Node, node_process: subprocess.Popen, timeout: float,
                attempt_timeout: float = 10.0) -> None:
    """Waits until the node under test reports the lifecycle state ``active``.

    Asks ``get_state`` again every ``attempt_timeout`` s: the node answers only once its executor spins (after
    auto-activation), and a request sent while the DDS endpoints are still matching can go unanswered (seen once in
    CI with Fast DDS: the service was visible, the answer never came), so one lost request must not decide the test.
    """
    client = node.create_client(GetState, f'{NODE_NAME}/get_state')
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert node_process.poll() is None, f'the node process ended during start-up:\n{node_log_tail(node_process)}'
        if client.wait_for_service(timeout_sec=1.0):
            future = client.call_async(GetState.Request())
            attempt_deadline = min(deadline, time.monotonic() + attempt_timeout)
            while not future.done() and time.monotonic() < attempt_deadline:
                rclpy.spin_once(node, timeout_sec=0.05)
            if future.done() and future.result().current_state.id == State.PRIMARY_STATE_ACTIVE:
                node.destroy_client(client)
                return
        time.sleep(0.2)
    raise AssertionError(f'the node did not become active within {timeout:.0f} s; its log ends:\n'
                         f'{node_log_tail(node_process)}')
