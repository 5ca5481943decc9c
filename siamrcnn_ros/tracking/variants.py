"""The two simpler selection rules the paper compares TDPA with (SPEC §3 "Variants", paper Tab. 7).

* ``ArgmaxSelector``: the highest-scoring re-detection of each frame, nothing remembered.
* ``ShortTermSelector``: scores each re-detection by the mean of its score against the first-frame
  template and against the previous prediction, weighted by a strong spatial prior around the
  previous box (the variant used for reset-based VOT).

Both follow the ``selectors.Selector`` protocol, as ``TDPA`` does: ``init(box, features)``, ``references``,
``update(detections, pair_scores, image_size)``, and return the same ``TrackResult`` (``selected`` is None:
there are no tracklets; ``distractors`` is empty).
"""
from __future__ import annotations

import numpy as np

from siamrcnn_ros.tracking.locality import spatial_distance
from siamrcnn_ros.tracking.records import (
    Detections,
    Features,
    References,
    TrackletTable,
    TrackResult,
    detached_row,
)
from siamrcnn_ros.tracking.settings import ShortTermSettings


def _check_box(box: np.ndarray) -> np.ndarray:
    box = np.array(box, dtype=np.float64).reshape(-1)
    if box.shape != (4,) or not np.isfinite(box).all() or box[2] <= box[0] or box[3] <= box[1]:
        raise ValueError(f'box must be [4] finite xyxy pixels with positive width and height, got {box}')
    return box


class ArgmaxSelector:
    """Paper Tab. 7 "Argmax": each frame, the re-detection with the highest ``ff_score``.

    Ties go to the lowest index (the detector's order). With no detection the object is reported
    absent at the previous box with confidence 0. Confidence = that ``ff_score``, clipped to [0, 1].
    It has no references: nothing joins the RoIs, and neither pair scores nor ``ff_tracklet_scores`` are used.
    """

    uses_pair_scores = False

    def __init__(self) -> None:
        self._box: np.ndarray | None = None
        self._frame = -1

    @property
    def references(self) -> References:
        """None: no reference boxes (``R = 0``) and no second reference (``ff_box`` None)."""
        return References(np.zeros(0, dtype=np.int64), np.zeros((0, 4)), None, None, None)

    def init(self, box: np.ndarray, features: Features = None) -> TrackResult:
        """Starts from the ``[4]`` xyxy first-frame box (``features`` is not used); returns frame 0's result."""
        self._box = _check_box(box)
        self._frame = 0
        return TrackResult(0, self._box.copy(), True, 1.0, None, TrackletTable.empty())

    def update(self, detections: Detections, pair_scores: np.ndarray | None = None,
               image_size: tuple[int, int] | None = None) -> TrackResult:
        """Selects among ``detections`` by their ``ff_scores`` (the other arguments are not used)."""
        if self._box is None:
            raise RuntimeError('ArgmaxSelector.init(box) must be called before update()')
        self._frame += 1
        if len(detections) == 0:
            return TrackResult(self._frame, self._box.copy(), False, 0.0, None, TrackletTable.empty())
        k = int(np.argmax(detections.ff_scores))
        self._box = detections.boxes[k]
        confidence = float(np.clip(detections.ff_scores[k], 0.0, 1.0))
        return TrackResult(self._frame, self._box.copy(), True, confidence, None, TrackletTable.empty())


def short_term_scores(ff_scores: np.ndarray, prev_scores: np.ndarray, boxes: np.ndarray, prev_box: np.ndarray,
                      image_size: tuple[int, int], settings: ShortTermSettings) -> np.ndarray:
    """Selection scores of the short-term variant.

    ``0.5 * (ff_score + prev_score) * exp(-d**2 / (2 * prior_sigma**2))`` with ``d`` the normalised
    L-infinity distance (SPEC §2) between a detection and the previous box; −inf beyond ``max_distance``.

    Args:
        ff_scores: ``[D]`` re-detection scores against the first-frame template.
        prev_scores: ``[D]`` scores against the previous prediction as reference.
        boxes: ``[D, 4]`` xyxy pixels.
        prev_box: ``[4]`` xyxy pixels, the previous prediction.
        image_size: ``(height, width)`` pixels.
        settings: the prior's width and cut-off.

    Returns:
        ``[D]`` float64.
    """
    distance = spatial_distance(boxes, prev_box[None], image_size)[:, 0]  # [D]
    prior = np.exp(-0.5 * (distance / settings.prior_sigma) ** 2)
    scores = 0.5 * (ff_scores + prev_scores) * prior
    return np.where(distance <= settings.max_distance, scores, -np.inf)


class ShortTermSelector:
    """Paper Tab. 7 "Short-term": re-detection of the first-frame template and of the previous prediction.

    Its one reference is the previous prediction (at first the first-frame box): ``references`` gives it as the
    second reference (``ff_box`` / ``ff_features``), so the caller adds its box to the RoIs and scores every
    detection against it, without the γ gate, into ``Detections.ff_tracklet_scores`` (here: the scores against
    the previous prediction). The detection with the best ``short_term_scores`` is the result (ties: the lowest
    index), with confidence ``0.5 * (ff_score + prev_score)`` clipped to [0, 1]. With no detection within
    ``max_distance`` the object is absent at the previous box (confidence 0) and the reference stays.
    """

    uses_pair_scores = False

    def __init__(self, settings: ShortTermSettings | None = None) -> None:
        self._settings = settings if settings is not None else ShortTermSettings()
        self._box: np.ndarray | None = None
        self._features: Features = None
        self._frame = -1

    @property
    def reference_box(self) -> np.ndarray:
        """``[4]`` xyxy pixels of the previous prediction."""
        if self._box is None:
            raise RuntimeError('ShortTermSelector.init(box) must be called first')
        return self._box.copy()

    @property
    def reference_features(self) -> Features:
        """The payload row of the previous prediction (``None`` if no payload was given)."""
        return self._features

    @property
    def references(self) -> References:
        """The previous prediction, as the box that joins the RoIs (``R = 1``) and as the second reference."""
        box = self.reference_box
        features = None if self._features is None else self._features[None]
        return References(np.zeros(1, dtype=np.int64), box[None], features, box, self._features)

    def init(self, box: np.ndarray, features: Features = None) -> TrackResult:
        """Starts from the ``[4]`` xyxy first-frame box and its payload as a batch of one (``[1, ...]``)."""
        self._box = _check_box(box)
        self._features = None if features is None else detached_row(features[0])
        self._frame = 0
        return TrackResult(0, self._box.copy(), True, 1.0, None, TrackletTable.empty())

    def update(self, detections: Detections, pair_scores: np.ndarray | None,
               image_size: tuple[int, int]) -> TrackResult:
        """Selects among ``detections``; their ``ff_tracklet_scores`` are the scores against the previous
        prediction (``pair_scores`` is not used)."""
        if self._box is None:
            raise RuntimeError('ShortTermSelector.init(box) must be called before update()')
        self._frame += 1
        boxes, ff, prev = detections.boxes, detections.ff_scores, detections.ff_tracklet_scores
        scores = short_term_scores(ff, prev, boxes, self._box, image_size, self._settings)
        if len(detections) == 0 or not np.isfinite(scores).any():
            return TrackResult(self._frame, self._box.copy(), False, 0.0, None, TrackletTable.empty())
        k = int(np.argmax(scores))
        self._box = boxes[k]
        if detections.features is not None:
            self._features = detached_row(detections.features[k])  # not the whole batch
        confidence = float(np.clip(0.5 * (ff[k] + prev[k]), 0.0, 1.0))
        return TrackResult(self._frame, self._box.copy(), True, confidence, None, TrackletTable.empty())
