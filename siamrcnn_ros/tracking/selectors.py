"""What picks a target's box among a frame's re-detections: one protocol, one registry of the variants.

The three variants of SPEC §3 (``tdpa``, the paper's tracker; ``argmax`` and ``short_term``, paper Tab. 7)
share one interface, so the tracker runs every frame the same way whatever the variant:

1. ``selector.references`` says what to compare the frame's detections with: the boxes that join the RoIs
   (``boxes``, ``R`` rows: TDPA's active tracklets, the short-term variant's previous prediction) and a second
   reference (``ff_box`` / ``ff_features``: TDPA's first-frame tracklet, the short-term variant's previous
   prediction; None for argmax);
2. the tracker re-detects, scores every detection against the second reference without the spatial gate
   (``Detections.ff_tracklet_scores``, 0 without one) and, for a selector whose ``uses_pair_scores`` is
   True, against the ``R`` references within the gate γ (the ``[R, D]`` pair scores);
3. ``selector.update(detections, pair_scores, image_size)`` returns the frame's ``TrackResult``.

``SELECTORS`` maps a variant's name (``TrackerSettings.variant``) to the function that builds its selector
from the settings; ``make_selector`` is the one place a name becomes a selector.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import numpy as np

from siamrcnn_ros.tracking.records import Detections, Features, References, TrackResult
from siamrcnn_ros.tracking.tdpa import TDPA
from siamrcnn_ros.tracking.variants import ArgmaxSelector, ShortTermSelector

if TYPE_CHECKING:
    from siamrcnn_ros.tracking.tracker import TrackerSettings


class Selector(Protocol):
    """One target's selection rule (module docstring)."""

    uses_pair_scores: bool
    """Whether ``update`` reads the ``[R, D]`` pair scores (else the tracker passes an ``[R, 0]``-shaped nothing:
    None)."""

    @property
    def references(self) -> References:
        """The references for the next frame (``R`` boxes joining the RoIs; the second reference or None)."""

    def init(self, box: np.ndarray, features: Features = None) -> TrackResult:
        """Starts from the ``[4]`` xyxy first-frame box and its payload as a batch of one (``[1, C, P, P]``)."""

    def update(self, detections: Detections, pair_scores: np.ndarray | None,
               image_size: tuple[int, int]) -> TrackResult:
        """One frame: ``detections`` (``D`` rows), ``[R, D]`` pair scores or None, ``(height, width)`` pixels."""


SelectorFactory = Callable[['TrackerSettings'], Selector]
"""Builds a target's selector from its ``TrackerSettings``."""

SELECTORS: dict[str, SelectorFactory] = {
    'tdpa': lambda settings: TDPA(settings.tdpa),
    'argmax': lambda settings: ArgmaxSelector(),
    'short_term': lambda settings: ShortTermSelector(settings.short_term),
}
VARIANTS = tuple(SELECTORS)
"""The names ``TrackerSettings.variant`` takes."""


def make_selector(settings: TrackerSettings) -> Selector:
    """The selector of ``settings.variant``, built from ``settings`` (``KeyError`` names the known variants)."""
    try:
        factory = SELECTORS[settings.variant]
    except KeyError:
        raise KeyError(f'unknown tracker variant {settings.variant!r}; known: {VARIANTS}') from None
    return factory(settings)
