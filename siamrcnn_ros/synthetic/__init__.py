"""A synthetic tracking world: textured videos with look-alike distractors, occlusion, long
disappearances, scale/aspect change, motion blur and camera motion, with boxes and masks of every
object, written in the GOT-10k and LaSOT layouts.

NumPy and OpenCV only; deterministic by seed. ``make_world`` writes a whole world (the
``siamrcnn-make-world`` tool); ``plan_video`` + ``render_frame`` draw single frames in memory.
"""
from siamrcnn_ros.synthetic.annotations import read_objects_json
from siamrcnn_ros.synthetic.render import RenderedFrame, render_frame
from siamrcnn_ros.synthetic.scene import VideoPlan, plan_video
from siamrcnn_ros.synthetic.settings import PRESETS, GapSettings, SceneSettings, WorldSettings
from siamrcnn_ros.synthetic.world import WorldSummary, make_world

__all__ = ['PRESETS', 'GapSettings', 'RenderedFrame', 'SceneSettings', 'VideoPlan', 'WorldSettings', 'WorldSummary',
           'make_world', 'plan_video', 'read_objects_json', 'render_frame']
