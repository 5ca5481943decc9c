"""Our metrics against the public toolkits installed in the environment: the got10k toolkit
(``got10k.utils.metrics``, the OTB experiment's curves, the GOT-10k experiment's full report on a
dataset written here) and the vot-toolkit's long-term measures (``vot.analysis.longterm``).

Agreement is asserted to 1e-9 where the definitions match; where they differ, the documented
difference is asserted.
"""
from __future__ import annotations

import contextlib
import io
import typing
from pathlib import Path
from types import ModuleType, SimpleNamespace

import cv2
import numpy as np
import pytest

from siamrcnn_ros.datasets import list_sequences
from siamrcnn_ros.evaluation import (
    average_curves,
    center_error,
    evaluate_results_folder,
    iou_xywh,
    one_pass_curves,
    precision_recall_curve,
    vot_lt_thresholds,
    write_results,
)
from siamrcnn_ros.evaluation.long_term import long_term_overlaps

got10k_metrics = pytest.importorskip('got10k.utils.metrics', reason='needs the got10k toolkit (requirements/test.txt)')


def random_boxes(rng: np.random.Generator, count: int, image: tuple[int, int] = (200, 150),
                 integer: bool = False) -> np.ndarray:
    """``[count, 4]`` xywh with positive sizes and x, y >= 1, mostly inside the image."""
    width, height = image
    sizes = rng.uniform(5, 60, (count, 2))
    corners = rng.uniform(1, [width - 60, height - 60], (count, 2))
    result = np.concatenate([corners, sizes], axis=1)
    return np.round(result) if integer else result


def jitter(rng: np.random.Generator, truth: np.ndarray, pixels: float) -> np.ndarray:
    moved = truth + rng.normal(0, pixels, truth.shape)
    moved[:, 2:] = np.clip(moved[:, 2:], 1, None)
    return moved


# ---------------------------------------------------------------- got10k toolkit

def test_iou_and_center_error_match_got10k() -> None:
    rng = np.random.default_rng(1)
    truth = random_boxes(rng, 400)
    prediction = jitter(rng, truth, 15)
    np.testing.assert_allclose(iou_xywh(prediction, truth), got10k_metrics.rect_iou(prediction.copy(), truth.copy()),
                               rtol=0, atol=1e-9)
    np.testing.assert_allclose(center_error(prediction, truth), got10k_metrics.center_error(prediction, truth),
                               rtol=0, atol=1e-9)


def test_success_and_precision_curves_match_got10k_otb_experiment() -> None:
    """The got10k OTB report: first box replaced by the ground truth, per-sequence curves, mean over sequences."""
    from got10k.experiments.otb import ExperimentOTB

    bins = SimpleNamespace(nbins_iou=21, nbins_ce=51)  # the attributes _calc_curves reads
    rng = np.random.default_rng(2)
    ours, theirs_success, theirs_precision = [], [], []
    for length in (30, 55, 12):
        truth = random_boxes(rng, length)
        prediction = jitter(rng, truth, 12)
        ours.append(one_pass_curves(prediction, truth))
        record = prediction.copy()
        record[0] = truth[0]
        success, precision = ExperimentOTB._calc_curves(bins, got10k_metrics.rect_iou(record, truth.copy()),
                                                        got10k_metrics.center_error(record, truth))
        theirs_success.append(success)
        theirs_precision.append(precision)
    mean = average_curves(ours)
    np.testing.assert_allclose(mean.success, np.mean(theirs_success, axis=0), rtol=0, atol=1e-9)
    np.testing.assert_allclose(mean.precision, np.mean(theirs_precision, axis=0), rtol=0, atol=1e-9)
    assert mean.auc == pytest.approx(float(np.mean(np.mean(theirs_success, axis=0))), abs=1e-9)
    assert mean.precision_20 == pytest.approx(float(np.mean(theirs_precision, axis=0)[20]), abs=1e-9)


def write_got10k_val(root: Path, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A GOT-10k val split in the official layout (64x48 JPEG frames); returns predictions per sequence."""
    split = root / 'val'
    width, height = 64, 48
    predictions = {}
    names = [f'GOT-10k_Val_{i:06d}' for i in (1, 2, 3)]
    for name, length in zip(names, (6, 9, 4), strict=True):
        folder = split / name
        folder.mkdir(parents=True)
        for index in range(length):
            cv2.imwrite(str(folder / f'{index + 1:08d}.jpg'), np.zeros((height, width, 3), np.uint8))
        truth = np.concatenate([rng.uniform(0, 30, (length, 2)), rng.uniform(8, 30, (length, 2))], axis=1)
        # Predictions that leave the image on every side, where the toolkit's bounding matters.
        prediction = truth + rng.normal(0, 8, truth.shape)
        prediction[1] = (-6.0, -3.0, 20.0, 15.0)
        prediction[2] = (50.0, 40.0, 30.0, 30.0)
        cover = rng.integers(1, 9, length)
        cover[3] = 0
        np.savetxt(folder / 'groundtruth.txt', truth, fmt='%.4f', delimiter=',')
        truth = np.loadtxt(folder / 'groundtruth.txt', delimiter=',')
        np.savetxt(folder / 'cover.label', cover, fmt='%d')
        np.savetxt(folder / 'absence.label', (cover == 0).astype(int), fmt='%d')
        np.savetxt(folder / 'cut_by_image.label', np.zeros(length, int), fmt='%d')
        (folder / 'meta_info.ini').write_text(f'[METAINFO]\nresolution: ({width}, {height})\n')
        predictions[name] = prediction
    (split / 'list.txt').write_text('\n'.join(names) + '\n')
    return predictions


def test_got10k_ao_and_sr_match_the_got10k_report(tmp_path: Path) -> None:
    from got10k.experiments.got10k import ExperimentGOT10k

    rng = np.random.default_rng(3)
    predictions = write_got10k_val(tmp_path / 'data', rng)
    tracker_dir = tmp_path / 'results' / 'GOT-10k' / 'mine'
    for name, prediction in predictions.items():
        write_results(tracker_dir, name, prediction, times=np.full(len(prediction), 0.02), layout='got10k')

    experiment = ExperimentGOT10k(str(tmp_path / 'data'), subset='val', result_dir=str(tmp_path / 'results'),
                                  report_dir=str(tmp_path / 'reports'))
    with contextlib.redirect_stdout(io.StringIO()):
        report = experiment.report(['mine'])['mine']['overall']

    ours = evaluate_results_folder(tracker_dir, list_sequences(tmp_path / 'data' / 'val'), ['got10k']).got10k
    assert ours.num_frames == 5 + 8 + 3 - 3  # first frames and the cover == 0 frames dropped
    assert ours.ao == pytest.approx(report['ao'], abs=1e-9)
    assert ours.sr50 == pytest.approx(report['sr'], abs=1e-9)
    np.testing.assert_allclose(ours.success_curve, report['succ_curve'], rtol=0, atol=1e-9)


# ---------------------------------------------------------------- vot-toolkit

def import_vot_longterm() -> tuple[ModuleType, ModuleType]:
    """``vot.analysis.longterm`` and ``vot.region``.

    attributee 0.1.10 (a vot-toolkit dependency) applies ``typing.dataclass_transform`` as a bare
    decorator, which Python >= 3.11 rejects at import. For the import only, the decorator is
    replaced by one that returns the class unchanged (what the package does before 3.11).
    """
    original = typing.dataclass_transform
    typing.dataclass_transform = lambda *args, **kwargs: args[0] if args else (lambda cls: cls)
    try:
        longterm = pytest.importorskip('vot.analysis.longterm', reason='needs vot-toolkit (requirements/test.txt)')
    finally:
        typing.dataclass_transform = original
    import vot.region

    return longterm, vot.region


class VotSequence:
    """The two members of a vot ``Sequence`` that ``compute_tpr_curves`` reads (a full one needs a workspace)."""

    def __init__(self, regions: list, size: tuple[int, int]) -> None:
        self._regions = regions
        self.size = size

    def groundtruth(self) -> list:
        return self._regions


def vot_regions(region_module: ModuleType, boxes: np.ndarray, visible: np.ndarray) -> list:
    return [region_module.Rectangle(*box) if seen else region_module.Special(0) for box, seen in zip(boxes, visible,
                                                                                                  strict=True)]


def test_thresholds_match_vot_determine_thresholds() -> None:
    longterm, _ = import_vot_longterm()
    rng = np.random.default_rng(4)
    for count in (7, 98, 99, 1000, 4321):
        scores = rng.uniform(0, 1, count)
        scores[::17] = np.nan
        theirs = np.array(longterm.determine_thresholds(scores.tolist(), 100))
        np.testing.assert_array_equal(vot_lt_thresholds(scores, 100), theirs)


def test_precision_recall_curves_match_vot_compute_tpr_curves() -> None:
    """Integer boxes inside the image: the toolkit's rasterised overlap equals the continuous IoU."""
    longterm, region = import_vot_longterm()
    rng = np.random.default_rng(5)
    image = (200, 150)
    sequences = []
    for length in (40, 25):
        truth = random_boxes(rng, length, image, integer=True)
        prediction = np.clip(np.round(jitter(rng, truth, 10)), 1, None)
        prediction[:, :2] = np.minimum(prediction[:, :2], np.array(image) - prediction[:, 2:] - 1)
        visible = rng.uniform(size=length) > 0.25
        confidences = np.where(visible, rng.uniform(0.3, 1, length), rng.uniform(0, 0.6, length))
        sequences.append((truth, prediction, visible, confidences))
    thresholds = vot_lt_thresholds(np.concatenate([s[3] for s in sequences]))
    for truth, prediction, visible, confidences in sequences:
        their_precision, their_recall = longterm.compute_tpr_curves(
            [region.Rectangle(*box) for box in prediction], confidences.tolist(),
            VotSequence(vot_regions(region, truth, visible), image), thresholds.tolist())
        precision, recall = precision_recall_curve(long_term_overlaps(prediction, truth, visible), confidences,
                                                   int(visible.sum()), thresholds)
        np.testing.assert_allclose(precision, their_precision, rtol=0, atol=1e-9)
        np.testing.assert_allclose(recall, their_recall, rtol=0, atol=1e-9)


def test_documented_differences_from_vot() -> None:
    """Non-integer boxes: the toolkit rounds them; an empty box in an absent frame: the toolkit's overlap is 1."""
    _, region = import_vot_longterm()
    truth, prediction = (0.0, 0.0, 10.0, 10.0), (0.4, 0.0, 10.0, 10.0)
    theirs = region.calculate_overlaps([region.Rectangle(*prediction)], [region.Rectangle(*truth)], (100, 100))[0]
    assert theirs == pytest.approx(1.0)  # x = 0.4 rounds to 0
    assert iou_xywh(np.array([prediction]), np.array([truth]))[0] == pytest.approx(96 / 104)

    empty_on_absent = region.calculate_overlaps([region.Rectangle(0, 0, 0, 0)], [region.Special(0)], (100, 100))[0]
    assert empty_on_absent == 1.0
    ours = long_term_overlaps(np.zeros((1, 4)), np.full((1, 4), np.nan), np.array([False]))
    assert ours[0] == 0.0
