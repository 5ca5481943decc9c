"""The Tracklet Dynamic Programming Algorithm (TDPA) on arrays: paper §3.3, Alg. 1, Eq. 1-2.

``TDPA`` receives, per frame, the re-detections and the pair scores the network computed, and keeps
the tracklets and the online dynamic programme; it never sees an image or a network. Usage::

    tdpa = TDPA(TDPASettings())
    result = tdpa.init(first_box, features=first_box_roi_features)    # frame 0
    for frame in stream:
        refs = tdpa.references          # rows of the pair-score matrix, a_ff's latest detection
        dets = Detections(boxes, ff_scores, ff_tracklet_scores(vs refs.ff_*), features)
        result = tdpa.update(dets, pair_scores(vs refs.boxes / refs.features), image.shape[:2])

Choices where the paper and SPEC leave details open (all checked by test/test_tdpa*.py):

* Every detection of frame ``t`` ends up in exactly one tracklet, so the tracklets active at ``t``
  are exactly the detections of ``t``, in their order: ``references`` are the current detections.
* θ of a tracklet ``a`` is ``unary(a) + pred(a)`` with
  ``pred(a) = max_b θ[b] + w_loc * loc_score(b, a)`` over the tracklets ``b`` with
  ``1 <= start(a) - end(b) <= max_gap``. All such ``b`` have ended when ``a`` is created and their θ
  no longer changes (θ[a_ff] is fixed at 0), so ``pred(a)`` is computed once, at creation; an
  extension only adds the new detection's term to ``unary(a)`` (Σ over its detections of
  ``w_ff * ff_score + (1 - w_ff) * ff_tracklet_score``, Eq. 2, summed in frame order). This gives
  exactly the θ of recomputing the extended tracklets every frame, as §3.3 describes.
* A new tracklet preceded by nothing (no reachable tracklet ended within ``max_gap``) has
  θ = −inf: no track from ``a_ff`` contains it. In particular, while ``a_ff`` is still active,
  every other tracklet is unreachable, since a track's tracklets do not overlap in time. A
  tracklet preceded only by ``a_ff`` gets ``unary(a) + w_loc * loc_score(a_ff, a)``.
* ``a_ff`` is an ordinary tracklet (its first detection is the given box, ff scores 1) that can be
  extended; only its θ is pinned to 0 (§3.3: "θ[a_ff] = 0"), also while it is extended.
* Three options beyond the paper, all off by default (``TDPASettings``): ``ff_min_score`` refuses an
  extension of ``a_ff`` by a detection whose ff_score is below it (``a_ff`` then ends and the detection
  starts a tracklet), ``unary_offset`` is subtracted from every detection's term of Eq. 2, and
  ``rival_weight`` times the best term of the frame's other detections is subtracted too.
* Selection: â = argmax θ over every tracklet since ``init``; ties go to the oldest (lowest id).
  The best ended tracklet is kept as a running record, so dropping tracklets from the window never
  changes the selection.
* Presence: â has a detection in this frame. Confidence (SPEC §3, step 8) is
  ``w_ff * max ff_score(â) + (1 - w_ff) * max ff_tracklet_score(â)`` over all of â's detections,
  clipped to [0, 1]; 0 when absent. Since ``a_ff`` starts with scores 1, it is 1 while ``a_ff``
  itself is selected and present.
* Empty frames (``D = 0``) terminate every active tracklet; the result is â's latest box, absent.
* Features: only the current frame's payload (the caller's object, not copied) and a copy of
  ``a_ff``'s latest row once ``a_ff`` has ended are held; everything else is released.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from siamrcnn_ros.boxes import xyxy_to_cxcywh
from siamrcnn_ros.tracking.locality import image_scale
from siamrcnn_ros.tracking.records import (
    Detections,
    Features,
    References,
    TrackletInfo,
    TrackletTable,
    TrackResult,
    detached_row,
)
from siamrcnn_ros.tracking.settings import TDPASettings
from siamrcnn_ros.tracking.tracklets import PredecessorWindow, associate

FF_TRACKLET_ID = 0
"""Id of the first-frame tracklet ``a_ff``."""


@dataclass(frozen=True)
class TDPAStats:
    """What TDPA holds after a frame; all bounded on endless streams.

    Attributes:
        frame: index of the last processed frame.
        active_tracklets: tracklets with a detection in that frame (= its detections).
        window_tracklets: ended tracklets that may still precede a new one (reachable, ended within
            ``max_gap`` frames).
        window_capacity: entries the window's buffers hold before they grow.
        stored_feature_rows: payload rows kept: the current frame's detections, plus ``a_ff``'s latest
            row once ``a_ff`` has ended.
    """

    frame: int
    active_tracklets: int
    window_tracklets: int
    window_capacity: int
    stored_feature_rows: int

    @property
    def live_tracklets(self) -> int:
        return self.active_tracklets + self.window_tracklets


def best_rival(values: np.ndarray) -> np.ndarray:
    """``[D]`` the largest of ``values`` at the *other* indices (by index: a tie counts), 0 where there is none.

    Args:
        values: ``[D]`` float64 (``D`` may be 0 or 1).
    """
    if values.shape[0] < 2:
        return np.zeros_like(values)
    top2 = np.partition(values, values.shape[0] - 2)[-2:]  # [second, first]
    return np.where(np.arange(values.shape[0]) == values.argmax(), top2[0], top2[1])


def _lowest_id_argmax(theta: np.ndarray, ids: np.ndarray) -> int:
    """Index of the maximum of ``theta``; among equal maxima the one with the lowest id."""
    k = int(theta.argmax())
    ties = theta == theta[k]
    if np.count_nonzero(ties) == 1:  # the usual case, checked first: it is the per-frame path
        return k
    best = np.flatnonzero(ties)
    return int(best[np.argmin(ids[best])])


class TDPA:
    """Tracklets and online dynamic programming for one target (paper §3.3). See the module docstring.

    Args:
        settings: the parameters; the reference values by default.
    """

    uses_pair_scores = True  # selectors.Selector: update reads the [R, D] pair scores

    def __init__(self, settings: TDPASettings | None = None) -> None:
        self._settings = settings if settings is not None else TDPASettings()
        self._window = PredecessorWindow()
        self._frame = -1
        self._size_key: object = None  # the image size of the cached location weights
        self._loc_weights_cache = np.zeros(4)

    @property
    def settings(self) -> TDPASettings:
        return self._settings

    @property
    def frame(self) -> int:
        """Index of the last processed frame (0 after ``init``), −1 before ``init``."""
        return self._frame

    def init(self, box: np.ndarray, features: Features = None) -> TrackResult:
        """Starts (or restarts) tracking from the first-frame box; forgets everything before.

        Args:
            box: ``[4]`` xyxy pixels of the target in frame 0, with positive width and height.
            features: the box's payload as a batch of one (``[1, ...]``, e.g. its RoI features), or None.

        Returns:
            The result of frame 0: the box, present, confidence 1, selected = ``a_ff``.
        """
        box = np.array(box, dtype=np.float64).reshape(-1)
        if box.shape != (4,) or not np.isfinite(box).all() or box[2] <= box[0] or box[3] <= box[1]:
            raise ValueError(f'box must be [4] finite xyxy pixels with positive width and height, got {box}')
        if features is not None and len(features) != 1:
            raise ValueError(f'features must be a batch of one detection, got {len(features)} entries')
        self._frame = 0
        self._next_id = FF_TRACKLET_ID + 1
        self._window.clear()
        self._best_ended: TrackletInfo | None = None
        # State of the active tracklets, row i = detection i of the last frame.
        self._ids = np.array([FF_TRACKLET_ID])
        self._start = np.zeros(1, np.int64)
        self._pred = np.zeros(1)  # pred(a) of the module docstring
        self._unary = np.ones(1)  # w_ff * 1 + (1 - w_ff) * 1
        self._maxima = np.ones((1, 2))  # [R, 2] max ff_score, max ff_tracklet_score over each tracklet
        self._current = np.ones((1, 2))  # [R, 2] ff_score, ff_tracklet_score of each tracklet's latest detection
        self._theta = np.zeros(1)  # θ[a_ff] = 0 (§3.3)
        self._boxes = box[None]
        self._cxcywh = xyxy_to_cxcywh(self._boxes)
        self._ff_scores = np.ones(1)
        self._features = features
        self._ff_row = 0  # row of a_ff among the active tracklets, −1 once it has ended
        self._ff_box = box
        self._ff_features = None if features is None else features[0]
        return self._result(0, TrackletTable.empty())

    @property
    def references(self) -> References:
        """The references for the next frame's pair scores and ff_tracklet_scores (Alg. 1, line 6)."""
        self._check_started()
        return References(self._ids, self._boxes, self._features, self._ff_box, self._ff_features)

    def stats(self) -> TDPAStats:
        self._check_started()
        feature_rows = 0 if self._features is None else len(self._features)
        if self._ff_row < 0 and self._ff_features is not None:
            feature_rows += 1
        return TDPAStats(self._frame, self._ids.shape[0], len(self._window), self._window.capacity, feature_rows)

    def update(self, detections: Detections, pair_scores: np.ndarray, image_size: tuple[int, int]) -> TrackResult:
        """Processes one frame: tracklet building (Alg. 1, lines 7-19), online DP and selection (§3.3).

        Args:
            detections: the ``D`` re-detections of this frame (``D`` may be 0).
            pair_scores: ``[R, D]`` pair scores, row ``r`` = ``references.tracklet_ids[r]`` as returned
                after the previous frame, −inf where gated out; in [0, 1] otherwise.
            image_size: ``(height, width)`` of this frame in pixels.

        Returns:
            This frame's result.
        """
        self._check_started()
        if not isinstance(detections, Detections):
            raise TypeError(f'detections must be a Detections record, got {type(detections).__name__}')
        settings = self._settings
        loc_weights = self._loc_weights(image_size)
        num_prev, num_dets = self._ids.shape[0], len(detections)
        scores = np.asarray(pair_scores, dtype=np.float64)
        if scores.shape != (num_prev, num_dets):
            raise ValueError(f'pair_scores must have shape [{num_prev}, {num_dets}] (references x detections), '
                             f'got {scores.shape}')
        if scores.size and not (scores < np.inf).all():
            raise ValueError('pair_scores must not contain NaN or +inf (use -inf for gated-out pairs)')
        frame = self._frame + 1

        rows = associate(scores, settings.alpha, settings.beta)  # Alg. 1, lines 7-19
        if self._ff_row >= 0 and settings.ff_min_score > 0:  # the a_ff gate (TDPASettings.ff_min_score)
            rows[(rows == self._ff_row) & (detections.ff_scores < settings.ff_min_score)] = -1
        extends = rows >= 0
        ext_dets, new_dets = np.flatnonzero(extends), np.flatnonzero(~extends)
        ext_rows = rows[ext_dets]
        num_new = new_dets.shape[0]
        successor = np.empty(num_prev, np.int64)  # [R] the detection that extends each previous tracklet, or −1
        successor.fill(-1)
        successor[ext_rows] = ext_dets

        # §3.3: "Once a tracklet is not extended, it is terminated."
        if ext_rows.shape[0] < num_prev:
            self._end_tracklets(np.flatnonzero(successor < 0), frame - 1)
        self._window.drop_ended_before(frame - settings.max_gap)

        ff, ff_tracklet = detections.ff_scores, detections.ff_tracklet_scores
        ids = np.empty(num_dets, np.int64)
        ids[ext_dets] = self._ids[ext_rows]
        ids[new_dets] = np.arange(self._next_id, self._next_id + num_new)
        self._next_id += num_new
        start = np.empty(num_dets, np.int64)
        start.fill(frame)
        start[ext_dets] = self._start[ext_rows]
        # Eq. 2: this frame's term, added to the sum of the tracklet's earlier terms (in frame order).
        unary = settings.w_ff * ff + (1.0 - settings.w_ff) * ff_tracklet
        if settings.rival_weight > 0:
            unary -= settings.rival_weight * best_rival(unary)
        unary -= settings.unary_offset
        unary[ext_dets] += self._unary[ext_rows]
        maxima = np.stack((ff, ff_tracklet), axis=1)  # [D, 2]
        maxima[ext_dets] = np.maximum(maxima[ext_dets], self._maxima[ext_rows])
        cxcywh = xyxy_to_cxcywh(detections.boxes)
        pred = np.empty(num_dets)
        pred[ext_dets] = self._pred[ext_rows]
        if num_new:  # Online DP (§3.3) for the tracklets created at this frame
            pred[new_dets] = self._window.best_predecessor(cxcywh[new_dets], loc_weights)
        theta = pred + unary

        ff_row = -1 if self._ff_row < 0 else int(successor[self._ff_row])
        if ff_row >= 0:  # a_ff was extended
            theta[ff_row] = 0.0  # θ[a_ff] = 0 (§3.3), also while a_ff is extended
            self._ff_box = detections.boxes[ff_row]
            self._ff_features = None if detections.features is None else detections.features[ff_row]
        elif self._ff_row >= 0:  # a_ff has just ended: keep its latest row, release the rest of its batch
            self._ff_features = detached_row(self._ff_features)

        self._frame = frame
        self._ids, self._start, self._pred, self._unary = ids, start, pred, unary
        self._maxima, self._theta = maxima, theta
        self._current = np.stack((ff, ff_tracklet), axis=1)  # [D, 2]
        self._boxes, self._cxcywh, self._ff_scores, self._features = detections.boxes, cxcywh, ff, detections.features
        self._ff_row = ff_row
        return self._select()

    def _check_started(self) -> None:
        if self._frame < 0:
            raise RuntimeError('TDPA.init(box) must be called before update() or references')

    def _loc_weights(self, image_size: tuple[int, int]) -> np.ndarray:
        """``[4]`` ``w_loc / (4 * (W, H, W, H))`` (``PredecessorWindow.best_predecessor``); validates the size."""
        key = tuple(image_size) if isinstance(image_size, (tuple, list, np.ndarray)) else image_size
        if key != self._size_key:  # the image size rarely changes: validate and divide once
            self._loc_weights_cache = self._settings.w_loc / (4.0 * image_scale(key))
            self._size_key = key
        return self._loc_weights_cache

    def _end_tracklets(self, rows: np.ndarray, end_frame: int) -> None:
        """Terminates the active tracklets at ``rows`` whose last detection is at ``end_frame``."""
        theta = self._theta[rows]
        reachable = np.isfinite(theta)
        if reachable.any():
            rows, theta = rows[reachable], theta[reachable]
            self._window.append(end_frame, theta, self._cxcywh[rows])
            k = rows[_lowest_id_argmax(theta, self._ids[rows])]
            best = self._best_ended
            if best is None or self._theta[k] > best.theta or (
                    self._theta[k] == best.theta and self._ids[k] < best.tracklet_id):
                self._best_ended = self._info(k, present=False, end_frame=end_frame)

    def _info(self, row: int, present: bool, end_frame: int) -> TrackletInfo:
        start = int(self._start[row])
        return TrackletInfo(int(self._ids[row]), self._boxes[row].copy(), present, float(self._theta[row]),
                            float(self._ff_scores[row]), start, end_frame - start + 1)

    def _select(self) -> TrackResult:
        """â = argmax θ over all tracklets (§3.3); present iff â has a detection in this frame."""
        best = self._best_ended
        if self._ids.shape[0] == 0:
            return self._result(-1, TrackletTable.empty())
        k = _lowest_id_argmax(self._theta, self._ids)
        top = self._theta[k]
        if best is not None and (best.theta > top or (best.theta == top and best.tracklet_id < self._ids[k])):
            k = -1
        others = np.ones(self._ids.shape[0], bool)  # a mask, not a slice: the table gets copies, not views
        if k >= 0:
            others[k] = False
        start = self._start[others]
        distractors = TrackletTable(self._ids[others], self._boxes[others], self._theta[others],
                                    self._ff_scores[others], start, self._frame + 1 - start)
        return self._result(k, distractors)

    def _result(self, row: int, distractors: TrackletTable) -> TrackResult:
        if row < 0:  # â has ended: the object is absent; its latest box with confidence 0 (§3.3)
            best = self._best_ended
            assert best is not None, 'a_ff has theta 0 and is active or ended, so an ended best exists'
            return TrackResult(self._frame, best.box.copy(), False, 0.0, best, distractors)
        w_ff = self._settings.w_ff
        # SPEC §3, step 8 ('tracklet': the maxima over â) or the scores of â's detection in this frame ('frame')
        ff_part, ff_tracklet_part = (self._maxima if self._settings.confidence == 'tracklet' else self._current)[row]
        confidence = w_ff * ff_part + (1.0 - w_ff) * ff_tracklet_part
        info = self._info(row, present=True, end_frame=self._frame)
        return TrackResult(self._frame, info.box.copy(), True, min(max(float(confidence), 0.0), 1.0), info,
                           distractors)
