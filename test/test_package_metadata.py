"""The package metadata is valid: package.xml parses with catkin_pkg, every import of the
package's code is declared there (and in setup.py for pip), and the build files agree."""
from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import REPO_ROOT

catkin_pkg_package = pytest.importorskip('catkin_pkg.package', reason='needs catkin_pkg (make setup installs it)')

# Top-level module -> (rosdep key in package.xml, pip requirement name or None for ROS packages).
# A new third-party import fails test_every_import_is_declared until it is added here and declared.
DEPENDENCY_OF_MODULE: dict[str, tuple[str, str | None]] = {
    'numpy': ('python3-numpy', 'numpy'),
    'cv2': ('python3-opencv', 'opencv-python-headless'),
    'torch': ('python3-torch', 'torch'),
    'torchvision': ('python3-torchvision', 'torchvision'),
    'tqdm': ('python3-tqdm', 'tqdm'),
    'matplotlib': ('python3-matplotlib', 'matplotlib'),
    'yaml': ('python3-yaml', 'pyyaml'),
    'safetensors': ('python3-safetensors-pip', 'safetensors'),
    'rosbags': ('python3-rosbags-pip', 'rosbags'),
    'trax': ('python3-vot-trax-pip', 'vot-trax'),
    'tensorboard': ('python3-tensorboard-pip', 'tensorboard'),
    'faiss': ('python3-faiss-cpu-pip', 'faiss-cpu'),
    'rclpy': ('rclpy', None),
    'builtin_interfaces': ('builtin_interfaces', None),
    'std_msgs': ('std_msgs', None),
    'sensor_msgs': ('sensor_msgs', None),
    'geometry_msgs': ('geometry_msgs', None),
    'diagnostic_msgs': ('diagnostic_msgs', None),
    'lifecycle_msgs': ('lifecycle_msgs', None),
    'std_srvs': ('std_srvs', None),
    'rcl_interfaces': ('rcl_interfaces', None),
    'ament_index_python': ('ament_index_python', None),
}
# Imported only where installed, behind a guard; documented as optional in the README.
OPTIONAL_MODULES = {'cv_bridge', 'vision_msgs', 'tf2_ros', 'tf2_geometry_msgs', 'launch', 'launch_ros'}


def package_xml():
    package = catkin_pkg_package.parse_package(REPO_ROOT / 'package.xml')
    package.validate()
    return package


def imported_top_level_modules() -> dict[str, set[str]]:
    """Top-level modules imported anywhere in siamrcnn_ros/, absolute imports only -> files."""
    found: dict[str, set[str]] = {}
    for path in sorted((REPO_ROOT / 'siamrcnn_ros').rglob('*.py')):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                found.setdefault(name.split('.')[0], set()).add(path.name)
    return found


def test_package_xml_is_valid_format_3() -> None:
    package = package_xml()
    assert package.package_format == 3
    assert package.name == 'siamrcnn_ros'
    assert package.get_build_type() == 'ament_cmake'
    assert 'rosidl_interface_packages' in [group.name for group in package.member_of_groups]


def test_every_import_is_declared() -> None:
    package = package_xml()
    declared = {dep.name for dep in package.exec_depends + package.build_export_depends + package.build_depends}
    setup_requires = _setup_install_requires()
    third_party = {
        module: files for module, files in imported_top_level_modules().items()
        if module not in sys.stdlib_module_names and module not in {'siamrcnn_ros', *OPTIONAL_MODULES}
    }
    unknown = {module: sorted(files) for module, files in third_party.items() if module not in DEPENDENCY_OF_MODULE}
    assert unknown == {}, 'imports with no known dependency: add them to DEPENDENCY_OF_MODULE and package.xml'
    for module in third_party:
        rosdep_key, pip_name = DEPENDENCY_OF_MODULE[module]
        assert rosdep_key in declared, f'{module} is imported but {rosdep_key} is not in package.xml'
        if pip_name is not None:
            assert pip_name in setup_requires, f'{module} is imported but {pip_name} is not in setup.py'


def test_message_dependencies_match_cmake() -> None:
    """Every package a .msg/.srv refers to is a <depend> and a DEPENDENCIES entry of CMakeLists.txt."""
    used = set()
    for path in list((REPO_ROOT / 'msg').glob('*.msg')) + list((REPO_ROOT / 'srv').glob('*.srv')):
        used |= set(re.findall(r'^\s*([a-z_]+)/[A-Z]\w*', path.read_text(), flags=re.MULTILINE))
    depends = {dep.name for dep in package_xml().build_depends}
    cmake = (REPO_ROOT / 'CMakeLists.txt').read_text()
    cmake_deps = set(re.search(r'DEPENDENCIES ([\w ]+)\n', cmake).group(1).split())
    listed = set(re.findall(r'^\s+((?:msg|srv)/\w+\.(?:msg|srv))$', cmake, flags=re.MULTILINE))
    on_disk = {str(p.relative_to(REPO_ROOT)) for p in REPO_ROOT.glob('msg/*.msg')} | {
        str(p.relative_to(REPO_ROOT)) for p in REPO_ROOT.glob('srv/*.srv')}
    assert used == cmake_deps
    assert used <= depends
    assert listed == on_disk


HELP_RUNNER = """
import contextlib, importlib, io, json, sys
results = {}
for name, target in json.loads(sys.argv[1]):
    module, function = target.split(':')
    out, err = io.StringIO(), io.StringIO()
    sys.argv = [name, '--help']
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = getattr(importlib.import_module(module), function)()
        except SystemExit as done:
            code = done.code
    results[name] = [code or 0, out.getvalue(), err.getvalue()]
print(json.dumps(results))
"""


def test_tools_in_entry_points_exist() -> None:
    """Every tool of entry_points.txt names a function that exists, and runs --help (one process for all)."""
    tools = []
    for line in (REPO_ROOT / 'entry_points.txt').read_text().splitlines():
        if not line.strip() or line.startswith('#'):
            continue
        name, target = (part.strip() for part in line.split('='))
        tools.append((name, target))
    result = subprocess.run([sys.executable, '-c', HELP_RUNNER, json.dumps(tools)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    outputs = json.loads(result.stdout.strip().splitlines()[-1])
    assert sorted(outputs) == sorted(name for name, _ in tools)
    for name, (code, stdout, stderr) in outputs.items():
        assert code == 0, f'{name} --help exited with {code}: {stderr}'
        assert f'usage: {name}' in stdout, f'{name} --help printed no usage line: {stdout[:200]}'


def _setup_install_requires() -> set[str]:
    with tempfile.TemporaryDirectory() as egg_base:
        out = subprocess.run([sys.executable, 'setup.py', '--quiet', 'egg_info', '--egg-base', egg_base],
                             cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        requires = (Path(egg_base) / 'siamrcnn_ros.egg-info' / 'requires.txt').read_text().split('[')[0]
    return {re.split(r'[<>=!~ ]', line)[0] for line in requires.splitlines() if line.strip()}
