"""Video hard example mining cost (issue 6): feature cache build, embedding training, index build and queries.

Reads a training split (by default the synthetic world's ``train``), builds the RoI feature cache of its
ground-truth boxes with a model (random weights, or ``--checkpoint``), trains the embedding network,
then times ``--queries`` miner calls (k-NN of ``--neighbours`` from other videos + ``--sampled`` features
read from the cache) with the exact (``flat``) and the HNSW index.

    scripts/in-env python benchmarks/hard_examples.py --root data/synthetic --stride 5
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from siamrcnn_ros.datasets.videos import read_training_videos
from siamrcnn_ros.model import build_model
from siamrcnn_ros.training.hard_examples import HardExampleMiner, NeighbourIndex, build_feature_cache, train_embedding
from siamrcnn_ros.training.hard_examples.embedding import EmbeddingTraining, embed_cache
from siamrcnn_ros.training.pairs import PairSampler
from siamrcnn_ros.training.settings import HardExampleSettings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--root', type=Path, default=Path('data/synthetic'), help='dataset folder')
    parser.add_argument('--reader', default='synthetic', help='training reader (layout)')
    parser.add_argument('--split', default='train', help='split to read')
    parser.add_argument('--preset', default='demo', help='model preset (ignored with --checkpoint)')
    parser.add_argument('--checkpoint', default=None, help='a model checkpoint for the backbone')
    parser.add_argument('--videos', type=int, default=None, help='use only the first this-many videos')
    parser.add_argument('--index-boxes', type=int, default=200000,
                        help='also time the index alone on this many random unit vectors (0 = skip)')
    parser.add_argument('--stride', type=int, default=1, help='cache every this-many-th visible frame per object')
    parser.add_argument('--embedding-steps', type=int, default=300, help='triplet training steps')
    parser.add_argument('--neighbours', type=int, default=10000, help='neighbours per query')
    parser.add_argument('--sampled', type=int, default=100, help='negatives sampled per query')
    parser.add_argument('--queries', type=int, default=200, help='timed miner calls per index kind')
    args = parser.parse_args()
    videos = read_training_videos(args.root, args.reader, args.split)[:args.videos]
    model = build_model(args.preset, checkpoint=args.checkpoint or 'none', device='cpu')
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        cache = build_feature_cache(model, videos, Path(folder) / 'features.safetensors', frame_stride=args.stride)
        cache_seconds = time.perf_counter() - started
        frames = len({(int(v), int(f)) for v, f in zip(cache.index.video, cache.index.frame, strict=True)})
        size_mb = cache.path.stat().st_size / 2 ** 20
        print(f'cache: {len(videos)} videos, {frames} frames, {len(cache)} boxes, {size_mb:.0f} MiB, '
              f'{cache_seconds:.1f} s ({1000 * cache_seconds / frames:.1f} ms/frame)')
        started = time.perf_counter()
        training = dataclasses.replace(EmbeddingTraining.from_settings(HardExampleSettings()),
                                       steps=args.embedding_steps)
        network, losses = train_embedding(cache, training)
        embeddings = embed_cache(network, cache)
        print(f'embedding: {args.embedding_steps} steps + embedding all boxes {time.perf_counter() - started:.1f} s, '
              f'triplet loss {np.mean(losses[:10]):.3f} -> {np.mean(losses[-10:]):.3f}')
        sampler = PairSampler([videos], [1.0], max_frame_gap=100, seed=0)
        pairs = [sampler.sample(step, 0) for step in range(args.queries)]
        for kind in ('flat', 'hnsw'):
            settings = HardExampleSettings(enabled=True, neighbours=args.neighbours, sampled=args.sampled, index=kind)
            started = time.perf_counter()
            miner = HardExampleMiner(cache, embeddings, settings, seed=0)
            build_seconds = time.perf_counter() - started
            started = time.perf_counter()
            for step, pair in enumerate(pairs):
                negatives = miner(pair, step)
            query_ms = 1000 * (time.perf_counter() - started) / len(pairs)
            shape = tuple(negatives.shape) if isinstance(negatives, torch.Tensor) else None
            print(f'index {kind}: build {build_seconds:.2f} s, {query_ms:.1f} ms per miner call '
                  f'(k = {args.neighbours}, {args.sampled} sampled, first calls uncached), negatives {shape}')
    if args.index_boxes:
        time_index_alone(args.index_boxes, args.neighbours, args.queries)
    return 0


def time_index_alone(count: int, neighbours: int, queries: int) -> None:
    """HNSW vs exact on ``count`` random 128-d unit vectors in videos of 300 boxes: build and query times."""
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(count, 128)).astype(np.float32)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    videos = np.arange(count) // 300
    references = rng.integers(count, size=queries)
    for kind in ('flat', 'hnsw'):
        started = time.perf_counter()
        index = NeighbourIndex(embeddings, videos, kind=kind)
        build_seconds = time.perf_counter() - started
        started = time.perf_counter()
        for row in references:
            index.query(embeddings[row], neighbours, exclude_video=int(videos[row]))
        query_ms = 1000 * (time.perf_counter() - started) / queries
        print(f'index alone, {count} boxes, {kind}: build {build_seconds:.1f} s, {query_ms:.1f} ms per k = '
              f'{neighbours} query')


if __name__ == '__main__':
    sys.exit(main())
