"""Pair scoring between detections (SPEC §2 "third stage", paper §3.3 and Alg. 1 line 6).

TDPA compares each detection of frame t with the last detections of the active tracklets: the
re-detection head runs with one detection's RoI features as the reference and the other's as the RoI.
Only spatially close pairs are scored; the others get −inf, so they can never be linked.

Boxes are ``[N, 4]`` xyxy float pixels of the original image; image sizes are ``(height, width)``.
``spatial_distance`` is the torch twin of ``siamrcnn_ros.tracking.locality.spatial_distance``.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from siamrcnn_ros.boxes import xyxy_to_cxcywh
from siamrcnn_ros.model.head import CascadeRedetectionHead


def _check_boxes(name: str, boxes: Tensor) -> None:
    if boxes.dim() != 2 or boxes.shape[-1] != 4:
        raise ValueError(f'{name} must be [N, 4] xyxy, got shape {tuple(boxes.shape)}')


def _image_scale(image_size: tuple[int, int], like: Tensor) -> Tensor:
    """``(height, width)`` -> ``[4]`` ``(width, height, width, height)`` on ``like``'s device, float32 or wider."""
    if len(image_size) != 2:
        raise ValueError(f'image_size must be (height, width), got {image_size!r}')
    height, width = float(image_size[0]), float(image_size[1])
    if not (math.isfinite(height) and math.isfinite(width) and height > 0 and width > 0):
        raise ValueError(f'image_size must be two positive numbers (height, width), got {image_size!r}')
    dtype = torch.promote_types(like.dtype, torch.float32)
    return torch.tensor([width, height, width, height], dtype=dtype, device=like.device)


def spatial_distance(boxes_a: Tensor, boxes_b: Tensor, image_size: tuple[int, int]) -> Tensor:
    """L-infinity distance of normalised ``(cx, cy, w, h)`` between all pairs of boxes (SPEC §2).

    ``cx`` and ``w`` are divided by the image width, ``cy`` and ``h`` by the image height.

    Args:
        boxes_a: ``[A, 4]`` float xyxy pixels.
        boxes_b: ``[B, 4]`` float xyxy pixels.
        image_size: ``(height, width)`` in pixels.

    Returns:
        ``[A, B]`` float32 (float64 for float64 boxes), ``max(|Δcx|, |Δcy|, |Δw|, |Δh|)``.
    """
    _check_boxes('boxes_a', boxes_a)
    _check_boxes('boxes_b', boxes_b)
    scale = _image_scale(image_size, boxes_a)
    a = xyxy_to_cxcywh(boxes_a.to(scale.dtype)) / scale  # [A, 4]
    b = xyxy_to_cxcywh(boxes_b.to(scale.dtype)) / scale  # [B, 4]
    return (a[:, None, :] - b[None, :, :]).abs().amax(dim=-1)  # [A, B, 4] -> [A, B]


def gated_pairs(ref_boxes: Tensor, det_boxes: Tensor, image_size: tuple[int, int],
                gamma: float) -> tuple[Tensor, Tensor]:
    """The pairs close enough to be scored: ``spatial_distance < gamma`` (SPEC §2, reference γ = 0.06).

    Args:
        ref_boxes: ``[R, 4]`` float xyxy pixels.
        det_boxes: ``[D, 4]`` float xyxy pixels.
        image_size: ``(height, width)`` in pixels.
        gamma: the gate, in fractions of the image size.

    Returns:
        ``(ref_idx, det_idx)``, both ``[K]`` int64, row-major order.
    """
    # Host sync: nonzero needs the number of gated pairs to size its output. It is the one sync of
    # pair scoring and buys running the head on K pairs instead of all R x D.
    ref_idx, det_idx = torch.nonzero(spatial_distance(ref_boxes, det_boxes, image_size) < gamma, as_tuple=True)
    return ref_idx, det_idx


def score_pairs(head: CascadeRedetectionHead, ref_boxes: Tensor, ref_feats: Tensor, det_boxes: Tensor,
                det_feats: Tensor, image_size: tuple[int, int], gamma: float) -> Tensor:
    """Pair scores of references against detections: the head's target probability within the gate, −inf outside.

    All gated pairs go through ``head.target_probability`` in one batch; the others never reach the head.

    Args:
        head: the cascade re-detection head.
        ref_boxes: ``[R, 4]`` float xyxy pixels of the references (e.g. the last detections of tracklets).
        ref_feats: ``[R, C, P, P]`` RoI features of the references.
        det_boxes: ``[D, 4]`` float xyxy pixels of the detections.
        det_feats: ``[D, C, P, P]`` RoI features of the detections.
        image_size: ``(height, width)`` in pixels of the original image.
        gamma: the spatial gate (``PairConfig.gamma``).

    Returns:
        ``[R, D]`` float32: the mean over stages of the target probability where
        ``spatial_distance < gamma``, ``-inf`` elsewhere.
    """
    _check_boxes('ref_boxes', ref_boxes)
    _check_boxes('det_boxes', det_boxes)
    if len(ref_feats) != len(ref_boxes):
        raise ValueError(f'ref_feats has {len(ref_feats)} rows but ref_boxes has {len(ref_boxes)}')
    if len(det_feats) != len(det_boxes):
        raise ValueError(f'det_feats has {len(det_feats)} rows but det_boxes has {len(det_boxes)}')
    scores = torch.full((len(ref_boxes), len(det_boxes)), -math.inf, dtype=torch.float32, device=det_boxes.device)
    if scores.numel() == 0:
        return scores
    ref_idx, det_idx = gated_pairs(ref_boxes, det_boxes, image_size, gamma)
    if len(ref_idx):
        scores[ref_idx, det_idx] = head.target_probability(ref_feats[ref_idx], det_feats[det_idx])
    return scores
