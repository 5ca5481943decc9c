"""The pieces around TDPA: settings validation, box geometry, Alg. 1's s1/s2/s3, the Argmax and Short-term
selectors (SPEC §3 "Variants") and the registry of the variants, on small hand-computed cases."""
from __future__ import annotations

import math

import numpy as np
import pytest

from siamrcnn_ros.tracking import (
    TDPA,
    ArgmaxSelector,
    Detections,
    ShortTermSelector,
    ShortTermSettings,
    TDPASettings,
    TrackerSettings,
    short_term_scores,
)
from siamrcnn_ros.tracking.locality import image_scale, location_score, spatial_distance
from siamrcnn_ros.tracking.selectors import VARIANTS, make_selector
from siamrcnn_ros.tracking.tracklets import associate, match_scores

SIZE = (100, 200)  # (height, width)
NO = -math.inf


def test_reference_settings() -> None:
    settings = TDPASettings()
    assert (settings.alpha, settings.beta, settings.w_ff, settings.w_loc, settings.max_gap) == (0.3, 0.3, 0.1, 7.0,
                                                                                                1500)


@pytest.mark.parametrize(('field', 'value'), [
    ('alpha', math.nan), ('alpha', math.inf),
    ('beta', 0.0), ('beta', -0.1), ('beta', math.inf), ('beta', math.nan),
    ('w_ff', -0.01), ('w_ff', 1.01), ('w_ff', math.nan),
    ('w_loc', -1.0), ('w_loc', math.inf),
    ('max_gap', 0), ('max_gap', 1.5), ('max_gap', True), ('max_gap', '10'),
])
def test_tdpa_settings_reject_bad_values(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        TDPASettings(**{field: value})


@pytest.mark.parametrize(('field', 'value'), [
    ('prior_sigma', 0.0), ('prior_sigma', math.inf), ('max_distance', 0.0), ('max_distance', math.nan),
])
def test_short_term_settings_reject_bad_values(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        ShortTermSettings(**{field: value})


def test_spatial_distance_and_location_score_by_hand() -> None:
    a = np.array([[0.0, 0.0, 20.0, 10.0]])  # cx 10, cy 5, w 20, h 10 -> (0.05, 0.05, 0.1, 0.1)
    b = np.array([[10.0, 0.0, 50.0, 30.0], [0.0, 0.0, 20.0, 10.0]])  # (0.15, 0.15, 0.2, 0.3), a itself
    # L-infinity of (0.1, 0.1, 0.1, 0.2), then 0.
    np.testing.assert_allclose(spatial_distance(a, b, SIZE), [[0.2, 0.0]])
    # Minus the mean of (0.1, 0.1, 0.1, 0.2); entry [i, j] = end box j followed by start box i.
    np.testing.assert_allclose(location_score(a, b, SIZE), [[-0.125], [0.0]])
    np.testing.assert_array_equal(image_scale(SIZE), [200.0, 100.0, 200.0, 100.0])


def test_match_scores_by_hand() -> None:
    # Rows: previous detections, columns: current detections.
    scores = np.array([
        [0.9, 0.5, NO],
        [0.2, 0.8, NO],
        [0.65, NO, NO],
    ])
    m = match_scores(scores)
    assert m.best_row[:2].tolist() == [0, 1]
    np.testing.assert_array_equal(m.s1, [0.9, 0.8, NO])
    np.testing.assert_array_equal(m.s2[:2], [0.5, 0.2])  # row d̂ without the detection's own column
    np.testing.assert_array_equal(m.s3[:2], [0.65, 0.5])  # column without row d̂
    # beta 0.3: column 0 is ambiguous (row 2 scores 0.65 > 0.9 - 0.3), column 1 extends row 1,
    # column 2 has nothing within the gate; beta 0.2: column 0 extends row 0 too.
    assert associate(scores, 0.3, 0.3).tolist() == [-1, 1, -1]
    assert associate(scores, 0.3, 0.2).tolist() == [0, 1, -1]


def test_match_scores_without_rows_or_columns() -> None:
    assert associate(np.zeros((0, 3)), 0.3, 0.3).tolist() == [-1, -1, -1]
    assert associate(np.zeros((2, 0)), 0.3, 0.3).tolist() == []
    assert associate(np.array([[0.9]]), 0.3, 0.3).tolist() == [0]


def dets(boxes, ff_scores, second=None, features=None) -> Detections:
    """Detections of one frame; ``second``: the scores against the second reference (0 when not given)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    second = np.zeros(len(boxes)) if second is None else second
    return Detections(boxes, np.asarray(ff_scores, dtype=np.float64), np.asarray(second, dtype=np.float64), features)


def test_argmax_selector() -> None:
    selector = ArgmaxSelector()
    with pytest.raises(RuntimeError, match='init'):
        selector.update(Detections.empty(), None, SIZE)
    first = np.array([10.0, 10.0, 20.0, 20.0])
    result = selector.init(first)
    assert (result.frame, result.present, result.confidence, result.selected) == (0, True, 1.0, None)
    assert len(selector.references) == 0
    assert selector.references.ff_box is None
    assert not selector.uses_pair_scores
    boxes = np.array([[0.0, 0.0, 5.0, 5.0], [50.0, 50.0, 60.0, 70.0], [1.0, 1.0, 2.0, 2.0]])
    result = selector.update(dets(boxes, [0.3, 0.8, 0.8]), None, SIZE)  # tie: the lowest index
    assert (result.frame, result.present, result.confidence) == (1, True, 0.8)
    np.testing.assert_array_equal(result.box, boxes[1])
    result = selector.update(Detections.empty(), None, SIZE)  # nothing: absent at the previous box
    assert (result.present, result.confidence) == (False, 0.0)
    np.testing.assert_array_equal(result.box, boxes[1])
    with pytest.raises(ValueError, match=r'ff_scores must have shape \[3\]'):
        dets(boxes, [0.1])
    with pytest.raises(ValueError, match='box must be'):
        selector.init(np.array([5.0, 5.0, 5.0, 9.0]))


def test_the_registry_builds_each_variant_from_its_settings() -> None:
    assert VARIANTS == ('tdpa', 'argmax', 'short_term')
    tdpa = make_selector(TrackerSettings(tdpa=TDPASettings(alpha=0.4)))
    assert isinstance(tdpa, TDPA)
    assert tdpa.settings.alpha == 0.4
    assert tdpa.uses_pair_scores
    assert isinstance(make_selector(TrackerSettings(variant='argmax')), ArgmaxSelector)
    short = make_selector(TrackerSettings(variant='short_term', short_term=ShortTermSettings(prior_sigma=0.2)))
    assert isinstance(short, ShortTermSelector)
    assert not short.uses_pair_scores
    with pytest.raises(ValueError, match='variant must be one of'):
        TrackerSettings(variant='kalman')


def test_short_term_scores_by_hand() -> None:
    settings = ShortTermSettings(prior_sigma=0.05, max_distance=0.25)
    prev = np.array([0.0, 0.0, 20.0, 10.0])
    boxes = np.array([
        [0.0, 0.0, 20.0, 10.0],  # distance 0
        [10.0, 0.0, 30.0, 10.0],  # cx + 10 px = 0.05 of the width: one sigma
        [60.0, 0.0, 80.0, 10.0],  # cx + 60 px = 0.3 > max_distance
    ])
    scores = short_term_scores(np.array([0.6, 0.8, 1.0]), np.array([0.4, 0.8, 1.0]), boxes, prev, SIZE, settings)
    np.testing.assert_allclose(scores[:2], [0.5, 0.8 * math.exp(-0.5)])
    assert scores[2] == NO


def test_short_term_selector_prefers_the_detection_near_the_previous_box() -> None:
    selector = ShortTermSelector(ShortTermSettings(prior_sigma=0.05, max_distance=0.25))
    with pytest.raises(RuntimeError, match='init'):
        _ = selector.reference_box
    first = np.array([0.0, 0.0, 20.0, 10.0])
    selector.init(first, features=np.array([[1.0, 0.0]]))  # a batch of one
    references = selector.references  # the previous prediction: one RoI, and the second reference
    np.testing.assert_array_equal(references.boxes, [first])
    np.testing.assert_array_equal(references.ff_box, first)
    np.testing.assert_array_equal(references.ff_features, [1.0, 0.0])
    near, far = [4.0, 0.0, 24.0, 10.0], [30.0, 0.0, 50.0, 10.0]  # 0.02 and 0.15 of the width away
    features = np.array([[0.0, 1.0], [2.0, 2.0]])  # [D, feature]
    result = selector.update(dets([far, near], [0.9, 0.6], [0.9, 0.6], features), None, SIZE)
    assert result.present
    np.testing.assert_array_equal(result.box, near)  # 0.6 * 0.92 beats 0.9 * 0.011
    assert result.confidence == pytest.approx(0.6)
    np.testing.assert_array_equal(selector.reference_box, near)
    np.testing.assert_array_equal(selector.reference_features, [2.0, 2.0])
    assert not np.shares_memory(selector.reference_features, features)  # the row, not the batch
    # Only a detection beyond max_distance: absent at the previous box, the reference stays.
    result = selector.update(dets([[150.0, 80.0, 170.0, 90.0]], [1.0], [1.0]), None, SIZE)
    assert (result.present, result.confidence) == (False, 0.0)
    np.testing.assert_array_equal(result.box, near)
    result = selector.update(Detections.empty(), None, SIZE)
    assert not result.present
    assert result.frame == 3


def test_predecessor_window_scores_as_eq1_and_drops_old_entries() -> None:
    from siamrcnn_ros.boxes import xyxy_to_cxcywh
    from siamrcnn_ros.tracking.tracklets import PredecessorWindow

    rng = np.random.default_rng(0)
    window = PredecessorWindow(capacity=4)
    ends, thetas, boxes = [], [], []
    for frame in range(40):  # three tracklets end at every frame
        corner = rng.uniform(0, 150, size=(3, 2))
        end_boxes = np.concatenate([corner, corner + rng.uniform(5, 40, size=(3, 2))], axis=1)
        theta = rng.normal(size=3)
        window.append(frame, theta, xyxy_to_cxcywh(end_boxes))
        ends += [frame] * 3
        thetas.append(theta)
        boxes.append(end_boxes)
        window.drop_ended_before(frame - 9)  # keep the last 10 frames
        assert len(window) == 3 * min(frame + 1, 10)
    assert window.capacity <= 4 * 33  # compacted (at most half full after), not grown without bound
    kept = np.array(ends) >= 30
    start_boxes = np.array([[10.0, 20.0, 40.0, 60.0], [100.0, 50.0, 120.0, 90.0]])
    w_loc = 7.0
    expected = (np.concatenate(thetas)[kept] + w_loc * location_score(np.concatenate(boxes)[kept], start_boxes,
                                                                       SIZE)).max(axis=1)
    weights = w_loc / (4.0 * image_scale(SIZE))
    np.testing.assert_allclose(window.best_predecessor(xyxy_to_cxcywh(start_boxes), weights), expected, rtol=1e-12)
    window.drop_ended_before(100)
    assert len(window) == 0
    assert window.best_predecessor(xyxy_to_cxcywh(start_boxes), weights).tolist() == [NO, NO]
