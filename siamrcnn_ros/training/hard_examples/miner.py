"""Hard negatives for a training pair: the trainer's ``hard_negatives`` callable (paper §3.2 "Training Procedure").

For each pair: the reference box's embedding (the cached box of the same object nearest in time to
the reference frame, when the cache keeps only every n-th frame) -> its ``neighbours`` nearest boxes
of other videos (``index.py``) -> ``sampled`` of them drawn without replacement, deterministically
by ``(seed, step, reference row)`` -> their cached RoI features ``[E, C, P, P]``, which
``losses.cascade_losses`` classifies as background in every cascade stage.

``build_hard_example_miner`` makes everything from the model and the videos, and reuses what an
earlier run left in the cache folder when it still matches:

* ``features.safetensors`` (``features.py``): reused when the backbone fingerprint, the video keys and
  the frame stride match;
* ``embedding.safetensors``: the embedding network's weights and every box's embedding, reused when the
  feature cache and the embedding settings match.

The index is rebuilt at each start: instant for the exact index; building HNSW took two minutes for
200,000 boxes on our (loaded) 2-core CPU box.
"""
from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor

from siamrcnn_ros.model.siamrcnn import SiamRCNN
from siamrcnn_ros.training.hard_examples.embedding import (
    EmbeddingNetwork,
    EmbeddingTraining,
    embed_cache,
    train_embedding,
)
from siamrcnn_ros.training.hard_examples.features import (
    FeatureCache,
    backbone_fingerprint,
    build_feature_cache,
    video_key,
)
from siamrcnn_ros.training.hard_examples.index import NeighbourIndex
from siamrcnn_ros.training.pairs import Pair
from siamrcnn_ros.training.settings import HardExampleSettings

FEATURES_FILE = 'features.safetensors'
EMBEDDING_FILE = 'embedding.safetensors'


class HardExampleMiner:
    """``miner(pair, step) -> [E, C, P, P]`` float32 hard negatives on ``device`` (or None).

    Args:
        cache: the RoI features of every cached ground-truth box.
        embeddings: ``[B, D]`` float32 embedding of every cache row.
        settings: ``neighbours``, ``sampled`` and the index kind.
        seed: with the step, decides the sample.
        device: where the returned features go (the model's device).
    """

    def __init__(self, cache: FeatureCache, embeddings: np.ndarray, settings: HardExampleSettings, *, seed: int,
                 device: str | torch.device = 'cpu') -> None:
        if embeddings.shape[0] != len(cache):
            raise ValueError(f'{embeddings.shape[0]} embeddings for {len(cache)} cached boxes')
        self.cache = cache
        self.embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        self.settings = settings
        self.seed = int(seed)
        self.device = torch.device(device)
        self.index = NeighbourIndex(self.embeddings, cache.index.video, kind=settings.index,
                                    hnsw_m=settings.hnsw_m, ef_search=settings.ef_search)
        # Queries are deterministic; a pair's reference box recurs often over a long run.
        self._neighbours = functools.lru_cache(maxsize=2048)(self._query)

    def reference_row(self, pair: Pair) -> int | None:
        """The cache row standing for the pair's reference box: its object's cached box nearest in time
        (the box itself when every frame is cached), or None when the object has no cached box.

        Raises:
            ValueError: the pair's video is not in the cache.
        """
        rows, frames = self.cache.index.rows_of_object(video_key(pair.video), pair.obj)
        if not len(rows):
            return None
        return int(rows[np.argmin(np.abs(frames - pair.reference))])

    def neighbours(self, row: int) -> np.ndarray:
        """``[k]`` int64 cache rows of the ``settings.neighbours`` nearest boxes of other videos, nearest first."""
        return self._neighbours(int(row))

    def __call__(self, pair: Pair, step: int) -> Tensor | None:
        row = self.reference_row(pair)
        if row is None:
            return None
        candidates = self.neighbours(row)
        if not len(candidates):
            return None  # a single-video training set has no other video
        rng = np.random.default_rng([self.seed, int(step), row])
        chosen = rng.choice(len(candidates), size=min(self.settings.sampled, len(candidates)), replace=False)
        return self.cache.features(candidates[np.sort(chosen)]).to(self.device)

    def _query(self, row: int) -> np.ndarray:
        rows, _ = self.index.query(self.embeddings[row], self.settings.neighbours,
                                   exclude_video=int(self.cache.index.video[row]))
        return rows


def build_hard_example_miner(model: SiamRCNN, videos: Sequence[Any], settings: HardExampleSettings, *, seed: int,
                             cache_dir: str | Path, progress: bool = True) -> HardExampleMiner:
    """Feature cache -> embedding network -> index -> miner, reusing matching files in ``cache_dir``.

    Args:
        model: the re-detector being trained (its frozen backbone makes the features).
        videos: all training videos (every dataset's); repeated keys ``'<source>/<name>'`` are kept once.
        settings: the run's hard-example settings.
        seed: the run's seed (embedding training and sampling).
        cache_dir: folder for ``features.safetensors`` and ``embedding.safetensors``.
        progress: tqdm bars for the cache and the embedding training.
    """
    unique: dict[str, Any] = {}
    for video in videos:
        unique.setdefault(video_key(video), video)
    cache_dir = Path(cache_dir)
    cache = _matching_cache(cache_dir / FEATURES_FILE, model, list(unique), settings.frame_stride)
    if cache is None:
        cache = build_feature_cache(model, list(unique.values()), cache_dir / FEATURES_FILE,
                                    frame_stride=settings.frame_stride, progress=progress)
    training = EmbeddingTraining.from_settings(settings, seed=seed)
    embeddings = _matching_embeddings(cache_dir / EMBEDDING_FILE, cache, training)
    if embeddings is None:
        network, _ = train_embedding(cache, training, device=model.device, progress=progress)
        embeddings = embed_cache(network, cache, device=model.device)
        save_embedding(cache_dir / EMBEDDING_FILE, network, embeddings, _embedding_key(cache, training))
    return HardExampleMiner(cache, embeddings, settings, seed=seed, device=model.device)


def save_embedding(path: Path, network: EmbeddingNetwork, embeddings: np.ndarray, key: str) -> None:
    """Write the network's weights (``network.*``) and the ``[B, D]`` box embeddings, tagged with ``key``."""
    tensors = {f'network.{name}': value.detach().cpu().contiguous() for name, value in network.state_dict().items()}
    tensors['embeddings'] = torch.from_numpy(np.ascontiguousarray(embeddings, dtype=np.float32))
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata={'key': key})


def load_embedding_network(path: str | Path, pooler_size: int) -> EmbeddingNetwork:
    """The embedding network ``save_embedding`` wrote to ``path`` (e.g. ``<cache_dir>/embedding.safetensors``),
    in eval mode on the CPU, for ``[B, C, pooler_size, pooler_size]`` RoI features; C and the widths are read
    from the weights."""
    with safe_open(str(path), framework='pt', device='cpu') as file:
        names = file.keys()  # the safetensors handle itself is not iterable
        weights = {key[len('network.'):]: file.get_tensor(key) for key in names if key.startswith('network.')}
    if 'convs.0.weight' not in weights or 'fc.weight' not in weights:
        raise ValueError(f'{path}: no embedding network in this file (expected network.* tensors)')
    width, in_channels = weights['convs.0.weight'].shape[:2]
    network = EmbeddingNetwork(in_channels, pooler_size, dim=weights['fc.weight'].shape[0], width=width)
    network.load_state_dict(weights)
    return network.eval()


def _embedding_key(cache: FeatureCache, training: EmbeddingTraining) -> str:
    return json.dumps({'cache': cache.fingerprint, 'videos': list(cache.index.videos), 'rows': len(cache),
                       'stride': cache.frame_stride, 'training': repr(training)}, sort_keys=True)


def _matching_cache(path: Path, model: SiamRCNN, keys: list[str], frame_stride: int) -> FeatureCache | None:
    if not path.is_file():
        return None
    try:
        cache = FeatureCache(path)
    except (ValueError, KeyError, OSError):
        return None
    if (cache.fingerprint != backbone_fingerprint(model) or list(cache.index.videos) != keys
            or cache.frame_stride != frame_stride):
        return None
    return cache


def _matching_embeddings(path: Path, cache: FeatureCache, training: EmbeddingTraining) -> np.ndarray | None:
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework='pt', device='cpu') as file:
            if (file.metadata() or {}).get('key') != _embedding_key(cache, training):
                return None
            return file.get_tensor('embeddings').numpy()
    except (OSError, KeyError, ValueError):
        return None
