"""A Box2Seg checkpoint with a known output, for the mask plumbing tests (tracker, siamrcnn-track, node).

The trained checkpoint's masks depend on what it learnt, random weights give arbitrary masks.
``write_filling_checkpoint`` writes a small network whose classifier is zero with a large positive bias:
every pixel of a box's crop window gets probability ~1, so the mask of a box is exactly its crop window
(clipped to the image). That is a real checkpoint through the real loading and prediction code, and the
tests can say where the mask lies.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from siamrcnn_ros.box2seg import Box2SegConfig, Box2SegNet, crop_windows, save_box2seg_checkpoint

FILLING = Box2SegConfig(name='filling', crop_size=32, aspp_channels=8, low_level_channels=8, decoder_channels=8)


def write_filling_checkpoint(path: Path) -> Path:
    """Writes the window-filling network's checkpoint to ``path``; returns it."""
    torch.manual_seed(0)
    net = Box2SegNet(FILLING)
    with torch.no_grad():
        net.classifier.weight.zero_()
        net.classifier.bias.fill_(20.0)
    save_box2seg_checkpoint(path, net, FILLING)
    return path


def window_mask(box_xyxy: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """``[H, W]`` bool: the pixels whose centre lies in the crop window of ``box_xyxy`` (the filling mask)."""
    x0, y0, x1, y1 = crop_windows(np.asarray(box_xyxy, dtype=np.float32)[None], FILLING.context)[0].tolist()
    rows = np.arange(image_size[0]) + 0.5
    cols = np.arange(image_size[1]) + 0.5
    return ((rows >= y0) & (rows < y1))[:, None] & ((cols >= x0) & (cols < x1))[None, :]
