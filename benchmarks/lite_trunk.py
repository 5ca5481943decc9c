"""EfficientNet-Lite trunk: TF-"same" against symmetric padding, and the strides 4, 8 and 16 (issue 17).

For each variant (``--variants``) and padding (``tf_same``, ``symmetric``) of the ImageNet-trained trunk
(``siamrcnn_ros.model.efficientnet_lite``) it measures:

1. ImageNet classification of scikit-image's ``chelsea`` (expected class 282, tiger cat) and ``coffee`` (967,
   espresso): the raw 224 x 224 centre crop (no resize), input ``(rgb - 127) / 128``; the top-1 class and the
   softmax probability of the expected class.
2. Feature discrimination on the synthetic world's photo videos (``--world``/``--split``, GOT-10k layout, every
   object's boxes from ``objects.json``): for pairs (frame 0, frame t), t in ``--frames``, the frames resized as
   the ``demo`` preset does (short edge ``--min-size``, long edge at most ``--max-size``, zero-padded to a multiple
   of 32), the trunk run stage by stage, and the outputs of stride 4, 8 and 16 (stage2, stage3, stage5) pooled by
   RoIAlign 7 x 7 (``spatial_scale = 1 / stride``, ``sampling_ratio = 2``, ``aligned=False``, as torchvision's
   ``MultiScaleRoIAlign``). The template is the target's (object 0) box in frame 0; the score of a box in frame t
   is the cosine similarity of the flattened features. Reported: the pairwise ranking accuracy of the target's
   own box in frame t against every other present object's box (all, look-alikes, others), and against
   ``--background`` random boxes of the target's size that overlap no object (IoU < 0.1). 0.5 is chance.
3. The trunk's time (stem to stage7) per 320 x 512 image on one thread, the median of ``--repeats`` runs; and
   the time the layers of a stride-4 FPN level would add on that image (lateral 1x1, 3x3 output conv, the RPN's
   shared 3x3 conv and its 1x1 predictors with ``--fpn-channels``), the level's extra cost.

    scripts/in-env nice -n 15 python benchmarks/lite_trunk.py                       # Lite0, 10 val videos
    scripts/in-env nice -n 15 python benchmarks/lite_trunk.py --variants efficientnet_lite0 efficientnet_lite2

Prints markdown tables and writes ``<output-dir>/lite_trunk.json``.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F  # noqa: N812
from torchvision.ops import box_iou, roi_align
from tqdm import tqdm

from siamrcnn_ros.datasets import read_training_videos
from siamrcnn_ros.model import efficientnet_lite

STRIDES = (4, 8, 16)
PHOTOS = (('chelsea', 282), ('coffee', 967))
ROI_SIZE = 7
SAMPLING_RATIO = 2
SIZE_DIVISIBLE = 32
TIMING_SIZE = (320, 512)  # (H, W)
OUTPUT_NAME = 'lite_trunk.json'


def normalise(rgb: np.ndarray) -> Tensor:
    """``[H, W, 3]`` uint8 RGB -> ``[1, 3, H, W]`` float32, ``(rgb - 127) / 128`` as the weights were trained."""
    mean = torch.tensor(efficientnet_lite.INPUT_MEAN)[:, None, None]
    std = torch.tensor(efficientnet_lite.INPUT_STD)[:, None, None]
    return ((torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float() - mean) / std)[None]


def centre_crop(image: np.ndarray, size: int = 224) -> np.ndarray:
    """The ``size`` x ``size`` centre of an ``[H, W, 3]`` image, not resized."""
    height, width = image.shape[:2]
    y, x = (height - size) // 2, (width - size) // 2
    return image[y:y + size, x:x + size]


def resize_frame(rgb: np.ndarray, min_size: int, max_size: int) -> tuple[Tensor, float]:
    """Resize as the presets' transform (short edge ``min_size``, long edge at most ``max_size``), normalise and
    zero-pad to a multiple of ``SIZE_DIVISIBLE``. Returns ``([1, 3, H_pad, W_pad], scale)``."""
    height, width = rgb.shape[:2]
    scale = min(min_size / min(height, width), max_size / max(height, width))
    size = (round(width * scale), round(height * scale))
    image = normalise(cv2.resize(rgb, size, interpolation=cv2.INTER_LINEAR))
    pad_h = -image.shape[-2] % SIZE_DIVISIBLE
    pad_w = -image.shape[-1] % SIZE_DIVISIBLE
    return F.pad(image, [0, pad_w, 0, pad_h]), scale


def stride_features(trunk: nn.Sequential, image: Tensor) -> dict[int, Tensor]:
    """The trunk's outputs at ``STRIDES`` (``stage_for_stride``), running stage by stage up to the last needed."""
    wanted = {efficientnet_lite.stage_for_stride(s): s for s in STRIDES}
    features: dict[int, Tensor] = {}
    x = image
    for name, module in trunk.named_children():
        x = module(x)
        if name in wanted:
            features[wanted[name]] = x
            if len(features) == len(wanted):
                break
    return features


def pooled(features: dict[int, Tensor], boxes: Tensor) -> dict[int, Tensor]:
    """``[B, C * 7 * 7]`` unit-length RoIAlign features of ``boxes`` (``[B, 4]`` xyxy resized pixels) per stride."""
    out = {}
    for stride, feature in features.items():
        rois = roi_align(feature, [boxes.float()], ROI_SIZE, spatial_scale=1.0 / stride,
                         sampling_ratio=SAMPLING_RATIO, aligned=False)
        out[stride] = F.normalize(rois.flatten(1), dim=1)
    return out


def background_boxes(rng: np.random.Generator, size: tuple[float, float], objects: np.ndarray,
                     image_hw: tuple[int, int], count: int, max_tries: int = 2000) -> np.ndarray:
    """Up to ``count`` boxes ``[K, 4]`` of ``size`` (w, h) inside the image with IoU < 0.1 against every box of
    ``objects`` ``[M, 4]`` (all xyxy, the same pixels)."""
    width, height = size
    image_h, image_w = image_hw
    found: list[list[float]] = []
    others = torch.from_numpy(objects).float()
    for _ in range(max_tries):
        if len(found) == count:
            break
        x0 = rng.uniform(0, max(image_w - width, 0))
        y0 = rng.uniform(0, max(image_h - height, 0))
        box = [x0, y0, x0 + width, y0 + height]
        if float(box_iou(torch.tensor([box]), others).max()) < 0.1:
            found.append(box)
    return np.asarray(found, dtype=np.float64).reshape(-1, 4)


def object_roles(video_folder: Path, count: int) -> list[str]:
    """Each object's role (``target``, ``lookalike``, ``other``) from ``objects.json``; ``'other'`` if absent."""
    path = video_folder / 'objects.json'
    if not path.is_file():
        return ['other'] * count
    return [str(entry.get('role', 'other')) for entry in json.loads(path.read_text())['objects']]


def load_pairs(world: Path, split: str, videos: int, frames: list[int], min_size: int, max_size: int,
               background: int, seed: int) -> list[dict]:
    """The (frame 0, frame t) cases: resized images and the boxes to pool, shared by every trunk."""
    cases = []
    for video_index, video in enumerate(read_training_videos(world, 'synthetic', split)[:videos]):
        roles = object_roles(video.frames[0].parent, len(video.object_ids))
        boxes = video.boxes  # [O, N, 4] xyxy, NaN where absent
        if np.isnan(boxes[0, 0]).any():
            continue
        first, scale0 = resize_frame(video.read_frame(0), min_size, max_size)
        template = torch.from_numpy(boxes[0, 0] * scale0)[None]
        for t in frames:
            if t >= len(video) or np.isnan(boxes[0, t]).any():
                continue
            rgb = video.read_frame(t)
            image, scale = resize_frame(rgb, min_size, max_size)
            present = [k for k in range(boxes.shape[0]) if not np.isnan(boxes[k, t]).any()]
            scaled = boxes[present, t] * scale  # target first: present[0] == 0
            target = scaled[0]
            resized_hw = (round(rgb.shape[0] * scale), round(rgb.shape[1] * scale))
            rng = np.random.default_rng([seed, video_index, t])
            size = (target[2] - target[0], target[3] - target[1])
            cases.append({'video': video.name, 't': t, 'first': first, 'image': image, 'template': template,
                          'boxes': torch.from_numpy(scaled), 'roles': [roles[k] for k in present],
                          'background': torch.from_numpy(background_boxes(rng, size, scaled, resized_hw, background)),
                          'target_size': float(np.sqrt(size[0] * size[1]))})
    return cases


def classify(network: efficientnet_lite.EfficientNetLite) -> list[dict]:
    """Top-1 and the expected class's probability for each of ``PHOTOS``."""
    from skimage import data as skimage_data
    rows = []
    for photo, expected in PHOTOS:
        with torch.no_grad():
            probabilities = network(normalise(centre_crop(getattr(skimage_data, photo)()))).softmax(dim=1)[0]
        rows.append({'photo': photo, 'expected': expected, 'top1': int(probabilities.argmax()),
                     'top1_probability': float(probabilities.max()),
                     'expected_probability': float(probabilities[expected])})
    return rows


def discriminate(trunk: nn.Sequential, cases: list[dict], label: str, small: float) -> dict[int, dict]:
    """Ranking accuracies per stride: the target's box in frame t against each other object and background box;
    ``small_objects``: against other objects where the target is smaller than ``small`` px (sqrt of area)."""
    counts = {s: {'objects': [0, 0], 'lookalike': [0, 0], 'other': [0, 0], 'small_objects': [0, 0],
                  'background': [0, 0]} for s in STRIDES}
    first_cache: dict[tuple[str, int], dict[int, Tensor]] = {}
    for case in tqdm(cases, desc=f'pairs {label}', leave=False):
        with torch.no_grad():
            key = (case['video'], id(case['first']))
            if key not in first_cache:
                first_cache[key] = pooled(stride_features(trunk, case['first']), case['template'])
            template = first_cache[key]
            features = stride_features(trunk, case['image'])
            candidates = torch.cat([case['boxes'], case['background']])
            scores = {s: (pooled(features, candidates)[s] @ template[s][0]) for s in STRIDES}
        object_count = len(case['boxes'])
        for stride, score in scores.items():
            target = float(score[0])
            for k in range(1, object_count):
                won = int(target > float(score[k]))
                groups = ['objects', 'lookalike' if case['roles'][k] == 'lookalike' else 'other']
                for group in groups + (['small_objects'] if case['target_size'] < small else []):
                    counts[stride][group][0] += won
                    counts[stride][group][1] += 1
            for value in score[object_count:].tolist():
                counts[stride]['background'][0] += int(target > value)
                counts[stride]['background'][1] += 1
    return {s: {group: {'wins': wins, 'cases': total, 'accuracy': wins / total if total else None}
                for group, (wins, total) in groups.items()} for s, groups in counts.items()}


def time_round_robin(modules: dict[str, tuple[nn.Module, Tensor]], repeats: int) -> dict[str, dict[str, list[float]]]:
    """Milliseconds per call of each ``module(x)``, wall clock and the calling thread's CPU time (``time.thread_time``:
    with one torch thread the work runs in this thread, so other processes' load leaves it nearly unchanged). The
    modules take turns (after one warm-up call each), so that a load that comes and goes falls on all alike."""
    times: dict[str, dict[str, list[float]]] = {name: {'wall': [], 'cpu': []} for name in modules}
    with torch.no_grad():
        for module, x in modules.values():
            module(x)
        for _ in tqdm(range(repeats), desc='timing', leave=False):
            for name, (module, x) in modules.items():
                wall, cpu = time.perf_counter(), time.thread_time()
                module(x)
                times[name]['cpu'].append((time.thread_time() - cpu) * 1e3)
                times[name]['wall'].append((time.perf_counter() - wall) * 1e3)
    return times


def stride4_level(stage2_channels: int, fpn_channels: int, anchors: int) -> tuple[nn.Module, Tensor]:
    """The layers a stride-4 FPN level adds, and a stage2 output of a ``TIMING_SIZE`` image to time them on
    (untrained weights: the cost does not depend on them): the FPN's lateral 1x1 and 3x3 output convs, the RPN's
    shared 3x3 conv and its 1x1 objectness and box predictors."""
    level = nn.Sequential(nn.Conv2d(stage2_channels, fpn_channels, 1),
                          nn.Conv2d(fpn_channels, fpn_channels, 3, padding=1),
                          nn.Conv2d(fpn_channels, fpn_channels, 3, padding=1), nn.ReLU(),
                          nn.Conv2d(fpn_channels, anchors * 5, 1)).eval()
    return level, torch.randn(1, stage2_channels, TIMING_SIZE[0] // 4, TIMING_SIZE[1] // 4)


def _ms(times: dict[str, list[float]]) -> str:
    """Median thread CPU ms and median wall ms."""
    return f"{np.median(times['cpu']):.0f} / {np.median(times['wall']):.0f}"


def markdown_tables(results: dict) -> str:
    """The results as markdown tables (classification and time; discrimination per stride)."""
    lines = ['| variant | padding | chelsea top-1 (p of 282) | coffee top-1 (p of 967) '
             '| trunk ms at 320x512, 1 thread (CPU / wall, medians) |', '|---|---|---|---|---|']
    for run in results['runs']:
        cells = [f"{row['top1']} ({row['expected_probability']:.3f})" for row in run['classification']]
        lines.append(f"| {run['variant']} | {run['padding']} | {' | '.join(cells)} | {_ms(run['trunk_ms'])} |")
    lines += ['', f"| variant | padding | stride | vs other objects | vs look-alikes | vs others "
              f"| vs other objects, target < {results['settings']['small']:g} px | vs background |",
              '|---|---|---|---|---|---|---|---|']
    for run in results['runs']:
        for stride in STRIDES:
            groups = run['discrimination'][str(stride)]
            cells = [f"{groups[g]['accuracy']:.3f} ({groups[g]['cases']})" if groups[g]['cases'] else '-'
                     for g in ('objects', 'lookalike', 'other', 'small_objects', 'background')]
            lines.append(f"| {run['variant']} | {run['padding']} | {stride} | {' | '.join(cells)} |")
    lines.append('')
    for variant, level in results['stride4_level'].items():
        lines.append(f"{variant}: a stride-4 FPN level ({level['fpn_channels']} channels: lateral 1x1, 3x3 output, "
                     f"RPN 3x3 conv and predictors) at {TIMING_SIZE[0]}x{TIMING_SIZE[1]} costs {_ms(level['ms'])} ms "
                     f"(CPU / wall, medians) on one thread and adds {level['anchors']} anchors "
                     f"({level['cells']} cells).")
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--variants', nargs='+', default=['efficientnet_lite0'],
                        choices=list(efficientnet_lite.VARIANTS),
                        help='EfficientNet-Lite variants to measure (default: efficientnet_lite0)')
    parser.add_argument('--paddings', nargs='+', default=list(efficientnet_lite.PADDINGS),
                        choices=list(efficientnet_lite.PADDINGS), help='trunk paddings to compare (default: both)')
    parser.add_argument('--world', type=Path, default=Path('data/synthetic'),
                        help='synthetic world folder (the photo world)')
    parser.add_argument('--split', default='val', help='split of the world to read (default: val)')
    parser.add_argument('--videos', type=int, default=10, help='use the first this-many videos of the split')
    parser.add_argument('--frames', type=int, nargs='+', default=[10, 30, 60, 90],
                        help='frame indices t (0-based) paired with frame 0 in each video')
    parser.add_argument('--background', type=int, default=20,
                        help='random background boxes of the target size per pair (IoU < 0.1 with every object)')
    parser.add_argument('--min-size', type=int, default=320, help='short edge of the resized frames (demo preset)')
    parser.add_argument('--max-size', type=int, default=512, help='upper bound of the long edge (demo preset)')
    parser.add_argument('--repeats', type=int, default=5, help='timed runs per trunk (median reported)')
    parser.add_argument('--fpn-channels', type=int, default=128,
                        help='FPN channels for the stride-4 level cost estimate (demo preset: 128)')
    parser.add_argument('--anchors', type=int, default=2, help='anchors per cell on the stride-4 level (demo: 2)')
    parser.add_argument('--threads', type=int, default=1, help='torch threads for everything (timings use 1 anyway)')
    parser.add_argument('--small', type=float, default=32.0,
                        help='targets below this size (sqrt of area, resized px) also count in a small-target column')
    parser.add_argument('--seed', type=int, default=0, help='seed of the background boxes')
    parser.add_argument('--output-dir', type=Path, default=Path('outputs/lite_trunk'),
                        help=f'folder for {OUTPUT_NAME}')
    args = parser.parse_args(argv)
    if not (args.world / args.split).is_dir():
        print(f'lite_trunk: no such split folder: {args.world / args.split} (make the world with '
              'scripts/in-env siamrcnn-make-world --root data/synthetic)', file=sys.stderr)
        return 2
    started = time.perf_counter()
    torch.manual_seed(args.seed)
    cases = load_pairs(args.world, args.split, args.videos, args.frames, args.min_size, args.max_size,
                       args.background, args.seed)
    if not cases:
        print('lite_trunk: no (frame 0, frame t) pair with the target present in both', file=sys.stderr)
        return 2
    timing_input = normalise(np.zeros((*TIMING_SIZE, 3), np.uint8))
    torch.set_num_threads(args.threads)
    runs, timed = [], {}
    for variant, padding in tqdm([(v, p) for v in args.variants for p in args.paddings], desc='trunks'):
        network = efficientnet_lite.EfficientNetLite(variant, padding=padding)
        efficientnet_lite.load_imagenet_weights(network)
        trunk = network.eval().trunk()
        runs.append({'variant': variant, 'padding': padding, 'classification': classify(network),
                     'discrimination': {str(s): v for s, v in
                                        discriminate(trunk, cases, f'{variant} {padding}', args.small).items()}})
        timed[f'{variant} {padding}'] = (trunk, timing_input)
    for variant in args.variants:
        channels = efficientnet_lite.stage_layout(variant)[1][4]  # stage2's output channels
        timed[f'{variant} stride-4 level'] = stride4_level(channels, args.fpn_channels, args.anchors)
    torch.set_num_threads(1)
    times = time_round_robin(timed, args.repeats)
    for run in runs:
        run['trunk_ms'] = times[f"{run['variant']} {run['padding']}"]  # {'wall': [...], 'cpu': [...]}
    levels = {variant: {'ms': times[f'{variant} stride-4 level'], 'fpn_channels': args.fpn_channels,
                        'cells': (TIMING_SIZE[0] // 4) * (TIMING_SIZE[1] // 4),
                        'anchors': (TIMING_SIZE[0] // 4) * (TIMING_SIZE[1] // 4) * args.anchors}
              for variant in args.variants}
    results = {
        'argv': sys.argv[1:] if argv is None else list(argv),
        'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'machine': {'cpu_count': os.cpu_count(), 'processor': platform.processor() or platform.machine(),
                    'load_average': list(os.getloadavg()), 'torch': torch.__version__},
        'settings': {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        'pairs': len(cases), 'videos': len({c['video'] for c in cases}),
        'target_size_median': float(np.median([c['target_size'] for c in cases])),
        'runs': runs, 'stride4_level': levels,
        'seconds': time.perf_counter() - started,
    }
    print(f"{results['pairs']} pairs from {results['videos']} videos, median target size "
          f"{results['target_size_median']:.0f} px (sqrt of area, resized); {results['seconds']:.0f} s")
    print(markdown_tables(results))
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / OUTPUT_NAME).write_text(json.dumps(results, indent=1))
    print(f'wrote {args.output_dir / OUTPUT_NAME}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
