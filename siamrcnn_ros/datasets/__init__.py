"""Datasets on disk, read without tracking or ROS.

* Single-object tracking sequences for tracking and evaluation (OTB, LaSOT, GOT-10k folders, image
  folders, video files): ``open_sequence`` / ``list_sequences`` give ``Sequence`` objects whose
  annotations are ``[N, 4]`` float64 xywh pixels (the benchmarks' format).
* Training videos with every annotated object (synthetic world, GOT-10k, LaSOT, TrackingNet,
  ImageNet VID, YouTube-VOS, COCO): ``read_training_videos`` gives ``AnnotatedVideo`` objects whose
  boxes are ``[O, N, 4]`` float64 xyxy pixels, NaN where absent.

Frames are read with OpenCV as ``[H, W, 3]`` uint8 RGB.
"""
from siamrcnn_ros.datasets.layouts import LAYOUTS, OTB_FRAME_RANGES
from siamrcnn_ros.datasets.sequence import Sequence
from siamrcnn_ros.datasets.sequences import list_sequences, open_sequence
from siamrcnn_ros.datasets.videos import TRAINING_DATASETS, AnnotatedVideo, read_training_videos

__all__ = ['LAYOUTS', 'OTB_FRAME_RANGES', 'TRAINING_DATASETS', 'AnnotatedVideo', 'Sequence', 'list_sequences',
           'open_sequence', 'read_training_videos']
