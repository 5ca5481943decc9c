"""One training video: its frames, every annotated object's boxes, and optional instance masks.

What every training-data reader returns (``siamrcnn_ros.datasets.videos.read_training_videos``).
Boxes are xyxy float pixels of the original image (``siamrcnn_ros.boxes``), NaN where the object
is absent or the frame is not annotated. A still image is a video of one frame.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from siamrcnn_ros.datasets.index_masks import read_index_mask

SOURCES = ('synthetic', 'got10k', 'lasot', 'trackingnet', 'imagenet_vid', 'youtube_vos', 'coco', 'davis')


@dataclass(frozen=True, eq=False)
class AnnotatedVideo:
    """One video (or one still image, N = 1) with every annotated object, for training.

    Equality is identity (the fields hold arrays). ``boxes`` is made read-only.

    Attributes:
        name: the video's name in its dataset (``GOT-10k_Train_000001``, ``airplane-1``, a COCO
            image's file stem, ...).
        source: which reader made it, one of ``SOURCES``.
        frames: image files in frame order, length N.
        object_ids: the dataset's id of each object (track id, instance id, annotation id), length O.
        boxes: ``[O, N, 4]`` float64 xyxy pixels, continuous, no ``+1``; NaN rows where the object
            is absent or the frame is not annotated.
        masks: per frame an indexed PNG (value ``mask_values[k]`` = object k, 0 = background), or a
            callable returning that ``[H, W]`` label map (datasets whose masks live in the annotation
            file, e.g. COCO's ``coco_masks.CocoImageMasks``), None for frames without a mask; or None
            when the dataset has no masks.
        mask_values: the pixel value of each object in the mask files, length O; None means
            ``k + 1`` for object k. Only set when a dataset numbers its masks otherwise
            (YouTube-VOS names objects by their palette index, which may skip values).
    """

    name: str
    source: str
    frames: tuple[Path, ...]
    object_ids: tuple[str, ...]
    boxes: np.ndarray
    masks: tuple[Path | Callable[[], np.ndarray] | None, ...] | None
    mask_values: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f'video {self.name!r}: source must be one of {SOURCES}, got {self.source!r}')
        frame_count, object_count = len(self.frames), len(self.object_ids)
        if self.boxes.shape != (object_count, frame_count, 4):
            raise ValueError(f'video {self.name!r}: boxes must have shape [O, N, 4] = '
                             f'{[object_count, frame_count, 4]}, got {list(self.boxes.shape)}')
        if self.masks is not None and len(self.masks) != frame_count:
            raise ValueError(f'video {self.name!r}: {len(self.masks)} mask entries for {frame_count} frames')
        if self.mask_values is not None and len(self.mask_values) != object_count:
            raise ValueError(f'video {self.name!r}: {len(self.mask_values)} mask values for {object_count} objects')
        boxes = np.array(self.boxes, dtype=np.float64)  # own copy: callers' arrays stay writable
        boxes.flags.writeable = False
        object.__setattr__(self, 'boxes', boxes)

    def __len__(self) -> int:
        """Number of frames N."""
        return len(self.frames)

    def read_frame(self, index: int) -> np.ndarray:
        """Frame ``index`` (0-based) as ``[H, W, 3]`` uint8 RGB."""
        self._check_index(index)
        path = self.frames[index]
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise OSError(f'cannot read image {path} (missing or not an image)')
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def read_mask(self, index: int) -> np.ndarray | None:
        """Instance mask of frame ``index`` as ``[H, W]`` int32: ``k + 1`` where object k is,
        0 elsewhere (pixels of values that belong to no object, e.g. a 255 'void', read as 0);
        None when the frame has no mask."""
        self._check_index(index)
        if self.masks is None or self.masks[index] is None:
            return None
        source = self.masks[index]
        values = np.asarray(source()) if callable(source) else read_index_mask(source)
        if self.mask_values is None:
            # Already numbered k + 1; anything above the object count is no object of this video.
            return np.where(values <= len(self.object_ids), values, 0).astype(np.int32)
        remapped = np.zeros(values.shape, np.int32)
        for k, value in enumerate(self.mask_values):
            remapped[values == value] = k + 1
        return remapped

    def visible(self, obj: int) -> np.ndarray:
        """``[N]`` bool: object ``obj``'s box is finite with positive width and height."""
        if not 0 <= obj < len(self.object_ids):
            raise IndexError(f'object {obj} out of range for video {self.name!r} of {len(self.object_ids)} objects')
        boxes = self.boxes[obj]  # [N, 4]
        with np.errstate(invalid='ignore'):
            positive = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        return np.isfinite(boxes).all(axis=1) & positive

    def _check_index(self, index: int) -> None:
        if not 0 <= index < len(self.frames):
            raise IndexError(f'frame {index} out of range for video {self.name!r} of {len(self.frames)} frames')
