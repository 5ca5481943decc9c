"""Trackers on images: the re-detector (``siamrcnn_ros.model``) combined with TDPA or a simpler selector.

``MultiTracker`` follows several targets through one stream: the backbone, FPN and RPN run once per
frame and every target re-uses them (SPEC §2: "the features of a frame are computed once"); each
target then pays for its own re-detection and pair scoring. Targets can be added and removed at any
frame. ``Tracker`` is the one-target case with the ``init(image, box_xywh)`` / ``update(image)``
interface of the tracking toolkits.

Per frame and target (SPEC §3, Alg. 1), for the ``tdpa`` variant:

1. RoIs = RPN proposals ∪ the last boxes of the target's active tracklets (``extra_boxes``);
2. re-detection against the first-frame template gives boxes, ``ff_scores`` and RoI features;
3. ``ff_tracklet_scores`` = the head's score of each detection with the latest detection of the
   first-frame tracklet as reference, for every detection, without the spatial gate γ: paper §3.3 uses
   that detection "as an additional reference for re-detection", like the first-frame template, and
   the gate is for the pairwise scores between consecutive frames (Alg. 1 line 6). Gating it would
   zero 1 − w_ff (90 %) of the unary score of every detection away from where the first-frame
   tracklet ended, which is where a lost target reappears;
4. pair scores against the active tracklets' last detections (−inf outside γ);
5. ``TDPA.update`` builds tracklets, runs the online dynamic programme and selects.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from siamrcnn_ros.boxes import xywh_to_xyxy
from siamrcnn_ros.model.pairs import score_pairs
from siamrcnn_ros.model.siamrcnn import FrameFeatures, Redetections, SiamRCNN
from siamrcnn_ros.tracking.records import Detections, TrackResult
from siamrcnn_ros.tracking.search import search_boxes
from siamrcnn_ros.tracking.settings import ShortTermSettings, TDPASettings
from siamrcnn_ros.tracking.tdpa import TDPA
from siamrcnn_ros.tracking.variants import ArgmaxSelector, ShortTermSelector

VARIANTS = ('tdpa', 'argmax', 'short_term')

TDPAFactory = Callable[[TDPASettings], TDPA]
"""Builds a target's TDPA from its settings: ``TDPA`` itself, or a subclass such as
``tdpa_inputs.RecordingTDPA``."""

Selector = TDPA | ArgmaxSelector | ShortTermSelector


@dataclass(frozen=True)
class TrackerSettings:
    """How the trackers select the target among the re-detections.

    Attributes:
        variant: ``'tdpa'`` (the paper's tracker), ``'argmax'`` (the best re-detection of each frame)
            or ``'short_term'`` (paper Tab. 7; for reset-based short-term benchmarks).
        tdpa: TDPA parameters (reference values by default).
        short_term: parameters of the short-term variant.
        max_aspect_change: ours, every variant: a re-detection whose aspect ratio (width / height) differs from
            the first-frame box's by more than this factor, either way, is dropped before selection, so it can
            be neither the target nor a distractor tracklet (issue 17: slivers of 5x238 px on plain grey were
            reported as a 60x60 target). ``inf`` turns the gate off (the paper has none).
        search_shift: ours, every variant: the search window (``search.search_boxes``). Boxes around the
            target's current box join the RoIs each frame, so re-detection near the target does not hang on the
            RPN: centred on the box and moved by ``search_shift`` of its width and height (a 3 x 3 grid), at
            three sizes (``1 / search_scale``, 1, ``search_scale`` times the box's). 0 (the default, as in
            the paper): no window.
        search_scale: the size step of the window's boxes, >= 1 (1: only the current size, 9 boxes).
    """

    variant: str = 'tdpa'
    tdpa: TDPASettings = field(default_factory=TDPASettings)
    short_term: ShortTermSettings = field(default_factory=ShortTermSettings)
    max_aspect_change: float = 4.0
    search_shift: float = 0.0
    search_scale: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.search_shift <= 2.0:  # also refuses NaN
            raise ValueError(f'search_shift must be in [0, 2] (a fraction of the box size), got {self.search_shift}')
        if not 1.0 <= self.search_scale <= 4.0:
            raise ValueError(f'search_scale must be in [1, 4] (a size factor), got {self.search_scale}')
        if self.variant not in VARIANTS:
            raise ValueError(f'variant must be one of {VARIANTS}, got {self.variant!r}')
        if not self.max_aspect_change >= 1.0:  # also refuses NaN
            raise ValueError(f'max_aspect_change must be >= 1 (a factor), got {self.max_aspect_change}')


def _to_numpy(values: torch.Tensor) -> np.ndarray:
    return values.detach().float().cpu().numpy().astype(np.float64)


def plausible_shapes(boxes: torch.Tensor, first_box: np.ndarray, max_aspect_change: float) -> torch.Tensor:
    """``[N]`` bool: the boxes whose aspect ratio is within ``max_aspect_change`` (a factor) of ``first_box``'s.

    Args:
        boxes: ``[N, 4]`` xyxy pixels (any device). first_box: ``[4]`` xyxy pixels, positive width and height.
    """
    if not np.isfinite(max_aspect_change):
        return torch.ones(boxes.shape[0], dtype=torch.bool, device=boxes.device)
    first_aspect = float((first_box[2] - first_box[0]) / (first_box[3] - first_box[1]))
    sizes = (boxes[:, 2:] - boxes[:, :2]).clamp(min=1e-3)  # [N, 2] width, height
    log_change = torch.log(sizes[:, 0] / sizes[:, 1] / first_aspect).abs()  # [N]
    return log_change <= float(np.log(max_aspect_change)) + 1e-9


def _keep(dets: Redetections, keep: torch.Tensor) -> Redetections:
    return dets if bool(keep.all()) else Redetections(dets.boxes[keep], dets.scores[keep], dets.features[keep])


def _check_image(image: np.ndarray) -> tuple[int, int]:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        shape = getattr(image, 'shape', None)
        dtype = getattr(image, 'dtype', type(image).__name__)
        raise ValueError(f'image must be an HxWx3 uint8 RGB array, got shape {shape} and dtype {dtype}')
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f'image must not be empty, got shape {image.shape}')
    return int(image.shape[0]), int(image.shape[1])


def _check_box_xyxy(box: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    box = np.array(box, dtype=np.float64).reshape(-1)
    if box.shape != (4,) or not np.isfinite(box).all() or box[2] <= box[0] or box[3] <= box[1]:
        raise ValueError(f'box must be 4 finite xyxy pixels with positive width and height, got {box}')
    height, width = image_size
    if box[2] <= 0 or box[3] <= 0 or box[0] >= width or box[1] >= height:
        raise ValueError(f'box {box.tolist()} (xyxy pixels) does not overlap the {width}x{height} image')
    return box


class _Target:
    """One target's template and selector; runs its per-frame part on a shared ``FrameFeatures``."""

    def __init__(self, model: SiamRCNN, settings: TrackerSettings, frame: FrameFeatures, box: np.ndarray,
                 tdpa_factory: TDPAFactory = TDPA) -> None:
        self._model = model
        self._variant = settings.variant
        self._first_box = np.asarray(box, dtype=np.float64)
        self._max_aspect_change = settings.max_aspect_change
        self._search_shift, self._search_scale = settings.search_shift, settings.search_scale
        box_t = torch.as_tensor(box, dtype=torch.float32, device=model.device)
        self.template = model.template(frame, box_t)  # [1, C, 7, 7], computed once (SPEC §2)
        if self._variant == 'tdpa':
            self._selector: Selector = tdpa_factory(settings.tdpa)
            self.result = self._selector.init(box, features=self.template)
        elif self._variant == 'argmax':
            self._selector = ArgmaxSelector()
            self.result = self._selector.init(box)
        else:
            self._selector = ShortTermSelector(settings.short_term)
            self.result = self._selector.init(box, features=self.template[0])

    @property
    def selector(self) -> Selector:
        return self._selector

    def _redetect(self, frame: FrameFeatures, extra_boxes: torch.Tensor | None = None) -> Redetections:
        """The model's re-detections, with the search window around the current box among the RoIs, less
        those of a shape the target never had (``max_aspect_change``)."""
        search = None
        if self._search_shift > 0:
            boxes = search_boxes(self.result.box, frame.image_size, self._search_shift, self._search_scale)
            search = torch.as_tensor(boxes, device=self._model.device)
        dets = self._model.redetect(frame, self.template, extra_boxes=extra_boxes, search_boxes=search)
        return _keep(dets, plausible_shapes(dets.boxes, self._first_box, self._max_aspect_change))

    def update(self, frame: FrameFeatures) -> TrackResult:
        if self._variant == 'tdpa':
            self.result = self._update_tdpa(frame)
        elif self._variant == 'argmax':
            dets = self._redetect(frame)
            self.result = self._selector.update(_to_numpy(dets.boxes), _to_numpy(dets.scores))
        else:
            self.result = self._update_short_term(frame)
        return self.result

    def _update_tdpa(self, frame: FrameFeatures) -> TrackResult:
        model, tdpa = self._model, self._selector
        refs = tdpa.references
        device = model.device
        ref_boxes = torch.as_tensor(refs.boxes, dtype=torch.float32, device=device)  # [R, 4]
        dets = self._redetect(frame, extra_boxes=ref_boxes)  # Alg. 1, lines 3-4
        ff_box = torch.as_tensor(refs.ff_box, dtype=torch.float32, device=device)[None]  # [1, 4]
        ff_tracklet = score_pairs(model.head, ff_box, refs.ff_features[None].to(device), dets.boxes, dets.features,
                                  frame.image_size, gamma=float('inf'))[0]  # [D], every detection (step 3)
        pair = model.pair_scores(ref_boxes, refs.features, dets.boxes, dets.features, frame.image_size)  # [R, D]
        detections = Detections(_to_numpy(dets.boxes), _to_numpy(dets.scores), _to_numpy(ff_tracklet), dets.features)
        return tdpa.update(detections, _to_numpy(pair), frame.image_size)

    def _update_short_term(self, frame: FrameFeatures) -> TrackResult:
        model, selector = self._model, self._selector
        device = model.device
        prev_box = torch.as_tensor(selector.reference_box, dtype=torch.float32, device=device)[None]  # [1, 4]
        dets = self._redetect(frame, extra_boxes=prev_box)
        # Score every detection against the previous prediction, without the γ gate: the variant's own
        # spatial prior (ShortTermSettings) decides how far the target may move.
        prev = score_pairs(model.head, prev_box, selector.reference_features[None], dets.boxes, dets.features,
                           frame.image_size, gamma=float('inf'))[0]  # [D]
        return selector.update(_to_numpy(dets.boxes), _to_numpy(dets.scores), _to_numpy(prev), frame.image_size,
                               features=dets.features)


class MultiTracker:
    """Several targets on one stream, sharing the per-frame backbone, FPN and RPN work.

    Args:
        model: the re-detector (``siamrcnn_ros.model.build_model``); used in inference mode only.
        settings: the selection variant and its parameters; the reference TDPA by default.
        tdpa_factory: builds each target's TDPA (``variant='tdpa'``) from ``settings.tdpa``; e.g.
            ``tdpa_inputs.RecordingTDPA`` to keep what it was fed, for ``tdpa_inputs.replay``.

    Target ids are positive integers chosen by the caller or assigned in increasing order.
    Boxes are xyxy pixels of the image, as everywhere in the package.
    """

    def __init__(self, model: SiamRCNN, settings: TrackerSettings | None = None,
                 tdpa_factory: TDPAFactory = TDPA) -> None:
        self._model = model
        self._settings = settings if settings is not None else TrackerSettings()
        self._tdpa_factory = tdpa_factory
        self._targets: dict[int, _Target] = {}
        self._next_id = 1

    @property
    def settings(self) -> TrackerSettings:
        return self._settings

    @property
    def target_ids(self) -> list[int]:
        """Ids of the targets being tracked, in the order they were added."""
        return list(self._targets)

    def selector(self, target_id: int) -> Selector:
        """The object that selects target ``target_id``'s box: its ``TDPA`` (or ``ArgmaxSelector``,
        ``ShortTermSelector``); ``KeyError`` for an unknown id."""
        if target_id not in self._targets:
            raise KeyError(f'no target with id {target_id} (tracking {self.target_ids})')
        return self._targets[target_id].selector

    def remove(self, target_ids: Iterable[int] | None = None) -> None:
        """Stops tracking the given targets (all when ``None``); unknown ids raise ``KeyError``."""
        ids = list(self._targets) if target_ids is None else list(target_ids)
        unknown = [i for i in ids if i not in self._targets]
        if unknown:
            raise KeyError(f'no target with id {unknown} (tracking {self.target_ids})')
        for target_id in ids:
            del self._targets[target_id]  # releases its template and stored features

    def step(self, image: np.ndarray, add: Mapping[int, np.ndarray] | Iterable[np.ndarray] | None = None,
             remove: Iterable[int] = ()) -> dict[int, TrackResult]:
        """Processes one frame: removes, updates the existing targets, then starts the added ones on it.

        Args:
            image: ``[H, W, 3]`` uint8 RGB.
            add: new targets drawn on this frame: ``{target_id: box}`` or a sequence of boxes (ids assigned);
                each box ``[4]`` xyxy pixels. An id already tracked is restarted from the new box.
            remove: ids to stop tracking before this frame.

        Returns:
            ``{target_id: result}`` for every target tracked after this frame; a target added here has
            its ``init`` result (frame 0, the given box, confidence 1).
        """
        image_size = _check_image(image)
        self.remove(remove)
        new = self._normalise_additions(add, image_size)
        frame = self._model.extract(image)  # backbone + FPN + RPN, once for all targets
        results = {}
        for target_id, target in self._targets.items():
            if target_id not in new:
                results[target_id] = target.update(frame)
        for target_id, box in new.items():
            self._targets[target_id] = _Target(self._model, self._settings, frame, box, self._tdpa_factory)
            results[target_id] = self._targets[target_id].result
        return {target_id: results[target_id] for target_id in self._targets}

    def add(self, image: np.ndarray, boxes: Mapping[int, np.ndarray] | Iterable[np.ndarray]) -> dict[int, TrackResult]:
        """Starts targets on ``image`` without advancing the others (e.g. a target drawn on an older frame).

        Args:
            image: ``[H, W, 3]`` uint8 RGB, the frame the boxes were drawn on.
            boxes: ``{target_id: box}`` or a sequence of boxes (ids assigned); ``[4]`` xyxy pixels.

        Returns:
            ``{target_id: init result}`` for the added targets.
        """
        image_size = _check_image(image)
        new = self._normalise_additions(boxes, image_size)
        if not new:
            return {}
        frame = self._model.extract(image)
        for target_id, box in new.items():
            self._targets[target_id] = _Target(self._model, self._settings, frame, box, self._tdpa_factory)
        return {target_id: self._targets[target_id].result for target_id in new}

    def box_at_point(self, image: np.ndarray, point: tuple[float, float]) -> np.ndarray | None:
        """The best object proposal of ``image`` containing the pixel ``point`` (click-to-track).

        Args:
            image: ``[H, W, 3]`` uint8 RGB.
            point: ``(x, y)`` pixels.

        Returns:
            ``[4]`` float64 xyxy pixels: the RPN proposal with the highest objectness among those that
            contain the point (proposals come sorted by objectness), or ``None`` when none does.
        """
        height, width = _check_image(image)
        x, y = float(point[0]), float(point[1])
        if not (np.isfinite(x) and np.isfinite(y) and 0 <= x < width and 0 <= y < height):
            raise ValueError(f'point ({x}, {y}) is outside the {width}x{height} image')
        frame = self._model.extract(image)
        (h_in, w_in), (h_out, w_out) = frame.image_size, frame.resized_size
        scale = np.array([w_in / w_out, h_in / h_out, w_in / w_out, h_in / h_out])
        proposals = _to_numpy(frame.proposals) * scale  # [P, 4] resized -> image pixels, best first
        inside = (proposals[:, 0] <= x) & (x <= proposals[:, 2]) & (proposals[:, 1] <= y) & (y <= proposals[:, 3])
        hits = np.flatnonzero(inside)
        return proposals[hits[0]].copy() if hits.size else None

    def _normalise_additions(self, add: Mapping[int, np.ndarray] | Iterable[np.ndarray] | None,
                             image_size: tuple[int, int]) -> dict[int, np.ndarray]:
        if add is None:
            return {}
        if not isinstance(add, Mapping):
            add = {self._take_id(): box for box in add}
        new = {}
        for target_id, box in add.items():
            if isinstance(target_id, bool) or not isinstance(target_id, (int, np.integer)) or target_id < 1:
                raise ValueError(f'target ids must be positive integers, got {target_id!r}')
            new[int(target_id)] = _check_box_xyxy(box, image_size)
            self._next_id = max(self._next_id, int(target_id) + 1)
        return new

    def _take_id(self) -> int:
        target_id = self._next_id
        self._next_id += 1
        return target_id


class Tracker:
    """One target, with the ``init`` / ``update`` interface of the tracking toolkits.

    Args:
        model: the re-detector.
        settings: the selection variant and its parameters; the reference TDPA by default.
        tdpa_factory: builds the target's TDPA (see ``MultiTracker``).
    """

    _ID = 1

    def __init__(self, model: SiamRCNN, settings: TrackerSettings | None = None,
                 tdpa_factory: TDPAFactory = TDPA) -> None:
        self._multi = MultiTracker(model, settings, tdpa_factory)

    @property
    def selector(self) -> Selector:
        """The target's ``TDPA`` (or the variant's selector); ``RuntimeError`` before ``init``."""
        if not self._multi.target_ids:
            raise RuntimeError('Tracker.init(image, box_xywh) must be called first')
        return self._multi.selector(self._ID)

    def init(self, image: np.ndarray, box_xywh: np.ndarray) -> TrackResult:
        """Starts tracking the object in ``box_xywh`` (``[4]`` x, y, width, height pixels) of ``image``."""
        box = np.asarray(box_xywh, dtype=np.float64)
        if box.shape != (4,):
            raise ValueError(f'box_xywh must be 4 numbers (x, y, width, height), got shape {box.shape}')
        return self._multi.step(image, add={self._ID: xywh_to_xyxy(box)})[self._ID]

    def update(self, image: np.ndarray) -> TrackResult:
        """Tracks the object into ``image`` (``[H, W, 3]`` uint8 RGB, the next frame of the stream)."""
        if not self._multi.target_ids:
            raise RuntimeError('Tracker.init(image, box_xywh) must be called before update()')
        return self._multi.step(image)[self._ID]
