"""What the demo writes: the annotated video, the success and precision plots against the ground truth, the Track
messages as a results file, and the scores.

Scores are the benchmark ones of ``siamrcnn_ros.evaluation`` on the clip as a sequence: success AUC and
precision at 20 px (one-pass, frame 0 is the given box, absent ground truth counts as a miss as in LaSOT) and
the VOT long-term F-score (presence confidence against absence).
"""
from __future__ import annotations

import csv
import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from siamrcnn_ros.boxes import xywh_to_xyxy, xyxy_to_xywh
from siamrcnn_ros.demo.clip import Clip
from siamrcnn_ros.demo.records import TrackRecord
from siamrcnn_ros.drawing import draw_frame_info, draw_result
from siamrcnn_ros.evaluation import TrackerEvaluation, aggregate, evaluate_sequence
from siamrcnn_ros.evaluation.plots import plot_precision, plot_success
from siamrcnn_ros.tracking.records import TrackletTable

VIDEO_FPS = 25.0
MAX_DRAWN_DISTRACTORS = 8
"""Distractor tracklets drawn per frame, highest ``dp_score`` first (a random head follows dozens: unreadable)."""
TRUTH_COLOUR = (255, 255, 255)  # RGB: the ground truth, thin
TRACKLET_FIELDS = tuple(field.name for field in dataclasses.fields(TrackletTable))
CSV_COLUMNS = ('frame', 'video_frame', 'stamp_ns', 'state', 'present', 'confidence', 'x', 'y', 'w', 'h',
               'selected_tracklet_id', 'distractors', 'latency_ms')


def result_boxes(records: Sequence[TrackRecord]) -> tuple[np.ndarray, np.ndarray]:
    """``[N, 4]`` float64 xywh boxes and ``[N]`` confidences of the records (the boxes benchmarks score)."""
    boxes = np.array([xyxy_to_xywh(r.box) for r in records], dtype=np.float64).reshape(-1, 4)  # [N, 4]
    return boxes, np.array([r.confidence for r in records], dtype=np.float64)


def evaluate_clip(clip: Clip, records: Sequence[TrackRecord], tracker: str, fps: float | None) -> TrackerEvaluation:
    """Success / precision curves and VOT-LT scores of the records on the clip (one record per clip frame).

    Raises:
        ValueError: not one record per frame.
    """
    if len(records) != len(clip):
        raise ValueError(f'{len(records)} Track records for a clip of {len(clip)} frames')
    boxes, confidences = result_boxes(records)
    height, width = clip.sequence.read_frame(0).shape[:2]
    evaluation = evaluate_sequence(clip.sequence, boxes, confidences, metrics=('success', 'precision', 'vot_lt'),
                                   image_size=(width, height))
    return aggregate(tracker, [evaluation], fps=fps)


def write_plots(evaluation: TrackerEvaluation, folder: Path, title: str) -> list[Path]:
    """``success.png`` and ``precision.png`` in ``folder``."""
    return [plot_success([evaluation], folder / 'success.png', title=f'Success plot: {title}'),
            plot_precision([evaluation], folder / 'precision.png', title=f'Precision plot: {title}')]


def write_tracks_csv(path: Path, clip: Clip, records: Sequence[TrackRecord]) -> Path:
    """One row per Track message: clip and video frame, stamp, state, presence, confidence, the box as
    ``x, y, w, h`` pixels (the benchmarks' form; the last box seen when absent), selected tracklet id, number of
    distractors, node latency."""
    path.parent.mkdir(parents=True, exist_ok=True)
    boxes, _ = result_boxes(records)
    with path.open('w', newline='') as file:
        writer = csv.writer(file)
        writer.writerow(CSV_COLUMNS)
        for record, box in zip(records, boxes, strict=True):
            writer.writerow([record.frame, clip.start + record.frame, record.stamp_ns, record.state_name,
                             int(record.present), f'{record.confidence:.4f}', *(f'{v:.2f}' for v in box),
                             record.selected_tracklet_id, len(record.distractor_ids), f'{record.latency_s * 1e3:.1f}'])
    return path


def annotate_frame(image: np.ndarray, record: TrackRecord, truth_xywh: np.ndarray, truth_absent: bool,
                   caption: str, footer: str = '') -> np.ndarray:
    """``[H, W, 3]`` uint8 RGB: the ground truth (thin white, when visible), the target (green with its
    confidence, grey "absent" at its last box when the node reports it gone), the first ``MAX_DRAWN_DISTRACTORS``
    distractor tracklets (orange, with their message ids), ``caption`` at the top and ``footer`` (plus the count
    of the distractors not drawn) at the bottom."""
    out = np.ascontiguousarray(image).copy()
    if not truth_absent and np.isfinite(truth_xywh).all():
        x0, y0, x1, y1 = np.round(xywh_to_xyxy(truth_xywh)).astype(int)
        cv2.rectangle(out, (int(x0), int(y0)), (int(x1), int(y1)), TRUTH_COLOUR, 1)
    result = record.to_track_result()
    hidden = len(result.distractors) - MAX_DRAWN_DISTRACTORS
    if hidden > 0:
        table = result.distractors
        kept = TrackletTable(*(getattr(table, name)[:MAX_DRAWN_DISTRACTORS] for name in TRACKLET_FIELDS))
        result = dataclasses.replace(result, distractors=kept)
        footer = ' | '.join(filter(None, [footer, f'+{hidden} distractors not drawn']))
    out = draw_frame_info(draw_result(out, result), caption)
    if footer:
        _footer(out, footer)
    return out


def _footer(image: np.ndarray, text: str) -> None:
    """Writes ``text`` on a black strip at the bottom-left of ``image``, in place."""
    height = image.shape[0]
    scale = max(0.4, min(image.shape[:2]) / 900)  # the size of siamrcnn_ros.drawing's labels
    (width, text_height), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    cv2.rectangle(image, (0, height - text_height - base - 4), (width + 4, height), (0, 0, 0), thickness=-1)
    cv2.putText(image, text, (2, height - base - 2), cv2.FONT_HERSHEY_SIMPLEX, scale, TRUTH_COLOUR, 1, cv2.LINE_AA)


def write_video(path: Path, clip: Clip, records: Sequence[TrackRecord], footer: str = '',
                on_frame: Callable[[], None] | None = None) -> Path:
    """The annotated clip as an MP4 (``mp4v``, ``VIDEO_FPS``), one video frame per record; ``footer`` on every
    frame (e.g. that the weights are random).

    Raises:
        RuntimeError: OpenCV cannot write the file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    truth, absent = clip.sequence.ground_truth, clip.sequence.absent
    writer = None
    try:
        for record in records:
            image = clip.sequence.read_frame(record.frame)
            gone = bool(absent[record.frame]) if absent is not None else False
            caption = f'#{clip.start + record.frame} truth: {"absent" if gone else "visible"} | node: ' \
                      f'{record.state_name.lower()}'
            annotated = annotate_frame(image, record, truth[record.frame], gone, caption, footer)
            if writer is None:
                height, width = annotated.shape[:2]
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), VIDEO_FPS, (width, height))
                if not writer.isOpened():
                    raise RuntimeError(f'OpenCV cannot write the video {path}')
            writer.write(cv2.cvtColor(annotated, cv2.COLOR_RGB2BGR))
            if on_frame is not None:
                on_frame()
    finally:
        if writer is not None:
            writer.release()
    return path
