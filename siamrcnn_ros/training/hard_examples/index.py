"""Approximate nearest neighbours of a box's embedding among the boxes of other videos (paper §3.2 "Index Structure").

We use faiss (``faiss-cpu``): it ships as a binary wheel for every platform we support (no
compiler at install time, unlike hnswlib's source builds on some platforms; annoy needs a
compiler too), and its HNSW graph index (``IndexHNSWFlat``) answers k-NN queries in
sub-linear time over millions of vectors, the scale of the paper's training set (every
ground-truth box of ImageNet VID, YouTube-VOS, GOT-10k and LaSOT). For small sets (the tests, the
synthetic world, up to a few hundred thousand boxes when k is 10,000) the exact ``IndexFlatL2``
is as fast and has no approximation at all.

The embeddings are unit vectors, so the L2 order equals the cosine order.

Other videos only: a video's own boxes are the tracked object itself or its own distractors, which
the ordinary RoI sampling of the target frame already covers. faiss has no cheap per-query filter
for HNSW, so a query asks for ``k`` plus the number of boxes of the excluded video (an upper bound on
how many of the hits can be dropped) and drops them.
"""
from __future__ import annotations

import faiss
import numpy as np

INDEX_KINDS = ('auto', 'hnsw', 'flat')
# Below this many boxes 'auto' uses the exact index. With k = 10,000 the HNSW search must visit at least
# k nodes (efSearch >= k), and on our CPU box it was no faster than brute force at 200,000 boxes
# (benchmarks/RESULTS.md, ~110 ms per query both), while its build took two minutes.
AUTO_FLAT_LIMIT = 500_000


class NeighbourIndex:
    """k-NN over box embeddings, with the video of every box.

    Args:
        embeddings: ``[B, D]`` float32 (unit vectors from ``EmbeddingNetwork``).
        videos: ``[B]`` int video number of each box.
        kind: ``'hnsw'`` (approximate, for large sets), ``'flat'`` (exact) or ``'auto'`` (flat below
            ``AUTO_FLAT_LIMIT`` boxes).
        hnsw_m: HNSW graph degree.
        ef_search: HNSW search breadth; raised to the number of asked neighbours per query.

    Raises:
        ValueError: bad shapes or kind.
    """

    def __init__(self, embeddings: np.ndarray, videos: np.ndarray, *, kind: str = 'auto', hnsw_m: int = 32,
                 ef_search: int = 128) -> None:
        embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        videos = np.asarray(videos, dtype=np.int64)
        if embeddings.ndim != 2 or videos.shape != (len(embeddings),) or not len(embeddings):
            raise ValueError(f'need [B, D] embeddings (B >= 1) and [B] videos, got {embeddings.shape} and '
                             f'{videos.shape}')
        if kind not in INDEX_KINDS:
            raise ValueError(f'index kind must be one of {INDEX_KINDS}, got {kind!r}')
        if kind == 'auto':
            kind = 'flat' if len(embeddings) < AUTO_FLAT_LIMIT else 'hnsw'
        self.kind = kind
        self.ef_search = int(ef_search)
        self.videos = videos
        self._boxes_per_video = np.bincount(videos - videos.min()) if len(videos) else np.zeros(0, np.int64)
        self._video_offset = int(videos.min())
        dim = embeddings.shape[1]
        if kind == 'hnsw':
            self._index = faiss.IndexHNSWFlat(dim, int(hnsw_m))
        else:
            self._index = faiss.IndexFlatL2(dim)
        self._index.add(embeddings)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def query(self, embedding: np.ndarray, k: int, *, exclude_video: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest boxes of other videos than ``exclude_video``, nearest first.

        Args:
            embedding: ``[D]`` float32.
            k: how many neighbours (fewer come back when the other videos hold fewer boxes, or HNSW misses some).
            exclude_video: the reference box's video number.

        Returns:
            ``([k'] int64 rows, [k'] float32 squared L2 distances)``, ``k' <= k``.
        """
        if k < 1:
            raise ValueError(f'k must be >= 1, got {k}')
        vector = np.ascontiguousarray(np.asarray(embedding, dtype=np.float32).reshape(1, -1))  # [1, D]
        own = self._own_boxes(exclude_video)
        ask = min(k + own, len(self))
        if self.kind == 'hnsw':
            self._index.hnsw.efSearch = max(self.ef_search, ask)
        distances, rows = self._index.search(vector, ask)  # [1, ask] each
        distances, rows = distances[0], rows[0]
        keep = (rows >= 0)
        keep[keep] &= self.videos[rows[keep]] != exclude_video
        return rows[keep][:k].astype(np.int64), distances[keep][:k]

    def _own_boxes(self, video: int) -> int:
        slot = int(video) - self._video_offset
        return int(self._boxes_per_video[slot]) if 0 <= slot < len(self._boxes_per_video) else 0
