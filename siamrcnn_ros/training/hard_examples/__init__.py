"""Video hard example mining (paper §3.2, SPEC §4): hard negatives for the re-detection head from other videos.

``features`` (RoI features of every ground-truth box, cached once with the frozen backbone) ->
``embedding`` (a small network trained with the batch-hard triplet loss on them) -> ``index``
(faiss k-NN over all boxes' embeddings, other videos only) -> ``miner`` (per pair: sample of the
reference's nearest neighbours, as ``[E, C, P, P]`` features for ``losses.cascade_losses``).
Enabled in a run's YAML with ``hard_examples: {enabled: true}``.
"""
from siamrcnn_ros.training.hard_examples.embedding import EmbeddingNetwork, batch_hard_triplet_loss, train_embedding
from siamrcnn_ros.training.hard_examples.features import FeatureCache, build_feature_cache
from siamrcnn_ros.training.hard_examples.index import NeighbourIndex
from siamrcnn_ros.training.hard_examples.miner import HardExampleMiner, build_hard_example_miner

__all__ = ['EmbeddingNetwork', 'FeatureCache', 'HardExampleMiner', 'NeighbourIndex', 'batch_hard_triplet_loss',
           'build_feature_cache', 'build_hard_example_miner', 'train_embedding']
