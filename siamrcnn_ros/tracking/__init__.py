"""Tracking by re-detection on arrays: TDPA (paper §3.3), its settings, and the simpler selection variants.

Everything here works on NumPy arrays and opaque feature payloads; no network, image or ROS.
"""
from siamrcnn_ros.tracking.records import Detections, References, TrackletInfo, TrackletTable, TrackResult
from siamrcnn_ros.tracking.settings import ShortTermSettings, TDPASettings
from siamrcnn_ros.tracking.tdpa import FF_TRACKLET_ID, TDPA, TDPAStats
from siamrcnn_ros.tracking.variants import ArgmaxSelector, ShortTermSelector, short_term_scores

__all__ = [
    'FF_TRACKLET_ID',
    'TDPA',
    'ArgmaxSelector',
    'Detections',
    'References',
    'ShortTermSelector',
    'ShortTermSettings',
    'TDPASettings',
    'TDPAStats',
    'TrackResult',
    'TrackletInfo',
    'TrackletTable',
    'short_term_scores',
]
