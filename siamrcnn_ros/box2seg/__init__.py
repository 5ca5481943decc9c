"""Box2Seg (SPEC §5, paper §3.4): masks from boxes with a DeepLabV3+-style network on box crops.

``build_box2seg(config, checkpoint=...)`` gives a ``Box2Seg`` whose ``predict(image, boxes)`` returns
one mask per box; ``combine_masks`` turns several into one label map (smaller mask on top);
``segment_targets`` does both for the tracker's results of a frame (absent targets get no mask). Training:
``siamrcnn-train-box2seg`` (``siamrcnn_ros.box2seg.training``).
"""
from siamrcnn_ros.box2seg.checkpoints import (
    Box2SegCheckpoint,
    load_box2seg_checkpoint_into,
    read_box2seg_checkpoint,
    save_box2seg_checkpoint,
)
from siamrcnn_ros.box2seg.combine import combine_masks
from siamrcnn_ros.box2seg.config import Box2SegConfig
from siamrcnn_ros.box2seg.crops import crop_images, crop_windows, paste_masks
from siamrcnn_ros.box2seg.network import Box2SegNet
from siamrcnn_ros.box2seg.predictor import Box2Seg, build_box2seg
from siamrcnn_ros.box2seg.tracking import TargetMasks, segment_targets

__all__ = ['Box2Seg', 'Box2SegCheckpoint', 'Box2SegConfig', 'Box2SegNet', 'TargetMasks', 'build_box2seg',
           'combine_masks', 'crop_images', 'crop_windows', 'load_box2seg_checkpoint_into', 'paste_masks',
           'read_box2seg_checkpoint', 'save_box2seg_checkpoint', 'segment_targets']
