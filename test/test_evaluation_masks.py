"""DAVIS mask measures (J, F, J_box) and statistics (mean, recall, decay) on hand-built masks,
against values worked out by hand from the definitions (no DAVIS toolkit here)."""
from __future__ import annotations

import numpy as np
import pytest

from siamrcnn_ros.evaluation.davis_metrics import frame_statistics, scored_frames
from siamrcnn_ros.evaluation.masks import (
    boundary_map,
    boundary_precision_recall,
    boundary_tolerance,
    box_masks,
    box_similarity,
    contour_accuracy,
    disk,
    mask_box,
    region_similarity,
)


def square(top: int, left: int, size: int, shape: tuple[int, int] = (10, 10)) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[top:top + size, left:left + size] = True
    return mask


def band(first_row: int, last_row: int, shape: tuple[int, int] = (50, 50)) -> np.ndarray:
    """Rows ``first_row..last_row`` (inclusive) set over the full width."""
    mask = np.zeros(shape, dtype=bool)
    mask[first_row:last_row + 1] = True
    return mask


def brute_force_boundary(mask: np.ndarray) -> np.ndarray:
    """The definition pixel by pixel: differs from an in-image right, lower or lower-right neighbour."""
    height, width = mask.shape
    out = np.zeros_like(mask, dtype=bool)
    for y in range(height):
        for x in range(width):
            for dy, dx in ((0, 1), (1, 0), (1, 1)):
                if y + dy < height and x + dx < width and mask[y, x] != mask[y + dy, x + dx]:
                    out[y, x] = True
    return out


def test_boundary_of_one_pixel() -> None:
    mask = np.zeros((4, 4), dtype=bool)
    mask[1, 1] = True
    # The pixel itself and the three pixels left, above and upper-left of it.
    expected = np.array([[1, 1, 0, 0],
                         [1, 1, 0, 0],
                         [0, 0, 0, 0],
                         [0, 0, 0, 0]], dtype=bool)
    np.testing.assert_array_equal(boundary_map(mask), expected)


def test_boundary_of_square_and_image_border() -> None:
    assert np.count_nonzero(boundary_map(square(2, 2, 4))) == 16  # 4 k for a k x k square
    assert not boundary_map(np.ones((5, 6), dtype=bool)).any()  # the image border is no boundary
    left_half = np.zeros((4, 6), dtype=bool)
    left_half[:, :3] = True
    assert np.argwhere(boundary_map(left_half)).tolist() == [[0, 2], [1, 2], [2, 2], [3, 2]]


def test_boundary_matches_the_definition_on_random_masks() -> None:
    rng = np.random.default_rng(3)
    for _ in range(5):
        mask = rng.random((9, 11)) < 0.4
        np.testing.assert_array_equal(boundary_map(mask), brute_force_boundary(mask))


def test_tolerance_and_disk() -> None:
    assert boundary_tolerance((480, 854)) == 8  # DAVIS 480p: ceil(0.008 * 979.7)
    assert boundary_tolerance((50, 50)) == 1  # ceil(0.566)
    assert boundary_tolerance((240, 320)) == 4  # ceil(3.2)
    assert boundary_tolerance((50, 50), 3) == 3  # >= 1: pixels
    assert boundary_tolerance((50, 50), 0) == 0
    np.testing.assert_array_equal(disk(1), [[0, 1, 0], [1, 1, 1], [0, 1, 0]])
    assert disk(2).sum() == 13
    with pytest.raises(ValueError, match='bound_th'):
        boundary_tolerance((10, 10), -0.1)


def test_square_against_shifted_square() -> None:
    truth, shifted = square(2, 2, 4), square(2, 3, 4)
    assert region_similarity(shifted, truth) == pytest.approx(12 / 20)
    assert box_similarity(shifted, truth) == pytest.approx(12 / 20)
    # Exact matching (tolerance 0): the top and bottom boundary rows share 4 pixels each, of 16.
    assert boundary_precision_recall(shifted, truth, bound_th=0) == (0.5, 0.5)
    assert contour_accuracy(shifted, truth, bound_th=0) == pytest.approx(0.5)
    # Every boundary pixel is one column from its counterpart: matched within 1 pixel.
    assert contour_accuracy(shifted, truth, bound_th=1) == 1.0


def test_hollow_square_j_differs_from_j_box() -> None:
    truth = square(2, 2, 4)
    hollow = truth.copy()
    hollow[3:5, 3:5] = False
    assert region_similarity(hollow, truth) == pytest.approx(12 / 16)
    assert box_similarity(hollow, truth) == 1.0


def test_empty_masks() -> None:
    empty, full = np.zeros((6, 6), dtype=bool), square(1, 1, 3, (6, 6))
    for measure in (region_similarity, contour_accuracy, box_similarity):
        assert measure(empty, empty) == 1.0
        assert measure(empty, full) == 0.0
        assert measure(full, empty) == 0.0
    assert boundary_precision_recall(empty, full) == (1.0, 0.0)
    assert boundary_precision_recall(full, empty) == (0.0, 1.0)


@pytest.mark.parametrize(('prediction', 'expected_f', 'expected_j'), [
    (band(10, 29), 1.0, 1.0),
    (band(11, 30), 1.0, 19 / 21),  # boundary rows 10 and 30 vs 9 and 29: 1 px, just inside the tolerance
    (band(12, 31), 0.0, 18 / 22),  # 2 px: just outside
    (band(10, 31), 0.5, 20 / 22),  # the upper boundary matches, the lower one is 2 px off
])
def test_boundary_tolerance_just_inside_and_outside(prediction: np.ndarray, expected_f: float,
                                                    expected_j: float) -> None:
    truth = band(10, 29)  # 50 x 50: tolerance ceil(0.008 * 70.7) = 1 px; boundary rows 9 and 29
    assert contour_accuracy(prediction, truth) == pytest.approx(expected_f)
    assert region_similarity(prediction, truth) == pytest.approx(expected_j)


def test_void_pixels_are_ignored() -> None:
    truth = square(2, 2, 4)
    void = np.zeros_like(truth)
    void[2:6, 6:8] = True  # right of the square
    bleeding = truth | void
    assert region_similarity(bleeding, truth) < 1.0
    assert region_similarity(bleeding, truth, void) == 1.0
    assert contour_accuracy(bleeding, truth, void) == 1.0
    assert box_similarity(bleeding, truth, void) == 1.0


def test_box_prediction_against_mask() -> None:
    truth = square(2, 2, 4)
    np.testing.assert_array_equal(mask_box(truth), [2, 2, 6, 6])
    assert np.isnan(mask_box(np.zeros((3, 3)))).all()
    assert box_similarity(np.array([2.0, 2, 6, 6]), truth) == 1.0
    assert box_similarity(np.array([2.0, 2, 6, 8]), truth) == pytest.approx(16 / 24)
    assert box_similarity(np.full(4, np.nan), np.zeros((3, 3))) == 1.0
    assert box_similarity(np.full(4, np.nan), truth) == 0.0


def test_boxes_fill_the_pixels_whose_centres_they_hold() -> None:
    truth = square(2, 2, 4)
    np.testing.assert_array_equal(box_masks(mask_box(truth)[None], truth.shape)[0], truth)  # inverse of mask_box
    masks = box_masks(np.array([[2.4, 2.6, 6.5, 5.5], [20.0, 20.0, 30.0, 30.0]]), (10, 10))  # [2, 10, 10]
    expected = np.zeros((10, 10), dtype=bool)
    expected[3:5, 2:6] = True  # column centres 2.5-5.5 lie in [2.4, 6.5), row centres 3.5-4.5 in [2.6, 5.5)
    np.testing.assert_array_equal(masks[0], expected)
    assert not masks[1].any()  # outside the image


def test_mismatched_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match='one shape'):
        region_similarity(np.zeros((3, 3)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match='void'):
        contour_accuracy(np.zeros((3, 3)), np.zeros((3, 3)), np.zeros((2, 2)))


def test_statistics_eight_frames() -> None:
    values = np.array([1, 1, 1, 0.8, 0.6, 0.4, 0.2, 0])
    statistics = frame_statistics(values)
    assert statistics.mean == pytest.approx(5 / 8)
    assert statistics.recall == pytest.approx(5 / 8)  # > 0.5
    # Bin edges round(0, 1.75, 3.5, 5.25, 7) = 0, 2, 4, 5, 7: first bin frames 0-2, last 5-7.
    assert statistics.decay == pytest.approx(1.0 - 0.2)


def test_statistics_shared_bin_edges_and_threshold() -> None:
    # Five frames: edges 0..4, first bin frames 0-1, last bin frames 3-4.
    statistics = frame_statistics(np.array([0.5, 0.7, 0.0, 0.1, 0.3]))
    assert statistics.decay == pytest.approx(0.6 - 0.2)
    assert statistics.recall == pytest.approx(1 / 5)  # 0.5 itself is no success
    assert frame_statistics(np.array([0.9])).decay == 0.0
    assert np.isnan(frame_statistics(np.array([])).mean)


def test_scored_frames() -> None:
    assert scored_frames(5).tolist() == [1, 2, 3]  # DAVIS 2017: neither the first nor the last frame
    assert scored_frames(5, 'after_first').tolist() == [1, 2, 3, 4]
    assert scored_frames(5, 'all').tolist() == [0, 1, 2, 3, 4]
    assert scored_frames(2).tolist() == []
    assert scored_frames(1, 'after_first').tolist() == []
    with pytest.raises(ValueError, match='frames must be one of'):
        scored_frames(5, 'first')
