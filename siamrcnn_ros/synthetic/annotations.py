"""Ground truth of a whole video gathered from its frames, and the annotation files written from it.

``VideoTruth`` collects per-frame ``RenderedFrame`` truth; the functions below turn it into the
benchmarks' text files (GOT-10k and LaSOT) and into ``objects.json``, the file that carries every
object (the benchmarks' files carry only the target, object 0).

``objects.json`` (version 1)::

    {"version": 1, "image_size": [W, H], "frames": N,
     "objects": [{"id": "0", "role": "target" | "lookalike" | "other", "lookalike_of": "0" | null,
                  "shape": "ellipse" | "rectangle" | "polygon", "texture": "<kind>",
                  "boxes": [[x_min, y_min, x_max, y_max] | null, ... N entries],
                  "visible_ratio": [r, ... N entries]}, ...]}

Boxes are xyxy float pixels, continuous, no ``+1`` (``x_max - x_min`` is the width), the whole
object's extent clipped to the image, ``null`` where the object is absent; object ``k`` is pixel
value ``k + 1`` in the frame's mask PNG.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from siamrcnn_ros.boxes import xyxy_to_xywh
from siamrcnn_ros.synthetic.render import RenderedFrame
from siamrcnn_ros.synthetic.scene import VideoPlan

OBJECTS_VERSION = 1


@dataclass
class VideoTruth:
    """Per-frame truth of every object, appended frame by frame (``add``)."""

    boxes: list[np.ndarray] = field(default_factory=list)
    visible_ratio: list[np.ndarray] = field(default_factory=list)
    cut_by_image: list[np.ndarray] = field(default_factory=list)
    in_view: list[np.ndarray] = field(default_factory=list)

    def add(self, frame: RenderedFrame) -> None:
        """Append one frame's truth."""
        self.boxes.append(frame.boxes)
        self.visible_ratio.append(frame.visible_ratio)
        self.cut_by_image.append(frame.cut_by_image)
        self.in_view.append(frame.in_view)

    def target(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The target's ``[N, 4]`` xyxy (NaN where absent), ``[N]`` visible ratio, ``[N]`` cut flag,
        ``[N]`` in-view flag."""
        return (np.stack(self.boxes)[:, 0], np.stack(self.visible_ratio)[:, 0],
                np.stack(self.cut_by_image)[:, 0], np.stack(self.in_view)[:, 0])


def cover_label(visible_ratio: np.ndarray) -> np.ndarray:
    """GOT-10k ``cover.label`` values from visible ratios: 0 = nothing visible, 8 = fully visible,
    1..7 = partly visible in equal bins of 1/7 (``ceil(7 r)``). ``[N]`` float -> ``[N]`` int64."""
    ratio = np.clip(np.asarray(visible_ratio, np.float64), 0.0, 1.0)
    cover = np.clip(np.ceil(7 * ratio), 1, 7).astype(np.int64)
    cover[ratio <= 0] = 0
    cover[ratio >= 1] = 8
    return cover


def xywh_lines(boxes: np.ndarray, number_format: str) -> str:
    """``groundtruth.txt`` text: one ``x,y,w,h`` line per row of ``[N, 4]`` xyxy, ``0,0,0,0`` for
    NaN rows (absent: what pytracking's readers take as an invalid box, ``w = h = 0``)."""
    xywh = np.nan_to_num(xyxy_to_xywh(boxes), nan=0.0)  # [N, 4]
    return ''.join(','.join(format(v, number_format) for v in row) + '\n' for row in xywh)


def label_lines(values: np.ndarray) -> str:
    """GOT-10k ``*.label`` text: one integer per line."""
    return ''.join(f'{int(v)}\n' for v in values)


def flag_line(values: np.ndarray) -> str:
    """LaSOT ``full_occlusion.txt`` / ``out_of_view.txt`` text: 0/1 flags on one line, commas."""
    return ','.join(str(int(v)) for v in values) + '\n'


def objects_document(plan: VideoPlan, truth: VideoTruth) -> dict:
    """The ``objects.json`` content (see the module docstring)."""
    boxes = np.stack(truth.boxes, axis=1)  # [O, N, 4]
    ratios = np.stack(truth.visible_ratio, axis=1)  # [O, N]
    objects = []
    for index, track in enumerate(plan.objects):
        objects.append({
            'id': str(index),
            'role': track.role,
            'lookalike_of': '0' if track.role == 'lookalike' else None,
            'shape': track.sprite.shape,
            'texture': track.sprite.texture.kind if track.sprite.texture is not None else 'photo',
            'boxes': [None if math.isnan(row[0]) else [round(float(v), 2) for v in row] for row in boxes[index]],
            'visible_ratio': [round(float(r), 4) for r in ratios[index]],
        })
    return {'version': OBJECTS_VERSION, 'image_size': list(plan.image_size), 'frames': plan.frames,
            'objects': objects}


def write_objects_json(path: Path, document: dict) -> None:
    """Write ``objects.json`` compactly (one object per line keeps it readable and small)."""
    lines = ',\n'.join(json.dumps(item, separators=(',', ':')) for item in document['objects'])
    head = {key: value for key, value in document.items() if key != 'objects'}
    path.write_text(json.dumps(head)[:-1] + ', "objects": [\n' + lines + '\n]}\n')


def read_objects_json(path: str | Path) -> tuple[tuple[str, ...], np.ndarray]:
    """Object ids and boxes of an ``objects.json``.

    Returns:
        ``(ids, boxes)``: ids length O; ``[O, N, 4]`` float64 xyxy pixels, NaN rows where absent.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not version 1, or boxes of the wrong length (the message names the file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'objects file not found: {path}')
    document = json.loads(path.read_text())
    if document.get('version') != OBJECTS_VERSION:
        raise ValueError(f'{path}: objects.json version {document.get("version")!r}, this code reads '
                         f'{OBJECTS_VERSION}')
    frames = int(document['frames'])
    boxes = np.full((len(document['objects']), frames, 4), np.nan)  # [O, N, 4]
    for index, item in enumerate(document['objects']):
        if len(item['boxes']) != frames:
            raise ValueError(f'{path}: object {item["id"]!r} has {len(item["boxes"])} boxes for {frames} frames')
        for t, box in enumerate(item['boxes']):
            if box is not None:
                boxes[index, t] = box
    return tuple(str(item['id']) for item in document['objects']), boxes
