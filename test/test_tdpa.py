"""TDPA on constructed detection streams, each with a known right answer (SPEC §3, paper §3.3, Alg. 1).

Pair scores are built by hand here, the way the network would give them: a score for each pair of
(reference, detection), −inf where the pair is farther apart than γ (SPEC §2).
"""
from __future__ import annotations

import gc
import math
import weakref
from collections.abc import Callable, Sequence

import numpy as np
import pytest
import torch

from siamrcnn_ros.tracking import FF_TRACKLET_ID, TDPA, ArgmaxSelector, Detections, TDPASettings, TrackResult
from siamrcnn_ros.tracking.locality import spatial_distance

SIZE = (480, 640)  # (height, width) pixels
GAMMA = 0.06  # SPEC §2
NO = -math.inf  # a gated-out pair


def box(cx: float, cy: float, w: float = 40.0, h: float = 40.0) -> np.ndarray:
    """``[4]`` xyxy pixels of a box centred at (cx, cy)."""
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def step(tdpa: TDPA, boxes: Sequence[np.ndarray], scores: Sequence[Sequence[float]] | np.ndarray,
         ff: Sequence[float] | None = None, ff_tracklet: Sequence[float] | None = None,
         features: object = None) -> TrackResult:
    """One frame: ``boxes`` with pair scores ``[R, D]`` against ``tdpa.references`` (ff scores 0.9 by default)."""
    num = len(boxes)
    boxes_array = np.array(boxes, dtype=np.float64).reshape(num, 4)
    ff_array = np.full(num, 0.9) if ff is None else np.asarray(ff, dtype=np.float64)
    fft_array = np.full(num, 0.9) if ff_tracklet is None else np.asarray(ff_tracklet, dtype=np.float64)
    pair = np.array(scores, dtype=np.float64).reshape(len(tdpa.references), num)
    return tdpa.update(Detections(boxes_array, ff_array, fft_array, features), pair, SIZE)


def started(first: np.ndarray, settings: TDPASettings | None = None, features: object = None) -> TDPA:
    tdpa = TDPA(settings)
    tdpa.init(first, features=features)
    return tdpa


# --- Alg. 1, lines 7-19: extend only without ambiguity ------------------------------------------------


@pytest.mark.parametrize(('s1', 'extends'), [
    (0.3, False),  # s1 > alpha is strict
    (float(np.nextafter(0.3, 1.0)), True),
    (0.29, False),
    (NO, False),  # gated out
])
def test_alpha_boundary(s1: float, extends: bool) -> None:
    tdpa = started(box(100, 100))
    step(tdpa, [box(102, 100)], [[s1]])
    expected = [FF_TRACKLET_ID] if extends else [FF_TRACKLET_ID + 1]
    assert tdpa.references.tracklet_ids.tolist() == expected


def _just_above(value: float) -> float:
    return float(np.nextafter(value, math.inf))


@pytest.mark.parametrize('competitor_first', [False, True])
@pytest.mark.parametrize(('margin', 'extends'), [('at', True), ('above', False)])
def test_beta_boundary_for_s2_another_current_detection(competitor_first: bool, margin: str, extends: bool) -> None:
    # One previous detection (a_ff), two current ones: s2 is the other current detection's score with d̂.
    beta = TDPASettings().beta
    s1 = 0.85
    s2 = s1 - beta if margin == 'at' else _just_above(s1 - beta)
    tdpa = started(box(100, 100))
    row = [s2, s1] if competitor_first else [s1, s2]
    step(tdpa, [box(101, 100), box(103, 100)], [row])
    ids = tdpa.references.tracklet_ids.tolist()
    target, competitor = (1, 0) if competitor_first else (0, 1)
    if extends:
        assert ids[target] == FF_TRACKLET_ID
        assert ids[competitor] != FF_TRACKLET_ID
    else:
        assert FF_TRACKLET_ID not in ids


@pytest.mark.parametrize('competitor_first', [False, True])
@pytest.mark.parametrize(('margin', 'extends'), [('at', True), ('above', False)])
def test_beta_boundary_for_s3_another_previous_tracklet(competitor_first: bool, margin: str, extends: bool) -> None:
    # Two previous tracklets, one current detection: s3 is its score with the other tracklet.
    beta = TDPASettings().beta
    s1 = 0.85
    s3 = s1 - beta if margin == 'at' else _just_above(s1 - beta)
    tdpa = started(box(100, 100))
    # Frame 1: the first detection extends a_ff, the second starts tracklet 1.
    first_two = [box(100, 100), box(110, 100)] if not competitor_first else [box(110, 100), box(100, 100)]
    step(tdpa, first_two, [[0.9, 0.0]] if not competitor_first else [[0.0, 0.9]])
    rows = tdpa.references.tracklet_ids.tolist()
    target_row = rows.index(FF_TRACKLET_ID)
    column = [s3, s3]
    column[target_row] = s1
    step(tdpa, [box(101, 100)], [[value] for value in column])
    ids = tdpa.references.tracklet_ids.tolist()
    assert ids == ([FF_TRACKLET_ID] if extends else [2])


def test_equal_best_scores_are_ambiguous() -> None:
    tdpa = started(box(100, 100))
    step(tdpa, [box(101, 100), box(99, 100)], [[0.9, 0.9]])  # two detections, equally good for a_ff
    assert tdpa.references.tracklet_ids.tolist() == [1, 2]
    step(tdpa, [box(100, 100)], [[0.9], [0.9]])  # one detection, equally good for two tracklets
    assert tdpa.references.tracklet_ids.tolist() == [3]


def test_extension_follows_the_best_row_among_several() -> None:
    tdpa = started(box(100, 100))
    step(tdpa, [box(300, 100), box(100, 100), box(500, 100)], [[NO, 0.95, NO]])
    assert tdpa.references.tracklet_ids.tolist() == [1, FF_TRACKLET_ID, 2]
    # Each tracklet is continued by the detection that matches it without ambiguity, in any order.
    step(tdpa, [box(502, 100), box(302, 100), box(102, 100)], [[NO, 0.9, 0.1], [0.1, NO, 0.9], [0.9, NO, 0.1]])
    assert tdpa.references.tracklet_ids.tolist() == [2, 1, FF_TRACKLET_ID]


# --- Scenarios ----------------------------------------------------------------------------------------


Scorer = Callable[[str, str], float]


def run_scenario(tdpa: TDPA, frames: Sequence[dict[str, np.ndarray]], appearance: Scorer,
                 ff: dict[str, float], ff_tracklet: dict[str, float]) -> list[TrackResult]:
    """Feeds frames of named objects; pair score = ``appearance(name_ref, name_det)`` gated by γ."""
    previous: dict[tuple[float, ...], str] = {tuple(tdpa.references.boxes[0]): 'A'}
    results = []
    for objects in frames:
        names = list(objects)
        boxes = np.array([objects[n] for n in names]).reshape(-1, 4)
        refs = tdpa.references
        ref_names = [previous[tuple(b)] for b in refs.boxes]
        scores = np.array([[appearance(r, n) for n in names] for r in ref_names]).reshape(len(refs), len(names))
        scores[spatial_distance(refs.boxes, boxes, SIZE) >= GAMMA] = NO
        results.append(step(tdpa, boxes, scores, [ff[n] for n in names], [ff_tracklet[n] for n in names]))
        previous = {tuple(b): n for b, n in zip(boxes, names, strict=True)}
    return results


def crossing_frames(num_frames: int = 60) -> list[dict[str, np.ndarray]]:
    """A moves right at y = 200, its look-alike B moves left at y = 224; they cross at frame 30.

    Their detections are within γ of each other's previous detection for frames 29-32 only.
    """
    return [{'A': box(100 + 8 * t, 200), 'B': box(580 - 8 * t, 224)} for t in range(1, num_frames + 1)]


LOOK_ALIKES: Scorer = lambda ref, det: 0.9  # noqa: E731 - appearance cannot tell A from B


@pytest.mark.parametrize('w_loc', [7.0, 0.0])
def test_look_alikes_cross_and_the_location_score_keeps_the_target(w_loc: float) -> None:
    frames = crossing_frames()
    tdpa = started(box(100, 200), TDPASettings(w_loc=w_loc))
    # B looks a little more like the template than A does.
    results = run_scenario(tdpa, frames, LOOK_ALIKES, ff={'A': 0.90, 'B': 0.91}, ff_tracklet={'A': 0.9, 'B': 0.9})
    # The crossing breaks the tracklets: some frames start new ones for both objects.
    assert any(r.selected is not None and r.selected.start_frame >= 29 for r in results)
    assert all(r.present for r in results)
    after = range(40, 60)
    if w_loc > 0:  # the reference setting: the jump to B costs more than B's slightly better looks
        for t, result in enumerate(results, start=1):
            np.testing.assert_array_equal(result.box, frames[t - 1]['A'], err_msg=f'frame {t}')
    else:  # without the location score, B's better looks win once the tracklets are broken
        for t in after:
            np.testing.assert_array_equal(results[t - 1].box, frames[t - 1]['B'], err_msg=f'frame {t}')


def test_argmax_variant_switches_to_the_better_looking_look_alike() -> None:
    frames = crossing_frames()
    selector = ArgmaxSelector()
    selector.init(box(100, 200))
    for t, objects in enumerate(frames, start=1):
        detections = Detections(np.array([objects['A'], objects['B']]), np.array([0.90, 0.91]), np.zeros(2))
        result = selector.update(detections, None, SIZE)
        np.testing.assert_array_equal(result.box, objects['B'], err_msg=f'frame {t}')


def appearance_ad(ref: str, det: str) -> float:
    return 0.95 if ref == det else 0.1  # A and D look different


def test_target_absent_for_300_frames_while_a_distractor_stays() -> None:
    def a_box(t: int) -> np.ndarray:
        return box(200 + t, 200) if t < 100 else box(329 + t - 400, 210)  # back 30 px right, 10 px down

    frames = []
    for t in range(1, 460):
        objects = {'D': box(500, 350 + (t % 7))}
        if t < 100 or t >= 400:
            objects['A'] = a_box(t)
        frames.append(objects)
    tdpa = started(a_box(0))
    results = run_scenario(tdpa, frames, appearance_ad, ff={'A': 0.9, 'D': 0.6}, ff_tracklet={'A': 0.9, 'D': 0.2})
    d_ids = {int(i) for r in results for i, b in zip(r.distractors.tracklet_ids, r.distractors.boxes, strict=True)
             if b[0] > 400}
    assert len(d_ids) == 1  # D is one unbroken tracklet
    for t, result in enumerate(results, start=1):
        assert result.selected is not None
        assert result.selected.tracklet_id not in d_ids, f'frame {t}: the distractor was selected'
        if t < 100:  # a_ff is followed: confidence 1 (its first detection has scores 1)
            assert result.present
            assert result.selected.tracklet_id == FF_TRACKLET_ID
            assert result.confidence == 1.0
            np.testing.assert_array_equal(result.box, a_box(t))
        elif t < 400:  # absent: a_ff (ended at 99) stays the best track, its last box with confidence 0
            assert not result.present, f'frame {t}'
            assert result.confidence == 0.0
            assert result.selected.tracklet_id == FF_TRACKLET_ID
            np.testing.assert_array_equal(result.box, a_box(99))
            assert result.distractors.theta.tolist() == [-math.inf]  # D overlapped a_ff: unreachable
        else:  # back: a new tracklet, preceded by a_ff across the 300-frame gap
            assert result.present, f'frame {t}'
            np.testing.assert_array_equal(result.box, a_box(t))
            assert result.selected.start_frame == 400
            assert result.confidence == pytest.approx(0.1 * 0.9 + 0.9 * 0.9)
    # θ of the new tracklet at its first frame: θ[a_ff] + w_loc * loc_score + unary (Eq. 1-2).
    loc = -(30 / 640 + 10 / 480 + 0 + 0) / 4
    assert results[399].selected.theta == pytest.approx(7.0 * loc + 0.1 * 0.9 + 0.9 * 0.9)


def drift_frames() -> list[dict[str, np.ndarray]]:
    """A sits at (100, 200) for frames 1-5, then moves 300 px right in one frame (out of γ) and stays;
    from frame 6 a look-alike patch N is uncovered 10 px from where A was."""
    frames = [{'A': box(100, 200)} for _ in range(1, 6)]
    frames += [{'A': box(400, 200), 'N': box(110, 200)} for _ in range(6, 40)]
    return frames


def appearance_an(ref: str, det: str) -> float:
    return 0.9 if ref == det else 0.8  # a weak pair head: N passes alpha against A


@pytest.mark.parametrize('ff_min_score', [0.0, 0.5])
def test_first_frame_tracklet_carried_onto_a_look_alike(ff_min_score: float) -> None:
    frames = drift_frames()
    tdpa = started(box(100, 200), TDPASettings(ff_min_score=ff_min_score))
    results = run_scenario(tdpa, frames, appearance_an, ff={'A': 0.9, 'N': 0.3}, ff_tracklet={'A': 0.9, 'N': 0.3})
    for t in range(1, 6):
        assert results[t - 1].selected.tracklet_id == FF_TRACKLET_ID
    if ff_min_score == 0.0:
        # The paper's rule: N extends a_ff (the only reference within γ, pair score 0.8 > alpha). While
        # a_ff is active no other tracklet is reachable, so N is the answer from then on, with confidence 1.
        for t in range(6, 40):
            result = results[t - 1]
            assert result.selected.tracklet_id == FF_TRACKLET_ID, f'frame {t}'
            np.testing.assert_array_equal(result.box, frames[t - 1]['N'])
            assert result.confidence == 1.0
    else:
        # N's ff_score 0.3 < 0.5 ends a_ff at frame 5: A's new tracklet (unary 0.9 per frame) pays the
        # 300-px jump (w_loc * loc_score = -0.82) and overtakes N's (0.3 per frame) at its second frame.
        assert results[5].selected.start_frame == 6
        for t in range(7, 40):
            result = results[t - 1]
            np.testing.assert_array_equal(result.box, frames[t - 1]['A'], err_msg=f'frame {t}')
            assert result.selected.start_frame == 6
            assert result.confidence == pytest.approx(0.1 * 0.9 + 0.9 * 0.9)


def test_ff_min_score_gates_only_the_first_frame_tracklet() -> None:
    # Another tracklet is extended by a detection with a low ff_score; a_ff is not.
    tdpa = started(box(100, 100), TDPASettings(ff_min_score=0.5))
    step(tdpa, [box(102, 100), box(400, 100)], [[0.9, NO]], ff=[0.8, 0.1])
    assert tdpa.references.tracklet_ids.tolist() == [FF_TRACKLET_ID, 1]
    step(tdpa, [box(104, 100), box(402, 100)], [[0.9, NO], [NO, 0.9]], ff=[0.4, 0.1])
    # a_ff (ff 0.4 < 0.5) ended; the other tracklet (ff 0.1) was extended all the same.
    assert tdpa.references.tracklet_ids.tolist() == [2, 1]


def patch_frames() -> list[dict[str, np.ndarray]]:
    """A leaves at frame 3 and is back 100 px away at frame 10; from frame 3 a background patch P sits where
    A was. A is re-detected only in every other frame (a weak detector), P in every frame."""
    frames = [{'A': box(100, 200)} for _ in range(1, 3)]
    for t in range(3, 80):
        objects = {'P': box(100, 200)}
        if t >= 10 and t % 2 == 0:
            objects['A'] = box(200, 200)
        frames.append(objects)
    return frames


def appearance_ap(ref: str, det: str) -> float:
    return 0.9 if ref == det else 0.1


@pytest.mark.parametrize('unary_offset', [0.0, 0.5])
def test_a_persistent_background_patch_against_an_intermittent_target(unary_offset: float) -> None:
    frames = patch_frames()
    tdpa = started(box(100, 200), TDPASettings(w_ff=1.0, unary_offset=unary_offset))
    results = run_scenario(tdpa, frames, appearance_ap, ff={'A': 0.7, 'P': 0.4}, ff_tracklet={'A': 0.7, 'P': 0.4})
    late = [(t, results[t - 1]) for t in range(60, 80)]
    if unary_offset == 0.0:
        # The paper's Eq. 2: P adds 0.4 per frame in one unbroken tracklet, A 0.7 every other frame in
        # one-frame tracklets (0.35 per frame): P wins.
        for t, result in late:
            np.testing.assert_array_equal(result.box, box(100, 200), err_msg=f'frame {t}')
            assert result.present
    else:
        # Offset 0.5: P's frames count -0.1 each and A's +0.2, so the best track skips P and collects A;
        # in A's missing frames the object is reported absent, at A's last box.
        for t, result in late:
            np.testing.assert_array_equal(result.box, box(200, 200), err_msg=f'frame {t}')
            assert result.present == (t % 2 == 0), f'frame {t}'


def lookalike_frames() -> list[dict[str, np.ndarray]]:
    """A leaves at frame 3; a look-alike L appears far away at frame 5 and stays; A is back near its old
    place at frame 30. Both are re-detected in every frame they are in view."""
    frames = [{'A': box(100, 200)} for _ in range(1, 3)]
    frames += [{} for _ in range(3, 5)]
    frames += [{'L': box(300, 200)} for _ in range(5, 30)]
    frames += [{'A': box(110, 200), 'L': box(300, 200)} for _ in range(30, 71)]
    return frames


@pytest.mark.parametrize('rival_weight', [0.0, 1.0])
def test_a_lookalike_that_was_alone_while_the_target_was_away(rival_weight: float) -> None:
    tdpa = started(box(100, 200), TDPASettings(w_ff=1.0, rival_weight=rival_weight))
    results = run_scenario(tdpa, lookalike_frames(), appearance_ap, ff={'A': 0.7, 'L': 0.5},
                           ff_tracklet={'A': 0.7, 'L': 0.5})
    late = [(t, results[t - 1]) for t in range(66, 71)]
    expected = box(300, 200) if rival_weight == 0.0 else box(110, 200)
    for t, result in late:
        # Paper: L collected 0.5 in each of the 25 frames alone and keeps collecting 0.5 beside A's 0.7, so
        # A's tracklet (from frame 30) is still 4.3 behind at frame 70. With the rival weight L's frames
        # count 0.5 - 0.7 = -0.2 once A is back and A's +0.2: A leads from frame ~61.
        np.testing.assert_array_equal(result.box, expected, err_msg=f'frame {t}')
        assert result.present


@pytest.mark.parametrize('bad', [-0.1, 1.5, float('nan')])
@pytest.mark.parametrize('name', ['ff_min_score', 'unary_offset', 'rival_weight'])
def test_gate_and_offset_must_be_probabilities(name: str, bad: float) -> None:
    with pytest.raises(ValueError, match=name):
        TDPASettings(**{name: bad})


@pytest.mark.parametrize(('gap', 'followed'), [(10, True), (11, False)])
def test_maximum_gap_between_consecutive_tracklets(gap: int, followed: bool) -> None:
    max_gap = 10
    frames: list[dict[str, np.ndarray]] = []
    for t in range(1, 21 + gap + 20):
        frames.append({'A': box(200, 200)} if t <= 20 or t >= 20 + gap else {})
    tdpa = started(box(200, 200), TDPASettings(max_gap=max_gap))
    results = run_scenario(tdpa, frames, appearance_ad, ff={'A': 0.9}, ff_tracklet={'A': 0.9})
    assert results[19].present  # frame 20: a_ff's last detection
    assert not any(r.present for r in results[20:20 + gap - 1])
    back = results[20 + gap - 1:]  # from frame 20 + gap on, A is detected again
    if followed:
        assert all(r.present for r in back)
    else:  # its tracklet can never follow a_ff: θ = -inf for good, a_ff stays selected and absent
        assert not any(r.present for r in back)
        assert all(r.selected is not None and r.selected.tracklet_id == FF_TRACKLET_ID for r in back)
        assert back[-1].distractors.theta.tolist() == [-math.inf]


def test_a_long_absence_is_bridged_by_tracklets_each_within_the_gap() -> None:
    # a_ff ends at 20, A is back at 32 (gap 12 > max_gap 10), but a one-frame detection at 26 links them.
    frames: list[dict[str, np.ndarray]] = [{'A': box(200, 200)} for _ in range(20)]
    frames += [{} for _ in range(5)] + [{'C': box(260, 200)}] + [{} for _ in range(5)]
    frames += [{'A': box(200, 200)} for _ in range(5)]
    tdpa = started(box(200, 200), TDPASettings(max_gap=10))
    results = run_scenario(tdpa, frames, appearance_ad, ff={'A': 0.9, 'C': 0.05},
                           ff_tracklet={'A': 0.9, 'C': 0.05})
    # C (frame 26) follows a_ff, but its θ = w_loc * loc + 0.05 < 0 = θ[a_ff]: not taken for the target.
    assert [r.present for r in results[25:]] == [False] * 6 + [True] * 5
    assert results[-1].selected is not None
    assert results[-1].selected.theta > 0


# --- References for the next frame, and what is kept -------------------------------------------------


class Row:
    """A payload row that can be watched with a weak reference."""

    def __init__(self, name: str) -> None:
        self.name = name


def test_references_are_the_active_tracklets_and_a_ff_latest_detection() -> None:
    first = box(100, 100)
    tdpa = started(first, features=[Row('ff')])
    refs = tdpa.references
    assert refs.tracklet_ids.tolist() == [FF_TRACKLET_ID]
    np.testing.assert_array_equal(refs.boxes, [first])
    np.testing.assert_array_equal(refs.ff_box, first)
    assert refs.ff_features.name == 'ff'

    boxes = [box(300, 100), box(102, 100), box(500, 100)]
    rows = [Row('1a'), Row('1b'), Row('1c')]
    step(tdpa, boxes, [[NO, 0.9, NO]], features=rows)  # 1b extends a_ff
    refs = tdpa.references
    assert refs.tracklet_ids.tolist() == [1, FF_TRACKLET_ID, 2]  # one row per detection, in its order
    np.testing.assert_array_equal(refs.boxes, boxes)
    assert refs.features is rows
    np.testing.assert_array_equal(refs.ff_box, boxes[1])
    assert refs.ff_features is rows[1]

    step(tdpa, [box(502, 100), box(600, 400)], [[NO, NO], [NO, NO], [0.9, NO]], features=[Row('2a'), Row('2b')])
    refs = tdpa.references
    assert refs.tracklet_ids.tolist() == [2, 3]  # a_ff was not extended: it ended at frame 1
    np.testing.assert_array_equal(refs.ff_box, boxes[1])  # ... and its latest detection stays the reference
    assert refs.ff_features is rows[1]


def _feed_watched_frames(tdpa: TDPA) -> dict[str, weakref.ref[Row]]:
    """Frames 1-3 with Row payloads; returns weak references to all of them (no strong one survives)."""
    watched: dict[str, weakref.ref[Row]] = {}

    def rows(*names: str) -> list[Row]:
        made = [Row(name) for name in names]
        watched.update({row.name: weakref.ref(row) for row in made})
        return made

    step(tdpa, [box(300, 100), box(102, 100), box(500, 100)], [[NO, 0.9, NO]], features=rows('1a', '1b', '1c'))
    step(tdpa, [box(502, 100), box(600, 400)], [[NO, NO], [NO, NO], [0.9, NO]], features=rows('2a', '2b'))
    step(tdpa, [box(504, 100)], [[0.9], [NO]], features=rows('3a'))
    return watched


def test_features_of_terminated_tracklets_are_released() -> None:
    initial = [Row('ff')]
    watched_ff = weakref.ref(initial[0])
    tdpa = started(box(100, 100), features=initial)
    del initial
    watched = _feed_watched_frames(tdpa)
    gc.collect()
    alive = sorted(name for name, ref in watched.items() if ref() is not None)
    # Kept: the current frame's detection (3a) and a_ff's latest detection (1b, a_ff ended at frame 1).
    assert alive == ['1b', '3a']
    assert watched_ff() is None
    assert tdpa.stats().stored_feature_rows == 2
    step(tdpa, [], np.zeros((1, 0)))  # an empty frame ends every tracklet
    gc.collect()
    assert watched['3a']() is None
    assert watched['1b']() is not None
    assert tdpa.stats().stored_feature_rows == 1


@pytest.mark.parametrize('kind', ['numpy', 'torch'])
def test_a_ff_latest_row_is_copied_out_of_its_batch_when_a_ff_ends(kind: str) -> None:
    batch = np.arange(3 * 5, dtype=np.float32).reshape(3, 5)  # [D, feature]
    features = torch.from_numpy(batch.copy()) if kind == 'torch' else batch.copy()
    tdpa = started(box(100, 100), features=features[:1])
    step(tdpa, [box(300, 100), box(102, 100), box(500, 100)], [[NO, 0.9, NO]], features=features)
    step(tdpa, [box(502, 100)], [[NO], [NO], [0.9]], features=features[2:])  # a_ff ends at frame 1
    ff_row = tdpa.references.ff_features
    assert type(ff_row) is type(features)
    np.testing.assert_array_equal(np.asarray(ff_row), batch[1])
    if kind == 'torch':
        assert ff_row.untyped_storage().data_ptr() != features.untyped_storage().data_ptr()
    else:
        assert not np.shares_memory(ff_row, features)


# --- Results ------------------------------------------------------------------------------------------


def test_confidence_and_selected_tracklet_of_a_later_tracklet() -> None:
    tdpa = started(box(100, 100))
    step(tdpa, [], np.zeros((1, 0)))  # a_ff ends at frame 0
    ff, fft = [0.5, 0.8, 0.6], [0.7, 0.4, 0.5]
    result = step(tdpa, [box(100, 100)], np.zeros((0, 1)), [ff[0]], [fft[0]])
    for k in (1, 2):
        result = step(tdpa, [box(100 + k, 100)], [[0.9]], [ff[k]], [fft[k]])
    assert result.present
    assert result.confidence == pytest.approx(0.1 * 0.8 + 0.9 * 0.7)  # SPEC §3 step 8: maxima over â
    selected = result.selected
    assert selected is not None
    assert (selected.tracklet_id, selected.start_frame, selected.length) == (1, 2, 3)
    assert selected.similarity == 0.6  # ff_score of its latest detection
    # θ = θ[a_ff] + w_loc * loc_score (same box: 0) + Σ unary (Eq. 1-2).
    assert selected.theta == pytest.approx(sum(0.1 * a + 0.9 * b for a, b in zip(ff, fft, strict=True)))
    np.testing.assert_array_equal(result.box, box(102, 100))


def test_distractors_are_the_other_tracklets_of_the_frame() -> None:
    tdpa = started(box(100, 100))
    result = step(tdpa, [box(300, 100), box(102, 100), box(500, 120, 30, 60)], [[NO, 0.9, NO]],
                  ff=[0.2, 0.9, 0.4])
    assert result.selected is not None
    assert result.selected.tracklet_id == FF_TRACKLET_ID
    table = result.distractors
    assert len(table) == 2
    assert table.tracklet_ids.tolist() == [1, 2]
    np.testing.assert_array_equal(table.boxes, [box(300, 100), box(500, 120, 30, 60)])
    assert table.theta.tolist() == [-math.inf, -math.inf]  # they overlap a_ff in time
    assert table.similarity.tolist() == [0.2, 0.4]
    assert table.start_frames.tolist() == [1, 1]
    assert table.lengths.tolist() == [1, 1]


def test_empty_frames() -> None:
    first = box(100, 100)
    tdpa = started(first)
    result = step(tdpa, [], np.zeros((1, 0)))
    assert (result.frame, result.present, result.confidence) == (1, False, 0.0)
    np.testing.assert_array_equal(result.box, first)
    assert len(result.distractors) == 0
    assert len(tdpa.references) == 0
    np.testing.assert_array_equal(tdpa.references.ff_box, first)
    result = step(tdpa, [], np.zeros((0, 0)))  # and again, with no reference at all
    assert not result.present
    assert tdpa.stats().active_tracklets == 0
    result = step(tdpa, [box(100, 100)], np.zeros((0, 1)))  # back where it was: follows a_ff
    assert result.present
    assert result.selected is not None
    assert result.selected.tracklet_id == 1


def test_init_again_forgets_everything() -> None:
    tdpa = started(box(100, 100))
    for k in range(5):
        step(tdpa, [box(100 + k, 100), box(300, 300)], [[0.9, NO]] + ([[NO, 0.9]] if k else []))
    result = tdpa.init(box(50, 60), features=[Row('new')])
    assert (result.frame, result.present, result.confidence) == (0, True, 1.0)
    assert tdpa.frame == 0
    assert tdpa.references.tracklet_ids.tolist() == [FF_TRACKLET_ID]
    stats = tdpa.stats()
    assert (stats.live_tracklets, stats.window_tracklets) == (1, 0)
    step(tdpa, [box(300, 300)], [[NO]])
    assert tdpa.references.tracklet_ids.tolist() == [1]


# --- Misuse -------------------------------------------------------------------------------------------


def test_use_before_init_is_an_error() -> None:
    tdpa = TDPA()
    assert tdpa.frame == -1
    with pytest.raises(RuntimeError, match='init'):
        _ = tdpa.references
    with pytest.raises(RuntimeError, match='init'):
        tdpa.stats()
    with pytest.raises(RuntimeError, match='init'):
        tdpa.update(Detections.empty(), np.zeros((0, 0)), SIZE)


@pytest.mark.parametrize('bad', [[0, 0, 0, 10], [0, 0, 10, -1], [1, 2, 3], [0, 0, np.nan, 5], [[0, 0, 1, 1]] * 2])
def test_init_rejects_bad_boxes(bad: list) -> None:
    with pytest.raises(ValueError, match='box must be'):
        TDPA().init(np.array(bad, dtype=np.float64))


def test_init_rejects_a_payload_of_several_rows() -> None:
    with pytest.raises(ValueError, match='batch of one'):
        TDPA().init(box(10, 10), features=np.zeros((2, 8)))


@pytest.mark.parametrize(('scores', 'message'), [
    (np.zeros((1, 2)), r'\[1, 1\].*got \(1, 2\)'),
    (np.zeros((2, 1)), r'\[1, 1\].*got \(2, 1\)'),
    (np.array([[np.nan]]), 'NaN'),
    (np.array([[np.inf]]), r'\+inf'),
])
def test_update_rejects_bad_pair_scores(scores: np.ndarray, message: str) -> None:
    tdpa = started(box(100, 100))
    dets = Detections(np.array([box(100, 100)]), np.ones(1), np.ones(1))
    with pytest.raises(ValueError, match=message):
        tdpa.update(dets, scores, SIZE)
    assert tdpa.frame == 0  # nothing happened


@pytest.mark.parametrize('size', [(0, 640), (480,), (480, -1), (float('nan'), 640)])
def test_update_rejects_bad_image_sizes(size: tuple) -> None:
    tdpa = started(box(100, 100))
    with pytest.raises(ValueError, match='image_size'):
        tdpa.update(Detections(np.array([box(100, 100)]), np.ones(1), np.ones(1)), np.ones((1, 1)), size)


def test_detections_validate_their_arrays() -> None:
    with pytest.raises(ValueError, match=r'boxes must have shape \[N, 4\]'):
        Detections(np.zeros(4), np.zeros(1), np.zeros(1))
    with pytest.raises(ValueError, match=r'ff_scores must have shape \[2\]'):
        Detections(np.zeros((2, 4)), np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match=r'ff_tracklet_scores must have shape \[2\]'):
        Detections(np.zeros((2, 4)), np.zeros(2), np.zeros(1))
    with pytest.raises(ValueError, match='finite'):
        Detections(np.zeros((1, 4)), np.array([np.nan]), np.zeros(1))
    with pytest.raises(ValueError, match='one entry per detection'):
        Detections(np.zeros((2, 4)), np.zeros(2), np.zeros(2), features=[Row('only one')])
    empty = Detections.empty()
    assert len(empty) == 0
    assert empty.boxes.shape == (0, 4)


def test_update_rejects_other_detection_types() -> None:
    tdpa = started(box(100, 100))
    with pytest.raises(TypeError, match='Detections record, got tuple'):
        tdpa.update((np.zeros((0, 4)), np.zeros(0), np.zeros(0)), np.zeros((1, 0)), SIZE)  # type: ignore[arg-type]


def test_results_do_not_share_arrays_with_the_state() -> None:
    tdpa = started(box(100, 100))
    step(tdpa, [], np.zeros((1, 0)))
    result = step(tdpa, [box(300, 100), box(500, 100)], np.zeros((0, 2)), ff=[0.0, 0.0], ff_tracklet=[0.0, 0.0])
    assert not result.present  # both new tracklets score below θ[a_ff]: all are distractors
    result.distractors.boxes[:] = 0.0
    result.box[:] = 0.0
    np.testing.assert_array_equal(tdpa.references.boxes, [box(300, 100), box(500, 100)])
    assert step(tdpa, [box(100, 100)], [[NO], [NO]]).present
