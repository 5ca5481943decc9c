"""Synthetic re-detection streams that stand in for the network in tests and benchmarks of TDPA.

Objects move in an image; each visible object gives one detection whose payload is an appearance
embedding (unit vector ``[E]``, float64). The "pair scorer" is the clipped dot product of embeddings,
gated by the spatial distance as the real head is (SPEC §2: −inf unless the distance is below γ):
two detections of one object score close to 1, look-alikes (nearby embeddings) almost as high, so
they are ambiguous when close in space, exactly the situation Alg. 1 resolves by starting tracklets.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from siamrcnn_ros.tracking.locality import spatial_distance
from siamrcnn_ros.tracking.records import Detections, TrackResult
from siamrcnn_ros.tracking.tdpa import TDPA

DEFAULT_GAMMA = 0.06
"""Reference spatial gate γ of the pair scores (SPEC §2)."""


def embedding_pair_scores(ref_boxes: np.ndarray, ref_embeddings: np.ndarray, boxes: np.ndarray,
                          embeddings: np.ndarray, image_size: tuple[int, int],
                          gamma: float = DEFAULT_GAMMA) -> np.ndarray:
    """Synthetic pair scores ``[R, D]``: ``clip(ref · det, 0, 1)``, −inf where the spatial distance >= γ.

    Args:
        ref_boxes: ``[R, 4]`` xyxy pixels, ref_embeddings: ``[R, E]`` unit vectors.
        boxes: ``[D, 4]`` xyxy pixels, embeddings: ``[D, E]`` unit vectors.
        image_size: ``(height, width)`` pixels.
        gamma: gate on the normalised L-infinity distance.
    """
    scores = np.clip(ref_embeddings @ embeddings.T, 0.0, 1.0)  # [R, D]
    scores[spatial_distance(ref_boxes, boxes, image_size) >= gamma] = -np.inf
    return scores


@dataclass(frozen=True)
class SyntheticFrame:
    """One frame of synthetic detections.

    Attributes:
        boxes: ``[D, 4]`` float64 xyxy pixels.
        embeddings: ``[D, E]`` float64 unit vectors (the payload TDPA stores as features).
        ff_scores: ``[D]`` float64 scores against the first-frame template.
        identities: ``[D]`` int64 ground-truth object of each detection (−1 for clutter); never
            shown to the tracker, only to the checks.
    """

    boxes: np.ndarray
    embeddings: np.ndarray
    ff_scores: np.ndarray
    identities: np.ndarray


def track_frame(tdpa: TDPA, frame: SyntheticFrame, image_size: tuple[int, int],
                gamma: float = DEFAULT_GAMMA) -> TrackResult:
    """Scores ``frame`` against ``tdpa.references`` as the network would and runs ``tdpa.update``."""
    refs = tdpa.references
    scores = embedding_pair_scores(refs.boxes, refs.features, frame.boxes, frame.embeddings, image_size, gamma)
    ff_tracklet = np.clip(frame.embeddings @ refs.ff_features, 0.0, 1.0)  # vs a_ff's latest detection
    return tdpa.update(Detections(frame.boxes, frame.ff_scores, ff_tracklet, frame.embeddings), scores, image_size)


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm, ``[N, E]`` -> ``[N, E]``."""
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


class RandomScene:
    """Objects random-walking in an image, with misses, disappearances, look-alikes and clutter.

    Object 0 is the target. Objects come in look-alike pairs (embeddings with dot product about
    ``lookalike_similarity``); each frame the observed embedding is perturbed, so pair scores of one
    object are close to 1 but not exactly. Every frame each visible object is missed with
    probability ``miss_rate`` (its tracklet ends, a new one starts next frame); each object leaves
    the view with probability ``leave_rate`` for 10 to 300 frames; ``clutter`` one-frame detections
    with random appearance appear on average. This gives about ``num_objects`` detections per frame
    and a steady supply of new tracklets, the load an endless stream puts on TDPA.

    Args:
        num_objects: objects in the scene, the target included.
        image_size: ``(height, width)`` pixels.
        seed: seed of the random generator; the stream is a deterministic function of the arguments.
        miss_rate, leave_rate, clutter, lookalike_similarity: see above.
        embedding_dim: length of the appearance vectors.
    """

    def __init__(self, num_objects: int = 20, image_size: tuple[int, int] = (480, 640), seed: int = 0,
                 miss_rate: float = 0.03, leave_rate: float = 0.002, clutter: float = 1.0,
                 lookalike_similarity: float = 0.9, embedding_dim: int = 8) -> None:
        if num_objects < 1:
            raise ValueError(f'num_objects must be >= 1, got {num_objects}')
        self.image_size = image_size
        self._rng = np.random.default_rng(seed)
        self._miss_rate, self._leave_rate, self._clutter = miss_rate, leave_rate, clutter
        height, width = image_size
        rng = self._rng
        self._scale = np.array([width, height], np.float64)
        self._size = rng.uniform(0.06, 0.15, size=(num_objects, 2)) * self._scale  # [N, 2] w, h pixels
        self._centre = rng.uniform(0.2, 0.8, size=(num_objects, 2)) * self._scale  # [N, 2] pixels
        self._velocity = rng.normal(0.0, 0.004, size=(num_objects, 2)) * self._scale
        # Look-alike pairs: object 2k+1 has dot product lookalike_similarity with object 2k.
        base = unit_rows(rng.normal(size=(num_objects, embedding_dim)))
        other = rng.normal(size=base.shape)
        other = unit_rows(other - (other * base).sum(axis=1, keepdims=True) * base)  # orthogonal to base
        c = lookalike_similarity
        twins = c * base + np.sqrt(1.0 - c * c) * other
        base[1::2] = twins[0:num_objects - 1:2]
        self._embedding = base
        self._ff_score = np.where(np.arange(num_objects) == 0, 0.9, rng.uniform(0.05, 0.4, num_objects))
        self._ff_score[1] = 0.7 if num_objects > 1 else self._ff_score[1]  # the target's look-alike
        self._away = np.zeros(num_objects, np.int64)  # frames until an object that left comes back
        self._embedding_dim = embedding_dim

    def first_box(self) -> np.ndarray:
        """``[4]`` xyxy pixels of the target in frame 0."""
        return np.concatenate([self._centre[0] - self._size[0] / 2, self._centre[0] + self._size[0] / 2])

    def first_features(self) -> np.ndarray:
        """``[1, E]`` the target's embedding in frame 0 (the payload of ``TDPA.init``)."""
        return self._embedding[:1].copy()

    def next_frame(self) -> SyntheticFrame:
        """Moves every object by one frame and returns the detections of the new frame."""
        rng = self._rng
        num = self._centre.shape[0]
        self._velocity += rng.normal(0.0, 0.0005, size=self._velocity.shape) * self._scale
        self._velocity = np.clip(self._velocity, -0.01 * self._scale, 0.01 * self._scale)
        self._centre += self._velocity
        low, high = self._size / 2, self._scale - self._size / 2
        bounce = (self._centre < low) | (self._centre > high)
        self._velocity[bounce] *= -1.0
        self._centre = np.clip(self._centre, low, high)
        self._away = np.maximum(self._away - 1, 0)
        leaving = (self._away == 0) & (rng.random(num) < self._leave_rate)
        self._away[leaving] = rng.integers(10, 300, size=int(leaving.sum()))
        seen = np.flatnonzero((self._away == 0) & (rng.random(num) >= self._miss_rate))
        jitter = 1.0 + rng.normal(0.0, 0.01, size=(seen.size, 2))
        centre, size = self._centre[seen], self._size[seen] * jitter
        embeddings = unit_rows(self._embedding[seen] + rng.normal(0.0, 0.05, size=(seen.size, self._embedding_dim)))
        ff = np.clip(self._ff_score[seen] + rng.normal(0.0, 0.03, size=seen.size), 0.0, 1.0)
        identities = seen.astype(np.int64)
        num_clutter = int(rng.poisson(self._clutter))
        if num_clutter:
            c_size = rng.uniform(0.03, 0.2, size=(num_clutter, 2)) * self._scale
            c_centre = rng.uniform(0.0, 1.0, size=(num_clutter, 2)) * (self._scale - c_size) + c_size / 2
            centre, size = np.concatenate([centre, c_centre]), np.concatenate([size, c_size])
            embeddings = np.concatenate([embeddings, unit_rows(rng.normal(size=(num_clutter, self._embedding_dim)))])
            ff = np.concatenate([ff, rng.uniform(0.0, 0.3, num_clutter)])
            identities = np.concatenate([identities, np.full(num_clutter, -1, np.int64)])
        boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
        return SyntheticFrame(boxes, embeddings, ff, identities)
