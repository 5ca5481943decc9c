"""Pair scoring between detections (SPEC §2 "third stage", paper §3.3 and Alg. 1 line 6).

TDPA compares each detection of frame t with the last detections of the active tracklets: the
re-detection head runs with one detection's RoI features as the reference and the other's as the RoI.
Only spatially close pairs are scored; the others get −inf, so they can never be linked.

Boxes are ``[N, 4]`` xyxy float pixels of the original image; image sizes are ``(height, width)``.
The gate uses ``siamrcnn_ros.boxes.spatial_distance`` (one function for torch and NumPy, re-exported here).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from siamrcnn_ros.boxes import spatial_distance
from siamrcnn_ros.model.head import CascadeRedetectionHead


def _check_boxes(name: str, boxes: Tensor) -> None:
    if boxes.dim() != 2 or boxes.shape[-1] != 4:
        raise ValueError(f'{name} must be [N, 4] xyxy, got shape {tuple(boxes.shape)}')


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
        gamma: the spatial gate (``TDPASettings.gamma``; ``inf`` scores every pair).

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


__all__ = ['gated_pairs', 'score_pairs', 'spatial_distance']
