"""A brute-force TDPA for tests only: SPEC §3 / paper Alg. 1 and Eq. 1-2 written as literally as possible.

It keeps every tracklet and every detection (boxes, scores, payloads) forever and, every frame,
recomputes θ of *every* tracklet from scratch by the dynamic programme over all earlier tracklets,
then selects argmax θ. Nothing is incremental, nothing is dropped, nothing is vectorised across
detections: it is slow on purpose, so that ``siamrcnn_ros.tracking.TDPA`` (incremental, bounded
window) can be checked against it. It shares no code with the package except the settings class.

Conventions it has to share with ``TDPA`` to be comparable (documented in ``tdpa.py``):
ties of argmax θ go to the lowest tracklet id (ids in creation order, detections in index order);
b may precede a iff ``1 <= start(a) - end(b) <= max_gap``; θ = −inf where no track from a_ff
reaches a tracklet; θ[a_ff] = 0; a detection with ``ff_score < ff_min_score`` never extends a_ff; each
detection's unary term loses ``unary_offset`` and ``rival_weight`` times the best combined score of the other
detections of its frame (0 if none); the presence confidence is
``w_ff * max ff_score(â) + (1 - w_ff) * max ff_tracklet_score(â)``, clipped to [0, 1].
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from siamrcnn_ros.tracking.settings import TDPASettings


@dataclass
class RefTracklet:
    """Consecutive detections, one per frame from ``start`` on; everything kept."""

    tracklet_id: int
    start: int
    boxes: list[np.ndarray] = field(default_factory=list)
    ff_scores: list[float] = field(default_factory=list)
    ff_tracklet_scores: list[float] = field(default_factory=list)
    rivals: list[float] = field(default_factory=list)  # best score of the other detections of that frame
    features: list[Any] = field(default_factory=list)

    @property
    def end(self) -> int:
        return self.start + len(self.boxes) - 1

    def add(self, box: np.ndarray, ff: float, ff_tracklet: float, feature: Any, rival: float = 0.0) -> None:
        self.boxes.append(np.array(box, dtype=np.float64))
        self.ff_scores.append(float(ff))
        self.ff_tracklet_scores.append(float(ff_tracklet))
        self.rivals.append(float(rival))
        self.features.append(feature)


@dataclass
class RefResult:
    """What the test compares; ids are the reference's own."""

    frame: int
    box: np.ndarray
    present: bool
    confidence: float
    selected_id: int
    selected_theta: float
    thetas: dict[int, float]  # every tracklet
    active_ids: list[int]  # tracklets with a detection in this frame


def _normalised_rows(boxes: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """``[N, 4]`` xyxy pixels -> ``[N, 4]`` (cx / W, cy / H, w / W, h / H)."""
    height, width = image_size
    x1, y1, x2, y2 = boxes.reshape(-1, 4).T
    return np.stack([(x1 + x2) / 2 / width, (y1 + y2) / 2 / height, (x2 - x1) / width, (y2 - y1) / height], axis=1)


class ReferenceTDPA:
    """Literal TDPA; ``update`` takes the pair scores against ``active()`` (sorted by tracklet id)."""

    def __init__(self, settings: TDPASettings) -> None:
        self.settings = settings
        self.tracklets: list[RefTracklet] = []
        self.frame = -1

    def init(self, box: np.ndarray, feature: Any) -> RefResult:
        self.frame = 0
        a_ff = RefTracklet(0, 0)
        a_ff.add(box, 1.0, 1.0, feature)  # SPEC §3: a_ff holds the given box, scores 1
        self.tracklets = [a_ff]
        return self._select((1, 1))  # only a_ff: no location score is computed

    def active(self) -> list[RefTracklet]:
        """Tracklets with a detection in the last processed frame, by id: the rows of the next scores."""
        return [t for t in self.tracklets if t.end == self.frame]

    @property
    def a_ff(self) -> RefTracklet:
        return self.tracklets[0]

    def update(self, boxes: np.ndarray, ff_scores: np.ndarray, ff_tracklet_scores: np.ndarray,
               features: list[Any], scores: np.ndarray, image_size: tuple[int, int]) -> RefResult:
        alpha, beta = self.settings.alpha, self.settings.beta
        previous = self.active()
        t = self.frame + 1
        num_dets = len(boxes)
        assert scores.shape == (len(previous), num_dets)
        w_ff = self.settings.w_ff
        combined = [w_ff * float(ff_scores[c]) + (1.0 - w_ff) * float(ff_tracklet_scores[c]) for c in range(num_dets)]
        # TDPASettings.rival_weight: the best combined score among the *other* detections of the frame.
        rivals = [max((combined[c] for c in range(num_dets) if c != d), default=0.0) for d in range(num_dets)]
        # Alg. 1, lines 7-19, one detection at a time.
        for d in range(num_dets):
            extended = False
            if previous:
                column = [float(scores[r, d]) for r in range(len(previous))]
                s1 = max(column)
                best = column.index(s1)  # d̂_{t-1}: the first maximum
                s2 = max((float(scores[best, c]) for c in range(num_dets) if c != d), default=-math.inf)
                s3 = max((column[r] for r in range(len(previous)) if r != best), default=-math.inf)
                target = previous[best]
                # TDPASettings.ff_min_score: a_ff takes only detections that still look like the given box.
                gated = target.tracklet_id == 0 and ff_scores[d] < self.settings.ff_min_score
                if s1 > alpha and s2 <= s1 - beta and s3 <= s1 - beta and not gated:
                    if target.end == t:
                        raise AssertionError(f'frame {t}: two detections extend tracklet {target.tracklet_id}')
                    target.add(boxes[d], ff_scores[d], ff_tracklet_scores[d], features[d], rivals[d])
                    extended = True
            if not extended:
                tracklet = RefTracklet(len(self.tracklets), t)
                tracklet.add(boxes[d], ff_scores[d], ff_tracklet_scores[d], features[d], rivals[d])
                self.tracklets.append(tracklet)
        self.frame = t
        return self._select(image_size)

    def thetas(self, image_size: tuple[int, int]) -> list[float]:
        """θ of every tracklet, from scratch (§3.3 Online DP, Eq. 1-2), in id (= start) order."""
        w_ff, w_loc, max_gap = self.settings.w_ff, self.settings.w_loc, self.settings.max_gap
        theta = np.full(len(self.tracklets), -math.inf)
        ends = np.array([t.end for t in self.tracklets])
        end_norm = _normalised_rows(np.array([t.boxes[-1] for t in self.tracklets]), image_size)
        start_norm = _normalised_rows(np.array([t.boxes[0] for t in self.tracklets]), image_size)
        for a in self.tracklets:
            if a.tracklet_id == 0:
                theta[0] = 0.0  # θ[a_ff] = 0: every track starts with a_ff
                continue
            unary = 0.0
            rival_weight, offset = self.settings.rival_weight, self.settings.unary_offset
            for ff, fft, rival in zip(a.ff_scores, a.ff_tracklet_scores, a.rivals, strict=True):
                unary += w_ff * ff + (1.0 - w_ff) * fft - rival_weight * rival - offset  # Eq. 2 (0, 0 = paper)
            # Predecessors: ended before a started, within the maximum gap. They all started before a,
            # so their θ is already final in this pass (ids are in start order).
            gap = a.start - ends[:a.tracklet_id]
            candidates = np.flatnonzero((gap >= 1) & (gap <= max_gap))
            if candidates.size:
                loc = -np.abs(end_norm[candidates] - start_norm[a.tracklet_id]).sum(axis=1) / 4  # Eq. 1
                theta[a.tracklet_id] = unary + float(np.max(theta[candidates] + w_loc * loc))
        return theta.tolist()

    def _select(self, image_size: tuple[int, int]) -> RefResult:
        theta = self.thetas(image_size)
        # â = argmax θ; ties to the lowest id.
        chosen = max(range(len(theta)), key=lambda i: (theta[i], -i))
        a_hat = self.tracklets[chosen]
        present = a_hat.end == self.frame
        w_ff = self.settings.w_ff
        confidence = 0.0
        if present:
            confidence = w_ff * max(a_hat.ff_scores) + (1.0 - w_ff) * max(a_hat.ff_tracklet_scores)
            confidence = min(max(confidence, 0.0), 1.0)
        return RefResult(self.frame, a_hat.boxes[-1].copy(), present, confidence, chosen, theta[chosen],
                         dict(enumerate(theta)), [t.tracklet_id for t in self.active()])
