"""The appearance embedding of ground-truth boxes for retrieving hard negatives (paper §3.2 "Embedding Network").

The paper uses PReMVOS's embedding network trained with the batch-hard triplet loss (Hermans et al.
2017, paper ref. [28]): crops of the same object in different frames close, distinct objects far
apart, class labels not needed. No such network can be downloaded here, so ours is small and
runs on the cached RoI features (``features.py``) instead of image crops: a per-channel
standardisation (mean and spread fitted on the cache, as the scale of RoI features depends on the
backbone and its training), a 3x3 conv, a strided 3x3 conv and a linear layer map ``[C, P, P]`` to an
L2-normalised ``dim``-vector. It is trained
on the training videos' own boxes, a (video, object) pair being one identity.

A batch is ``P`` identities x ``K`` boxes each (the "PK" batches of Hermans et al.); each box is an
anchor, its hardest positive is the farthest box of the same identity and its hardest negative the
nearest box of any other identity.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F  # noqa: N812
from tqdm import tqdm

from siamrcnn_ros.training.hard_examples.features import FeatureCache
from siamrcnn_ros.training.settings import HardExampleSettings


class EmbeddingNetwork(nn.Module):
    """``[B, C, P, P]`` RoI features -> ``[B, dim]`` float32 unit vectors.

    Args:
        in_channels: ``C`` of the RoI features.
        pooler_size: ``P``.
        dim: the embedding size (128 as in PReMVOS).
        width: channels of the two convolutions.
    """

    def __init__(self, in_channels: int, pooler_size: int, *, dim: int = 128, width: int = 128) -> None:
        super().__init__()
        if min(in_channels, pooler_size, dim, width) < 1:
            raise ValueError(f'sizes must be >= 1, got in_channels={in_channels}, pooler_size={pooler_size}, '
                             f'dim={dim}, width={width}')
        self.in_channels, self.pooler_size, self.dim, self.width = in_channels, pooler_size, dim, width
        # Input standardisation per channel (buffers: saved with the weights); identity until fitted.
        self.register_buffer('input_mean', torch.zeros(in_channels))
        self.register_buffer('input_std', torch.ones(in_channels))
        self.convs = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, stride=2, padding=1), nn.ReLU(inplace=True))
        reduced = (pooler_size + 1) // 2
        self.fc = nn.Linear(width * reduced * reduced, dim)

    @torch.no_grad()
    def fit_input(self, features: Tensor) -> None:
        """Set the per-channel standardisation from ``[B, C, P, P]`` sample features."""
        mean = features.float().mean(dim=(0, 2, 3))
        std = features.float().std(dim=(0, 2, 3))
        # A constant channel gives 0 / tiny = 0 instead of a division by zero.
        self.input_mean.copy_(mean)
        self.input_std.copy_(std.clamp_min(torch.finfo(torch.float32).tiny))

    def forward(self, features: Tensor) -> Tensor:
        if features.dim() != 4 or tuple(features.shape[1:]) != (self.in_channels, self.pooler_size, self.pooler_size):
            raise ValueError(f'features must be [B, {self.in_channels}, {self.pooler_size}, {self.pooler_size}], '
                             f'got {tuple(features.shape)}')
        features = (features - self.input_mean[:, None, None]) / self.input_std[:, None, None]
        hidden = self.convs(features).flatten(1)  # [B, width * r * r]
        return F.normalize(self.fc(hidden), dim=1)


def batch_hard_triplet_loss(embeddings: Tensor, labels: Tensor, margin: float | None = 0.2) -> Tensor:
    """Batch-hard triplet loss (Hermans et al. 2017), mean over the anchors that have a positive and a negative.

    Args:
        embeddings: ``[B, D]`` float.
        labels: ``[B]`` int identities.
        margin: hinge margin in Euclidean distance; None = the soft margin ``softplus(d_pos - d_neg)``.

    Returns:
        A scalar (zero, with a graph, when no anchor has both a positive and a negative).
    """
    if embeddings.dim() != 2 or labels.shape != (len(embeddings),):
        raise ValueError(f'need [B, D] embeddings and [B] labels, got {tuple(embeddings.shape)} and '
                         f'{tuple(labels.shape)}')
    squared = (embeddings[:, None, :] - embeddings[None, :, :]).pow(2).sum(-1)  # [B, B]
    # The epsilon keeps the gradient of sqrt finite on the zero diagonal.
    distances = (squared + 1e-12).sqrt()
    same = labels[:, None] == labels[None, :]  # [B, B]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    positives, negatives = same & ~eye, ~same
    valid = positives.any(1) & negatives.any(1)  # [B]
    if not valid.any():
        return embeddings.sum() * 0
    hardest_positive = distances.masked_fill(~positives, float('-inf')).amax(1)[valid]
    hardest_negative = distances.masked_fill(~negatives, float('inf')).amin(1)[valid]
    gap = hardest_positive - hardest_negative
    return (F.softplus(gap) if margin is None else F.relu(gap + margin)).mean()


@dataclass(frozen=True)
class EmbeddingTraining:
    """How the embedding network is trained.

    Attributes:
        dim: embedding size.
        steps: optimizer steps.
        identities_per_batch: ``P`` (distinct objects per batch).
        boxes_per_identity: ``K`` (boxes of each object per batch, drawn with replacement if it has fewer).
        lr: Adam learning rate.
        margin: triplet margin; None = soft margin.
        seed: seeds the initialisation and the batches.
    """

    dim: int
    steps: int
    identities_per_batch: int
    boxes_per_identity: int
    lr: float
    margin: float | None
    seed: int = 0

    @classmethod
    def from_settings(cls, settings: HardExampleSettings, seed: int = 0) -> EmbeddingTraining:
        """The embedding training of a training config's ``hard_examples`` section (where the defaults live)."""
        return cls(dim=settings.embedding_dim, steps=settings.embedding_steps,
                   identities_per_batch=settings.embedding_identities, boxes_per_identity=settings.embedding_boxes,
                   lr=settings.embedding_lr, margin=settings.triplet_margin, seed=seed)


def train_embedding(cache: FeatureCache, settings: EmbeddingTraining, *, device: str | torch.device = 'cpu',
                    progress: bool = True) -> tuple[EmbeddingNetwork, list[float]]:
    """Train an ``EmbeddingNetwork`` on the cached ground-truth boxes with the batch-hard triplet loss.

    Batches are a pure function of ``(settings.seed, step)``. Identities with a single box still serve as
    negatives; only identities with at least two boxes are drawn as the ``P`` of a batch.

    Returns:
        ``(network in eval mode, [steps] per-step losses)``.

    Raises:
        ValueError: fewer than two identities with two or more boxes.
    """
    labels = cache.index.object_labels()  # [B]
    rows_by_label = [np.flatnonzero(labels == label) for label in range(int(labels.max(initial=-1)) + 1)]
    drawable = [label for label, rows in enumerate(rows_by_label) if len(rows) >= 2]
    if len(drawable) < 2:
        raise ValueError(f'the triplet loss needs >= 2 objects with >= 2 boxes each, the cache has {len(drawable)}')
    device = torch.device(device)
    channels, size, _ = cache.feature_shape
    # A private RNG for the initialisation: building the miner must not move the trainer's global torch RNG.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        network = EmbeddingNetwork(channels, size, dim=settings.dim).to(device)
    sample = np.random.default_rng([settings.seed]).permutation(len(cache))[:4096]
    network.fit_input(cache.features(np.sort(sample)).to(device))
    optimizer = torch.optim.Adam(network.parameters(), lr=settings.lr)
    losses = []
    network.train()
    for step in tqdm(range(settings.steps), disable=not progress, desc='embedding', unit='step'):
        rng = np.random.default_rng([settings.seed, step])
        chosen = rng.choice(drawable, size=min(settings.identities_per_batch, len(drawable)), replace=False)
        rows = np.concatenate([rng.choice(rows_by_label[label], size=settings.boxes_per_identity,
                                          replace=len(rows_by_label[label]) < settings.boxes_per_identity)
                               for label in chosen])
        embeddings = network(cache.features(rows).to(device))
        loss = batch_hard_triplet_loss(embeddings, torch.as_tensor(labels[rows], device=device), settings.margin)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return network.eval(), losses


@torch.no_grad()
def embed_cache(network: EmbeddingNetwork, cache: FeatureCache, *, batch_size: int = 512,
                device: str | torch.device = 'cpu', progress: bool = False) -> np.ndarray:
    """``[B, dim]`` float32 embeddings of every row of the cache, in row order."""
    network.eval()
    parts = []
    for start in tqdm(range(0, len(cache), batch_size), disable=not progress, desc='embed boxes', unit='batch'):
        rows = np.arange(start, min(start + batch_size, len(cache)))
        parts.append(network(cache.features(rows).to(device)).float().cpu().numpy())
    return np.concatenate(parts) if parts else np.zeros((0, network.dim), dtype=np.float32)
