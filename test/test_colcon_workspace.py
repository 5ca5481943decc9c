"""The package builds as in a ROS 2 workspace: `colcon build` installs the Python package and
the generated messages into one `siamrcnn_ros` folder, plus a launcher per tool for `ros2 run`.

The project environment builds only the messages (its code comes from the source tree), so
this test builds the full package the way a ROS 2 user's workspace does, with the ament and
rosidl of the environment, and runs the installed result without the source tree.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT

pytestmark = [pytest.mark.ros, pytest.mark.slow]

BUILD_INPUTS = ['CMakeLists.txt', 'package.xml', 'entry_points.txt', 'cmake', 'msg', 'srv', 'launch', 'config',
                'siamrcnn_ros', 'test']


@pytest.fixture(scope='module')
def installed_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which('colcon') is None:
        pytest.skip('needs colcon (make setup installs it)')
    workspace = tmp_path_factory.mktemp('ws')
    source = workspace / 'src' / 'siamrcnn_ros'
    source.mkdir(parents=True)
    for item in BUILD_INPUTS:
        if (REPO_ROOT / item).is_dir():
            shutil.copytree(REPO_ROOT / item, source / item, ignore=shutil.ignore_patterns('__pycache__'))
        elif (REPO_ROOT / item).exists():
            shutil.copy2(REPO_ROOT / item, source / item)
    venv = Path(sys.prefix)
    env = {**os.environ, 'AMENT_PREFIX_PATH': str(venv), 'CMAKE_PREFIX_PATH': str(venv)}
    result = subprocess.run(
        ['colcon', 'build', '--event-handlers', 'console_direct-', '--cmake-args',
         f'-DPython3_EXECUTABLE={sys.executable}', '-DBUILD_TESTING=ON'],
        cwd=workspace, env=env, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return workspace / 'install' / 'siamrcnn_ros'


def _env_without_source_tree(install: Path) -> dict[str, str]:
    """The environment a sourced workspace gives: the install folder, not the repository."""
    site = next((install / 'lib').glob('python3.*/site-packages'))
    env = {k: v for k, v in os.environ.items() if k not in {'PYTHONPATH'}}
    env['PYTHONPATH'] = str(site)
    env['LD_LIBRARY_PATH'] = f'{install / "lib"}:{os.environ.get("LD_LIBRARY_PATH", "")}'
    env['AMENT_PREFIX_PATH'] = f'{install}:{sys.prefix}'
    return env


def test_code_and_messages_install_into_one_package(installed_workspace: Path) -> None:
    code = ('import siamrcnn_ros, siamrcnn_ros.boxes\n'
            'from siamrcnn_ros.msg import Track\n'
            'from siamrcnn_ros.srv import SetTarget\n'
            'print(siamrcnn_ros.__path__[0]); print(siamrcnn_ros.boxes.__file__); print(Track.STATE_LOST)')
    result = subprocess.run([sys.executable, '-c', code], cwd=installed_workspace,
                            env=_env_without_source_tree(installed_workspace),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    package_dir, boxes_file, state = result.stdout.split()
    assert Path(package_dir).is_relative_to(installed_workspace)
    assert Path(boxes_file).parent == Path(package_dir)
    assert state == '3'


def test_tools_are_installed_for_ros2_run(installed_workspace: Path) -> None:
    """`ros2 run siamrcnn_ros <tool>` runs lib/siamrcnn_ros/<tool>; run it the same way."""
    tools = [line.split('=')[0].strip() for line in (REPO_ROOT / 'entry_points.txt').read_text().splitlines()
             if line.strip() and not line.startswith('#')]
    for tool in tools:
        launcher = installed_workspace / 'lib' / 'siamrcnn_ros' / tool
        assert os.access(launcher, os.X_OK), f'{launcher} is not an executable'
        assert (installed_workspace / 'bin' / tool).exists()
        result = subprocess.run([sys.executable, str(launcher), '--help'],
                                env=_env_without_source_tree(installed_workspace),
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert f'usage: {tool}' in result.stdout
