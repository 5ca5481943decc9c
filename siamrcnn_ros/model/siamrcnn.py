"""The assembled Siam R-CNN re-detector (SPEC §2): per-frame features, templates, re-detection, pair scores.

Per frame, ``extract`` runs the backbone + FPN + RPN once; everything else (templates of new
targets, re-detection of every target, pair scoring for TDPA) reuses that ``FrameFeatures``.
Boxes in and out of every public method are ``[N, 4]`` float32 xyxy in original-image pixels;
only ``FrameFeatures.proposals`` is in resized-image pixels, the frame the feature maps live in.

Every public method runs under ``torch.inference_mode()``, and on CUDA under autocast (bf16 by
default, ``precision`` chooses). On the CPU the same code runs in float32. Outputs are float32 on
the model's device. Host syncs on CUDA come only from data-dependent sizes: the RPN's filtering
and NMS, RoIAlign's per-level box selection (torchvision's ``MultiScaleRoIAlign``), the final NMS,
and the spatial gate of pair scoring. Counted with ``torch.cuda.set_sync_debug_mode`` on an H100,
``demo`` preset: 7 in ``extract``, 15 in ``redetect`` (8 of them RoIAlign's, 2 per pooling of the
cascade's 3 stages and the final boxes), 2 in ``pair_scores``.
"""
from __future__ import annotations

import contextlib
import functools
import math
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from torch import Tensor, nn
from torchvision.models.detection.image_list import ImageList

from siamrcnn_ros.model.backbone import build_backbone, feature_levels
from siamrcnn_ros.model.checkpoints import load_checkpoint_into, read_checkpoint
from siamrcnn_ros.model.config import LITE_BACKBONES, ModelConfig, get_preset
from siamrcnn_ros.model.default_weights import DEFAULT, resolve_checkpoint
from siamrcnn_ros.model.detector_weights import load_detector_weights
from siamrcnn_ros.model.head import CascadeRedetectionHead, postprocess
from siamrcnn_ros.model.pairs import score_pairs
from siamrcnn_ros.model.preprocessing import NetworkInput, preprocess, to_original, to_resized
from siamrcnn_ros.model.roi_pooling import IMAGE_KEY, RoIFeaturePooler, fpn_levels
from siamrcnn_ros.model.rpn import build_rpn, propose

# Autocast dtype on CUDA per ``precision``; None = float32 throughout.
PRECISIONS: dict[str, torch.dtype | None] = {'bf16': torch.bfloat16, 'fp16': torch.float16, 'fp32': None}

_Method = TypeVar('_Method', bound=Callable[..., Any])


@dataclass(frozen=True)
class FrameFeatures:
    """Everything computed once per frame and shared by all targets.

    Attributes:
        image_size: ``(h, w)`` of the original image, pixels.
        resized_size: ``(h, w)`` of the resized image (before padding), pixels.
        feature_maps: the FPN maps ``[1, C, h_l, w_l]`` by level name (``'0'``, ..., ``'pool'``);
            float32, or the autocast dtype on CUDA.
        proposals: ``[P, 4]`` float32 xyxy RPN proposals in resized-image pixels, best first.
    """

    image_size: tuple[int, int]
    resized_size: tuple[int, int]
    feature_maps: OrderedDict[str, Tensor]
    proposals: Tensor


@dataclass(frozen=True)
class Redetections:
    """The re-detections of one template in one frame, sorted by decreasing score.

    Attributes:
        boxes: ``[N, 4]`` float32 xyxy, original-image pixels.
        scores: ``[N]`` float32 in ``[0, 1]``: the mean over the cascade stages of the target
            probability of the final boxes (SPEC §2 step 4).
        features: ``[N, C, P, P]`` float32 RoI features of the final boxes (P = 7), the input of pair scoring.
    """

    boxes: Tensor
    scores: Tensor
    features: Tensor


def _inference(method: _Method) -> _Method:
    """Run a public method under inference mode and, on CUDA, autocast."""

    @functools.wraps(method)
    def wrapper(self: SiamRCNN, *args: Any, **kwargs: Any) -> Any:
        with self.inference_context():
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


class SiamRCNN(nn.Module):
    """Backbone + FPN, RPN, multi-scale RoIAlign and the Siamese cascade head (SPEC §2), random weights.

    Submodules (parameter names as in torchvision's Faster R-CNN for the first two):
    ``backbone`` (``backbone.py``), ``rpn`` (``rpn.py``), ``roi_pool`` (``roi_pooling.RoIFeaturePooler``:
    torchvision's ``MultiScaleRoIAlign`` over the FPN levels without ``'pool'``, ``P x P`` output, level by
    box size as in FPN, plus the box's pixels with ``head.pixel_rois``), ``head``
    (``CascadeRedetectionHead``). Preprocessing (``preprocessing.py``)
    holds no weights and is a function of ``config.transform``.

    The backbone and the RPN are frozen (``requires_grad`` False) and stay in eval mode even after
    ``train()``: Siam R-CNN trains only the head (SPEC §2).

    Args:
        config: the architecture and inference settings.
        precision: autocast dtype on CUDA: ``'bf16'`` (default), ``'fp16'`` or ``'fp32'`` (no autocast).
            Ignored on the CPU, which computes in float32.
    """

    def __init__(self, config: ModelConfig, *, precision: str = 'bf16') -> None:
        super().__init__()
        if not isinstance(config, ModelConfig):
            raise TypeError(f'config must be a ModelConfig, got {type(config).__name__}')
        self.config = config
        self.precision = precision
        self.backbone = build_backbone(config.backbone)
        # EfficientNet-Lite's depthwise convolutions run faster channels-last (NHWC) on a CPU: the backbone's
        # share of Tracker.update fell by about a quarter (benchmarks/RESULTS.md, "Speed"). ``feature_maps``
        # hands the input over in that layout. The torchvision trunks keep NCHW (not measured).
        self._channels_last = config.backbone.name in LITE_BACKBONES
        if self._channels_last:
            self.backbone.to(memory_format=torch.channels_last)
        levels = feature_levels(self.backbone)
        channels = self.backbone.out_channels
        self.rpn = build_rpn(config.rpn, in_channels=channels, num_levels=levels)
        self.rpn.requires_grad_(False)
        # RoIAlign on the FPN levels proper; the extra max-pooled level ('pool') serves only the RPN.
        self.roi_pool = RoIFeaturePooler([str(level) for level in range(levels - 1)],
                                         output_size=config.head.pooler_size,
                                         sampling_ratio=config.head.sampling_ratio, pixel_rois=config.head.pixel_rois)
        self.head = CascadeRedetectionHead(config.head, self.feature_channels)
        self.backbone.eval()
        self.rpn.eval()

    @property
    def precision(self) -> str:
        """Autocast dtype on CUDA: ``'bf16'``, ``'fp16'`` or ``'fp32'``."""
        return self._precision

    @precision.setter
    def precision(self, value: str) -> None:
        if value not in PRECISIONS:
            raise ValueError(f'precision must be one of {", ".join(PRECISIONS)}, got {value!r}')
        self._precision = value

    @property
    def device(self) -> torch.device:
        """The device of the model's parameters."""
        return next(self.parameters()).device

    @property
    def feature_channels(self) -> int:
        """``C``: channels of the RoI features (the FPN's, plus 3 with ``head.pixel_rois``)."""
        return self.backbone.out_channels + self.roi_pool.extra_channels

    def train(self, mode: bool = True) -> SiamRCNN:
        """Switch the head (only) to training mode; backbone and RPN stay frozen in eval mode (SPEC §2)."""
        super().train(mode)
        self.backbone.eval()
        self.rpn.eval()
        return self

    @contextlib.contextmanager
    def inference_context(self) -> Iterator[None]:
        """``torch.inference_mode()`` plus, on CUDA, autocast to ``precision``: what every public method runs under."""
        device = self.device
        dtype = PRECISIONS[self.precision]
        autocast = (torch.autocast(device.type, dtype=dtype) if device.type == 'cuda' and dtype is not None
                    else contextlib.nullcontext())
        with torch.inference_mode(), autocast:
            yield

    # Per-frame work -----------------------------------------------------------------------------------

    @_inference
    def extract(self, image: np.ndarray | Tensor) -> FrameFeatures:
        """Backbone + FPN + RPN on one frame, once per frame (SPEC §2).

        Args:
            image: ``H x W x 3`` uint8 RGB, a NumPy array or a torch tensor (any device).

        Raises:
            TypeError / ValueError: the image is not ``H x W x 3`` uint8 or is empty.
        """
        network_input = self.preprocess(image)
        maps = self.backbone_features(network_input)
        return FrameFeatures(network_input.image_size, network_input.resized_size, maps,
                             self.proposals(network_input, maps))

    def preprocess(self, image: np.ndarray | Tensor, resize: bool = True) -> NetworkInput:
        """Step 1 of ``extract``: check, normalise, resize and pad the image (``preprocessing.preprocess``;
        ``resize=False`` for an image already at the network's scale, such as a training example)."""
        return preprocess(image, self.config.transform, self.device, resize=resize)

    # Training: the same steps, with gradients where the caller's mode allows them --------------------------

    def training_frame(self, image: np.ndarray, proposals: bool = True) -> tuple[NetworkInput, FrameFeatures]:
        """A training example's frame (already resized by its augmentation): its network input and features,
        the FPN maps with gradients as the caller's mode allows, the RPN proposals (``proposals``) without
        gradients. The same steps as ``extract``, so inference and training pool and propose alike."""
        network_input = self.preprocess(image, resize=False)
        maps = self.feature_maps(network_input.tensor)
        found = torch.zeros((0, 4), device=self.device)
        if proposals:
            with torch.no_grad():
                detached = OrderedDict((name, value.detach()) for name, value in maps.items())
                found = propose(self.rpn, network_input.tensor, network_input.resized_size, detached)
        return network_input, FrameFeatures(network_input.image_size, network_input.resized_size, maps, found)

    def rpn_losses(self, network_input: NetworkInput, frame: FrameFeatures,
                   boxes: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """torchvision's class-agnostic RPN losses (``loss_objectness``, ``loss_rpn_box_reg``) for the objects
        ``boxes`` (``[K, 4]`` xyxy, resized-image pixels) of one frame: ``(their sum, parts)``, float32."""
        # torchvision's RPN builds its anchors in the maps' dtype: under bf16 autocast a pixel coordinate of
        # even a small image would be rounded by several pixels, so the RPN and its losses run in float32.
        with torch.autocast(self.device.type, enabled=False):
            maps = OrderedDict((name, value.float()) for name, value in fpn_levels(frame.feature_maps).items())
            _, losses = self.rpn(ImageList(network_input.tensor, [frame.resized_size]), maps, [{'boxes': boxes}])
        losses = {name: value.float() for name, value in losses.items()}
        return sum(losses.values()), losses  # type: ignore[return-value]

    @_inference
    def backbone_features(self, network_input: NetworkInput) -> OrderedDict[str, Tensor]:
        """Step 2 of ``extract``: the FPN maps ``[1, C, h_l, w_l]`` by level name (``feature_maps``)."""
        return self.feature_maps(network_input.tensor)

    def feature_maps(self, tensor: Tensor) -> OrderedDict[str, Tensor]:
        """The backbone's FPN maps of a normalised, padded batch ``[B, 3, H, W]``, by level name, and with
        ``head.pixel_rois`` the batch itself under ``roi_pooling.IMAGE_KEY`` (the input of ``roi_pool``).
        Gradients flow as the caller's mode allows (training calls it too)."""
        if self._channels_last:
            maps = self.backbone(tensor.contiguous(memory_format=torch.channels_last))
            # Back to NCHW once: RoIAlign reads NCHW and would otherwise copy every level on every pooling.
            maps = OrderedDict((name, value.contiguous()) for name, value in maps.items())
        else:
            maps = self.backbone(tensor)
        if self.config.head.pixel_rois:
            maps[IMAGE_KEY] = tensor
        return maps

    @_inference
    def proposals(self, network_input: NetworkInput, feature_maps: OrderedDict[str, Tensor]) -> Tensor:
        """Step 3 of ``extract``: RPN proposals ``[P, 4]`` float32 xyxy, resized-image pixels, best first."""
        return propose(self.rpn, network_input.tensor, network_input.resized_size, feature_maps)

    @_inference
    def roi_features(self, frame: FrameFeatures, boxes: Tensor) -> Tensor:
        """RoIAlign features of boxes given in original pixels.

        Args:
            frame: from ``extract``.
            boxes: ``[N, 4]`` float xyxy, original-image pixels (any device).

        Returns:
            ``[N, C, P, P]`` float32 (``N = 0`` allowed).
        """
        boxes = _check_boxes('boxes', boxes).to(self.device)
        return self.pool(frame, to_resized(boxes, frame.image_size, frame.resized_size)).float()

    @_inference
    def template(self, frame: FrameFeatures, boxes: Tensor) -> Tensor:
        """Templates of targets from their first-frame boxes (SPEC §2 step 2), computed once per target.

        Args:
            frame: the first frame's features.
            boxes: ``[4]`` or ``[T, 4]`` float xyxy, original-image pixels.

        Returns:
            ``[T, C, P, P]`` float32 (``T = 1`` for a single ``[4]`` box).
        """
        if not isinstance(boxes, Tensor):
            raise TypeError(f'boxes must be a torch tensor, got {type(boxes).__name__}')
        if boxes.dim() == 1:
            boxes = boxes[None]  # [1, 4]
        return self.roi_features(frame, boxes)

    @_inference
    def redetect(self, frame: FrameFeatures, template: Tensor, extra_boxes: Tensor | None = None,
                 search_boxes: Tensor | None = None) -> Redetections:
        """Re-detect one template in a frame (SPEC §2 steps 3-5).

        The RoIs are the frame's RPN proposals plus ``extra_boxes`` (the last boxes of the active
        tracklets: SPEC §2, this union lifts the recall on non-COCO objects). The cascade refines
        them; the final boxes are scored by the mean target probability over the stages, then
        thresholded, NMS-ed and cut to ``head.detections_per_img``.

        Args:
            frame: from ``extract``.
            template: ``[C, P, P]`` or ``[1, C, P, P]`` from ``template``.
            extra_boxes: ``[E, 4]`` float xyxy original-image pixels, or None. Only the first
                ``config.head.max_extra_boxes`` are used (the caller orders them by priority).
            search_boxes: ``[S, 4]`` float xyxy original pixels, or None: more RoIs, all of them used (the
                tracker's search window around the target, ``tracking.search``; its settings bound ``S``).

        Returns:
            ``Redetections`` (possibly empty: ``[0, 4]``, ``[0]``, ``[0, C, P, P]``).
        """
        reference = self._check_template(template)
        rois = frame.proposals
        if extra_boxes is not None:
            extra = _check_boxes('extra_boxes', extra_boxes)[:self.config.head.max_extra_boxes].to(self.device)
            rois = torch.cat([rois, to_resized(extra, frame.image_size, frame.resized_size)])  # [P + E, 4]
        if search_boxes is not None:
            search = _check_boxes('search_boxes', search_boxes).to(self.device)
            rois = torch.cat([rois, to_resized(search, frame.image_size, frame.resized_size)])  # [P + E + S, 4]
        pool = functools.partial(self.pool, frame)
        cascade = self.head.run_cascade(pool, reference, rois, frame.resized_size)
        features = pool(cascade.final_boxes)  # [N, C, P, P]
        scores = self.head.target_probability(reference, features)  # [N]
        keep = postprocess(cascade.final_boxes, scores, self.config.head)
        boxes = to_original(cascade.final_boxes[keep], frame.resized_size, frame.image_size)
        return Redetections(boxes, scores[keep].float(), features[keep].float())

    @_inference
    def pair_scores(self, ref_boxes: Tensor, ref_feats: Tensor, det_boxes: Tensor, det_feats: Tensor,
                    image_size: tuple[int, int], gamma: float | None = None) -> Tensor:
        """Pair scores (SPEC §2 "third stage"): ``[R, D]`` float32 target probabilities of each detection with each
        reference as the template, −inf outside the spatial gate.

        Args:
            ref_boxes: ``[R, 4]`` float xyxy original pixels (e.g. the last detections of tracklets).
            ref_feats: ``[R, C, P, P]`` their RoI features (``Redetections.features``).
            det_boxes: ``[D, 4]`` float xyxy original pixels of this frame's detections.
            det_feats: ``[D, C, P, P]`` their RoI features.
            image_size: ``(h, w)`` of the original image (``FrameFeatures.image_size``).
            gamma: the gate γ (a tracking setting, ``TDPASettings.gamma``; reference 0.06): pairs whose normalised
                L-infinity box distance is ``>= gamma`` are not scored. None: every pair is scored.
        """
        device = self.device
        return score_pairs(self.head, ref_boxes.to(device), ref_feats.to(device), det_boxes.to(device),
                           det_feats.to(device), image_size, math.inf if gamma is None else gamma)

    # RoI pooling, shared by inference and training ---------------------------------------------------

    def pool(self, frame: FrameFeatures, boxes: Tensor) -> Tensor:
        """``[N, 4]`` xyxy resized-image pixels -> ``[N, C, P, P]`` RoIAlign features (feature-map dtype), with
        gradients as the caller's mode allows: the one RoI pooling of inference and training."""
        return self.roi_pool(frame.feature_maps, [boxes.float()], [frame.resized_size])

    def _check_template(self, template: Tensor) -> Tensor:
        if not isinstance(template, Tensor):
            raise TypeError(f'template must be a torch tensor, got {type(template).__name__}')
        size = self.config.head.pooler_size
        expected = (self.feature_channels, size, size)
        if template.dim() == 3:
            template = template[None]  # [1, C, P, P]
        if template.dim() != 4 or template.shape[0] != 1 or tuple(template.shape[1:]) != expected:
            raise ValueError(f'template must be [{", ".join(map(str, expected))}] or [1, ...], '
                             f'got {tuple(template.shape)}')
        return template.to(self.device)


def _check_boxes(name: str, boxes: Tensor) -> Tensor:
    if not isinstance(boxes, Tensor):
        raise TypeError(f'{name} must be a torch tensor, got {type(boxes).__name__}')
    if boxes.dim() != 2 or boxes.shape[1] != 4:
        raise ValueError(f'{name} must be [N, 4] xyxy, got shape {tuple(boxes.shape)}')
    if not boxes.is_floating_point():
        boxes = boxes.float()
    return boxes


def choose_device(requested: str) -> tuple[torch.device, str]:
    """The device to run on for a requested one, and a warning when it is not what was asked (the node's
    ``model.device``, which falls back rather than fail; ``resolve_device`` is the strict form).

    ``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu`` with a warning (a tracker on a robot's CPU is
    usually a CPU-only torch build, not a choice); ``cuda``/``cuda:N`` without a GPU -> ``cpu`` with a warning;
    ``cuda:N`` beyond the visible GPUs -> ``cuda:0`` with a warning.
    """
    if requested == 'auto':
        if torch.cuda.is_available():
            return torch.device('cuda'), ''
        return torch.device('cpu'), 'model.device is auto but torch sees no CUDA GPU: running on the CPU'
    try:
        device = torch.device(requested)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {requested!r}") from error
    if device.type != 'cuda':
        return device, ''
    if not torch.cuda.is_available():
        return torch.device('cpu'), (f'model.device is {requested!r} but torch sees no CUDA GPU (CPU-only build, or '
                                     f'no driver): falling back to the CPU')
    if device.index is not None and device.index >= torch.cuda.device_count():
        return torch.device('cuda', 0), (f'model.device is {requested!r} but torch sees only '
                                         f'{torch.cuda.device_count()} GPU(s): using cuda:0')
    return device, ''


def resolve_device(device: str | torch.device) -> torch.device:
    """The device for a library call, strictly: ``'auto'`` -> ``cuda`` when torch sees a GPU, else ``cpu``; other
    values as ``choose_device`` reads them, but a device it would have to replace is an error, not a fallback.

    Raises:
        ValueError: not a device name, or a CUDA device torch does not see.
    """
    requested = str(device)
    chosen, warning = choose_device(requested)
    if warning and requested != 'auto':
        raise ValueError(f'device {requested!r} cannot be used here ({warning})')
    return chosen


def build_model(config: ModelConfig | str, *, checkpoint: str | Path | None = DEFAULT,
                detector_weights: str | Path | None = None, device: str | torch.device = 'auto',
                precision: str = 'bf16') -> SiamRCNN:
    """A ready-to-run ``SiamRCNN``: in eval mode, ``requires_grad`` off, on ``device``.

    Args:
        config: a ``ModelConfig``, or the name of a preset (``'paper'``, ``'r50'``, ``'fast'``, ``'demo'``).
        checkpoint: one of our safetensors checkpoints (``checkpoints.save_checkpoint`` of a whole
            ``SiamRCNN``). The config stored in it builds the model: it wins over a preset name; a
            ``ModelConfig`` given explicitly must equal it, or ``CheckpointError`` names the fields.
            ``'default'`` (the default): the preset's shipped checkpoint if it has one (``demo``:
            ``checkpoints/demo.safetensors``), else none; ``None`` or ``'none'``: random weights
            (see ``default_weights``).
        detector_weights: a torchvision Faster R-CNN checkpoint (file or weights enum name,
            ``detector_weights.py``) for the backbone + FPN + RPN; loaded after ``checkpoint``, so
            it replaces those weights.
        device: ``'auto'`` (CUDA when available, else CPU), ``'cpu'``, ``'cuda'``, ``'cuda:1'``, ...
        precision: autocast dtype on CUDA (``'bf16'``, ``'fp16'``, ``'fp32'``).

    Without a checkpoint and ``detector_weights`` the weights are random (tests, timing).
    """
    target = resolve_device(device)
    if isinstance(config, str):
        model_config, explicit = get_preset(config), None
        checkpoint = resolve_checkpoint(config, checkpoint)
    elif isinstance(config, ModelConfig):
        model_config, explicit = config, config
        checkpoint = resolve_checkpoint(None, checkpoint)
    else:
        raise TypeError(f'config must be a ModelConfig or a preset name, got {type(config).__name__}')
    read = read_checkpoint(checkpoint) if checkpoint is not None else None  # the file is read once
    if read is not None and explicit is None:
        model_config = read.config  # the file's config decides the architecture
    model = SiamRCNN(model_config, precision=precision)
    if read is not None:
        load_checkpoint_into(model, checkpoint, expected_config=explicit, read=read)
    if detector_weights is not None:
        load_detector_weights(model, detector_weights)
    model.requires_grad_(False)
    return model.eval().to(target)
