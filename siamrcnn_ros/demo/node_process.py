"""``siamrcnn_node`` as a separate OS process, as it runs on a robot: started with ROS arguments, its output in a
log file, stopped with Ctrl-C (SIGINT) and killed only when it does not end in time."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

NODE_NAME = 'siamrcnn_node'
STOP_TIMEOUT_S = 30.0
EMPTY_YAML = "''"


class NodeError(RuntimeError):
    """The node failed to start or died; the message ends with the tail of its log."""


def node_command(*, preset: str, checkpoint: str | Path | None, device: str, image_topic: str,
                 extra_parameters: dict[str, str] | None = None) -> list[str]:
    """The command line that runs the node with ``auto_activate`` on.

    Args:
        preset: ``model.preset``.
        checkpoint: ``model.checkpoint``; None = random re-detection head (``'none'``).
        device: ``model.device`` (``cpu``, ``cuda``, ``auto``).
        image_topic: where ``image`` is remapped to.
        extra_parameters: more ``-p name:=value`` pairs.
    """
    parameters = {'auto_activate': 'true', 'model.device': device, 'model.preset': preset,
                  'model.checkpoint': str(checkpoint or 'none'), **(extra_parameters or {})}
    command = [sys.executable, '-m', 'siamrcnn_ros.node.node', '--ros-args', '-r', f'image:={image_topic}']
    for name, value in parameters.items():
        # An empty value needs quotes: ROS reads the value as YAML, and `name:=''` is the empty string.
        command += ['-p', f'{name}:={value or EMPTY_YAML}']
    return command


class NodeProcess:
    """A running node. Use as a context manager: the process is stopped on exit, whatever happened.

    Args:
        command: from ``node_command``.
        log_path: the node's stdout and stderr go here.
        domain_id: ``ROS_DOMAIN_ID`` of the process (discovery stays on this machine).
    """

    def __init__(self, command: list[str], log_path: str | Path, domain_id: int) -> None:
        self.log_path = Path(log_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, ROS_DOMAIN_ID=str(domain_id), ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
        with self.log_path.open('w') as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        self.exit_status: int | None = None
        # A process started in the background (`cmd &`, some CI runners) inherits SIGINT *ignored*, and so does the
        # node: then it is stopped with SIGTERM, which it handles exactly as Ctrl-C.
        self._stop_signal = signal.SIGTERM if signal.getsignal(signal.SIGINT) == signal.SIG_IGN else signal.SIGINT

    def __enter__(self) -> NodeProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        return self._process.pid

    def running(self) -> bool:
        return self._process.poll() is None

    def check_running(self, what: str) -> None:
        """Raises ``NodeError`` with the log tail when the process has ended (``what`` = what was going on)."""
        if not self.running():
            raise NodeError(f'the node process ended (exit status {self._process.returncode}) {what}\n'
                            f'{self.log_tail()}')

    def log_tail(self, lines: int = 25) -> str:
        """The last ``lines`` lines of the node's log, framed, for error messages."""
        try:
            text = self.log_path.read_text(errors='replace').splitlines()[-lines:]
        except OSError as error:
            return f'(cannot read the node log {self.log_path}: {error})'
        body = '\n'.join(f'  | {line}' for line in text) or '  | (empty)'
        return f'--- last lines of {self.log_path} ---\n{body}'

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """Ctrl-C (SIGINT; SIGTERM where SIGINT is ignored), wait up to ``timeout`` s, then kill. Returns the exit
        status (negative: killed)."""
        if self.exit_status is not None:
            return self.exit_status
        if self._process.poll() is None:
            self._process.send_signal(self._stop_signal)
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self.exit_status = self._process.returncode
        return self.exit_status

    def summary_line(self) -> str:
        """The node's own one-line summary at exit (``siamrcnn_node: N frames processed, ...``), or ''."""
        try:
            lines = self.log_path.read_text(errors='replace').splitlines()
        except OSError:
            return ''
        return next((line for line in reversed(lines) if line.startswith(f'{NODE_NAME}:')), '')
