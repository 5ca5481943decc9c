"""TDPA on long random streams: identical to the brute-force reference, bounded live state.

The reference (test/tdpa_reference.py) keeps every tracklet forever and recomputes θ of all of them
every frame; ``TDPA`` computes θ once per tracklet and drops tracklets from its predecessor window
after ``max_gap`` frames. A small ``max_gap`` makes that dropping happen all the time.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from tdpa_reference import ReferenceTDPA

from siamrcnn_ros.tools.tdpa_scenes import RandomScene, SyntheticFrame, embedding_pair_scores, track_frame
from siamrcnn_ros.tracking import FF_TRACKLET_ID, TDPA, Detections, TDPASettings

# A sparse scene: few tracklets per frame keep the quadratic reference affordable, many misses and
# departures make the target absent often, so selections switch and absences are reported.
SPARSE_SCENE = {'num_objects': 8, 'clutter': 0.3, 'leave_rate': 0.01}


@dataclass
class Comparison:
    frames: int = 0
    absent_frames: int = 0
    selection_switches: int = 0
    theta_ties: int = 0  # frames where the maximum θ is reached by several tracklets
    max_window: int = 0
    tracklets: int = 0
    ff_frames: int = 0  # frames after init in which a_ff was still extended


def _quantised(values: np.ndarray, steps: int | None) -> np.ndarray:
    """Scores rounded to multiples of ``1 / steps`` (exact in binary for steps = 4), to create ties."""
    return values if steps is None else np.round(values * steps) / steps


def _same_theta(theta: float, expected: float) -> bool:
    """Equal up to rounding (the two sum in different orders); −inf only where the reference has −inf."""
    return theta == expected or math.isclose(theta, expected, rel_tol=1e-9, abs_tol=1e-12)


def _compare_with_reference(settings: TDPASettings, seed: int, num_frames: int,
                            steps: int | None = None) -> Comparison:
    """Runs TDPA and the reference side by side on one RandomScene; asserts equal results every frame."""
    scene = RandomScene(seed=seed, **SPARSE_SCENE)
    size = scene.image_size
    tdpa, reference = TDPA(settings), ReferenceTDPA(settings)
    tdpa.init(scene.first_box(), scene.first_features())
    reference.init(scene.first_box(), scene.first_features()[0])
    to_reference_id: dict[int, int] = {0: 0}
    seen = Comparison()
    previous_selected = 0
    for _ in range(num_frames):
        frame = scene.next_frame()
        # TDPA: scored against its own references (rows in its order).
        refs = tdpa.references
        scores = _quantised(embedding_pair_scores(refs.boxes, refs.features, frame.boxes, frame.embeddings, size),
                            steps)
        ff = _quantised(frame.ff_scores, steps)
        ff_tracklet = _quantised(np.clip(frame.embeddings @ refs.ff_features, 0.0, 1.0), steps)
        result = tdpa.update(Detections(frame.boxes, ff, ff_tracklet, frame.embeddings), scores, size)
        # Reference: scored against its active tracklets (rows by id), from the payloads it keeps.
        active = reference.active()
        ref_boxes = np.array([t.boxes[-1] for t in active]).reshape(-1, 4)
        ref_embeddings = np.array([t.features[-1] for t in active]).reshape(-1, frame.embeddings.shape[1])
        ref_scores = _quantised(embedding_pair_scores(ref_boxes, ref_embeddings, frame.boxes, frame.embeddings,
                                                      size), steps)
        ref_ff_tracklet = _quantised(np.clip(frame.embeddings @ reference.a_ff.features[-1], 0.0, 1.0), steps)
        expected = reference.update(frame.boxes, ff, ref_ff_tracklet, list(frame.embeddings), ref_scores, size)

        t = expected.frame
        # Tracklets are matched through their latest detection: each active tracklet holds one of this
        # frame's detections, and the boxes of one frame are distinct. The match must never change.
        reference_rows = {tuple(tracklet.boxes[-1]): tracklet.tracklet_id for tracklet in reference.active()}
        refs = tdpa.references
        assert len(refs) == len(reference_rows) == len(frame.boxes), f'frame {t}'
        for tracklet_id, box in zip(refs.tracklet_ids, refs.boxes, strict=True):
            reference_id = reference_rows[tuple(box)]
            assert to_reference_id.setdefault(int(tracklet_id), reference_id) == reference_id, f'frame {t}'
        assert len(set(to_reference_id.values())) == len(to_reference_id), 'the id mapping must be one to one'

        assert result.frame == t
        np.testing.assert_array_equal(result.box, expected.box, err_msg=f'frame {t}')
        assert result.present == expected.present, f'frame {t}'
        assert math.isclose(result.confidence, expected.confidence, rel_tol=1e-12), f'frame {t}'
        selected = result.selected
        assert selected is not None
        assert to_reference_id[selected.tracklet_id] == expected.selected_id, f'frame {t}'
        assert _same_theta(selected.theta, expected.selected_theta), f'frame {t}'
        # The other live tracklets (the distractors) have the reference's θ too.
        for tracklet_id, theta in zip(result.distractors.tracklet_ids, result.distractors.theta, strict=True):
            assert _same_theta(theta, expected.thetas[to_reference_id[int(tracklet_id)]]), f'frame {t}'

        seen.frames += 1
        seen.absent_frames += not result.present
        seen.ff_frames += FF_TRACKLET_ID in refs.tracklet_ids
        seen.selection_switches += selected.tracklet_id != previous_selected
        previous_selected = selected.tracklet_id
        best = max(expected.thetas.values())
        seen.theta_ties += sum(value == best for value in expected.thetas.values()) > 1
        seen.max_window = max(seen.max_window, tdpa.stats().window_tracklets)
    seen.tracklets = len(reference.tracklets)
    return seen


@pytest.mark.parametrize('seed', [0, 1])
def test_identical_to_brute_force_reference_with_small_max_gap(seed: int) -> None:
    seen = _compare_with_reference(TDPASettings(max_gap=40), seed=seed, num_frames=800)
    # The stream exercised what matters: absences, switches, and a window far smaller than the history.
    assert seen.absent_frames > 20
    assert seen.selection_switches > 10
    assert seen.max_window < seen.tracklets / 5


def test_identical_to_brute_force_reference_with_ties() -> None:
    # Scores on a grid of 1/4 and w_loc = 0 make θ exact in both, with many equal maxima: the
    # tie-breaking (lowest id, i.e. the oldest tracklet) must agree too.
    settings = TDPASettings(alpha=0.5, beta=0.25, w_ff=0.5, w_loc=0.0, max_gap=40)
    seen = _compare_with_reference(settings, seed=2, num_frames=800, steps=4)
    assert seen.theta_ties >= 5
    assert seen.selection_switches > 10


def test_identical_to_brute_force_reference_with_the_first_frame_gate() -> None:
    # ff_min_score ends a_ff where the paper's rule would extend it; both implementations must agree,
    # and the gate must change the outcome on this stream (else it was not exercised).
    gated = _compare_with_reference(TDPASettings(max_gap=40, ff_min_score=0.9), seed=6, num_frames=400)
    plain = _compare_with_reference(TDPASettings(max_gap=40), seed=6, num_frames=400)
    assert 0 < gated.ff_frames < plain.ff_frames


def test_identical_to_brute_force_reference_with_a_unary_offset() -> None:
    # With an offset, θ falls along tracks through low-scoring detections: the target is reported absent
    # more often, and both implementations must agree on every θ all the same.
    offset = _compare_with_reference(TDPASettings(max_gap=40, unary_offset=0.5), seed=7, num_frames=400)
    plain = _compare_with_reference(TDPASettings(max_gap=40), seed=7, num_frames=400)
    assert offset.absent_frames > plain.absent_frames


def test_identical_to_brute_force_reference_with_a_rival_weight() -> None:
    # Each detection's unary term loses the frame's best other score: terms go negative for every detection
    # but the best, so the best track skips more frames (absent) than with the paper's Eq. 2.
    rival = _compare_with_reference(TDPASettings(max_gap=40, rival_weight=1.0), seed=8, num_frames=400)
    plain = _compare_with_reference(TDPASettings(max_gap=40), seed=8, num_frames=400)
    assert rival.absent_frames > plain.absent_frames
    half = _compare_with_reference(TDPASettings(max_gap=40, rival_weight=0.5, unary_offset=0.1), seed=9,
                                   num_frames=300)
    assert half.frames == 300


def test_identical_to_brute_force_reference_with_reference_max_gap() -> None:
    seen = _compare_with_reference(TDPASettings(), seed=5, num_frames=600)
    assert seen.absent_frames > 20


@pytest.mark.slow
@pytest.mark.parametrize(('seed', 'max_gap'), [(3, 50), (4, 200)])
def test_identical_to_brute_force_reference_on_long_streams(seed: int, max_gap: int) -> None:
    seen = _compare_with_reference(TDPASettings(max_gap=max_gap), seed=seed, num_frames=1500)
    assert seen.absent_frames > 50
    assert seen.max_window < seen.tracklets / 4


def test_live_state_stays_bounded_on_a_long_stream() -> None:
    max_gap = 300
    scene = RandomScene(seed=7)  # about 20 detections per frame
    tdpa = TDPA(TDPASettings(max_gap=max_gap))
    tdpa.init(scene.first_box(), scene.first_features())
    num_frames = 6 * max_gap * 3
    stats, detections = [], []
    for _ in range(num_frames):
        frame: SyntheticFrame = scene.next_frame()
        track_frame(tdpa, frame, scene.image_size)
        stats.append(tdpa.stats())
        detections.append(len(frame.boxes))
    # Hard bound, whatever the stream length: the active tracklets are this frame's detections,
    # the window holds tracklets that ended within max_gap frames (at most one per detection), and
    # the features are this frame's rows plus a_ff's latest.
    for s, num_dets in zip(stats, detections, strict=True):
        assert s.active_tracklets == num_dets
        assert s.window_tracklets <= max(detections) * max_gap
        assert s.stored_feature_rows <= num_dets + 1
    # No growth: after a warm-up of max_gap frames, the second half holds no more than the first.
    first = stats[max_gap:num_frames // 2]
    second = stats[num_frames // 2:]
    peak_first = max(s.live_tracklets for s in first)
    peak_second = max(s.live_tracklets for s in second)
    assert peak_second <= 1.2 * peak_first
    assert max(s.window_capacity for s in second) <= max(s.window_capacity for s in first)
    assert np.mean([s.live_tracklets for s in second]) <= 1.1 * np.mean([s.live_tracklets for s in first])
