"""Single-object tracking sequences on disk: OTB, LaSOT and GOT-10k folders, image folders, video files.

No tracking, no ROS: frames are read with OpenCV as ``[H, W, 3]`` uint8 RGB and annotations as
``[N, 4]`` float64 xywh pixels (the benchmarks' format; convert with ``siamrcnn_ros.boxes``).
"""
from siamrcnn_ros.datasets.layouts import LAYOUTS, OTB_FRAME_RANGES
from siamrcnn_ros.datasets.sequence import Sequence
from siamrcnn_ros.datasets.sequences import list_sequences, open_sequence

__all__ = ['LAYOUTS', 'OTB_FRAME_RANGES', 'Sequence', 'list_sequences', 'open_sequence']
