"""Makes the ground-truth boxes of the real clips (``benchmarks/real_clips/*.csv``) that
``benchmarks/real_clips.py`` scores trackers on, and draws them for checking.

Three methods, chosen per clip in ``METHODS``; all boxes are xywh pixels of the source video:

- ``keyframes``: boxes read by eye off frames drawn with a pixel grid (``--grid``) at key frames
  (``KEYFRAMES``), linearly interpolated in between (x, y, w, h each). A key frame of ``None`` starts
  a stretch where the target is absent (fully hidden or out of the picture), up to the next key frame.
  Key frames are dense (every 5 to 10 frames) where the target moves fast or irregularly.
- ``colour``: the target is the only thing of its colour nearby. Per frame, the HSV mask of that
  colour (``COLOUR``), cleaned with a 3x3 opening then closing, gives connected components; the target is the
  largest one whose box overlaps the previous frame's box grown by a margin; its bounding box is the
  ground truth.
- ``dark_blobs``: dark animals on a bright, fixed background (the zebrafish video). Background =
  per-pixel median of every 10th frame; foreground = pixels at least 25 grey levels darker; every
  connected component of 100+ pixels is an animal or a group of touching animals. All animals are
  followed at once from frame 0 (constant-velocity prediction, nearest component first, a component
  taking as many animals as its area holds). Where the target shares its component with another animal
  (a touch or a crossing) its box is interpolated between the nearest frames where it was alone.
  The animal followed is ``DARK_BLOB_TARGET``, the index of its component in frame 0 (sorted by x).

Boxes are kept at least 1 px from the left and top borders (the evaluation treats a coordinate <= 0
as invalid ground truth, SPEC §8) and inside the image.

    scripts/in-env python benchmarks/annotate_real_clips.py                 # rewrite every CSV
    scripts/in-env python benchmarks/annotate_real_clips.py --clips bikes_cyclist --check outputs/check
    scripts/in-env python benchmarks/annotate_real_clips.py --grid outputs/grid --clips bikes_cyclist \\
        --frames 76 86 96                                                    # frames to read boxes off
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from real_clips import CLIP_NAMES, CLIPS, VIDEOS, Clip, iter_frames, read_annotation, video_path, write_annotation

METHODS = {
    'carphone_face': 'keyframes',
    'carphone_bowtie': 'colour',
    'bikes_cyclist': 'keyframes',
    'bikes_bicycle': 'keyframes',
    'zebrafish_larva': 'dark_blobs',
}

# frame -> (x, y, w, h) or None (absent from there on), video frame numbers.
KEYFRAMES: dict[str, dict[int, tuple[float, float, float, float] | None]] = {
    'carphone_face': {0: (57, 13, 56, 85), 10: (57, 15, 55, 83), 20: (60, 15, 54, 85), 30: (54, 16, 55, 80),
                      40: (48, 16, 56, 82), 50: (48, 18, 56, 78), 60: (50, 14, 57, 81), 70: (45, 12, 58, 83),
                      80: (33, 12, 65, 81), 90: (22, 18, 63, 82), 100: (30, 18, 58, 82), 110: (32, 15, 58, 83),
                      119: (37, 12, 58, 83)},
    'bikes_cyclist': {76: (375, 52, 135, 213), 81: (368, 42, 135, 222), 82: (370, 40, 135, 224), 83: None,
                      103: (370, 36, 110, 232), 107: (345, 20, 128, 250), 110: (348, 20, 128, 250),
                      120: (350, 10, 132, 260), 136: (345, 3, 132, 267)},
    'bikes_bicycle': {187: (295, 10, 310, 202), 195: (290, 10, 310, 202), 203: (285, 12, 305, 200),
                      211: (278, 12, 307, 200), 219: (272, 14, 313, 198), 227: (265, 14, 315, 198),
                      233: (260, 14, 318, 198), 241: (255, 14, 320, 198)},
}

# Colour clips: (HSV ranges (lo, hi) as OpenCV's H 0-180, S, V 0-255, the first frame's box xywh).
COLOUR = {
    'carphone_bowtie': ((((0, 110, 25), (6, 255, 255)), ((165, 110, 25), (180, 255, 255))), (75, 95, 50, 25)),
}
COLOUR_MARGIN = 12  # px the previous box grows by when looking for the target's component

DARK_BLOB_TARGET = {'zebrafish_larva': 2}
DARK_THRESHOLD = 25
MIN_BLOB_AREA = 100


def interpolate_keyframes(keys: dict[int, tuple[float, float, float, float] | None], first: int,
                          last: int) -> np.ndarray:
    """``[last - first + 1, 4]`` boxes from key frames: linear between two boxes, NaN from a ``None`` on."""
    frames = sorted(keys)
    if not frames or frames[0] != first or frames[-1] != last:
        raise ValueError(f'key frames must start at {first} and end at {last}, got {frames[:1]}..{frames[-1:]}')
    boxes = np.full((last - first + 1, 4), np.nan)
    for start, stop in zip(frames, [*frames[1:], last + 1], strict=True):
        if keys[start] is None:
            continue
        a = np.array(keys[start], dtype=np.float64)
        b = np.array(keys[stop], dtype=np.float64) if stop <= last and keys[stop] is not None else a
        for frame in range(start, min(stop, last + 1)):
            t = (frame - start) / (stop - start) if stop <= last and keys[stop] is not None else 0.0
            boxes[frame - first] = a + t * (b - a)
    return boxes


def colour_boxes(clip: Clip, frames: list[np.ndarray]) -> np.ndarray:
    ranges, box = COLOUR[clip.name]
    previous = np.array(box, dtype=np.float64)
    kernel = np.ones((3, 3), np.uint8)
    boxes = []
    for frame in frames:
        hsv = cv2.cvtColor(frame, cv2.COLOR_BGR2HSV)
        mask = np.zeros(frame.shape[:2], np.uint8)
        for lo, hi in ranges:
            mask |= cv2.inRange(hsv, np.array(lo, np.uint8), np.array(hi, np.uint8))
        mask = cv2.morphologyEx(cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel), cv2.MORPH_CLOSE, kernel)
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask)
        x0, y0 = previous[0] - COLOUR_MARGIN, previous[1] - COLOUR_MARGIN
        x1, y1 = previous[0] + previous[2] + COLOUR_MARGIN, previous[1] + previous[3] + COLOUR_MARGIN
        near = [k for k in range(1, count) if stats[k, 0] < x1 and stats[k, 0] + stats[k, 2] > x0
                and stats[k, 1] < y1 and stats[k, 1] + stats[k, 3] > y0]
        if not near:
            boxes.append(np.full(4, np.nan))
            continue
        best = max(near, key=lambda k: stats[k, 4])
        previous = stats[best, :4].astype(np.float64)
        boxes.append(previous.copy())
    return np.stack(boxes)


def dark_blob_boxes(clip: Clip, frames: list[np.ndarray], report: bool = True) -> np.ndarray:
    grey = np.stack([cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) for frame in frames]).astype(np.int16)
    background = np.median(grey[::10], axis=0)
    per_frame = []  # per frame: [K, 5] stats (x, y, w, h, area) and [K, 2] centroids
    for image in grey:
        mask = ((background - image) >= DARK_THRESHOLD).astype(np.uint8)
        count, _, stats, centres = cv2.connectedComponentsWithStats(mask)
        keep = [k for k in range(1, count) if stats[k, 4] >= MIN_BLOB_AREA]
        per_frame.append((stats[keep].astype(np.float64), centres[keep]))
    centres0 = per_frame[0][1]
    order = np.argsort(centres0[:, 0])
    single_area = float(np.median(np.concatenate([s[:, 4] for s, _ in per_frame])))
    positions = centres0[order].copy()
    velocities = np.zeros_like(positions)
    assigned = np.zeros((len(frames), len(positions)), dtype=np.int64)
    alone = np.zeros((len(frames), len(positions)), dtype=bool)
    assigned[0] = order
    alone[0] = True
    for index in range(1, len(frames)):
        stats, centres = per_frame[index]
        capacity = np.maximum(1, np.round(stats[:, 4] / single_area)).astype(int)
        predicted = positions + velocities
        distances = np.linalg.norm(predicted[:, None] - centres[None], axis=2)  # [animals, components]
        choice = np.full(len(positions), -1)
        for animal, component in sorted(np.ndindex(*distances.shape), key=lambda pair: distances[pair]):
            if choice[animal] < 0 and capacity[component] > 0:
                choice[animal] = component
                capacity[component] -= 1
        for animal, component in enumerate(choice):
            if component < 0:  # more animals than room: join the nearest component
                component = choice[animal] = int(np.argmin(distances[animal]))
            new = centres[component]
            velocities[animal] = 0.5 * velocities[animal] + 0.5 * (new - positions[animal])
            positions[animal] = new
        assigned[index] = choice
        for animal, component in enumerate(choice):
            alone[index, animal] = (choice == component).sum() == 1 and stats[component, 4] < 1.6 * single_area
    target = DARK_BLOB_TARGET[clip.name]
    boxes = np.full((len(frames), 4), np.nan)
    for index in range(len(frames)):
        if alone[index, target]:
            boxes[index] = per_frame[index][0][assigned[index, target], :4]
    good = np.flatnonzero(alone[:, target])
    for column in range(4):
        boxes[:, column] = np.interp(np.arange(len(frames)), good, boxes[good, column])
    if report:
        print(f'{clip.name}: single-animal area {single_area:.0f} px; target alone in {len(good)}/{len(frames)} '
              f'frames; interpolated frames {np.flatnonzero(~alone[:, target]).tolist()}')
    return boxes


def keep_inside(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Boxes clipped to ``[1, width - 1] x [1, height - 1]`` (NaN rows stay NaN)."""
    x0 = np.clip(boxes[:, 0], 1, width - 1)
    y0 = np.clip(boxes[:, 1], 1, height - 1)
    x1 = np.clip(boxes[:, 0] + boxes[:, 2], 1, width - 1)
    y1 = np.clip(boxes[:, 1] + boxes[:, 3], 1, height - 1)
    return np.stack([x0, y0, x1 - x0, y1 - y0], axis=1)


def annotate(clip: Clip) -> np.ndarray:
    method = METHODS[clip.name]
    if method == 'keyframes':
        boxes = interpolate_keyframes(KEYFRAMES[clip.name], clip.first, clip.last)
    else:
        frames = list(iter_frames(video_path(VIDEOS[clip.video]), clip.first, clip.last))
        boxes = colour_boxes(clip, frames) if method == 'colour' else dark_blob_boxes(clip, frames)
    return keep_inside(boxes, clip.width, clip.height)


def draw(clip: Clip, folder: Path, every: int) -> None:
    """Writes every ``every``-th frame with its annotated box (green) as PNG under ``folder/<clip>/``."""
    boxes, _ = read_annotation(clip)
    out = folder / clip.name
    out.mkdir(parents=True, exist_ok=True)
    for offset, frame in enumerate(iter_frames(video_path(VIDEOS[clip.video]), clip.first, clip.last)):
        if offset % every and offset != clip.num_frames - 1:
            continue
        box = boxes[offset]
        if np.isfinite(box).all():
            x, y, w, h = np.round(box).astype(int)
            cv2.rectangle(frame, (x, y), (x + w, y + h), (0, 255, 0), 1 if clip.width < 300 else 2)
        cv2.putText(frame, str(clip.first + offset), (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 255, 255), 1)
        cv2.imwrite(str(out / f'{clip.first + offset:05d}.png'), frame)


def draw_grid(clip: Clip, folder: Path, wanted: list[int]) -> None:
    """Writes the given frames enlarged with a labelled pixel grid, to read key-frame boxes off."""
    folder.mkdir(parents=True, exist_ok=True)
    step = 25 if clip.width < 300 else 50
    scale = max(1.0, 800 / clip.width)
    for offset, frame in enumerate(iter_frames(video_path(VIDEOS[clip.video]), clip.first, clip.last)):
        if clip.first + offset not in wanted:
            continue
        image = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        for x in range(0, clip.width, step):
            cv2.line(image, (int(x * scale), 0), (int(x * scale), image.shape[0]), (0, 255, 255), 1)
            cv2.putText(image, str(x), (int(x * scale) + 2, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 255, 255), 1)
        for y in range(0, clip.height, step):
            cv2.line(image, (0, int(y * scale)), (image.shape[1], int(y * scale)), (255, 255, 0), 1)
            cv2.putText(image, str(y), (2, int(y * scale) + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0), 1)
        cv2.imwrite(str(folder / f'{clip.name}_{clip.first + offset:05d}.png'), image)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--clips', nargs='+', default=list(CLIP_NAMES), choices=CLIP_NAMES, help='clips to annotate')
    parser.add_argument('--check', type=Path, help='draw the boxes on frames into this folder instead of annotating')
    parser.add_argument('--every', type=int, default=10, help='with --check: draw every N-th frame')
    parser.add_argument('--grid', type=Path, help='draw --frames with a pixel grid into this folder instead')
    parser.add_argument('--frames', type=int, nargs='*', default=[], help='with --grid: video frame numbers')
    args = parser.parse_args(argv)
    for clip in CLIPS:
        if clip.name not in args.clips:
            continue
        if args.grid:
            draw_grid(clip, args.grid, args.frames)
        elif args.check:
            draw(clip, args.check, args.every)
        else:
            boxes = annotate(clip)
            boxed = np.isfinite(boxes).all(axis=1).sum()
            print(f'{write_annotation(clip, boxes)}: {boxed}/{len(boxes)} frames with a box')
    return 0


if __name__ == '__main__':
    sys.exit(main())
