"""The Siam R-CNN re-detector in plain PyTorch/torchvision (SPEC §2): no ROS, no tracking logic."""
from siamrcnn_ros.model.config import PRESETS, ModelConfig, get_preset

__all__ = ['PRESETS', 'ModelConfig', 'get_preset']
