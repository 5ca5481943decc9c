"""Bounded, honest outputs (issue 17, item 4): the shape gate and the per-frame presence confidence."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from siamrcnn_ros.tracking import TDPASettings
from siamrcnn_ros.tracking.records import Detections
from siamrcnn_ros.tracking.tdpa import TDPA
from siamrcnn_ros.tracking.tracker import TrackerSettings, plausible_shapes

SIZE = (240, 320)
FIRST = np.array([100.0, 100.0, 160.0, 160.0])  # a 60 x 60 target


def test_plausible_shapes_drops_slivers_both_ways() -> None:
    boxes = torch.tensor([[0.0, 0.0, 60.0, 60.0],    # same aspect
                          [0.0, 0.0, 5.0, 238.0],    # the sliver of issue 17 (aspect 1/48)
                          [0.0, 0.0, 200.0, 10.0],   # a flat line (aspect 20)
                          [0.0, 0.0, 120.0, 30.0],   # aspect 4: on the gate
                          [0.0, 0.0, 30.0, 125.0]])  # aspect 1/4.17: just outside
    keep = plausible_shapes(boxes, FIRST, 4.0)
    assert keep.tolist() == [True, False, False, True, False]
    assert plausible_shapes(boxes, FIRST, math.inf).all()
    assert plausible_shapes(torch.zeros(0, 4), FIRST, 4.0).shape == (0,)


def test_max_aspect_change_must_be_a_factor() -> None:
    with pytest.raises(ValueError, match='max_aspect_change'):
        TrackerSettings(max_aspect_change=0.5)
    with pytest.raises(ValueError, match='max_aspect_change'):
        TrackerSettings(max_aspect_change=float('nan'))


def _run(confidence: str, ff_scores: list[float]) -> list[float]:
    """The target's box re-detected in place every frame with the given first-frame scores; its confidences."""
    tdpa = TDPA(TDPASettings(confidence=confidence))
    tdpa.init(FIRST)
    out = []
    for score in ff_scores:
        dets = Detections(FIRST[None].copy(), np.array([score]), np.array([score]))
        out.append(tdpa.update(dets, np.array([[0.95]]), SIZE).confidence)
    return out


def test_frame_confidence_follows_the_current_detection() -> None:
    scores = [0.9, 0.9, 0.2, 0.1]
    assert _run('tracklet', scores) == pytest.approx([1.0, 1.0, 1.0, 1.0])  # a_ff's maxima: 1 forever
    assert _run('frame', scores) == pytest.approx(scores)


def test_confidence_setting_is_checked() -> None:
    with pytest.raises(ValueError, match='confidence'):
        TDPASettings(confidence='max')


def test_presence_roc_auc() -> None:
    from siamrcnn_ros.evaluation.long_term import presence_roc_auc

    present = np.array([True, True, False, False])
    assert presence_roc_auc(np.array([0.9, 0.8, 0.1, 0.2]), present) == 1.0
    assert presence_roc_auc(np.array([0.1, 0.2, 0.9, 0.8]), present) == 0.0
    assert presence_roc_auc(np.array([0.5, 0.5, 0.5, 0.5]), present) == 0.5
    assert presence_roc_auc(np.array([0.9, 0.2, 0.5, 0.1]), present) == 0.75  # 3 of 4 pairs ordered right
    assert math.isnan(presence_roc_auc(np.array([0.9, 0.8]), np.array([True, True])))
    with pytest.raises(ValueError, match='alike'):
        presence_roc_auc(np.zeros(3), np.zeros(2, bool))


def test_presence_pool_skips_frame_zero_and_unlabelled_sequences() -> None:
    from siamrcnn_ros.evaluation.long_term import PresencePool

    pool = PresencePool()
    assert math.isnan(pool.roc_auc())
    # Frame 0 (the given box) would spoil the order if it counted: 0.0 while present.
    pool.add(np.array([0.0, 0.9, 0.1]), np.array([False, False, True]))
    pool.add(np.array([0.3, 0.3]), None)  # no labels: ignored
    pool.add(np.array([0.0, 0.8]), np.array([False, False, True, True]))  # a truncated run of a longer sequence
    assert pool.roc_auc() == 1.0
    with pytest.raises(ValueError, match='labelled'):
        pool.add(np.zeros(3), np.zeros(2, bool))


def test_override_changes_fields_and_nested_fields_by_name() -> None:
    from siamrcnn_ros.tracking.defaults import override, tracker_settings

    base = tracker_settings('demo')
    changed = override(base, ['tdpa.w_ff=1.0', 'search_shift=0', 'variant=argmax', 'tdpa.max_gap=10'])
    assert (changed.tdpa.w_ff, changed.search_shift, changed.variant, changed.tdpa.max_gap) == (1.0, 0.0, 'argmax', 10)
    assert changed.tdpa.w_loc == base.tdpa.w_loc  # the rest is kept
    assert override(base, []) == base
    for bad, reason in [('x=1', 'unknown'), ('tdpa.zz=1', 'unknown'), ('tdpa.w_ff=abc', 'not a float'),
                        ('search_shift=-1', 'search_shift'), ('nonsense', 'NAME=VALUE')]:
        with pytest.raises(ValueError, match=reason):
            override(base, [bad])
