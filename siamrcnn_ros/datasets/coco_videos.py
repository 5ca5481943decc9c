"""COCO static images as one-frame training videos (paper §3.2: pairs from one image, the
reference and target being augmentations of the same frame).

Layout::

    <root>/annotations/instances_<split>.json   COCO detection annotations
    <root>/<split>/<file_name>                  the images, e.g. train2017/000000000009.jpg

From the JSON: ``images`` (``id``, ``file_name``, ``height``, ``width``) and ``annotations`` (``id``,
``image_id``, ``bbox`` = ``[x, y, w, h]`` pixels, ``iscrowd``, ``segmentation``). Every image is a
video of one frame whose objects are its non-crowd annotations, in file order, named by annotation
id; images without such annotations are videos with no object. When an image's objects have a
``segmentation`` (polygons or RLE) and the image its ``height`` and ``width``, its frame gets instance
masks (``coco_masks.CocoImageMasks``, decoded when read), for Box2Seg training; otherwise masks are
None. ``split`` defaults to ``'train2017'``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from siamrcnn_ros.boxes import xywh_to_xyxy
from siamrcnn_ros.datasets.annotated_video import AnnotatedVideo
from siamrcnn_ros.datasets.coco_masks import CocoImageMasks

DEFAULT_SPLIT = 'train2017'


def read_coco_videos(root: Path, split: str | None = None) -> list[AnnotatedVideo]:
    """Every image of ``instances_<split>.json`` as a one-frame video, in the file's image order.

    Raises:
        FileNotFoundError: the JSON file or the image folder is missing.
        ValueError: malformed JSON, or an annotation with a bad ``bbox`` or an unknown
            ``image_id`` (the message names the file and the annotation id).
    """
    split = split or DEFAULT_SPLIT
    path = Path(root) / 'annotations' / f'instances_{split}.json'
    image_dir = Path(root) / split
    if not path.is_file():
        raise FileNotFoundError(f'COCO annotation file not found: {path}')
    if not image_dir.is_dir():
        raise FileNotFoundError(f'COCO image folder not found: {image_dir}')
    try:
        data = json.loads(path.read_text())
        images = [(image['id'], image['file_name']) for image in data['images']]
        sizes = {image['id']: (image.get('height'), image.get('width')) for image in data['images']}
        annotations = data['annotations']
    except json.JSONDecodeError as error:
        raise ValueError(f'{path}: not valid JSON ({error})') from None
    except (KeyError, TypeError) as error:
        raise ValueError(f'{path}: expected "images" with "id" and "file_name", and "annotations" '
                         f'({error!r})') from None
    objects_of: dict[int, list[tuple[str, list[float], Any]]] = {image_id: [] for image_id, _ in images}
    for annotation in annotations:
        annotation_id = annotation.get('id')
        image_id = annotation.get('image_id')
        if image_id not in objects_of:
            raise ValueError(f'{path}: annotation {annotation_id} refers to image {image_id!r}, not in "images"')
        if annotation.get('iscrowd', 0):
            continue
        bbox = annotation.get('bbox')
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, int | float) for v in bbox)):
            raise ValueError(f'{path}: annotation {annotation_id}: bbox must be 4 numbers [x, y, w, h], got {bbox!r}')
        objects_of[image_id].append((str(annotation_id), bbox, annotation.get('segmentation')))
    videos = []
    for image_id, file_name in images:
        objects = objects_of[image_id]
        corners = np.asarray([bbox for _, bbox, _ in objects], dtype=np.float64).reshape(-1, 1, 4)  # [O, 1, 4] xywh
        boxes = xywh_to_xyxy(corners)
        height, width = sizes[image_id]
        segmentations = tuple(segmentation or None for _, _, segmentation in objects)
        masks = None
        if isinstance(height, int) and isinstance(width, int) and any(s is not None for s in segmentations):
            masks = (CocoImageMasks(height, width, segmentations),)
        videos.append(AnnotatedVideo(name=Path(file_name).stem, source='coco', frames=(image_dir / file_name,),
                                     object_ids=tuple(object_id for object_id, _, _ in objects), boxes=boxes,
                                     masks=masks))
    return videos
