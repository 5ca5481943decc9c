"""Recording TDPA's inputs and replaying them under other settings (``tools/tdpa_inputs.py``).

The claim the module rests on: what TDPA is fed does not depend on the settings that only score tracks,
so a replay equals a live run with those settings. Checked on a random stream, where a live TDPA with
other scoring settings is fed from its own references, and on the real model through ``Tracker``.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from video_frames import bikes_frames

from siamrcnn_ros.model import build_model
from siamrcnn_ros.tools.tdpa_inputs import RecordingTDPA, TDPAInputs, recording_selector, replay
from siamrcnn_ros.tools.tdpa_scenes import RandomScene, embedding_pair_scores
from siamrcnn_ros.tracking import (
    TDPA,
    Detections,
    MultiTracker,
    TDPASettings,
    Tracker,
    TrackerSettings,
    TrackResult,
)

RECORDED = TDPASettings(beta=0.1, ff_min_score=0.5, max_gap=60)
OTHERS = [
    dataclasses.replace(RECORDED, w_ff=1.0, w_loc=0.0),
    dataclasses.replace(RECORDED, rival_weight=0.75, unary_offset=0.1),
    dataclasses.replace(RECORDED, max_gap=5, w_loc=20.0),
]


def fed(tdpa: TDPA, frame, size: tuple[int, int]) -> tuple[Detections, np.ndarray]:
    """What the network would hand ``tdpa`` for ``frame``: scores against its own references."""
    refs = tdpa.references
    pairs = embedding_pair_scores(refs.boxes, refs.features, frame.boxes, frame.embeddings, size)
    ff_tracklet = np.clip(frame.embeddings @ refs.ff_features, 0.0, 1.0)
    return Detections(frame.boxes, frame.ff_scores, ff_tracklet, frame.embeddings), pairs


def assert_same(results: list[TrackResult], expected: list[TrackResult]) -> None:
    assert len(results) == len(expected)
    for result, want in zip(results, expected, strict=True):
        assert result.frame == want.frame
        np.testing.assert_array_equal(result.box, want.box, err_msg=f'frame {want.frame}')
        assert result.present == want.present, f'frame {want.frame}'
        assert result.confidence == want.confidence, f'frame {want.frame}'
        assert (result.selected is None) == (want.selected is None)
        if want.selected is not None:
            assert result.selected.theta == want.selected.theta, f'frame {want.frame}'


def record_stream(num_frames: int = 300, seed: int = 3) -> tuple[TDPAInputs, list[list[TrackResult]]]:
    """Records RECORDED on a random stream while live TDPAs with OTHERS run beside it, each fed from its
    own references; asserts that all of them are fed the same. Returns the recording and the live results."""
    scene = RandomScene(seed=seed, num_objects=8, clutter=0.5, leave_rate=0.01)
    size = scene.image_size
    recorder = RecordingTDPA(RECORDED)
    live = [TDPA(settings) for settings in OTHERS]
    results = [[tdpa.init(scene.first_box(), scene.first_features())] for tdpa in live]
    recorder.init(scene.first_box(), scene.first_features())
    for _ in range(num_frames):
        frame = scene.next_frame()
        detections, pairs = fed(recorder, frame, size)
        recorder.update(detections, pairs, size)
        for tdpa, out in zip(live, results, strict=True):
            own_detections, own_pairs = fed(tdpa, frame, size)
            np.testing.assert_array_equal(own_pairs, pairs)  # the claim: fed the same whatever the scoring
            np.testing.assert_array_equal(own_detections.ff_tracklet_scores, detections.ff_tracklet_scores)
            out.append(tdpa.update(own_detections, own_pairs, size))
    return recorder.inputs, results


def test_replay_equals_live_runs_with_other_scoring_settings() -> None:
    inputs, live_results = record_stream()
    assert len(inputs) == 300
    for settings, expected in zip(OTHERS, live_results, strict=True):
        assert_same(replay(inputs, settings), expected)
    # The settings make a difference on this stream, else the comparison above proved little.
    boxes = [np.array([r.box for r in out]) for out in live_results]
    assert not np.array_equal(boxes[0], boxes[1])
    assert not np.array_equal(boxes[1], boxes[2])


def test_replay_with_the_recorded_settings_reproduces_the_recording_run() -> None:
    scene = RandomScene(seed=4, num_objects=6)
    recorder = RecordingTDPA(RECORDED)
    expected = [recorder.init(scene.first_box(), scene.first_features())]
    for _ in range(120):
        detections, pairs = fed(recorder, scene.next_frame(), scene.image_size)
        expected.append(recorder.update(detections, pairs, scene.image_size))
    assert_same(replay(recorder.inputs), expected)


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    inputs, _ = record_stream(num_frames=80, seed=5)
    assert np.isneginf(inputs.pair_scores).any()  # gated-out pairs survive the file
    inputs.save(tmp_path / 'stream.npz')
    loaded = TDPAInputs.load(tmp_path / 'stream.npz')
    assert loaded.settings == RECORDED
    for name in ('first_box', 'counts', 'image_sizes', 'boxes', 'ff_scores', 'ff_tracklet_scores', 'pair_scores'):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(inputs, name), err_msg=name)
    assert_same(replay(loaded, OTHERS[1]), replay(inputs, OTHERS[1]))


def test_replay_refuses_other_association_settings() -> None:
    inputs, _ = record_stream(num_frames=5)
    with pytest.raises(ValueError, match='beta'):
        replay(inputs, dataclasses.replace(RECORDED, beta=0.3))
    with pytest.raises(ValueError, match='ff_min_score'):
        replay(inputs, TDPASettings(beta=0.1))


def test_load_refuses_files_that_are_not_recordings(tmp_path: Path) -> None:
    np.savez(tmp_path / 'other.npz', boxes=np.zeros((2, 4)))
    with pytest.raises(ValueError, match='not a TDPA input recording'):
        TDPAInputs.load(tmp_path / 'other.npz')
    inputs, _ = record_stream(num_frames=5)
    inputs.counts = inputs.counts + 1
    inputs.save(tmp_path / 'bad.npz')
    with pytest.raises(ValueError, match='do not match'):
        TDPAInputs.load(tmp_path / 'bad.npz')


def test_inputs_before_init_raise() -> None:
    with pytest.raises(RuntimeError, match='init'):
        _ = RecordingTDPA().inputs
    assert len(TDPAInputs(TDPASettings(), np.array([0.0, 0.0, 1.0, 1.0]))) == 0


def test_tracker_records_what_the_model_fed_tdpa() -> None:
    torch.manual_seed(0)
    model = build_model('demo', device='cpu')
    frames = bikes_frames(4)
    tracker = Tracker(model, TrackerSettings(tdpa=RECORDED), selector_factory=recording_selector)
    expected = [tracker.init(frames[0], np.array([100.0, 60.0, 80.0, 140.0]))]
    expected += [tracker.update(frame) for frame in frames[1:]]
    assert isinstance(tracker.selector, RecordingTDPA)
    inputs = tracker.selector.inputs
    assert len(inputs) == 3
    assert inputs.counts.min() > 0
    assert tuple(inputs.image_sizes[0]) == frames[0].shape[:2]
    assert_same(replay(inputs), expected)
    plain = Tracker(model, TrackerSettings(tdpa=RECORDED))
    with pytest.raises(RuntimeError, match='init'):
        _ = plain.selector
    plain.init(frames[0], np.array([100.0, 60.0, 80.0, 140.0]))
    assert type(plain.selector) is TDPA
    with pytest.raises(KeyError, match='no target with id 7'):
        MultiTracker(model).selector(7)
