"""ImageNet VID (ILSVRC 2015 VID) training videos: several objects per snippet.

Layout::

    <root>/Data/VID/<split>/[<chunk>/]<snippet>/000000.JPEG, ...      frames, in file-name order
    <root>/Annotations/VID/<split>/[<chunk>/]<snippet>/000000.xml, ... one PASCAL-VOC XML per frame

``<split>`` is ``train`` (snippets grouped in chunk folders ``ILSVRC2015_VID_train_<k>``) or
``val`` (snippets directly in the split folder). Each XML file holds, per visible object::

    <object>
      <trackid>0</trackid>                     the object's id within the snippet
      <name>n02691156</name>                   WordNet class (not read)
      <bndbox><xmin/><ymin/><xmax/><ymax/></bndbox>   pixels
      <occluded>0</occluded> <generated>0</generated>  (not read)
    </object>

An object missing from a frame's XML is absent there (NaN box). Boxes are taken as stored:
``(xmin, ymin, xmax, ymax)`` with no ``+1`` (the package's one convention). Every frame
must have its XML file.
"""
from __future__ import annotations

import os
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np

from siamrcnn_ros.datasets.annotated_video import AnnotatedVideo

DEFAULT_SPLIT = 'train'
_BOX_FIELDS = ('xmin', 'ymin', 'xmax', 'ymax')


def read_vid_frame_objects(path: Path) -> dict[str, np.ndarray]:
    """The objects of one frame's XML file: track id -> ``[4]`` float64 xyxy pixels.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: not XML, or an object without a track id or with a missing or non-numeric
            box field (the message names the file and the field).
    """
    if not path.is_file():
        raise FileNotFoundError(f'ImageNet VID annotation not found: {path}')
    try:
        tree = ElementTree.parse(path)
    except ElementTree.ParseError as error:
        raise ValueError(f'{path}: not valid XML ({error})') from None
    objects = {}
    for index, element in enumerate(tree.getroot().iter('object')):
        track_id = (element.findtext('trackid') or '').strip()
        if not track_id:
            raise ValueError(f'{path}: object {index} has no <trackid>')
        box = []
        for field in _BOX_FIELDS:
            text = element.findtext(f'bndbox/{field}')
            try:
                box.append(float(text))
            except (TypeError, ValueError):
                raise ValueError(f'{path}: object {index} (trackid {track_id}): bndbox/{field} is '
                                 f'{text!r}, not a number') from None
        if track_id in objects:
            raise ValueError(f'{path}: trackid {track_id} appears twice')
        objects[track_id] = np.asarray(box, dtype=np.float64)
    return objects


def snippet_folders(annotation_split: Path) -> list[Path]:
    """The snippet folders under ``Annotations/VID/<split>``: those holding XML files, directly
    in it (val) or one level down (train's chunk folders), sorted by path."""
    if not annotation_split.is_dir():
        raise FileNotFoundError(f'ImageNet VID annotation folder not found: {annotation_split}')
    snippets = []
    for child in sorted(p for p in annotation_split.iterdir() if p.is_dir()):
        if _holds_xml(child):
            snippets.append(child)
        else:
            snippets.extend(sorted(p for p in child.iterdir() if p.is_dir() and _holds_xml(p)))
    return snippets


def read_vid_snippet(frame_dir: Path, annotation_dir: Path) -> AnnotatedVideo:
    """One snippet: its ``.JPEG`` frames and the XML file of each."""
    if not frame_dir.is_dir():
        raise FileNotFoundError(f'ImageNet VID frame folder not found: {frame_dir}')
    frames = sorted(p for p in frame_dir.iterdir() if p.suffix.lower() in ('.jpeg', '.jpg'))
    if not frames:
        raise FileNotFoundError(f'no .JPEG frames in {frame_dir}')
    per_frame = [read_vid_frame_objects(annotation_dir / f'{frame.stem}.xml') for frame in frames]
    # Track ids are integers in the files; order them numerically where they are.
    track_ids = sorted({tid for objects in per_frame for tid in objects},
                       key=lambda tid: (0, int(tid), '') if tid.isdigit() else (1, 0, tid))
    boxes = np.full((len(track_ids), len(frames), 4), np.nan)  # [O, N, 4]
    for t, objects in enumerate(per_frame):
        for k, track_id in enumerate(track_ids):
            if track_id in objects:
                boxes[k, t] = objects[track_id]
    return AnnotatedVideo(name=frame_dir.name, source='imagenet_vid', frames=tuple(frames),
                          object_ids=tuple(track_ids), boxes=boxes, masks=None)


def read_imagenet_vid_videos(root: Path, split: str | None = None) -> list[AnnotatedVideo]:
    """Every snippet of ``split`` (default ``'train'``; ``'val'``), snippets without any object included."""
    split = split or DEFAULT_SPLIT
    annotation_split = Path(root) / 'Annotations' / 'VID' / split
    data_split = Path(root) / 'Data' / 'VID' / split
    videos = []
    for annotation_dir in snippet_folders(annotation_split):
        frame_dir = data_split / annotation_dir.relative_to(annotation_split)
        videos.append(read_vid_snippet(frame_dir, annotation_dir))
    return videos


def _holds_xml(folder: Path) -> bool:
    with os.scandir(folder) as entries:
        return any(entry.name.endswith('.xml') for entry in entries)
