"""A search window around the target: RoIs that do not depend on the RPN (ours, not in the paper).

The RPN of a CPU preset trained on synthetic objects proposes few real objects: on the real clips
(``benchmarks/redetection_recall.py``) fewer than 5 % of the frames of a face, a cyclist or a bicycle have an
RPN proposal at IoU >= 0.5. The paper's RPN is COCO-trained and needs no help; ours does. Each frame, boxes
of the target's current size (and a few scales), centred on and around its current box, join the RoIs; the
cascade regresses them onto the object and the head scores them like any proposal.

Boxes are ``[N, 4]`` float32 xyxy pixels of the image.
"""
from __future__ import annotations

import itertools

import numpy as np


def search_boxes(box: np.ndarray, image_size: tuple[int, int], shift: float, scale: float) -> np.ndarray:
    """Boxes around ``box``: a 3 x 3 grid of centres at three sizes.

    Each box is ``box`` scaled about its centre by a factor of ``(1 / scale, 1, scale)`` (one factor when
    ``scale`` is 1), its centre moved by ``(dx * w, dy * h)`` with ``dx, dy`` in ``(-shift, 0, shift)`` (``w``,
    ``h``: ``box``'s size), then clipped to the image; boxes left under 2 px wide or high are dropped.

    Args:
        box: ``[4]`` xyxy pixels, positive size.
        image_size: ``(height, width)`` of the image, pixels.
        shift: offset of the outer centres, a fraction of the box's size; 0 gives only the centred boxes.
        scale: size step, >= 1.

    Returns:
        ``[K, 4]`` float32 xyxy pixels, ``K <= 27``, centred box first.
    """
    box = np.asarray(box, dtype=np.float64).reshape(4)
    width, height = box[2] - box[0], box[3] - box[1]
    centre_x, centre_y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    shifts = (0.0, -shift, shift) if shift > 0 else (0.0,)
    scales = (1.0, 1.0 / scale, scale) if scale > 1 else (1.0,)
    rows = []
    for dx, dy, factor in itertools.product(shifts, shifts, scales):
        cx, cy = centre_x + dx * width, centre_y + dy * height
        half_w, half_h = factor * width / 2, factor * height / 2
        rows.append((cx - half_w, cy - half_h, cx + half_w, cy + half_h))
    boxes = np.array(rows)
    boxes[:, 0::2] = boxes[:, 0::2].clip(0, image_size[1])
    boxes[:, 1::2] = boxes[:, 1::2].clip(0, image_size[0])
    keep = (boxes[:, 2] - boxes[:, 0] >= 2) & (boxes[:, 3] - boxes[:, 1] >= 2)
    return boxes[keep].astype(np.float32)
