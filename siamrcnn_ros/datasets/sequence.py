"""One single-object tracking sequence on disk: its frames (image files or a video file) and annotations."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp')
VIDEO_SUFFIXES = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.mpg', '.mpeg', '.m4v')


@dataclass(frozen=True, eq=False)
class Sequence:
    """A sequence: frames in order plus what the benchmark annotates.

    Exactly one of ``frames`` and ``video`` is set. Equality is identity (the fields hold arrays).

    Attributes:
        name: the sequence name results are stored under (``Basketball``, ``airplane-1``,
            ``GOT-10k_Val_000001``, a video file's stem).
        frames: image files in frame order, or ``None`` for a video file.
        video: a video file read with OpenCV, or ``None``.
        ground_truth: ``[N, 4]`` float64 xywh pixels, ``(x, y)`` the top-left corner, as the
            benchmark stores them; NaN rows where unknown (the GOT-10k test split annotates
            only frame 0); ``None`` when the sequence has no annotation.
        absent: ``[N]`` bool, True where the benchmark marks the target absent (LaSOT
            ``full_occlusion`` or ``out_of_view``, GOT-10k ``cover == 0``); ``None`` if unknown.
    """

    name: str
    frames: list[Path] | None
    video: Path | None
    ground_truth: np.ndarray | None
    absent: np.ndarray | None

    def __post_init__(self) -> None:
        if (self.frames is None) == (self.video is None):
            raise ValueError(f'sequence {self.name!r}: give exactly one of frames and video')
        for field, value in (('ground_truth', self.ground_truth), ('absent', self.absent)):
            if value is not None and len(value) != len(self):
                raise ValueError(f'sequence {self.name!r}: {field} has {len(value)} rows for {len(self)} frames')

    def __len__(self) -> int:
        """Number of frames. For a video file, the container's frame count (decoded when it has none)."""
        if self.frames is not None:
            return len(self.frames)
        return _video_frame_count(self.video)

    def read_frame(self, index: int) -> np.ndarray:
        """Frame ``index`` (0-based) as ``[H, W, 3]`` uint8 RGB.

        Video frames are reached by seeking, which some codecs do only approximately; use
        ``iter_frames`` to go through a video in order.
        """
        length = len(self)
        if not 0 <= index < length:
            raise IndexError(f'frame {index} out of range for sequence {self.name!r} of {length} frames')
        if self.frames is not None:
            return _read_image(self.frames[index])
        capture = _open_video(self.video)
        try:
            capture.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, bgr = capture.read()
        finally:
            capture.release()
        if not ok:
            raise OSError(f'cannot decode frame {index} of {self.video}')
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def iter_frames(self) -> Iterator[np.ndarray]:
        """All frames in order, each ``[H, W, 3]`` uint8 RGB; a video is decoded once, sequentially."""
        if self.frames is not None:
            for path in self.frames:
                yield _read_image(path)
            return
        capture = _open_video(self.video)
        try:
            while True:
                ok, bgr = capture.read()
                if not ok:
                    return
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        finally:
            capture.release()


def _read_image(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise OSError(f'cannot read image {path} (missing or not an image)')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _open_video(path: Path) -> cv2.VideoCapture:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise OSError(f'OpenCV cannot open the video {path}')
    return capture


def _video_frame_count(path: Path) -> int:
    capture = _open_video(path)
    try:
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        if count > 0:
            return count
        # Some containers carry no frame count: decode to count.
        count = 0
        while capture.grab():
            count += 1
        return count
    finally:
        capture.release()
