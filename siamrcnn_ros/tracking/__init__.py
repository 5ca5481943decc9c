"""Tracking by re-detection on arrays: TDPA (paper §3.3), its settings, and the simpler selection variants.

TDPA and the selectors work on NumPy arrays and opaque feature payloads; ``Tracker`` and
``MultiTracker`` combine them with the re-detector (``siamrcnn_ros.model``) on images. No ROS.
"""
from siamrcnn_ros.tracking.records import Detections, References, TrackletInfo, TrackletTable, TrackResult
from siamrcnn_ros.tracking.selectors import SELECTORS, VARIANTS, Selector, make_selector
from siamrcnn_ros.tracking.settings import ShortTermSettings, TDPASettings
from siamrcnn_ros.tracking.tdpa import FF_TRACKLET_ID, TDPA, TDPAStats
from siamrcnn_ros.tracking.tracker import MultiTracker, Tracker, TrackerSettings
from siamrcnn_ros.tracking.variants import ArgmaxSelector, ShortTermSelector, short_term_scores

__all__ = [
    'FF_TRACKLET_ID',
    'SELECTORS',
    'TDPA',
    'VARIANTS',
    'ArgmaxSelector',
    'Detections',
    'MultiTracker',
    'References',
    'Selector',
    'ShortTermSelector',
    'ShortTermSettings',
    'TDPASettings',
    'TDPAStats',
    'TrackResult',
    'Tracker',
    'TrackerSettings',
    'TrackletInfo',
    'TrackletTable',
    'make_selector',
    'short_term_scores',
]
