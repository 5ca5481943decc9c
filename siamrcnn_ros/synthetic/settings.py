"""Settings of the synthetic tracking world: how many videos, how long, how hard.

Nested frozen dataclasses; the defaults here are the only place a default lives. ``PRESETS``
holds named instances: ``'demo'`` (the photo world the demo checkpoint is trained and evaluated on),
``'train'`` (the same world with more training videos, for ``data/synthetic_big``), ``'shapes'`` (the
procedural world of flat textured shapes, the demo world before photographs), ``'tiny'`` (procedural,
seconds to generate, for tests) and ``'tiny_photo'`` (the photo world, test-sized).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SceneSettings:
    """What one video holds. Sizes are pixels of the output image at camera zoom 1.

    Attributes:
        image_size: ``(width, height)`` of every frame.
        objects: inclusive range of the number of annotated objects per video (target included).
        lookalikes: inclusive range of near-identical copies of the target among them (same shape
            and texture family, colour shifted by at most ``lookalike_hue_shift``).
        lookalike_hue_shift: largest hue change of a look-alike, degrees (OpenCV hue is 0..180 = 0..360 deg).
        object_size: inclusive range of an object's base size (its longer side at scale 1), pixels.
        scale_range: the scale an object takes over time, relative to its base size.
        aspect_range: width/height stretch over time (1 = the object's own aspect).
        occluders: inclusive range of foreground occluders (textured panels in front of everything).
        camera_shift: largest camera translation from its start, pixels.
        zoom_range: the camera zoom over time.
        blur_speed: object speed (pixels per frame) from which a motion blur along the motion is drawn.
        shake_probability: chance per frame of a camera-shake blur of the whole frame.
        jpeg_quality: quality of the written frames (OpenCV, 0..100).
    """

    image_size: tuple[int, int] = (320, 240)
    objects: tuple[int, int] = (3, 5)
    lookalikes: tuple[int, int] = (1, 2)
    lookalike_hue_shift: float = 12.0
    object_size: tuple[int, int] = (26, 64)
    scale_range: tuple[float, float] = (0.7, 1.4)
    aspect_range: tuple[float, float] = (0.75, 1.33)
    occluders: tuple[int, int] = (0, 2)
    camera_shift: float = 40.0
    zoom_range: tuple[float, float] = (0.9, 1.2)
    blur_speed: float = 4.0
    shake_probability: float = 0.03
    jpeg_quality: int = 90

    def __post_init__(self) -> None:
        width, height = self.image_size
        if width < 64 or height < 64:
            raise ValueError(f'image_size must be at least 64x64, got {self.image_size}')
        for name in ('objects', 'lookalikes', 'object_size', 'occluders', 'scale_range', 'aspect_range',
                     'zoom_range'):
            low, high = getattr(self, name)
            if low > high or low < 0:
                raise ValueError(f'{name} must be a range (low <= high, low >= 0), got {(low, high)}')
        if self.objects[0] < 1 + self.lookalikes[1]:
            raise ValueError(f'objects {self.objects} leaves no room for the target and {self.lookalikes[1]} '
                             'look-alikes')
        if not self.zoom_range[0] > 0:
            raise ValueError(f'zoom_range must be positive, got {self.zoom_range}')


@dataclass(frozen=True)
class GapSettings:
    """When the target leaves (out of view or fully behind an occluder) and comes back.

    Attributes:
        short_probability: chance that a short video has one gap.
        short_length: a short video's gap, as a fraction of its length (inclusive range).
        long_count: inclusive range of the number of gaps in a long-term video.
        long_length: a long-term gap in frames (inclusive range; scaled down for videos shorter
            than ``long_reference_frames``).
        long_reference_frames: the long-term video length ``long_length`` is meant for.
    """

    short_probability: float = 0.35
    short_length: tuple[float, float] = (0.08, 0.25)
    long_count: tuple[int, int] = (2, 3)
    long_length: tuple[int, int] = (100, 300)
    long_reference_frames: int = 2000

    def __post_init__(self) -> None:
        if not 0 <= self.short_probability <= 1:
            raise ValueError(f'short_probability must be in [0, 1], got {self.short_probability}')
        if self.long_count[0] < 1 or self.long_count[0] > self.long_count[1]:
            raise ValueError(f'long_count must be a range starting at 1 or more, got {self.long_count}')


@dataclass(frozen=True)
class AppearanceSettings:
    """How objects and backgrounds look, and how an object's look changes over time.

    The defaults are the photo world: backgrounds and object textures are crops of real photographs
    (``siamrcnn_ros.synthetic.photos``), and objects rotate, tilt, change lighting, go out of focus and
    get partly covered by a hand. ``AppearanceSettings.procedural()`` is the world of flat textured shapes.

    Attributes:
        photos: backgrounds, objects and occluder panels are photo crops (else procedural textures).
        rotation: largest in-plane rotation of an object, degrees either way (0 = none).
        rotation_probability: chance that an object rotates in-plane at all.
        tilt: largest out-of-plane rotation (perspective) about each of the object's axes, degrees.
        tilt_probability: chance that an object tilts at all.
        lighting: largest brightness change of an object over time (0.3 = +-30 %), also its contrast change.
        lighting_probability: chance that an object's lighting changes over time.
        defocus: largest defocus blur, Gaussian sigma in pixels of the object (0 = none).
        defocus_probability: chance that an object goes out of focus for a while.
        hand_probability: chance that a video has a hand passing over the target at times.
        hand_size: the hand's length relative to the target's longer side (inclusive range).
    """

    photos: bool = True
    rotation: float = 35.0
    rotation_probability: float = 0.5
    tilt: float = 40.0
    tilt_probability: float = 0.5
    lighting: float = 0.3
    lighting_probability: float = 0.5
    defocus: float = 2.5
    defocus_probability: float = 0.25
    hand_probability: float = 0.35
    hand_size: tuple[float, float] = (0.7, 1.1)

    def __post_init__(self) -> None:
        for name in ('rotation_probability', 'tilt_probability', 'lighting_probability', 'defocus_probability',
                     'hand_probability'):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f'{name} must be in [0, 1], got {getattr(self, name)}')
        if not 0 <= self.tilt < 80:
            raise ValueError(f'tilt must be in [0, 80) degrees, got {self.tilt}')
        if not 0 <= self.lighting < 1:
            raise ValueError(f'lighting must be in [0, 1), got {self.lighting}')
        if self.rotation < 0 or self.defocus < 0:
            raise ValueError(f'rotation and defocus must be >= 0, got {self.rotation}, {self.defocus}')
        if not 0 < self.hand_size[0] <= self.hand_size[1]:
            raise ValueError(f'hand_size must be a positive range, got {self.hand_size}')

    @classmethod
    def procedural(cls) -> AppearanceSettings:
        """The world of flat textured shapes: no photos, no appearance change over time."""
        return cls(photos=False, rotation=0.0, rotation_probability=0.0, tilt=0.0, tilt_probability=0.0,
                   lighting=0.0, lighting_probability=0.0, defocus=0.0, defocus_probability=0.0,
                   hand_probability=0.0)

    @property
    def changes_over_time(self) -> bool:
        """Whether any appearance change over time can happen."""
        return any(getattr(self, name) > 0 for name in ('rotation_probability', 'tilt_probability',
                                                        'lighting_probability', 'defocus_probability',
                                                        'hand_probability'))


@dataclass(frozen=True)
class WorldSettings:
    """The whole world: splits, video counts and lengths, the seed.

    Attributes:
        seed: every video is a function of ``(seed, split, index)`` alone.
        train, val, test: number of short videos in each GOT-10k-layout split.
        long_term: number of long-term test videos (LaSOT layout).
        frames: length of a short video.
        long_frames: length of a long-term video.
        scene: what a video holds.
        gaps: when the target disappears.
        appearance: what objects and backgrounds look like (photos or procedural) and how they change.
    """

    seed: int = 0
    train: int = 60
    val: int = 10
    test: int = 10
    long_term: int = 3
    frames: int = 100
    long_frames: int = 2000
    scene: SceneSettings = field(default_factory=SceneSettings)
    gaps: GapSettings = field(default_factory=GapSettings)
    appearance: AppearanceSettings = field(default_factory=AppearanceSettings)

    def __post_init__(self) -> None:
        for name in ('train', 'val', 'test', 'long_term'):
            if getattr(self, name) < 0:
                raise ValueError(f'{name} must be >= 0, got {getattr(self, name)}')
        if self.frames < 2 or self.long_frames < 2:
            raise ValueError(f'videos need at least 2 frames, got frames={self.frames}, '
                             f'long_frames={self.long_frames}')
        if not 0 <= self.seed < 2**32:
            raise ValueError(f'seed must be in [0, 2**32), got {self.seed}')

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists)."""
        return json_ready(dataclasses.asdict(self))

    def with_overrides(self, **changes: Any) -> WorldSettings:
        """A copy with top-level fields replaced; ``image_size`` goes to ``scene``."""
        if 'image_size' in changes:
            scene = dataclasses.replace(self.scene, image_size=tuple(changes.pop('image_size')))
            changes['scene'] = scene
        return dataclasses.replace(self, **changes)


def json_ready(value: Any) -> Any:
    """``value`` with tuples turned into lists, recursively (what JSON round-trips to)."""
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(item) for item in value]
    return value


_TINY = WorldSettings(train=3, val=2, test=2, long_term=1, frames=30, long_frames=400,
                      gaps=GapSettings(short_probability=0.5, long_count=(2, 2), long_length=(150, 300)),
                      appearance=AppearanceSettings.procedural())

PRESETS: dict[str, WorldSettings] = {
    # The demo world: ~14,000 frames of photo crops, about a minute to write on one core.
    'demo': WorldSettings(),
    # The training world (data/synthetic_big): the demo world's scenes with 300 training videos.
    'train': WorldSettings(train=300),
    # A second training world (data/synthetic_wide) for the sizes and shapes of real objects: the demo world's
    # objects are 26-64 px (up to 90 px scaled) in 320x240 frames, so a head trained on them never saw an object
    # that fills half the frame, or one as tall and thin as a person: on the real clips it shrinks a parked
    # bicycle's box onto its parts (issue 17). Here objects reach 150 px, with aspect ratios 0.4-2.5.
    'train_wide': WorldSettings(train=200, scene=SceneSettings(objects=(3, 4), object_size=(30, 150),
                                                               aspect_range=(0.4, 2.5))),
    # The procedural world of flat textured shapes (the demo world before photographs).
    'shapes': WorldSettings(appearance=AppearanceSettings.procedural()),
    # For tests: a few seconds. The long-term video still has two gaps of 30-60 frames.
    'tiny': _TINY,
    # The photo world at the tiny world's size, for tests of the photo path.
    'tiny_photo': dataclasses.replace(_TINY, appearance=AppearanceSettings()),
}
