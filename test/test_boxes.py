"""Box format conversions: exact values, NumPy and torch alike, inputs untouched."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from siamrcnn_ros.boxes import InvalidBoxError, check_xyxy, clip_xyxy, xywh_to_xyxy, xyxy_to_cxcywh, xyxy_to_xywh


def test_xywh_xyxy_round_trip_numpy() -> None:
    xywh = np.array([[10.0, 20.0, 30.0, 40.0], [0.5, 0.25, 1.0, 2.0]], dtype=np.float32)
    xyxy = xywh_to_xyxy(xywh)
    np.testing.assert_array_equal(xyxy, [[10.0, 20.0, 40.0, 60.0], [0.5, 0.25, 1.5, 2.25]])
    assert xyxy.dtype == np.float32
    np.testing.assert_array_equal(xyxy_to_xywh(xyxy), xywh)
    np.testing.assert_array_equal(xywh[0], [10.0, 20.0, 30.0, 40.0])  # input untouched


def test_conversions_on_torch_keep_type_and_shape() -> None:
    xyxy = torch.tensor([[[0.0, 0.0, 4.0, 2.0]]], dtype=torch.float64)  # [1, 1, 4]
    cxcywh = xyxy_to_cxcywh(xyxy)
    assert isinstance(cxcywh, torch.Tensor)
    assert cxcywh.shape == (1, 1, 4)
    assert cxcywh.dtype == torch.float64
    assert cxcywh.tolist() == [[[2.0, 1.0, 4.0, 2.0]]]
    assert xyxy.tolist() == [[[0.0, 0.0, 4.0, 2.0]]]


def test_empty_boxes() -> None:
    assert xywh_to_xyxy(np.zeros((0, 4))).shape == (0, 4)
    assert xyxy_to_xywh(torch.zeros(0, 4)).shape == (0, 4)


def test_wrong_last_dimension_names_the_shape() -> None:
    with pytest.raises(ValueError, match=r'got shape \(2, 3\)'):
        xywh_to_xyxy(np.zeros((2, 3)))


def test_target_boxes_are_checked_and_clipped() -> None:
    size = (100, 200)  # height, width
    assert clip_xyxy(check_xyxy(np.array([10, 20, 30, 40.]), size), size).tolist() == [10, 20, 30, 40]
    assert check_xyxy(np.array([-10, -5, 50, 500.]), size).tolist() == [-10, -5, 50, 500]  # not clipped
    assert clip_xyxy(np.array([-10, -5, 50, 500.]), size).tolist() == [0, 0, 50, 100]
    bad = {
        'NaN': [np.nan, 0, 10, 10], 'inf': [0, 0, np.inf, 10], 'zero area': [5, 5, 5, 20],
        'negative width': [20, 0, 10, 10], 'left of the image': [-50, 0, -10, 10],
        'below the image': [0, 100, 10, 140], 'sub-pixel inside': [199.5, 0, 260, 10],
    }
    for box in [*bad.values(), [1, 2, 3]]:
        with pytest.raises(InvalidBoxError):
            check_xyxy(np.array(box, float), size)
