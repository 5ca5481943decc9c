"""COCO segmentations to masks (``siamrcnn_ros.datasets.coco_masks``), against masks worked out by hand.

The compressed strings are encoded by hand from COCO's rules (run lengths, the difference to the run two
places before from the fourth on, 5-bit groups offset by 48, 0x20 = more, 0x10 = negative).
"""
from __future__ import annotations

import numpy as np
import pytest

from siamrcnn_ros.datasets.coco_masks import (
    CocoImageMasks,
    decode_rle_counts,
    polygons_to_mask,
    rle_to_mask,
    segmentation_to_mask,
)


@pytest.mark.parametrize(('text', 'runs'), [
    ('234', [2, 3, 4]),            # small numbers: one group each, no difference before the fourth run
    ('151L', [1, 5, 1, 1]),        # fourth run 1 = 5 + (-4); -4 = group 28 ('L') with the sign bit
    ('X1', [40]),                  # 40 = 8 | 1 << 5: group 8 + 0x20 ('X'), then group 1 ('1')
])
def test_compressed_counts_decode_to_the_run_lengths(text: str, runs: list[int]) -> None:
    assert decode_rle_counts(text) == runs


def test_run_lengths_fill_columns_first_starting_with_background() -> None:
    # 3 x 3: 2 background, 3 foreground, 4 background, down the columns.
    expected = np.array([[0, 1, 0],
                         [0, 1, 0],
                         [1, 0, 0]], bool)
    np.testing.assert_array_equal(rle_to_mask([2, 3, 4], 3, 3), expected)
    np.testing.assert_array_equal(segmentation_to_mask({'counts': '234', 'size': [3, 3]}, 3, 3), expected)
    np.testing.assert_array_equal(segmentation_to_mask({'counts': [2, 3, 4], 'size': [3, 3]}, 3, 3), expected)


def test_a_square_polygon_covers_the_pixels_whose_centres_it_holds() -> None:
    mask = polygons_to_mask([[2, 1, 6, 1, 6, 4, 2, 4]], 6, 8)  # x 2..6, y 1..4
    expected = np.zeros((6, 8), bool)
    expected[1:4, 2:6] = True
    np.testing.assert_array_equal(mask, expected)


@pytest.mark.parametrize(('segmentation', 'message'), [
    ({'counts': [2, 3], 'size': [3, 3]}, 'sum to 3 x 3'),
    ({'counts': '234', 'size': [4, 3]}, 'differs from the image size'),
    ([[1, 2, 3, 4]], 'at least 3 points'),
    ('polygon', 'list of polygons or an RLE'),
    ({'counts': 'X', 'size': [3, 3]}, 'ends inside a number'),
])
def test_malformed_segmentations_are_refused_by_name(segmentation, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        segmentation_to_mask(segmentation, 3, 3)


def test_image_masks_label_objects_in_order() -> None:
    masks = CocoImageMasks(3, 3, ({'counts': '234', 'size': [3, 3]}, None, [[0, 0, 1, 0, 1, 1, 0, 1]]))
    labels = masks()
    assert labels.dtype == np.int32
    np.testing.assert_array_equal(labels, [[3, 1, 0], [0, 1, 0], [1, 0, 0]])  # object 3 painted last, object 2 none
