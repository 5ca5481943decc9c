"""Tracker and MultiTracker on real video frames with the CPU ``demo`` model and its shipped checkpoint.

What is checked here holds for any weights: the interface, the box conventions, that targets share the
frame's features (one backbone pass per frame, whatever their settings) without changing each other's
results, adding / removing targets at any frame, and click-to-track's choice of proposal.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from video_frames import bikes_frames

from siamrcnn_ros.boxes import xyxy_to_xywh
from siamrcnn_ros.model import build_model
from siamrcnn_ros.model.preprocessing import to_original
from siamrcnn_ros.tracking import MultiTracker, TDPASettings, Tracker, TrackerSettings

BOX_A = np.array([100.0, 60.0, 180.0, 200.0])  # xyxy pixels
BOX_B = np.array([300.0, 80.0, 380.0, 220.0])


class CountingModel(torch.nn.Module):
    """The real model, counting how often the per-frame feature extraction runs."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model
        self.extract_calls = 0

    def extract(self, image: np.ndarray) -> object:
        self.extract_calls += 1
        return self.model.extract(image)

    def __getattr__(self, name: str) -> object:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.model, name)


@pytest.fixture(scope='module')
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model('demo', device='cpu')


@pytest.fixture(scope='module')
def frames() -> list[np.ndarray]:
    return bikes_frames(6)


def test_tracker_init_returns_the_given_box(model, frames) -> None:
    tracker = Tracker(model)
    result = tracker.init(frames[0], np.array([100.0, 60.0, 80.0, 140.0]))  # xywh
    np.testing.assert_allclose(result.box, BOX_A)
    assert result.present
    assert result.confidence == 1.0
    assert result.frame == 0


def test_tracker_update_gives_a_result_per_frame(model, frames) -> None:
    tracker = Tracker(model)
    tracker.init(frames[0], np.array([100.0, 60.0, 80.0, 140.0]))
    height, width = frames[0].shape[:2]
    for index, frame in enumerate(frames[1:], start=1):
        result = tracker.update(frame)
        assert result.frame == index
        assert result.box.shape == (4,)
        assert result.box.dtype == np.float64
        assert 0.0 <= result.confidence <= 1.0
        if result.present:  # a detection: inside the image (boxes are clipped)
            assert 0 <= result.box[0] < result.box[2] <= width
            assert 0 <= result.box[1] < result.box[3] <= height
        for box in result.distractors.boxes:
            assert box[0] < box[2]
            assert box[1] < box[3]


def test_update_before_init_and_bad_inputs_raise(model, frames) -> None:
    tracker = Tracker(model)
    with pytest.raises(RuntimeError, match='init'):
        tracker.update(frames[0])
    with pytest.raises(ValueError, match='uint8'):
        tracker.init(frames[0].astype(np.float32), np.array([1.0, 1.0, 5.0, 5.0]))
    with pytest.raises(ValueError, match='no area'):
        tracker.init(frames[0], np.array([10.0, 10.0, 0.0, 5.0]))
    with pytest.raises(ValueError, match='outside the'):
        tracker.init(frames[0], np.array([5000.0, 10.0, 20.0, 20.0]))


def test_targets_share_frame_features_without_changing_results(model, frames) -> None:
    counting = CountingModel(model)
    multi = MultiTracker(counting)
    alone = MultiTracker(model)
    multi.step(frames[0], add={1: BOX_A, 2: BOX_B})
    alone.step(frames[0], add={1: BOX_A})
    for frame in frames[1:4]:
        together = multi.step(frame)
        single = alone.step(frame)
        np.testing.assert_allclose(together[1].box, single[1].box, rtol=0, atol=1e-4)
        assert together[1].present == single[1].present
        assert together[1].confidence == pytest.approx(single[1].confidence, abs=1e-5)
    assert counting.extract_calls == 4  # once per frame for both targets


def test_targets_with_their_own_settings_share_one_pass_and_match_separate_trackers(model, frames) -> None:
    argmax = TrackerSettings(variant='argmax')
    searching = TrackerSettings(search_shift=0.5, search_scale=1.25)
    counting = CountingModel(model)
    multi = MultiTracker(counting)
    multi.step(frames[0], add={1: BOX_A, 2: BOX_B, 3: BOX_A + 10}, settings={1: argmax, 2: searching})
    assert [multi.settings_of(i) for i in (1, 2, 3)] == [argmax, searching, TrackerSettings()]
    alone = {1: Tracker(model, argmax), 2: Tracker(model, searching), 3: Tracker(model)}
    for target_id, box in ((1, BOX_A), (2, BOX_B), (3, BOX_A + 10)):
        alone[target_id].init(frames[0], xyxy_to_xywh(box))
    for frame in frames[1:3]:
        together = multi.step(frame)
        for target_id, tracker in alone.items():
            single = tracker.update(frame)
            np.testing.assert_allclose(together[target_id].box, single.box, rtol=0, atol=1e-4)
            assert together[target_id].present == single.present
    assert counting.extract_calls == 3  # one pass per frame for the three settings
    with pytest.raises(TypeError, match='TrackerSettings'):
        multi.step(frames[3], add={4: BOX_B}, settings={4: 'argmax'})


def test_box_at_point_is_the_best_proposal_containing_the_pixel(model, frames) -> None:
    multi = MultiTracker(model)
    features = multi.extract(frames[0])
    proposals = to_original(features.proposals, features.resized_size, features.image_size).double().numpy()
    assert len(proposals) > 10
    for x, y in [((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b in proposals[[0, 3, 7]]] + [(5.0, 5.0), (600.0, 40.0)]:
        inside = np.flatnonzero((proposals[:, 0] <= x) & (x <= proposals[:, 2])
                                & (proposals[:, 1] <= y) & (y <= proposals[:, 3]))
        found = multi.box_at_point(features, (x, y))
        if inside.size == 0:
            assert found is None
        else:
            np.testing.assert_allclose(found, proposals[inside[0]], atol=1e-3)  # the first = best objectness
            np.testing.assert_allclose(multi.box_at_point(frames[0], (x, y)), found)  # image or features alike
    with pytest.raises(ValueError, match='outside'):
        multi.box_at_point(features, (-1.0, 5.0))


def test_targets_can_be_added_and_removed_at_any_frame(model, frames) -> None:
    multi = MultiTracker(model)
    results = multi.step(frames[0], add=[BOX_A])
    assert list(results) == [1]
    results = multi.step(frames[1], add={7: BOX_B})
    assert list(results) == [1, 7]
    assert results[7].frame == 0
    assert results[1].frame == 1
    np.testing.assert_allclose(results[7].box, BOX_B)
    results = multi.step(frames[2], remove=[1])
    assert list(results) == [7]
    assert results[7].frame == 1
    results = multi.step(frames[3], add=[BOX_A])  # ids keep increasing
    assert list(results) == [7, 8]
    with pytest.raises(KeyError, match='no target with id'):
        multi.remove([1])
    multi.remove()
    assert multi.step(frames[4]) == {}


@pytest.mark.parametrize('variant', ['argmax', 'short_term'])
def test_variants_run(model, frames, variant) -> None:
    tracker = Tracker(model, TrackerSettings(variant=variant))
    tracker.init(frames[0], np.array([100.0, 60.0, 80.0, 140.0]))
    for frame in frames[1:3]:
        result = tracker.update(frame)
        assert result.box.shape == (4,)
        assert 0.0 <= result.confidence <= 1.0
        assert result.selected is None
        assert len(result.distractors) == 0


def test_unknown_variant_is_refused() -> None:
    with pytest.raises(ValueError, match='variant'):
        TrackerSettings(variant='best')


def test_ff_tracklet_scores_cover_detections_far_from_the_first_frame_tracklet(model, frames, monkeypatch) -> None:
    """Paper §3.3: the first-frame tracklet's latest detection is "an additional reference for re-detection":
    every detection gets a score against it, also those outside the pair gate γ (where a lost target reappears).
    Observes what the tracker hands to TDPA.update (the real update still runs)."""
    from siamrcnn_ros.model.pairs import spatial_distance
    from siamrcnn_ros.tracking.tdpa import TDPA
    seen = []
    update = TDPA.update

    def observing_update(self, detections, pair_scores, image_size):
        seen.append((self.references.ff_box.copy(), detections, image_size))
        return update(self, detections, pair_scores, image_size)

    monkeypatch.setattr(TDPA, 'update', observing_update)
    tracker = Tracker(model)
    tracker.init(frames[0], np.array([100.0, 60.0, 80.0, 140.0]))
    for frame in frames[1:3]:
        tracker.update(frame)
    far = 0
    for ff_box, detections, image_size in seen:
        distance = spatial_distance(torch.as_tensor(ff_box)[None], torch.as_tensor(detections.boxes),
                                    image_size)[0].numpy()  # [D]
        gated_out = distance >= TDPASettings().gamma
        far += int(gated_out.sum())
        assert np.isfinite(detections.ff_tracklet_scores).all()
        # A head's probability is never exactly 0: a gated score would be.
        assert (detections.ff_tracklet_scores[gated_out] > 0).all()
    assert far > 0, 'no detection outside the gate: the check above saw nothing'
