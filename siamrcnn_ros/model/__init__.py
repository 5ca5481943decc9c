"""The Siam R-CNN re-detector in plain PyTorch/torchvision (SPEC §2): no ROS, no tracking logic."""
from siamrcnn_ros.model.config import PRESETS, ModelConfig, get_preset
from siamrcnn_ros.model.detector_weights import DetectorWeightsError, load_detector_weights
from siamrcnn_ros.model.siamrcnn import FrameFeatures, Redetections, SiamRCNN, build_model

__all__ = ['PRESETS', 'DetectorWeightsError', 'FrameFeatures', 'ModelConfig', 'Redetections', 'SiamRCNN',
           'build_model', 'get_preset', 'load_detector_weights']
