"""Box2Seg masks in the node: where the mask network lives, and a mask as ``Track.mask`` + ``Track.mask_roi``.

The network is loaded on the CPU (at configure when ``mask.enabled`` is on, or when it is turned on later),
moved to the re-detector's device while the node is active and back to the CPU when it deactivates, as
``devices.ModelHost`` does for the re-detector.

Message layout (Track.msg): the mask covers ``mask_roi``, the bounding box of the mask's pixels (so a small
target sends a small image, not a full frame); encoding ``mono8``, 255 = target, 0 = background; the
header is the source image's. No mask (masks off, target absent, or an empty mask) is an empty ``Image``
(width = height = 0, no data) and a zero ``RegionOfInterest``.
"""
from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import torch
from sensor_msgs.msg import Image, RegionOfInterest

from siamrcnn_ros.box2seg.predictor import Box2Seg, build_box2seg
from siamrcnn_ros.model.default_weights import resolve_box2seg_checkpoint

MASK_VALUE = 255
"""``Track.mask`` value of target pixels (``mono8``)."""
RANDOM_WEIGHTS_SEED = 0


class MaskHost:
    """Holds the Box2Seg network (on the CPU while the node is not active) and hands out predictors."""

    def __init__(self) -> None:
        self._predictor: Box2Seg | None = None
        self.checkpoint_path: Path | None = None

    @property
    def loaded(self) -> bool:
        return self._predictor is not None

    def load(self, checkpoint: str) -> None:
        """Builds the network on the CPU from ``checkpoint`` (``''``/``'default'`` = the shipped file, else random
        weights; ``'none'`` = random weights; else a file); ``checkpoint_path`` then holds the file used.

        Raises:
            CheckpointError: an unreadable or unfitting checkpoint (the message names the file).
        """
        self.release()
        path = resolve_box2seg_checkpoint(checkpoint)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_WEIGHTS_SEED)  # random weights (no checkpoint) are the same in every run
            self._predictor = build_box2seg(checkpoint=path, device='cpu')
        self.checkpoint_path = path

    def predictor(self, device: torch.device | str) -> Box2Seg:
        """The loaded network as a ``Box2Seg`` on ``device`` (moves it there).

        Raises:
            RuntimeError: nothing loaded.
        """
        if self._predictor is None:
            raise RuntimeError('no Box2Seg network loaded')
        current = self._predictor
        return Box2Seg(current.net, device=device, precision=current.precision, batch_size=current.batch_size)

    def to_cpu(self) -> None:
        if self._predictor is not None:
            self._predictor.net.to('cpu')

    def release(self) -> None:
        """Drops the network."""
        self._predictor = None
        self.checkpoint_path = None
        gc.collect()


def mask_fields(mask: np.ndarray | None, header: object) -> tuple[Image, RegionOfInterest]:
    """One target's mask as ``(Track.mask, Track.mask_roi)``.

    Args:
        mask: ``[H, W]`` bool over the whole source image, or None (no mask).
        header: the source image's header (``std_msgs/Header``), copied into the mask image.

    Returns:
        The ``mono8`` image of the mask's bounding box (255 = target) and that box as a ``RegionOfInterest``
        (``x_offset``, ``y_offset``, ``width``, ``height`` in image pixels); both empty when ``mask`` is None
        or has no pixel set.
    """
    if mask is None:
        return Image(), RegionOfInterest()
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f'a mask must be [H, W], got shape {mask.shape}')
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return Image(), RegionOfInterest()
    top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    crop = np.where(mask[top:bottom, left:right].astype(bool), MASK_VALUE, 0).astype(np.uint8)  # [h, w]
    height, width = crop.shape
    image = Image(header=header, height=height, width=width, encoding='mono8', is_bigendian=0, step=width,
                  data=crop.tobytes())
    roi = RegionOfInterest(x_offset=left, y_offset=top, width=width, height=height, do_rectify=False)
    return image, roi
