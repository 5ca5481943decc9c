"""Video hard example mining (issue 6 item 4, SPEC §4, paper §3.2): feature cache, triplet embedding, index, miner."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from training_videos import write_videos

from siamrcnn_ros.datasets.videos import AnnotatedVideo
from siamrcnn_ros.model import build_model
from siamrcnn_ros.model.config import get_preset
from siamrcnn_ros.model.siamrcnn import SiamRCNN
from siamrcnn_ros.training.actors import head_losses
from siamrcnn_ros.training.examples import example_rng, make_pair_example, torch_generator
from siamrcnn_ros.training.hard_examples import (
    EmbeddingNetwork,
    FeatureCache,
    HardExampleMiner,
    NeighbourIndex,
    batch_hard_triplet_loss,
    build_feature_cache,
    build_hard_example_miner,
    train_embedding,
)
from siamrcnn_ros.training.hard_examples.embedding import EmbeddingTraining, embed_cache
from siamrcnn_ros.training.hard_examples.miner import load_embedding_network, save_embedding
from siamrcnn_ros.training.pairs import Pair
from siamrcnn_ros.training.settings import HardExampleSettings, TrainingConfig
from siamrcnn_ros.training.trainer import Trainer

# The same shrunken demo model as test_training.py: 96 x 128 images, 32 FPN channels.
TINY_OVERRIDES = {'transform.min_size': 96, 'transform.max_size': 128, 'backbone.out_channels': 32,
                  'head.representation_size': 64, 'rpn.pre_nms_top_n': 50, 'rpn.post_nms_top_n': 30}
SETTINGS = HardExampleSettings(enabled=True, neighbours=12, sampled=5, embedding_steps=60, embedding_identities=6,
                               embedding_dim=16)


@pytest.fixture(scope='module')
def videos(tmp_path_factory: pytest.TempPathFactory) -> list[AnnotatedVideo]:
    return write_videos(tmp_path_factory.mktemp('videos'), count=3, frames=6, objects=2)


@pytest.fixture(scope='module')
def model() -> SiamRCNN:
    torch.manual_seed(0)
    return build_model(get_preset('shapes').with_overrides(TINY_OVERRIDES), device='cpu')


@pytest.fixture(scope='module')
def cache(videos: list[AnnotatedVideo], model: SiamRCNN, tmp_path_factory: pytest.TempPathFactory) -> FeatureCache:
    return build_feature_cache(model, videos, tmp_path_factory.mktemp('cache') / 'features.safetensors',
                               progress=False)


@pytest.fixture(scope='module')
def miner(videos: list[AnnotatedVideo], model: SiamRCNN, tmp_path_factory: pytest.TempPathFactory) -> HardExampleMiner:
    return build_hard_example_miner(model, videos, SETTINGS, seed=5, cache_dir=tmp_path_factory.mktemp('miner'),
                                    progress=False)


# Feature cache ----------------------------------------------------------------------------------------


def small_embedding(steps: int) -> EmbeddingTraining:
    """The config's embedding training, made small: 16 dimensions, 6 objects per batch, seed 1."""
    return dataclasses.replace(EmbeddingTraining.from_settings(HardExampleSettings(), seed=1), dim=16, steps=steps,
                               identities_per_batch=6)


def test_feature_cache_round_trip(cache: FeatureCache, videos: list[AnnotatedVideo], model: SiamRCNN) -> None:
    reopened = FeatureCache(cache.path)
    # Every visible box of every video, once: 3 videos x 2 objects x 6 frames.
    assert len(reopened) == 36
    assert reopened.index.videos == ('synthetic/video0', 'synthetic/video1', 'synthetic/video2')
    assert reopened.feature_shape == (32, 7, 7)
    for row in (0, 17, 35):
        video = videos[int(reopened.index.video[row])]
        obj, frame = int(reopened.index.object[row]), int(reopened.index.frame[row])
        np.testing.assert_allclose(reopened.index.boxes[row], video.boxes[obj, frame], atol=1e-4)
        expected = model.roi_features(model.extract(video.read_frame(frame)),
                                      torch.tensor(video.boxes[obj, frame][None], dtype=torch.float32))
        # Stored in bfloat16: equal to the direct RoIAlign to its 8-bit mantissa.
        torch.testing.assert_close(reopened.features([row]), expected, rtol=1e-2, atol=1e-12)
    rows = [5, 2, 3, 5, 30]
    torch.testing.assert_close(reopened.features(rows), torch.cat([reopened.features([r]) for r in rows]))
    with pytest.raises(ValueError, match='rows'):
        reopened.features([36])


def test_feature_cache_stride_keeps_every_object(videos: list[AnnotatedVideo], model: SiamRCNN,
                                                 tmp_path: Path) -> None:
    strided = build_feature_cache(model, videos[:1], tmp_path / 'f.safetensors', frame_stride=4, progress=False)
    assert sorted(zip(strided.index.object.tolist(), strided.index.frame.tolist(), strict=True)) == [
        (0, 0), (0, 4), (1, 0), (1, 4)]
    with pytest.raises(ValueError, match='frame_stride'):
        build_feature_cache(model, videos, tmp_path / 'g.safetensors', frame_stride=0, progress=False)


def test_a_cache_without_pixel_rois_is_rebuilt_for_a_model_with_them(videos: list[AnnotatedVideo], model: SiamRCNN,
                                                                     tmp_path: Path) -> None:
    # Same backbone weights; only head.pixel_rois differs, which adds 3 channels to every cached row.
    pixel_model = build_model(get_preset('shapes').with_overrides({**TINY_OVERRIDES, 'head.pixel_rois': True}),
                              device='cpu')
    pixel_model.backbone.load_state_dict(model.backbone.state_dict())
    settings = HardExampleSettings(enabled=True, neighbours=12, sampled=5, embedding_steps=2,
                                   embedding_identities=6, embedding_dim=16)
    plain = build_hard_example_miner(model, videos, settings, seed=5, cache_dir=tmp_path, progress=False)
    assert plain.cache.feature_shape == (32, 7, 7)
    with_pixels = build_hard_example_miner(pixel_model, videos, settings, seed=5, cache_dir=tmp_path, progress=False)
    assert with_pixels.cache.feature_shape == (35, 7, 7)
    assert with_pixels.cache.fingerprint != plain.cache.fingerprint


# Embedding --------------------------------------------------------------------------------------------


def test_batch_hard_triplet_loss_picks_the_hardest_pairs() -> None:
    embeddings = torch.tensor([[0.0, 0.0], [3.0, 0.0], [1.0, 0.0], [10.0, 0.0]])
    labels = torch.tensor([0, 0, 1, 1])
    # Anchor 0: hardest positive 3 (box 1), hardest negative 1 (box 2) -> relu(3 - 1 + 0.5) = 2.5.
    # Anchor 1: positive 3, negative 2 -> 1.5. Anchor 2: positive 9, negative 1 -> 8.5. Anchor 3: 9, 7 -> 2.5.
    loss = batch_hard_triplet_loss(embeddings, labels, margin=0.5)
    assert float(loss) == pytest.approx((2.5 + 1.5 + 8.5 + 2.5) / 4, abs=1e-5)
    soft = batch_hard_triplet_loss(embeddings, labels, margin=None)
    assert float(soft) == pytest.approx(float(torch.nn.functional.softplus(torch.tensor([2.0, 1.0, 8.0, 2.0])).mean()),
                                        abs=1e-5)
    assert float(batch_hard_triplet_loss(embeddings, torch.zeros(4, dtype=torch.int64))) == 0.0


def test_embedding_training_separates_objects(cache: FeatureCache) -> None:
    network, losses = train_embedding(cache, small_embedding(steps=60),
                                      progress=False)
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:5])
    embeddings = embed_cache(network, cache)  # [36, 16]
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    labels = cache.index.object_labels()
    distances = np.linalg.norm(embeddings[:, None] - embeddings[None], axis=-1)  # [36, 36]
    same = (labels[:, None] == labels[None]) & ~np.eye(len(labels), dtype=bool)
    different = labels[:, None] != labels[None]
    assert distances[same].mean() < 0.5 * distances[different].mean()
    # Each box's nearest other box is the same object in another frame.
    nearest = np.where(np.eye(len(labels), dtype=bool), np.inf, distances).argmin(1)
    assert (labels[nearest] == labels).mean() > 0.9
    with pytest.raises(ValueError, match='features must be'):
        EmbeddingNetwork(32, 7, dim=16)(torch.zeros(2, 16, 7, 7))


def test_saved_embedding_network_loads_back(cache: FeatureCache, tmp_path: Path) -> None:
    network, _ = train_embedding(cache, small_embedding(steps=5),
                                 progress=False)
    path = tmp_path / 'embedding.safetensors'
    save_embedding(path, network, embed_cache(network, cache), key='test')
    loaded = load_embedding_network(path, pooler_size=network.pooler_size)
    features = cache.features(np.arange(len(cache)))
    with torch.no_grad():
        torch.testing.assert_close(loaded(features), network.eval()(features))
    assert not loaded.training
    (tmp_path / 'other.safetensors').write_bytes(path.read_bytes().replace(b'network.', b'renamed.'))
    with pytest.raises(ValueError, match='no embedding network'):
        load_embedding_network(tmp_path / 'other.safetensors', pooler_size=network.pooler_size)


# Index ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize('kind', ['flat', 'hnsw'])
def test_index_returns_neighbours_of_other_videos_only(kind: str) -> None:
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(300, 8)).astype(np.float32)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    videos = np.repeat(np.arange(10), 30)
    index = NeighbourIndex(embeddings, videos, kind=kind, ef_search=16)
    assert index.kind == kind
    for reference in (0, 145, 299):
        own = videos[reference]
        rows, distances = index.query(embeddings[reference], 20, exclude_video=own)
        assert len(rows) == 20
        assert not np.any(videos[rows] == own)
        assert np.all(np.diff(distances) >= -1e-6)
        others = np.flatnonzero(videos != own)
        exact = others[np.argsort(((embeddings[others] - embeddings[reference]) ** 2).sum(1), kind='stable')[:20]]
        overlap = len(set(rows.tolist()) & set(exact.tolist()))
        assert overlap == 20 if kind == 'flat' else overlap >= 18
    # Asking for more than the other videos hold gives all of them, still none of the own video.
    rows, _ = index.query(embeddings[0], 1000, exclude_video=0)
    assert sorted(rows.tolist()) == list(range(30, 300)) if kind == 'flat' else len(rows) >= 260
    with pytest.raises(ValueError, match='kind'):
        NeighbourIndex(embeddings, videos, kind='annoy')


def test_miner_neighbours_come_from_other_videos(miner: HardExampleMiner, videos: list[AnnotatedVideo]) -> None:
    index = miner.cache.index
    for video_number, video in enumerate(videos):
        for obj in range(2):
            row = miner.reference_row(Pair(video, obj, reference=3, target=4))
            assert (index.video[row], index.object[row], index.frame[row]) == (video_number, obj, 3)
            neighbours = miner.neighbours(row)
            assert len(neighbours) == SETTINGS.neighbours
            assert not np.any(index.video[neighbours] == video_number)
    stranger = AnnotatedVideo(name='elsewhere', source='synthetic', frames=videos[0].frames,
                              object_ids=('0',), boxes=videos[0].boxes[:1], masks=None)
    with pytest.raises(ValueError, match='not in the feature cache'):
        miner(Pair(stranger, 0, 0, 1), 0)


def test_miner_samples_deterministically(miner: HardExampleMiner, videos: list[AnnotatedVideo]) -> None:
    pair = Pair(videos[1], 0, reference=2, target=5)
    first = miner(pair, 7)
    assert first is not None
    assert first.shape == (SETTINGS.sampled, 32, 7, 7)
    torch.testing.assert_close(miner(pair, 7), first)
    # Another step draws another sample of the same 12 neighbours.
    assert not torch.equal(miner(pair, 8), first)
    # The sampled features are cached rows of other videos' boxes.
    neighbours = miner.cache.features(miner.neighbours(miner.reference_row(pair)))  # [12, C, P, P]
    matches = (first[:, None] == neighbours[None]).flatten(2).all(-1)  # [5, 12]
    assert matches.any(1).all()


def test_miner_reuses_its_cache_files(videos: list[AnnotatedVideo], model: SiamRCNN, tmp_path: Path) -> None:
    first = build_hard_example_miner(model, videos, SETTINGS, seed=5, cache_dir=tmp_path, progress=False)
    stamps = {path.name: path.stat().st_mtime_ns for path in tmp_path.iterdir()}
    assert set(stamps) == {'features.safetensors', 'embedding.safetensors'}
    again = build_hard_example_miner(model, videos, SETTINGS, seed=5, cache_dir=tmp_path, progress=False)
    assert {path.name: path.stat().st_mtime_ns for path in tmp_path.iterdir()} == stamps
    np.testing.assert_array_equal(again.embeddings, first.embeddings)
    # Fewer videos: the cache no longer matches and is rebuilt.
    build_hard_example_miner(model, videos[:2], SETTINGS, seed=5, cache_dir=tmp_path, progress=False)
    assert FeatureCache(tmp_path / 'features.safetensors').index.videos == ('synthetic/video0', 'synthetic/video1')


# The negatives enter the loss ---------------------------------------------------------------------------


def test_mined_negatives_enter_the_head_loss(miner: HardExampleMiner, videos: list[AnnotatedVideo],
                                             model: SiamRCNN) -> None:
    config = TrainingConfig.from_dict({'model': {'preset': 'shapes', 'overrides': TINY_OVERRIDES},
                                       'roi_sampling': {'batch_size_per_image': [16, 16, 16]},
                                       'augment': {'scale_range': [1.0, 1.0]}})
    pair = Pair(videos[0], 1, reference=0, target=3)
    example = make_pair_example(pair, example_rng(0, 0, 0), config.augment, model.config.transform)
    model.train()
    negatives = miner(pair, 0).requires_grad_(True)
    _, plain = head_losses(model, example, config, torch_generator(0, 0, 0))
    total, mined = head_losses(model, example, config, torch_generator(0, 0, 0), extra_negative_features=negatives)
    model.eval()
    for k in range(3):
        assert float(mined[f'loss_cls_stage{k}'].detach()) > float(plain[f'loss_cls_stage{k}'].detach())
        assert float(mined[f'loss_box_stage{k}'].detach()) == pytest.approx(float(plain[f'loss_box_stage{k}'].detach()))
    (gradient,) = torch.autograd.grad(total, negatives)
    assert gradient.abs().sum(dim=(1, 2, 3)).gt(0).all()


def test_trainer_builds_the_miner_from_the_yaml_settings(videos: list[AnnotatedVideo], tmp_path: Path) -> None:
    base = {'model': {'preset': 'shapes', 'overrides': TINY_OVERRIDES}, 'steps': 1, 'batch_size': 1, 'device': 'cpu',
            'roi_sampling': {'batch_size_per_image': [16, 16, 16]}, 'augment': {'scale_range': [1.0, 1.0]},
            'schedule': {'kind': 'constant', 'warmup_steps': 0}, 'seed': 2}
    hard = {'enabled': True, 'neighbours': 12, 'sampled': 5, 'embedding_steps': 20, 'embedding_dim': 16,
            'cache_dir': str(tmp_path / 'cache')}
    plain = Trainer(TrainingConfig.from_dict({**base, 'output_dir': str(tmp_path / 'plain')}), datasets=[videos])
    mined = Trainer(TrainingConfig.from_dict({**base, 'output_dir': str(tmp_path / 'mined'), 'hard_examples': hard}),
                    datasets=[videos])
    assert plain.hard_negatives is None
    assert isinstance(mined.hard_negatives, HardExampleMiner)
    assert (tmp_path / 'cache' / 'features.safetensors').is_file()
    plain_step = plain.run(progress=False).history[0]
    mined_step = mined.run(progress=False).history[0]
    # Same pair, same RoIs, same initial head: only the hard-negative term differs.
    assert mined_step['loss_cls_stage0'] > plain_step['loss_cls_stage0']
    assert mined_step['loss_box_stage0'] == pytest.approx(plain_step['loss_box_stage0'])
