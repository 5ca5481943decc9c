"""RoI pooling of the re-detector: RoIAlign on the FPN levels, optionally with the image's own pixels.

``HeadConfig.pixel_rois`` (ours, off in every preset) appends to every RoI's FPN features the RoIAlign of
the normalised network input itself (3 channels), so that the head sees the colours inside the box. A
backbone pretrained on real images keeps colour in its features; one trained from scratch on a few
hundred synthetic videos does not keep small hue differences (look-alikes differ from the target by a
few degrees of hue), while the raw pixels do.

The feature maps of a frame are the backbone's FPN levels by name (``'0'``, ..., ``'pool'``); with
``pixel_rois`` the caller adds the network input under ``IMAGE_KEY`` (``SiamRCNN.feature_maps``), and
everything that feeds the RPN takes the levels only (``fpn_levels``).
"""
from __future__ import annotations

from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import torch
from torch import Tensor, nn
from torchvision.ops import MultiScaleRoIAlign, roi_align

IMAGE_KEY = 'image'
PIXEL_CHANNELS = 3
MIN_BOXES_PER_THREAD = 16
"""Fewest boxes a CPU thread pools on its own; below twice this the boxes are pooled in the calling thread."""

_workers: ThreadPoolExecutor | None = None


def _thread_pool() -> ThreadPoolExecutor:
    global _workers
    if _workers is None:
        _workers = ThreadPoolExecutor(max_workers=8, thread_name_prefix='roi_pool')
    return _workers


def _cpu_chunks(feature_maps: OrderedDict[str, Tensor], boxes: list[Tensor]) -> int:
    """How many threads should share the boxes: torchvision's CPU RoIAlign runs on one core, so on a CPU, for
    one image and without gradients, the boxes are split over ``torch.get_num_threads()`` threads (1 = no split)."""
    any_map = next(iter(feature_maps.values()))
    if any_map.device.type != 'cpu' or torch.is_grad_enabled() or len(boxes) != 1:
        return 1
    return max(1, min(torch.get_num_threads(), len(boxes[0]) // MIN_BOXES_PER_THREAD))


def fpn_levels(feature_maps: OrderedDict[str, Tensor]) -> OrderedDict[str, Tensor]:
    """The FPN levels of ``feature_maps`` without the image entry (what the RPN takes)."""
    if IMAGE_KEY not in feature_maps:
        return feature_maps
    return OrderedDict((name, value) for name, value in feature_maps.items() if name != IMAGE_KEY)


class RoIFeaturePooler(nn.Module):
    """``[N, C (+3), P, P]`` RoI features of boxes in one or more images. No parameters.

    Args:
        level_names: the FPN levels to pool from (torchvision's level-by-box-size rule picks one per box).
        output_size: ``P``.
        sampling_ratio: RoIAlign sampling points per bin side.
        pixel_rois: also pool the image under ``IMAGE_KEY`` and append its 3 channels.
    """

    def __init__(self, level_names: list[str], *, output_size: int, sampling_ratio: int, pixel_rois: bool) -> None:
        super().__init__()
        self.levels = MultiScaleRoIAlign(level_names, output_size=output_size, sampling_ratio=sampling_ratio)
        self.output_size = output_size
        self.sampling_ratio = sampling_ratio
        self.pixel_rois = pixel_rois

    @property
    def extra_channels(self) -> int:
        """Channels appended to the FPN features (3 with ``pixel_rois``, else 0)."""
        return PIXEL_CHANNELS if self.pixel_rois else 0

    def forward(self, feature_maps: OrderedDict[str, Tensor], boxes: list[Tensor],
                image_sizes: list[tuple[int, int]]) -> Tensor:
        """Pool ``boxes`` (one ``[N_i, 4]`` xyxy tensor per image, resized-image pixels).

        Args:
            feature_maps: ``[B, C, h_l, w_l]`` per FPN level and, with ``pixel_rois``, the network input
                ``[B, 3, H_pad, W_pad]`` under ``IMAGE_KEY``.
            boxes: per image, the boxes to pool.
            image_sizes: per image, ``(h, w)`` of the resized image.

        Returns:
            ``[sum N_i, C + extra_channels, P, P]`` in the feature maps' dtype.

        Raises:
            KeyError: ``pixel_rois`` is on and the maps hold no image.
        """
        chunks = _cpu_chunks(feature_maps, boxes)
        if chunks == 1:
            return self._pool(feature_maps, boxes, image_sizes)
        # Each thread pools a contiguous part of the one image's boxes; the parts keep the boxes' order.
        parts = [_thread_pool().submit(self._pool, feature_maps, [part], image_sizes)
                 for part in torch.tensor_split(boxes[0], chunks)]
        return torch.cat([part.result() for part in parts])

    def _pool(self, feature_maps: OrderedDict[str, Tensor], boxes: list[Tensor],
              image_sizes: list[tuple[int, int]]) -> Tensor:
        pooled = self.levels(feature_maps, boxes, image_sizes)
        if not self.pixel_rois:
            return pooled
        if IMAGE_KEY not in feature_maps:
            raise KeyError(f'pixel_rois needs the network input in the feature maps under {IMAGE_KEY!r} '
                           '(SiamRCNN.feature_maps adds it)')
        with torch.autocast(pooled.device.type, enabled=False):
            pixels = roi_align(feature_maps[IMAGE_KEY].float(), [b.float() for b in boxes], self.output_size,
                               spatial_scale=1.0, sampling_ratio=self.sampling_ratio)
        return torch.cat([pooled, pixels.to(pooled.dtype)], dim=1)
