"""Metric functions against values computed by hand on tiny cases, absent frames included."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from siamrcnn_ros.datasets import Sequence
from siamrcnn_ros.evaluation import (
    aggregate,
    average_curves,
    center_error,
    evaluate_sequence,
    got10k_bound_boxes,
    got10k_frame_ious,
    got10k_scores,
    iou_xywh,
    max_geometric_mean,
    normalized_center_error,
    one_pass_curves,
    oxuva_counts,
    vot_lt_curves,
    vot_lt_thresholds,
)
from siamrcnn_ros.evaluation.overlap import clip_boxes_to_image, repair_predictions, valid_ground_truth


def boxes(*rows: tuple[float, float, float, float]) -> np.ndarray:
    return np.array(rows, dtype=np.float64)


# ---------------------------------------------------------------- IoU and centre errors

def test_iou_by_hand() -> None:
    first = boxes((0, 0, 10, 10), (0, 0, 10, 10), (0, 0, 10, 10), (0, 0, 10, 10), (0, 0, 0, 0), (0, 0, 10, 10))
    second = boxes((5, 5, 10, 10), (10, 0, 10, 10), (0, 0, 10, 10), (2, 2, 4, 4), (0, 0, 0, 0), (np.nan, 0, 1, 1))
    ious = iou_xywh(first, second)
    np.testing.assert_allclose(ious[:5], [25 / 175, 0.0, 1.0, 16 / 100, 0.0], rtol=0, atol=1e-15)
    assert np.isnan(ious[5])


def otb_calc_rect_int(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """OTB's MATLAB calcRectInt written out: pixel ranges (right = x + w - 1) and +1 widths."""
    right_a, top_a = a[:, 0] + a[:, 2] - 1, a[:, 1] + a[:, 3] - 1
    right_b, top_b = b[:, 0] + b[:, 2] - 1, b[:, 1] + b[:, 3] - 1
    width = np.maximum(0, np.minimum(right_a, right_b) - np.maximum(a[:, 0], b[:, 0]) + 1)
    height = np.maximum(0, np.minimum(top_a, top_b) - np.maximum(a[:, 1], b[:, 1]) + 1)
    intersection = width * height
    return intersection / (a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - intersection)


def test_continuous_iou_equals_otb_matlab_with_its_plus_one() -> None:
    """The +1 of OTB's calcRectInt cancels against its -1: same IoU for non-integer boxes too."""
    rng = np.random.default_rng(0)
    first = np.concatenate([rng.uniform(0, 50, (500, 2)), rng.uniform(1, 40, (500, 2))], axis=1)
    second = np.concatenate([first[:, :2] + rng.uniform(-20, 20, (500, 2)), rng.uniform(1, 40, (500, 2))], axis=1)
    np.testing.assert_allclose(iou_xywh(first, second), otb_calc_rect_int(first, second), rtol=0, atol=1e-12)


def test_center_errors_by_hand() -> None:
    np.testing.assert_allclose(center_error(boxes((0, 0, 10, 10)), boxes((3, 4, 10, 10))), [5.0])
    # Different sizes: x + (w - 1)/2 gives 4.5 vs 9.5, x + w/2 gives 5 vs 10: the same distance.
    np.testing.assert_allclose(center_error(boxes((0, 0, 10, 10)), boxes((0, 0, 20, 20))), [5 * math.sqrt(2)])
    # Centres (7.5, 8.5) and (4.5, 9.5) -> (3, -1) / (10, 20).
    np.testing.assert_allclose(normalized_center_error(boxes((3, 4, 10, 10)), boxes((0, 0, 10, 20))),
                               [math.sqrt(0.3 ** 2 + 0.05 ** 2)])
    assert normalized_center_error(boxes((3, 4, 10, 10)), boxes((0, 0, 0, 20)))[0] == math.inf


def test_shape_errors_name_the_shapes() -> None:
    with pytest.raises(ValueError, match=r'\(2, 3\)'):
        iou_xywh(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match='same shape'):
        center_error(np.zeros((2, 4)), np.zeros((3, 4)))


def test_ground_truth_validity_and_repairs() -> None:
    truth = boxes((1, 1, 5, 5), (0, 1, 5, 5), (1, 1, 5, 0), (1, 1, 5, 5), (np.nan, 1, 5, 5))
    absent = np.array([False, False, False, True, False])
    np.testing.assert_array_equal(valid_ground_truth(truth, absent), [True, False, False, False, False])
    prediction = boxes((9, 9, 9, 9), (1, 1, 2, 2), (np.nan, 0, 0, 0), (5, 5, 0, 3), (4, 4, 4, 4))
    np.testing.assert_array_equal(repair_predictions(prediction),
                                  boxes((9, 9, 9, 9), (1, 1, 2, 2), (1, 1, 2, 2), (1, 1, 2, 2), (4, 4, 4, 4)))


# ---------------------------------------------------------------- OTB / LaSOT one-pass curves

def lasot_like_case() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frame 0 given; 1 exact; 2 shifted by 5 px (IoU 1/3); 3 absent; 4 ground truth with x = 0 (invalid)."""
    truth = boxes((1, 1, 10, 10), (1, 1, 10, 10), (1, 1, 10, 10), (1, 1, 10, 10), (0, 5, 10, 10))
    prediction = boxes((50, 50, 5, 5), (1, 1, 10, 10), (6, 1, 10, 10), (1, 1, 10, 10), (0, 5, 10, 10))
    absent = np.array([False, False, False, True, False])
    return prediction, truth, absent


def test_one_pass_curves_with_absent_and_invalid_frames() -> None:
    prediction, truth, absent = lasot_like_case()
    curves = one_pass_curves(prediction, truth, absent)
    # IoUs [1, 1, 1/3, fail, fail] over 5 frames: > t for t < 1/3 -> 3/5, for 1/3 <= t < 1 -> 2/5, at 1 -> 0.
    expected_success = np.array([0.6] * 7 + [0.4] * 13 + [0.0])
    np.testing.assert_allclose(curves.success, expected_success, atol=1e-15)
    assert curves.auc == pytest.approx((7 * 0.6 + 13 * 0.4) / 21, abs=1e-15)
    # Centre errors [0, 0, 5, inf, inf].
    np.testing.assert_allclose(curves.precision, [0.4] * 5 + [0.6] * 46, atol=1e-15)
    assert curves.precision_20 == pytest.approx(0.6)
    # Normalised errors [0, 0, 0.5, inf, inf]: 0.5 is reached only at the last threshold.
    np.testing.assert_allclose(curves.normalized_precision, [0.4] * 50 + [0.6], atol=1e-15)
    assert curves.normalized_precision_20 == pytest.approx(0.4)
    assert curves.normalized_precision_auc == pytest.approx((50 * 0.4 + 0.6) / 51)
    assert curves.num_frames == 5


def test_without_absent_flags_the_absent_frame_is_scored() -> None:
    prediction, truth, _ = lasot_like_case()
    assert one_pass_curves(prediction, truth).success[0] == pytest.approx(4 / 5)


def test_broken_predictions_take_the_previous_box() -> None:
    truth = boxes((1, 1, 10, 10), (1, 1, 10, 10), (1, 1, 10, 10))
    prediction = boxes((1, 1, 10, 10), (1, 1, 10, 10), (np.nan, np.nan, np.nan, np.nan))
    assert one_pass_curves(prediction, truth).auc == pytest.approx(20 / 21)  # all IoU 1: fails only at t = 1


def test_average_over_sequences_weighs_sequences_equally() -> None:
    prediction, truth, absent = lasot_like_case()
    long = one_pass_curves(prediction, truth, absent)
    perfect = one_pass_curves(truth[:2], truth[:2])
    mean = average_curves([long, perfect])
    np.testing.assert_allclose(mean.success, (long.success + perfect.success) / 2)
    assert mean.num_sequences == 2
    assert mean.num_frames == 7
    nested = average_curves([mean, long])
    np.testing.assert_allclose(nested.success, (2 * long.success + perfect.success) / 3)


# ---------------------------------------------------------------- GOT-10k

def test_got10k_ao_and_success_rates_pool_frames() -> None:
    truth = boxes(*[(0, 0, 10, 10)] * 4)
    first = got10k_frame_ious(boxes((50, 50, 1, 1), (0, 0, 10, 10), (5, 0, 10, 10), (0, 0, 10, 10)), truth,
                              absent=np.array([False, False, False, True]))
    second = got10k_frame_ious(boxes((0, 0, 1, 1), (0, 0, 10, 5), (0, 0, 10, 7)), truth[:3])
    np.testing.assert_allclose(first, [1.0, 1 / 3])  # frame 0 and the cover == 0 frame dropped
    scores = got10k_scores([first, second])
    assert scores.num_frames == 4
    assert scores.ao == pytest.approx((1 + 1 / 3 + 0.5 + 0.7) / 4)
    assert scores.sr50 == pytest.approx(2 / 4)  # IoU 0.5 exactly is not above 0.5
    assert scores.sr75 == pytest.approx(1 / 4)
    assert scores.success_curve.shape == (101,)
    assert scores.success_curve[0] == 1.0


def test_got10k_bounds_boxes_by_moving_them_inside() -> None:
    bounded = got10k_bound_boxes(boxes((-5, 0, 20, 10), (90, 95, 20, 20), (120, 5, 5, 5)), (100, 100))
    np.testing.assert_array_equal(bounded, boxes((0, 0, 20, 10), (90, 95, 10, 5), (100, 5, 0, 5)))
    np.testing.assert_array_equal(clip_boxes_to_image(boxes((-5, 0, 20, 10)), (100, 100)), boxes((0, 0, 15, 10)))


def test_got10k_refuses_unknown_ground_truth() -> None:
    truth = np.vstack([boxes((0, 0, 5, 5)), np.full((2, 4), np.nan)])
    with pytest.raises(ValueError, match='GOT-10k server only'):
        got10k_frame_ious(truth, truth)


# ---------------------------------------------------------------- VOT-LT

LT_SEQUENCES = [
    # (overlaps, confidences, visible frames): the third frame of A and the second of B are absent.
    (np.array([0.8, 0.6, 0.0]), np.array([0.9, 0.5, 0.7]), 2),
    (np.array([0.4, 0.0]), np.array([0.3, 0.1]), 1),
]


def test_vot_lt_thresholds_by_hand() -> None:
    thresholds = vot_lt_thresholds(np.array([0.3, np.nan, 0.9, 0.1]))
    np.testing.assert_array_equal(thresholds, [np.inf, 0.9, 0.3, 0.1, -np.inf])
    many = vot_lt_thresholds(np.arange(10.0), resolution=5)  # 3 inner thresholds at ranks round(linspace(3, 7, 3))
    np.testing.assert_array_equal(many, [np.inf, 6.0, 4.0, 2.0, -np.inf])


def test_vot_lt_precision_recall_f_by_hand() -> None:
    curves = vot_lt_curves(LT_SEQUENCES)
    np.testing.assert_array_equal(curves.thresholds, [np.inf, 0.9, 0.7, 0.5, 0.3, 0.1, -np.inf])
    precision_a = np.array([1, 0.8, 0.4, 1.4 / 3, 1.4 / 3, 1.4 / 3, 1.4 / 3])
    recall_a = np.array([0, 0.4, 0.4, 0.7, 0.7, 0.7, 0.7])
    precision_b = np.array([1, 1, 1, 1, 0.4, 0.2, 0.2])  # no frame above the threshold: precision 1
    recall_b = np.array([0, 0, 0, 0, 0.4, 0.4, 0.4])
    np.testing.assert_allclose(curves.precision, (precision_a + precision_b) / 2, atol=1e-15)
    np.testing.assert_allclose(curves.recall, (recall_a + recall_b) / 2, atol=1e-15)
    assert curves.f_score[0] == 0.0
    assert curves.best_index == 4
    assert curves.best_threshold == 0.3
    precision, recall = (1.4 / 3 + 0.4) / 2, 0.55
    assert curves.best_precision == pytest.approx(precision, abs=1e-15)
    assert curves.best_recall == pytest.approx(recall, abs=1e-15)
    assert curves.best_f_score == pytest.approx(2 * precision * recall / (precision + recall), abs=1e-15)


def test_vot_lt_frame_pooling_differs() -> None:
    pooled = vot_lt_curves(LT_SEQUENCES, average='frame')
    # At 0.3: frames 0.8, 0.6, 0 (absent), 0.4 -> Pr 1.8 / 4, Re 1.8 / 3 visible.
    assert pooled.best_index == 4
    assert pooled.best_f_score == pytest.approx(2 * 0.45 * 0.6 / 1.05, abs=1e-15)
    assert pooled.best_f_score - vot_lt_curves(LT_SEQUENCES).best_f_score == pytest.approx(0.0295, abs=1e-4)


# ---------------------------------------------------------------- OxUvA

def test_oxuva_counts_by_hand() -> None:
    truth = boxes(*[(0, 0, 10, 10)] * 7)
    prediction = boxes((0, 0, 10, 5), (0, 0, 10, 2), (0, 0, 10, 10), (0, 0, 10, 10), (5, 5, 1, 1), (0, 0, 10, 10),
                       (-20, 0, 30, 10))
    predicted = np.array([True, True, False, False, True, False, True])
    present = np.array([True, True, True, False, False, False, True])
    # TP (IoU 0.5 counts), FN (IoU 0.2), FN (predicted absent), TN, FP, TN, FN (IoU 1/3 unclipped).
    counts = oxuva_counts(prediction, predicted, truth, present)
    assert (counts.tp, counts.fn, counts.tn, counts.fp) == (1, 3, 2, 1)
    assert counts.tpr == pytest.approx(1 / 4)
    assert counts.tnr == pytest.approx(2 / 3)
    # Clipped to a 100 x 100 image the last box is (0, 0, 10, 10): a true positive.
    clipped = oxuva_counts(prediction, predicted, truth, present, image_size=(100, 100))
    assert (clipped.tp, clipped.fn) == (2, 2)
    total = counts + clipped
    assert (total.tp, total.fn, total.tn, total.fp) == (3, 5, 4, 2)


def test_max_geometric_mean() -> None:
    # TNR >= 0.5: the best is p = 0, sqrt(TPR * TNR).
    assert max_geometric_mean(1 / 3, 2 / 3) == pytest.approx(math.sqrt(2) / 3, abs=1e-15)
    # TNR = 0.2: p* = 0.6 / 1.6 = 0.375, (1 - p)((1 - p) 0.2 + p) = 0.3125.
    assert max_geometric_mean(0.6, 0.2) == pytest.approx(math.sqrt(0.6 * 0.3125), abs=1e-15)
    for tpr, tnr in [(0.6, 0.2), (0.9, 0.0), (0.3, 1.0), (0.0, 0.4), (0.5, 0.5)]:
        p = np.linspace(0, 1, 100001)
        grid = np.sqrt(((1 - p) * tpr) * ((1 - p) * tnr + p)).max()
        assert max_geometric_mean(tpr, tnr) == pytest.approx(grid, abs=1e-9)
    assert math.isnan(max_geometric_mean(math.nan, 0.5))


# ---------------------------------------------------------------- per sequence and aggregation

def test_evaluate_sequence_and_aggregate() -> None:
    prediction, truth, absent = lasot_like_case()
    sequence = Sequence(name='s', frames=[Path(f'{i}.jpg') for i in range(5)], video=None, ground_truth=truth,
                        absent=absent)
    confidences = np.array([1.0, 0.9, 0.8, 0.0, 0.7])
    extra = np.vstack([prediction, boxes((1, 1, 1, 1))])  # one box too many is ignored
    evaluation = evaluate_sequence(sequence, extra, np.append(confidences, 1.0), image_size=(100, 100))
    assert evaluation.one_pass.auc == pytest.approx((7 * 0.6 + 13 * 0.4) / 21)
    # GOT-10k: frames 1, 2 and 4 (x = 0 is fine for GOT-10k).
    np.testing.assert_allclose(evaluation.got10k_ious, [1.0, 1 / 3, 1.0])
    # Long-term frames 1..4: visible 1, 2 (4 has x = 0 but positive size: visible); 3 absent.
    np.testing.assert_allclose(evaluation.long_term.overlaps, [1.0, 1 / 3, 0.0, 1.0])
    assert evaluation.long_term.num_visible == 3
    # OxUvA frames 1..4: TP, FN (IoU 1/3), TN (confidence 0 while absent), TP.
    assert (evaluation.oxuva.tp, evaluation.oxuva.fn, evaluation.oxuva.tn, evaluation.oxuva.fp) == (2, 1, 1, 0)

    tracker = aggregate('t', [evaluation, evaluation], fps=12.5)
    summary = tracker.summary()
    assert summary['sequences'] == 2
    assert summary['frames'] == 10
    assert summary['success_auc'] == pytest.approx(evaluation.one_pass.auc)
    assert summary['got10k_ao'] == pytest.approx((2 + 1 / 3) / 3)
    assert summary['oxuva_tpr'] == pytest.approx(2 / 3)
    assert summary['fps'] == 12.5
    assert tracker.to_json()['curves']['vot_lt_thresholds'][0] is None  # +inf is not JSON


def test_evaluate_sequence_errors() -> None:
    truth = boxes((1, 1, 5, 5), (1, 1, 5, 5))
    sequence = Sequence(name='s', frames=[Path('a.jpg'), Path('b.jpg')], video=None, ground_truth=truth, absent=None)
    with pytest.raises(ValueError, match='1 result boxes for 2 frames'):
        evaluate_sequence(sequence, truth[:1], None, ['success'])
    with pytest.raises(ValueError, match='need a confidence file'):
        evaluate_sequence(sequence, truth, None, ['vot_lt'])
    with pytest.raises(ValueError, match='subset of'):
        evaluate_sequence(sequence, truth, None, ['eao'])
    unannotated = Sequence(name='u', frames=[Path('a.jpg')], video=None, ground_truth=None, absent=None)
    with pytest.raises(ValueError, match='no ground truth'):
        evaluate_sequence(unannotated, truth[:1], None, ['success'])
