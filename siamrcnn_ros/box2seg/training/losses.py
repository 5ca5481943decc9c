"""The Box2Seg mask loss: binary cross-entropy on the logits plus an optional soft Dice loss."""
from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812 (the usual name)
from torch import Tensor

from siamrcnn_ros.box2seg.training.settings import Box2SegLossSettings

# Keeps the Dice ratio defined for an empty target and prediction.
_DICE_EPS = 1.0


def mask_losses(logits: Tensor, targets: Tensor, settings: Box2SegLossSettings) -> tuple[Tensor, dict[str, Tensor]]:
    """The weighted loss and its parts.

    Args:
        logits: ``[B, 1, S, S]`` network output.
        targets: ``[B, 1, S, S]`` float in ``[0, 1]`` (soft at the mask's edges).
        settings: the weights.

    Returns:
        ``(total, {'bce': ..., 'dice': ...})``: scalar tensors; ``bce`` is the mean over pixels and crops,
        ``dice`` the mean over crops of ``1 - 2|P T| / (|P| + |T|)`` with ``P`` the probabilities.
    """
    logits, targets = logits.float(), targets.float()
    bce = F.binary_cross_entropy_with_logits(logits, targets)
    probabilities = torch.sigmoid(logits).flatten(1)  # [B, S * S]
    flat = targets.flatten(1)
    overlap = (probabilities * flat).sum(dim=1)
    dice = 1 - (2 * overlap + _DICE_EPS) / (probabilities.sum(dim=1) + flat.sum(dim=1) + _DICE_EPS)  # [B]
    dice = dice.mean()
    return settings.bce_weight * bce + settings.dice_weight * dice, {'bce': bce, 'dice': dice}
