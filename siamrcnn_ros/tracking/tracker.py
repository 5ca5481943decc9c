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

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from siamrcnn_ros.boxes import check_xyxy, xywh_to_xyxy
from siamrcnn_ros.model.siamrcnn import FrameFeatures, Redetections, SiamRCNN
from siamrcnn_ros.settings_tree import check_settings, setting
from siamrcnn_ros.tracking.records import Detections, TrackResult
from siamrcnn_ros.tracking.search import search_boxes
from siamrcnn_ros.tracking.selectors import VARIANTS, Selector, SelectorFactory, make_selector
from siamrcnn_ros.tracking.settings import ShortTermSettings, TDPASettings


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

    variant: str = setting('tdpa', choices=VARIANTS)
    tdpa: TDPASettings = field(default_factory=TDPASettings)
    short_term: ShortTermSettings = field(default_factory=ShortTermSettings)
    max_aspect_change: float = setting(4.0, low=1.0, high=math.inf)  # a factor; inf: no gate
    search_shift: float = setting(0.0, low=0.0, high=2.0)  # a fraction of the box size
    search_scale: float = setting(1.0, low=1.0, high=4.0)  # a size factor

    def __post_init__(self) -> None:
        check_settings(self)


TargetSettings = TrackerSettings | Mapping[int, TrackerSettings] | None
"""Settings of targets being added: one for all, one per target id, or None (the tracker's own)."""


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


class _Target:
    """One target's template and selector; runs its per-frame part on a shared ``FrameFeatures``."""

    def __init__(self, model: SiamRCNN, settings: TrackerSettings, selector: Selector, frame: FrameFeatures,
                 box: np.ndarray) -> None:
        self._model = model
        self._selector = selector
        self._first_box = np.asarray(box, dtype=np.float64)
        self._max_aspect_change = settings.max_aspect_change
        self._search_shift, self._search_scale = settings.search_shift, settings.search_scale
        self._gamma = settings.tdpa.gamma
        box_t = torch.as_tensor(box, dtype=torch.float32, device=model.device)
        self.template = model.template(frame, box_t)  # [1, C, 7, 7], computed once (SPEC §2)
        self.result = selector.init(box, features=self.template)

    @property
    def selector(self) -> Selector:
        return self._selector

    def _redetect(self, frame: FrameFeatures, extra_boxes: torch.Tensor | None) -> Redetections:
        """The model's re-detections, with the search window around the current box among the RoIs, less
        those of a shape the target never had (``max_aspect_change``)."""
        search = None
        if self._search_shift > 0:
            boxes = search_boxes(self.result.box, frame.image_size, self._search_shift, self._search_scale)
            search = torch.as_tensor(boxes, device=self._model.device)
        dets = self._model.redetect(frame, self.template, extra_boxes=extra_boxes, search_boxes=search)
        return _keep(dets, plausible_shapes(dets.boxes, self._first_box, self._max_aspect_change))

    def update(self, frame: FrameFeatures) -> TrackResult:
        """One frame (SPEC §3, Alg. 1; ``selectors`` module docstring for the variants)."""
        model, selector = self._model, self._selector
        refs = selector.references
        device = model.device
        ref_boxes = torch.as_tensor(refs.boxes, dtype=torch.float32, device=device)  # [R, 4]
        dets = self._redetect(frame, extra_boxes=ref_boxes if len(ref_boxes) else None)  # Alg. 1, lines 3-4
        if refs.ff_box is None:
            second = torch.zeros(len(dets.boxes))
        else:  # every detection, no gate (step 3)
            ff_box = torch.as_tensor(refs.ff_box, dtype=torch.float32, device=device)[None]  # [1, 4]
            second = model.pair_scores(ff_box, refs.ff_features[None], dets.boxes, dets.features, frame.image_size)[0]
        pair = None
        if selector.uses_pair_scores:
            pair = _to_numpy(model.pair_scores(ref_boxes, refs.features, dets.boxes, dets.features, frame.image_size,
                                               gamma=self._gamma))  # [R, D]
        detections = Detections(_to_numpy(dets.boxes), _to_numpy(dets.scores), _to_numpy(second), dets.features)
        self.result = selector.update(detections, pair, frame.image_size)
        return self.result


class MultiTracker:
    """Several targets on one stream, sharing the per-frame backbone, FPN and RPN work.

    Every target has its own ``TrackerSettings`` (the selection variant and its parameters), given when it is
    added; targets with different settings still share one backbone pass per frame.

    Args:
        model: the re-detector (``siamrcnn_ros.model.build_model``); used in inference mode only.
        settings: the settings of targets added without their own; the reference TDPA by default.
        selector_factory: builds each target's selector from its settings (``selectors.make_selector``, the
            registry of the variants, by default); the one hook for tools, e.g. ``tools.tdpa_inputs`` records
            what TDPA was fed.

    Target ids are positive integers chosen by the caller or assigned in increasing order.
    Boxes are xyxy pixels of the image, as everywhere in the package. Wherever an image is taken, the
    ``FrameFeatures`` of that image (``extract``) may be given instead, so that a frame that serves several
    calls (a click resolved with ``box_at_point``, then the ``step``) costs one backbone pass.
    """

    def __init__(self, model: SiamRCNN, settings: TrackerSettings | None = None,
                 selector_factory: SelectorFactory = make_selector) -> None:
        self._model = model
        self._settings = settings if settings is not None else TrackerSettings()
        self._selector_factory = selector_factory
        self._targets: dict[int, _Target] = {}
        self._target_settings: dict[int, TrackerSettings] = {}
        self._next_id = 1

    @property
    def settings(self) -> TrackerSettings:
        """The settings of targets added without their own."""
        return self._settings

    def settings_of(self, target_id: int) -> TrackerSettings:
        """The settings target ``target_id`` was started with; ``KeyError`` for an unknown id."""
        self._known(target_id)
        return self._target_settings[target_id]

    @property
    def target_ids(self) -> list[int]:
        """Ids of the targets being tracked, in the order they were added."""
        return list(self._targets)

    def selector(self, target_id: int) -> Selector:
        """The object that selects target ``target_id``'s box: its ``TDPA`` (or ``ArgmaxSelector``,
        ``ShortTermSelector``); ``KeyError`` for an unknown id."""
        self._known(target_id)
        return self._targets[target_id].selector

    def extract(self, image: np.ndarray) -> FrameFeatures:
        """The frame's backbone, FPN and RPN work (``SiamRCNN.extract``) on ``[H, W, 3]`` uint8 RGB ``image``,
        to hand to ``step``, ``add`` or ``box_at_point`` in place of the image."""
        _check_image(image)
        return self._model.extract(image)

    def remove(self, target_ids: Iterable[int] | None = None) -> None:
        """Stops tracking the given targets (all when ``None``); unknown ids raise ``KeyError``."""
        ids = list(self._targets) if target_ids is None else list(target_ids)
        unknown = [i for i in ids if i not in self._targets]
        if unknown:
            raise KeyError(f'no target with id {unknown} (tracking {self.target_ids})')
        for target_id in ids:
            del self._targets[target_id]  # releases its template and stored features
            del self._target_settings[target_id]

    def step(self, image: np.ndarray | FrameFeatures,
             add: Mapping[int, np.ndarray] | Iterable[np.ndarray] | None = None, remove: Iterable[int] = (),
             settings: TargetSettings = None) -> dict[int, TrackResult]:
        """Processes one frame: removes, updates the existing targets, then starts the added ones on it.

        Args:
            image: ``[H, W, 3]`` uint8 RGB, or its ``FrameFeatures`` (``extract``).
            add: new targets drawn on this frame: ``{target_id: box}`` or a sequence of boxes (ids assigned);
                each box ``[4]`` xyxy pixels. An id already tracked is restarted from the new box.
            remove: ids to stop tracking before this frame.
            settings: the added targets' settings: one ``TrackerSettings`` for all, ``{target_id: settings}``
                (ids missing from it take the tracker's), or None (the tracker's ``settings``).

        Returns:
            ``{target_id: result}`` for every target tracked after this frame; a target added here has
            its ``init`` result (frame 0, the given box, confidence 1).
        """
        frame = self._features(image)
        self.remove(remove)
        new = self._normalise_additions(add, frame.image_size)
        results = {}
        for target_id, target in self._targets.items():
            if target_id not in new:
                results[target_id] = target.update(frame)
        self._start(frame, new, settings)
        results.update({target_id: self._targets[target_id].result for target_id in new})
        return {target_id: results[target_id] for target_id in self._targets}

    def add(self, image: np.ndarray | FrameFeatures, boxes: Mapping[int, np.ndarray] | Iterable[np.ndarray],
            settings: TargetSettings = None) -> dict[int, TrackResult]:
        """Starts targets on ``image`` without advancing the others (e.g. a target drawn on an older frame).

        Args:
            image: ``[H, W, 3]`` uint8 RGB, the frame the boxes were drawn on, or its ``FrameFeatures``.
            boxes: ``{target_id: box}`` or a sequence of boxes (ids assigned); ``[4]`` xyxy pixels.
            settings: as in ``step``.

        Returns:
            ``{target_id: init result}`` for the added targets.
        """
        if isinstance(image, FrameFeatures):
            new = self._normalise_additions(boxes, image.image_size)
        else:
            new = self._normalise_additions(boxes, _check_image(image))
        if not new:
            return {}
        self._start(self._features(image), new, settings)
        return {target_id: self._targets[target_id].result for target_id in new}

    def box_at_point(self, image: np.ndarray | FrameFeatures, point: tuple[float, float]) -> np.ndarray | None:
        """The best object proposal of ``image`` containing the pixel ``point`` (click-to-track).

        Args:
            image: ``[H, W, 3]`` uint8 RGB, or its ``FrameFeatures`` (``extract``).
            point: ``(x, y)`` pixels.

        Returns:
            ``[4]`` float64 xyxy pixels: the RPN proposal with the highest objectness among those that
            contain the point (proposals come sorted by objectness), or ``None`` when none does.
        """
        height, width = image.image_size if isinstance(image, FrameFeatures) else _check_image(image)
        x, y = float(point[0]), float(point[1])
        if not (np.isfinite(x) and np.isfinite(y) and 0 <= x < width and 0 <= y < height):
            raise ValueError(f'point ({x}, {y}) is outside the {width}x{height} image')
        frame = self._features(image)
        (h_in, w_in), (h_out, w_out) = frame.image_size, frame.resized_size
        scale = np.array([w_in / w_out, h_in / h_out, w_in / w_out, h_in / h_out])
        proposals = _to_numpy(frame.proposals) * scale  # [P, 4] resized -> image pixels, best first
        inside = (proposals[:, 0] <= x) & (x <= proposals[:, 2]) & (proposals[:, 1] <= y) & (y <= proposals[:, 3])
        hits = np.flatnonzero(inside)
        return proposals[hits[0]].copy() if hits.size else None

    def _known(self, target_id: int) -> None:
        if target_id not in self._targets:
            raise KeyError(f'no target with id {target_id} (tracking {self.target_ids})')

    def _features(self, image: np.ndarray | FrameFeatures) -> FrameFeatures:
        return image if isinstance(image, FrameFeatures) else self.extract(image)

    def _start(self, frame: FrameFeatures, boxes: dict[int, np.ndarray], settings: TargetSettings) -> None:
        for target_id, box in boxes.items():
            if isinstance(settings, Mapping):
                chosen = settings.get(target_id, self._settings)
            else:
                chosen = self._settings if settings is None else settings
            if not isinstance(chosen, TrackerSettings):
                raise TypeError(f'settings of target {target_id} must be TrackerSettings, got {type(chosen).__name__}')
            self._targets[target_id] = _Target(self._model, chosen, self._selector_factory(chosen), frame, box)
            self._target_settings[target_id] = chosen

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
            new[int(target_id)] = check_xyxy(box, image_size)
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
        selector_factory: builds the target's selector (see ``MultiTracker``).
    """

    _ID = 1

    def __init__(self, model: SiamRCNN, settings: TrackerSettings | None = None,
                 selector_factory: SelectorFactory = make_selector) -> None:
        self._multi = MultiTracker(model, settings, selector_factory)

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
