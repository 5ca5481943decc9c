"""Tracklet building (Alg. 1, lines 7-19) and the window of tracklets that may still precede a new one.

Both work on arrays for all detections of a frame at once, so a frame costs a few NumPy calls
whatever the number of detections, and nothing here grows with the length of the stream.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class MatchScores(NamedTuple):
    """The quantities of Alg. 1, lines 8-12, one entry per current detection ``d_t``.

    Attributes:
        s1: ``[D]`` best pair score of ``d_t`` with any previous detection (−inf if none).
        best_row: ``[D]`` int64 row of that previous detection ``d̂_{t-1}`` (ties: the lowest row;
            meaningless where ``s1`` is −inf).
        s2: ``[D]`` best score of any *other* current detection with ``d̂_{t-1}``.
        s3: ``[D]`` best score of ``d_t`` with any *other* previous detection.
    """

    s1: np.ndarray
    best_row: np.ndarray
    s2: np.ndarray
    s3: np.ndarray


def match_scores(pair_scores: np.ndarray) -> MatchScores:
    """Computes s1, d̂, s2, s3 of Alg. 1 (lines 8-12) for every detection, vectorised.

    Args:
        pair_scores: ``[R, D]`` float64, row ``r`` = latest detection of the ``r``-th tracklet active at
            ``t-1``, column ``d`` = detection ``d`` at ``t``; −inf where the pair was gated out (spatial
            distance >= γ). No NaN and no +inf.

    Returns:
        The four ``[D]`` arrays. "Other" is by index, not by value: a tie with the maximum counts as
        an equally good competitor, so ties are ambiguous and never extend a tracklet.
    """
    num_rows, num_dets = pair_scores.shape
    none = np.empty(num_dets)
    none.fill(-np.inf)
    if num_rows == 0:
        return MatchScores(none, np.zeros(num_dets, np.int64), none, none.copy())
    best_row = pair_scores.argmax(axis=0)  # [D]
    if num_rows > 1:  # the two largest of each column: s1, and s3 = the best of the rows other than d̂
        column = np.partition(pair_scores, num_rows - 2, axis=0)
        s1, s3 = column[-1], column[-2]
    else:
        s1, s3 = pair_scores[0], none
    if num_dets > 1:  # s2: the maximum of row d̂ over the columns other than d_t
        row = np.partition(pair_scores, num_dets - 2, axis=1)
        row_max, row_second = row[best_row, -1], row[best_row, -2]
        # s1 = score[d̂, d_t]: if it is below the maximum of row d̂, another column holds that maximum;
        # otherwise the best other column is the second largest (equal to s1 on a tie).
        s2 = np.where(s1 < row_max, row_max, row_second)
    else:
        s2 = none.copy()
    return MatchScores(s1, best_row, s2, s3)


def associate(pair_scores: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """Decides, for each current detection, which tracklet it extends (Alg. 1, lines 7-19).

    ``d_t`` extends the tracklet of ``d̂_{t-1}`` iff ``s1 > alpha`` and ``s2 <= s1 - beta`` and
    ``s3 <= s1 - beta``; otherwise it starts a new tracklet. With ``beta > 0`` two detections can never
    extend the same tracklet: if ``d`` and ``d'`` share ``d̂`` and ``d`` extends, then
    ``score[d̂, d] >= score[d̂, d'] + beta``, so ``s2(d') > s1(d') - beta``.

    Args:
        pair_scores: ``[R, D]`` as for ``match_scores``.
        alpha: minimum pair score (strict).
        beta: ambiguity margin, > 0.

    Returns:
        ``[D]`` int64: the row (previous tracklet) extended by each detection, or −1 for a new tracklet.
    """
    m = match_scores(pair_scores)
    extend = (m.s1 > alpha) & (np.maximum(m.s2, m.s3) <= m.s1 - beta)
    return np.where(extend, m.best_row, -1)


class PredecessorWindow:
    """Terminated tracklets that may still precede a new tracklet in a track (§3.3, Online DP).

    A terminated tracklet ``b`` keeps its θ forever, and can precede a tracklet ``a`` starting at
    frame ``t`` iff ``t - max_gap <= end(b) <= t - 1``. The window holds, for each such ``b`` with a
    finite θ, only ``(end frame, θ, last box)``: an unreachable ``b`` (θ = −inf) can never give a
    finite score. Entries arrive in order of end frame, so the window is a FIFO and dropping the
    ones older than ``t - max_gap`` is a prefix cut. Storage is a buffer that is compacted or grown
    (amortised O(1) per entry), bounded by the number of tracklets ending within ``max_gap`` frames.

    The last boxes are kept as ``(cx, cy, w, h)`` pixels, one column per entry (``[4, capacity]``), so
    that scoring thousands of entries against a new tracklet is four contiguous rows of arithmetic.
    """

    def __init__(self, capacity: int = 256) -> None:
        self._end = np.zeros(capacity, np.int64)
        self._theta = np.zeros(capacity)
        self._coords = np.zeros((4, capacity))  # [4, capacity] (cx, cy, w, h) pixels
        self._head = 0
        self._tail = 0

    def __len__(self) -> int:
        return self._tail - self._head

    @property
    def capacity(self) -> int:
        """Number of entries the buffers can hold before they are compacted or grown."""
        return self._end.shape[0]

    def clear(self) -> None:
        self._head = self._tail = 0

    def append(self, end_frame: int, theta: np.ndarray, end_cxcywh: np.ndarray) -> None:
        """Adds tracklets whose last detection is at ``end_frame`` (>= that of every entry so far).

        Args:
            end_frame: frame of their last detection.
            theta: ``[K]`` float64 final θ of each, finite.
            end_cxcywh: ``[K, 4]`` float64 ``(cx, cy, w, h)`` pixels of the last box of each.
        """
        count = theta.shape[0]
        if self._tail + count > self.capacity:
            self._make_room(count)
        sl = slice(self._tail, self._tail + count)
        self._end[sl] = end_frame
        self._theta[sl] = theta
        self._coords[:, sl] = end_cxcywh.T
        self._tail += count

    def _make_room(self, count: int) -> None:
        size = len(self)
        capacity = self.capacity
        while size + count > capacity // 2:  # keep the buffer at most half full after compaction
            capacity *= 2
        live = slice(self._head, self._tail)
        if capacity != self.capacity:
            end, theta, coords = np.zeros(capacity, np.int64), np.zeros(capacity), np.zeros((4, capacity))
        else:
            end, theta, coords = self._end, self._theta, self._coords
        end[:size], theta[:size], coords[:, :size] = self._end[live], self._theta[live], self._coords[:, live]
        self._end, self._theta, self._coords = end, theta, coords
        self._head, self._tail = 0, size

    def drop_ended_before(self, frame: int) -> None:
        """Removes the tracklets whose last detection is before ``frame``."""
        if self._head == self._tail or self._end[self._head] >= frame:
            return
        self._head += int(np.searchsorted(self._end[self._head:self._tail], frame, side='left'))
        if self._head == self._tail:
            self._head = self._tail = 0

    def best_predecessor(self, start_cxcywh: np.ndarray, loc_weights: np.ndarray) -> np.ndarray:
        """``max_b θ[b] + w_loc * loc_score(b, a)`` over the window for each new tracklet ``a`` (§3.3).

        ``w_loc * loc_score(b, a) = -Σ_k loc_weights[k] * |end_k(b) - start_k(a)|`` over the pixel
        coordinates ``k`` of ``(cx, cy, w, h)``, with ``loc_weights = w_loc / (4 * (W, H, W, H))``: the
        mean of the normalised absolute differences of Eq. 1 (``locality.location_score``), weighted.

        Args:
            start_cxcywh: ``[N, 4]`` float64 ``(cx, cy, w, h)`` pixels of the first box of each new tracklet.
            loc_weights: ``[4]`` float64, as above, for the current image size.

        Returns:
            ``[N]`` float64, −inf where the window is empty. Ties between predecessors do not matter:
            only the value is used.
        """
        if self._head == self._tail:
            return np.full(start_cxcywh.shape[0], -np.inf)
        live = slice(self._head, self._tail)
        diff = np.subtract(self._coords[None, :, live], start_cxcywh[:, :, None])  # [N, 4, W]
        np.abs(diff, out=diff)
        return (self._theta[live] - loc_weights @ diff).max(axis=1)  # [N, W] -> [N]
