"""Box2Seg inference (SPEC §5): an image and the boxes of its targets in, one mask per box out.

``Box2Seg.predict(image, boxes)`` crops a square window around every box (``crops.crop_windows``),
runs the network on all crops of the frame as one batch, and pastes the probabilities back onto the
image (``crops.paste_masks``). ``label_map`` combines the masks of several targets into one label
image, the smaller mask on top (``combine.combine_masks``).
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from siamrcnn_ros.box2seg.checkpoints import load_box2seg_checkpoint_into, read_box2seg_checkpoint
from siamrcnn_ros.box2seg.combine import combine_masks
from siamrcnn_ros.box2seg.config import Box2SegConfig
from siamrcnn_ros.box2seg.crops import check_boxes, crop_windows, network_crops, normalise_image, paste_masks
from siamrcnn_ros.box2seg.network import Box2SegNet
from siamrcnn_ros.model.default_weights import names_default, resolve_box2seg_checkpoint
from siamrcnn_ros.model.siamrcnn import PRECISIONS, resolve_device


class Box2Seg:
    """A ``Box2SegNet`` ready for inference: eval mode, no gradients, on one device.

    Every call runs under ``torch.inference_mode()`` and, on CUDA, under autocast to ``precision``
    (bf16 by default, as ``SiamRCNN``); on the CPU in float32. Outputs are NumPy arrays.

    Args:
        net: the network (moved to ``device``, put in eval mode, ``requires_grad`` off).
        device: ``'auto'`` (CUDA when available), ``'cpu'``, ``'cuda'``, ``'cuda:N'``.
        precision: autocast dtype on CUDA: ``'bf16'``, ``'fp16'`` or ``'fp32'`` (none).
        batch_size: at most this many crops per forward pass (more boxes run in several).
    """

    def __init__(self, net: Box2SegNet, *, device: str | torch.device = 'auto', precision: str = 'bf16',
                 batch_size: int = 32) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f'precision must be one of {", ".join(PRECISIONS)}, got {precision!r}')
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        self.device = resolve_device(device)
        self.net = net.to(self.device).eval().requires_grad_(False)
        self.precision = precision
        self.batch_size = batch_size

    @property
    def config(self) -> Box2SegConfig:
        return self.net.config

    def predict_probabilities(self, image: np.ndarray | Tensor, boxes: np.ndarray | Tensor) -> np.ndarray:
        """The probability of each image pixel to belong to each box's object.

        Args:
            image: ``[H, W, 3]`` uint8 RGB.
            boxes: ``[N, 4]`` xyxy pixels of the image (N may be 0), positive width and height.

        Returns:
            ``[N, H, W]`` float32 in ``[0, 1]``; 0 outside each box's crop window.

        Raises:
            ValueError: a malformed image or box (the message names it).
        """
        with self._inference():
            planes = normalise_image(image, self.device)  # [1, 3, H, W]
            boxes = check_boxes(boxes).to(self.device)
            windows = crop_windows(boxes, self.config.context)
            size = self.config.crop_size
            chunks = []
            for start in range(0, len(boxes), self.batch_size):
                part = slice(start, start + self.batch_size)
                logits = self.net(network_crops(planes, boxes[part], windows[part], size))  # [n, 1, S, S]
                chunks.append(torch.sigmoid(logits.float())[:, 0])
            probabilities = torch.cat(chunks) if chunks else planes.new_zeros((0, size, size))
            pasted = paste_masks(probabilities, windows, planes.shape[-2:])  # [N, H, W]
            return pasted.cpu().numpy()

    def predict(self, image: np.ndarray | Tensor, boxes: np.ndarray | Tensor) -> np.ndarray:
        """``[N, H, W]`` bool masks: probability at least ``config.mask_threshold`` (see ``predict_probabilities``)."""
        return self.predict_probabilities(image, boxes) >= self.config.mask_threshold

    def label_map(self, image: np.ndarray | Tensor, boxes: np.ndarray | Tensor, ids: Sequence[int]) -> np.ndarray:
        """``[H, W]`` int32: ``ids[k]`` where target k's mask is on top (the smaller mask wins), 0 elsewhere."""
        return combine_masks(self.predict(image, boxes), ids)

    @contextlib.contextmanager
    def _inference(self) -> Iterator[None]:
        dtype = PRECISIONS[self.precision]
        autocast = (torch.autocast(self.device.type, dtype=dtype) if self.device.type == 'cuda' and dtype is not None
                    else contextlib.nullcontext())
        with torch.inference_mode(), autocast:
            yield


def build_box2seg(config: Box2SegConfig | None = None, *, checkpoint: str | os.PathLike[str] | None = 'default',
                  device: str | torch.device = 'auto', precision: str = 'bf16', batch_size: int = 32) -> Box2Seg:
    """A ready-to-run ``Box2Seg``.

    Args:
        config: the network config; None takes the checkpoint's (or the defaults without a checkpoint).
        checkpoint: a Box2Seg checkpoint (``save_box2seg_checkpoint``); ``'default'`` (the default, or ``''``):
            the shipped ``checkpoints/box2seg.safetensors`` when it is there and fits ``config`` (always, for
            ``config=None``), else random weights; None or ``'none'``: the random initialisation
            (``default_weights.resolve_box2seg_checkpoint``). Masks from random weights are meaningless: a
            warning belongs to the caller's tool, which can resolve the argument first.
        device: ``'auto'``, ``'cpu'``, ``'cuda'``, ``'cuda:N'``.
        precision: autocast dtype on CUDA (``'bf16'``, ``'fp16'``, ``'fp32'``).
        batch_size: crops per forward pass.

    Raises:
        CheckpointError: unreadable checkpoint, or a named one whose config differs from a given ``config``.
    """
    default = names_default(checkpoint)
    checkpoint = resolve_box2seg_checkpoint(checkpoint)
    if default and checkpoint is not None and config is not None and \
            read_box2seg_checkpoint(checkpoint).config != config:
        checkpoint = None  # the shipped weights are for another network: as for a preset that ships none
    if config is None:
        config = read_box2seg_checkpoint(checkpoint).config if checkpoint is not None else Box2SegConfig()
    net = Box2SegNet(config)
    if checkpoint is not None:
        load_box2seg_checkpoint_into(net, Path(checkpoint), expected_config=config)
    return Box2Seg(net, device=device, precision=precision, batch_size=batch_size)
