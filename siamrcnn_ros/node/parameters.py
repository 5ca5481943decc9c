"""The node's parameters: one frozen-dataclass tree (defaults only there) and its ROS declaration.

Every ROS parameter is a dotted path into ``NodeSettings`` (``tracker.tdpa.alpha`` is
``NodeSettings.tracker.tdpa.alpha``), so the mapping lives in one place and the tracker's own settings
classes (``TrackerSettings``, ``TDPASettings``, ``ShortTermSettings``) keep their defaults and checks.
``PARAMETERS`` gives each one a description, a range and when a change takes effect; ``declare`` turns
that into rclpy declarations with descriptors, and ``settings_from_values`` validates a full set of
values (the on-set callback builds the candidate settings and refuses the change with the reason).
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor

from siamrcnn_ros.model.config import PRESETS
from siamrcnn_ros.model.default_weights import DEFAULT, names_default, names_none
from siamrcnn_ros.settings_tree import bounds, build_dataclass, check_settings, flatten, setting, unflatten
from siamrcnn_ros.tracking.tracker import TrackerSettings

DEVICE_PATTERN = re.compile(r'^(auto|cpu|cuda(:\d+)?)$')
RELIABILITIES = ('best_effort', 'reliable')


@dataclass(frozen=True)
class ModelSettings:
    """Which re-detector to load (on configure).

    Attributes:
        preset: architecture and resolution, one of ``siamrcnn_ros.model.PRESETS``.
        checkpoint: our safetensors checkpoint; ``'default'`` (or ``''``) = the preset's shipped checkpoint
            (demo: ``checkpoints/demo.safetensors``), random weights for presets without one; ``'none'`` =
            random re-detection head (plumbing only).
        detector_weights: torchvision Faster R-CNN weights (file or enum name) for backbone + RPN; ``''`` = none.
        device: ``auto`` (CUDA when torch sees a GPU), ``cpu``, ``cuda`` or ``cuda:N``.
    """

    preset: str = setting('demo', choices=tuple(PRESETS))
    checkpoint: str = DEFAULT
    detector_weights: str = ''
    device: str = 'auto'

    def __post_init__(self) -> None:
        check_settings(self)
        if not DEVICE_PATTERN.match(self.device):
            raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")
        _check_checkpoint(self.checkpoint)


def _check_checkpoint(checkpoint: str) -> None:
    """A ``checkpoint`` parameter is ``'default'`` (or ``''``), ``'none'`` or an existing file."""
    if not (names_default(checkpoint) or names_none(checkpoint)) and not Path(checkpoint).expanduser().is_file():
        raise ValueError(f'checkpoint {checkpoint!r} is not a file')


@dataclass(frozen=True)
class ImageQoSSettings:
    """QoS of the image subscription (SPEC §7: sensor-data QoS, keep last 1).

    Attributes:
        reliability: ``best_effort`` (receives from best-effort and reliable publishers) or ``reliable``
            (receives only from reliable publishers).
        depth: history depth; 1 = always the newest frame.
    """

    reliability: str = setting('best_effort', choices=RELIABILITIES)
    depth: int = setting(1, low=1, high=100)

    def __post_init__(self) -> None:
        check_settings(self)


@dataclass(frozen=True)
class MaskSettings:
    """Box2Seg masks of the present targets (``Track.mask`` / ``mask_roi``, tint on the debug image).

    Attributes:
        enabled: compute them. The network is loaded when first needed: at configure when this is on, or at
            once when it is turned on in a configured node (a loading failure refuses the change). Turning it
            off stops the masks from the next frame on; the network stays loaded until cleanup.
        checkpoint: Box2Seg safetensors checkpoint; ``'default'`` (or ``''``) = the shipped
            ``checkpoints/box2seg.safetensors``; ``'none'`` = random weights (plumbing only). Read when the
            network is loaded (see ``enabled``).
    """

    enabled: bool = False
    checkpoint: str = DEFAULT

    def __post_init__(self) -> None:
        _check_checkpoint(self.checkpoint)


@dataclass(frozen=True)
class FrameBufferSettings:
    """Recent frames kept for targets drawn on older frames. Attributes: length: frames kept (>= 1)."""

    length: int = setting(30, low=1, high=1000)

    def __post_init__(self) -> None:
        check_settings(self)


@dataclass(frozen=True)
class NodeSettings:
    """Everything the node can be told, as it is used.

    Attributes:
        model: the re-detector.
        tracker: selection variant and TDPA / short-term parameters.
        max_targets: targets tracked at once (each costs one re-detection per frame).
        debug_image: publish ~/debug_image (only ever computed while someone subscribes).
        mask: Box2Seg masks.
        image_qos: QoS of the image subscription.
        compressed_input: subscribe to ``image/compressed`` (sensor_msgs/CompressedImage) as well.
        frame_buffer: recent frames kept for targets drawn on older frames.
        auto_activate: configure and activate at start (simple setups); false under a lifecycle manager.
        no_image_warning_s: warn (log + diagnostics) when no image arrived for this long while active.
        max_image_pixels: larger images are refused (a corrupt size field must not allocate gigabytes).
    """

    model: ModelSettings = field(default_factory=ModelSettings)
    tracker: TrackerSettings = field(default_factory=TrackerSettings)
    max_targets: int = setting(4, low=1, high=64)
    debug_image: bool = True
    mask: MaskSettings = field(default_factory=MaskSettings)
    image_qos: ImageQoSSettings = field(default_factory=ImageQoSSettings)
    compressed_input: bool = False
    frame_buffer: FrameBufferSettings = field(default_factory=FrameBufferSettings)
    auto_activate: bool = False
    no_image_warning_s: float = setting(5.0, low=0.1, high=3600.0)
    max_image_pixels: int = setting(7680 * 4320, low=1, high=1 << 30)  # default: 8K UHD

    def __post_init__(self) -> None:
        check_settings(self)


# When a change takes effect.
NOW = 'now'
NEW_TARGETS = 'for targets set after the change (a tracked target keeps the values it started with)'
NEXT_ACTIVATE = 'on the next activation'
NEXT_CONFIGURE = 'on the next configure (cleanup + configure to reload)'
AT_START = 'read once at start'


@dataclass(frozen=True)
class ParameterSpec:
    """One declared parameter: its dotted name (= path into ``NodeSettings``), description and when a change takes
    effect. Its range and choices are the settings field's own (``settings_tree.setting``; ``limits``)."""

    name: str
    description: str
    applies: str


PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec('model.preset', 'model preset (architecture, input resolution)', NEXT_CONFIGURE),
    ParameterSpec('model.checkpoint', "safetensors checkpoint of the whole model; 'default' = the preset's shipped "
                  "checkpoint (demo), 'none' = random head weights",
                  NEXT_CONFIGURE),
    ParameterSpec('model.detector_weights', "torchvision Faster R-CNN weights (file or enum name) for backbone "
                  "and RPN; '' = none", NEXT_CONFIGURE),
    ParameterSpec('model.device', 'auto (CUDA when available), cpu, cuda or cuda:N; a CUDA request without a '
                  'GPU falls back to the CPU with a warning', NEXT_CONFIGURE),
    ParameterSpec('tracker.variant', 'target selection: tdpa (paper), argmax, short_term', NEW_TARGETS),
    ParameterSpec('tracker.tdpa.alpha', 'TDPA: a detection extends a tracklet only if its pair score exceeds '
                  'alpha (Alg. 1, line 13)', NEW_TARGETS),
    ParameterSpec('tracker.tdpa.beta', 'TDPA: ambiguity margin of the tracklet extension, > 0 (Alg. 1, line 13)',
                  NEW_TARGETS),
    ParameterSpec('tracker.tdpa.w_ff', 'TDPA: weight of the first-frame score in the unary score (Eq. 2)',
                  NEW_TARGETS),
    ParameterSpec('tracker.tdpa.w_loc', 'TDPA: weight of the location score between tracklets (Eq. 1)',
                  NEW_TARGETS),
    ParameterSpec('tracker.tdpa.max_gap', 'TDPA: largest gap in frames between consecutive tracklets of a track',
                  NEW_TARGETS),
    ParameterSpec('tracker.tdpa.ff_min_score', 'TDPA: the first-frame tracklet is extended only by detections '
                  'whose first-frame score reaches this (0 = the paper: no gate)', NEW_TARGETS),
    ParameterSpec('tracker.tdpa.unary_offset', 'TDPA: subtracted from every detection\'s unary score, so that '
                  'tracks skip detections scoring below it (0 = the paper)', NEW_TARGETS),
    ParameterSpec('tracker.tdpa.rival_weight', 'TDPA: weight of the best other detection of the frame, whose '
                  'score is subtracted from each detection\'s unary score (0 = the paper)', NEW_TARGETS),
    ParameterSpec('tracker.tdpa.gamma', 'TDPA: spatial gate of the pair scores: a detection farther than this '
                  '(normalised L-infinity box distance, a fraction of the image size) from a tracklet\'s last '
                  'detection cannot extend it (SPEC: 0.06)', NEW_TARGETS),
    ParameterSpec('tracker.tdpa.confidence', "TDPA: presence confidence of a present result: 'tracklet' (the "
                  "paper: the selected tracklet's best scores) or 'frame' (its detection's scores on this frame)",
                  NEW_TARGETS),
    ParameterSpec('tracker.max_aspect_change', 'every variant: re-detections whose aspect ratio differs from the '
                  "first box's by more than this factor (either way) are dropped; .inf = no gate (the paper)",
                  NEW_TARGETS),
    ParameterSpec('tracker.search_shift', 'every variant: boxes around the current box join the RoIs each frame, '
                  'centred on it and moved by this fraction of its size (3 x 3 grid); 0 = none (the paper)',
                  NEW_TARGETS),
    ParameterSpec('tracker.search_scale', 'every variant: size step of those boxes (1/s, 1, s times the current '
                  'box), >= 1', NEW_TARGETS),
    ParameterSpec('tracker.short_term.prior_sigma', 'short_term variant: width of the spatial prior (fraction '
                  'of the image size), > 0', NEW_TARGETS),
    ParameterSpec('tracker.short_term.max_distance', 'short_term variant: farthest a detection may be from the '
                  'previous box (fraction of the image size), > 0', NEW_TARGETS),
    ParameterSpec('max_targets', 'targets tracked at once', NOW),
    ParameterSpec('debug_image', 'publish ~/debug_image (computed only while someone subscribes)', NOW),
    ParameterSpec('mask.enabled', 'Box2Seg masks of the present targets in Track.mask / mask_roi and on the debug '
                  'image. The network is loaded when first needed: at configure when on, or at once when turned '
                  'on in a configured node (a loading failure refuses the change); turned off, masks stop with the '
                  'next frame and the network stays loaded until cleanup', NOW),
    ParameterSpec('mask.checkpoint', "Box2Seg safetensors checkpoint; 'default' = the shipped "
                  "checkpoints/box2seg.safetensors, 'none' = "
                  'random weights. Read when the network is loaded (configure with mask.enabled on, or when '
                  'mask.enabled turns on); cleanup + configure reloads it', NEXT_CONFIGURE),
    ParameterSpec('image_qos.reliability', 'image subscription reliability: best_effort (receives from any '
                  'publisher) or reliable', NEXT_ACTIVATE),
    ParameterSpec('image_qos.depth', 'image subscription depth (1 = newest frame only)', NEXT_ACTIVATE),
    ParameterSpec('compressed_input', 'also subscribe to image/compressed (sensor_msgs/CompressedImage)',
                  NEXT_ACTIVATE),
    ParameterSpec('frame_buffer.length', 'recent frames kept for targets drawn on older frames', NEXT_ACTIVATE),
    ParameterSpec('auto_activate', 'configure and activate at start (false under a lifecycle manager)', AT_START),
    ParameterSpec('no_image_warning_s', 'warn when no image arrived for this many seconds while active', NOW),
    ParameterSpec('max_image_pixels', 'images with more pixels are refused', NOW),
)
SPECS = {spec.name: spec for spec in PARAMETERS}


def _leaf_types() -> dict[str, type]:
    """Dotted parameter name -> the type of its default (``settings_tree.flatten`` of ``NodeSettings()``)."""
    return {name: type(value) for name, value in flatten(NodeSettings()).items()}


def default_values(settings: NodeSettings | None = None) -> dict[str, Any]:
    """``{parameter name: value}`` of ``settings`` (the dataclass defaults when ``None``)."""
    return flatten(settings if settings is not None else NodeSettings())


def settings_from_values(values: Mapping[str, Any]) -> NodeSettings:
    """A full set of parameter values -> ``NodeSettings`` (``settings_tree.build_dataclass``).

    Raises:
        ValueError: a missing, mistyped or invalid value; the message names the parameter and the reason.
    """
    kinds = _leaf_types()
    missing = sorted(set(kinds) - set(values))
    if missing:
        raise ValueError(f'missing parameters: {missing}')
    return build_dataclass(NodeSettings, unflatten(dict(values)), '')


def limits(name: str) -> tuple[float | None, float | None, bool, tuple[str, ...] | None]:
    """``(low, high, low_open, choices)`` of parameter ``name`` (a dotted path into ``NodeSettings``), read from
    the settings field's metadata (``settings_tree.bounds``): the checks and the descriptors share them."""
    *sections, leaf = name.split('.')
    settings: Any = NodeSettings()
    for part in sections:
        settings = getattr(settings, part)
    return bounds(type(settings), leaf)


def descriptor(spec: ParameterSpec, kind: type) -> ParameterDescriptor:
    """The rclpy descriptor of one parameter: description, range or choices, and when a change takes effect."""
    low, high, low_open, choices = limits(spec.name)
    constraints = f'takes effect {spec.applies}'
    if choices:
        constraints = f'one of {", ".join(choices)}; {constraints}'
    if low_open:
        constraints = f'> {low}; {constraints}'
    out = ParameterDescriptor(description=spec.description, additional_constraints=constraints,
                              read_only=spec.applies == AT_START)
    if (low is not None or high is not None) and kind is float:
        out.floating_point_range = [FloatingPointRange(from_value=-math.inf if low is None else float(low),
                                                       to_value=math.inf if high is None else float(high), step=0.0)]
    elif (low is not None or high is not None) and kind is int:
        out.integer_range = [IntegerRange(from_value=int(low), to_value=int(high), step=1)]
    return out


def declare(node: Any) -> dict[str, Any]:
    """Declares every parameter on ``node`` (defaults from ``NodeSettings``, overrides from the params file);
    returns ``{name: value}`` as declared."""
    values = {}
    for name, default in default_values().items():
        spec = SPECS[name]
        parameter = node.declare_parameter(name, default, descriptor(spec, type(default)))
        values[name] = parameter.value
    return values


def changed_effects(changes: Mapping[str, Any]) -> dict[str, list[str]]:
    """``{when it takes effect: [names]}`` for a set of changed parameters (for the log line)."""
    out: dict[str, list[str]] = {}
    for name in changes:
        out.setdefault(SPECS[name].applies, []).append(name)
    return out
