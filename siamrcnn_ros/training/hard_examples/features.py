"""Precomputed RoI features of every ground-truth box (paper §3.2 "Training Procedure", SPEC §4).

Running the backbone on other videos at every training step to get hard negatives would cost a
forward pass per negative frame. Instead the frozen backbone + FPN runs once over the training
videos, and the RoIAlign features ``[C, P, P]`` of every visible object's ground-truth box are
stored in one safetensors file with an index ``(video, object, frame)`` per row. The backbone
and FPN never change during head training (SPEC §2), so the cache stays valid for the whole run;
a fingerprint of their weights is stored with it and checked when the cache is reused.

File layout (``features.safetensors``):

* ``features``: ``[B, C, P, P]`` bfloat16: half the size of float32 with float32's exponent range (float16
  would flush the tiny activations of an untrained backbone to zero); 3 significant digits are plenty
  for negatives, and the head casts them back,
* ``video``, ``object``, ``frame``: ``[B]`` int64: the row's video number (into the ``videos``
  metadata list), object index and frame index,
* ``boxes``: ``[B, 4]`` float32 xyxy original-image pixels,
* metadata ``videos`` (JSON list of video keys ``'<source>/<name>'``), ``fingerprint``,
  ``frame_stride``, ``format``.

The rows are read lazily (``safe_open``): only the sampled negatives of a step are loaded, so a
cache larger than the memory works. Building keeps every row in memory before writing, which
limits one cache to what fits in memory (about 25 kB per box at C = 256, P = 7).
"""
from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor
from tqdm import tqdm

from siamrcnn_ros.model.siamrcnn import FrameFeatures, SiamRCNN

CACHE_FORMAT = 'siamrcnn_ros.hard_example_features.v1'


def video_key(video: Any) -> str:
    """The name of a video in the cache: ``'<source>/<name>'`` (``source`` may be missing: ``'/<name>'``)."""
    return f'{getattr(video, "source", "")}/{video.name}'


def backbone_fingerprint(model: SiamRCNN) -> str:
    """SHA-256 (hex) of the frozen parts that make the RoI features: backbone + FPN weights, the transform and
    the RoI pooler size, and ``head.pixel_rois`` when it is on (3 more channels per row). A cache built with
    another backbone, resolution or pooling is refused."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.backbone.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().to('cpu', torch.float32).contiguous().numpy().tobytes())
    pooling: list[object] = [repr(model.config.transform), model.config.head.pooler_size]
    if model.config.head.pixel_rois:  # appended only when on, so caches made before the option stay valid
        pooling.append('pixel_rois')
    digest.update(json.dumps(pooling).encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class CacheIndex:
    """Which box each row of the cache is.

    Attributes:
        videos: the video keys (``video_key``); ``video`` holds indices into it.
        video: ``[B]`` int64 video number of each row.
        object: ``[B]`` int64 object index in its video.
        frame: ``[B]`` int64 frame index in its video.
        boxes: ``[B, 4]`` float32 xyxy original-image pixels.
    """

    videos: tuple[str, ...]
    video: np.ndarray
    object: np.ndarray
    frame: np.ndarray
    boxes: np.ndarray

    def __len__(self) -> int:
        return len(self.video)

    def rows_of_object(self, key: str, obj: int) -> tuple[np.ndarray, np.ndarray]:
        """``([R] rows, [R] frames)`` of one object of the video ``key`` (empty when it has none)."""
        number = self._video_numbers.get(key)
        if number is None:
            raise ValueError(f'video {key!r} is not in the feature cache ({len(self.videos)} videos)')
        rows = self._rows_by_object.get((number, int(obj)), np.zeros(0, dtype=np.int64))
        return rows, self.frame[rows]

    @functools.cached_property
    def _video_numbers(self) -> dict[str, int]:
        return {key: number for number, key in enumerate(self.videos)}

    @functools.cached_property
    def _rows_by_object(self) -> dict[tuple[int, int], np.ndarray]:
        """``{(video, object): [R] rows}``, built once: a training step looks up its reference in O(1)."""
        order = np.lexsort((self.object, self.video))  # rows grouped by (video, object)
        pairs = np.stack([self.video[order], self.object[order]], axis=1)  # [B, 2]
        starts = np.flatnonzero(np.any(np.diff(pairs, axis=0) != 0, axis=1)) + 1
        return {(int(group[0, 0]), int(group[0, 1])): rows
                for group, rows in zip(np.split(pairs, starts), np.split(order, starts), strict=True) if len(rows)}

    def object_labels(self) -> np.ndarray:
        """``[B]`` int64: one label per distinct (video, object) pair, numbered 0.. in order of appearance."""
        pairs = self.video.astype(np.int64) * (int(self.object.max(initial=0)) + 1) + self.object
        _, labels = np.unique(pairs, return_inverse=True)
        return labels.astype(np.int64)


class FeatureCache:
    """A built cache file, read lazily.

    Args:
        path: the ``features.safetensors`` file.

    Raises:
        FileNotFoundError / ValueError: no such file, or not a feature cache.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f'no feature cache at {self.path}')
        self._file = safe_open(str(self.path), framework='pt', device='cpu')
        metadata = self._file.metadata() or {}
        if metadata.get('format') != CACHE_FORMAT:
            raise ValueError(f'{self.path} is not a hard-example feature cache (format {metadata.get("format")!r})')
        self.fingerprint: str = metadata['fingerprint']
        self.frame_stride = int(metadata['frame_stride'])
        columns = (self._file.get_tensor(name).numpy() for name in ('video', 'object', 'frame', 'boxes'))
        self.index = CacheIndex(tuple(json.loads(metadata['videos'])), *columns)
        self._features = self._file.get_slice('features')
        self.feature_shape: tuple[int, int, int] = tuple(self._features.get_shape()[1:])  # type: ignore[assignment]

    def __len__(self) -> int:
        return len(self.index)

    def features(self, rows: Sequence[int] | np.ndarray) -> Tensor:
        """``[len(rows), C, P, P]`` float32 RoI features of the given rows (any order, repeats allowed)."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        if len(rows) and (rows.min() < 0 or rows.max() >= len(self)):
            raise ValueError(f'rows must be in [0, {len(self)}), got {rows.min()}..{rows.max()}')
        if not len(rows):
            return torch.zeros((0, *self.feature_shape))
        # Read contiguous runs of the sorted rows at once, then put them back in the asked order.
        unique, inverse = np.unique(rows, return_inverse=True)
        breaks = np.flatnonzero(np.diff(unique) != 1) + 1
        parts = [self._features[int(run[0]):int(run[-1]) + 1] for run in np.split(unique, breaks)]
        return torch.cat(parts).float()[torch.from_numpy(inverse.reshape(-1))]


def cached_boxes(video: Any, frame_stride: int) -> dict[int, list[int]]:
    """The boxes of one video that go into the cache: ``{frame: [objects]}``.

    Every ``frame_stride``-th visible frame of each object (its first visible frame always), so every
    object that is visible at all has at least one row.
    """
    chosen: dict[int, list[int]] = {}
    for obj in range(len(video.boxes)):
        for frame in np.flatnonzero(video.visible(obj))[::frame_stride]:
            chosen.setdefault(int(frame), []).append(obj)
    return dict(sorted(chosen.items()))


def build_feature_cache(model: SiamRCNN, videos: Sequence[Any], path: str | Path, *, frame_stride: int = 1,
                        progress: bool = True) -> FeatureCache:
    """Run the frozen backbone + FPN over the videos and write the RoI features of their ground-truth boxes.

    Args:
        model: the re-detector whose backbone (frozen during head training) makes the features.
        videos: ``AnnotatedVideo`` objects (``source``, ``name``, ``boxes [O, N, 4]`` xyxy, ``visible``,
            ``read_frame``); their keys ``'<source>/<name>'`` must be unique.
        path: the file to write (its folder is created).
        frame_stride: keep every this-many-th visible frame of each object (1 = every box, as in the paper).
        progress: a tqdm bar over the frames.

    Returns:
        The written cache, opened.

    Raises:
        ValueError: bad stride, duplicate video keys or no visible box at all.
    """
    if frame_stride < 1:
        raise ValueError(f'frame_stride must be >= 1, got {frame_stride}')
    keys = [video_key(video) for video in videos]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ValueError(f'video keys must be unique for the hard-example cache, repeated: {duplicates[:5]}')
    plans = [cached_boxes(video, frame_stride) for video in videos]
    total = sum(len(plan) for plan in plans)
    if not total:
        raise ValueError(f'no visible ground-truth box in {len(videos)} videos')
    features, numbers, objects, frames, boxes = [], [], [], [], []
    with tqdm(total=total, disable=not progress, desc='RoI features', unit='frame') as bar:
        for number, (video, plan) in enumerate(zip(videos, plans, strict=True)):
            for frame, chosen in plan.items():
                frame_boxes = torch.as_tensor(np.asarray(video.boxes[chosen, frame], dtype=np.float32))  # [K, 4]
                features.append(_roi_features(model, video.read_frame(frame), frame_boxes).to('cpu', torch.bfloat16))
                numbers += [number] * len(chosen)
                objects += chosen
                frames += [frame] * len(chosen)
                boxes.append(frame_boxes)
                bar.update(1)
    tensors = {'features': torch.cat(features).contiguous(), 'video': torch.tensor(numbers, dtype=torch.int64),
               'object': torch.tensor(objects, dtype=torch.int64), 'frame': torch.tensor(frames, dtype=torch.int64),
               'boxes': torch.cat(boxes).contiguous()}
    metadata = {'format': CACHE_FORMAT, 'videos': json.dumps(keys), 'fingerprint': backbone_fingerprint(model),
                'frame_stride': str(frame_stride)}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=metadata)
    return FeatureCache(path)


def _roi_features(model: SiamRCNN, image: np.ndarray, boxes: Tensor) -> Tensor:
    """``[K, C, P, P]`` float32 RoI features of ``[K, 4]`` xyxy original-pixel boxes: backbone + FPN only.

    The RPN is skipped (``FrameFeatures`` without proposals): only the ground-truth boxes are pooled.
    """
    network_input = model.preprocess(image)
    maps = model.backbone_features(network_input)
    frame = FrameFeatures(network_input.image_size, network_input.resized_size, maps, torch.zeros(0, 4))
    return model.roi_features(frame, boxes)
