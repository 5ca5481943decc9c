"""A synthetic tracking world: copy-paste of real photographs (or flat textured shapes) with look-alike
distractors, occlusion, long disappearances, scale/aspect change, in- and out-of-plane rotation, lighting
change, motion blur and defocus, a hand passing over the target, and camera motion, with boxes and masks of
every object, written in the GOT-10k and LaSOT layouts.

NumPy and OpenCV, photos from scikit-image, scikit-learn and opencv-doc (``photos``); deterministic by seed.
``make_world`` writes a whole world (the ``siamrcnn-make-world`` tool); ``plan_video`` + ``render_frame`` draw
single frames in memory.
"""
from siamrcnn_ros.synthetic.annotations import read_objects_json
from siamrcnn_ros.synthetic.render import RenderedFrame, render_frame
from siamrcnn_ros.synthetic.scene import VideoPlan, plan_video
from siamrcnn_ros.synthetic.settings import PRESETS, AppearanceSettings, GapSettings, SceneSettings, WorldSettings
from siamrcnn_ros.synthetic.world import WorldSummary, make_world

__all__ = ['PRESETS', 'AppearanceSettings', 'GapSettings', 'RenderedFrame', 'SceneSettings', 'VideoPlan',
           'WorldSettings', 'WorldSummary', 'make_world', 'plan_video', 'read_objects_json', 'render_frame']
