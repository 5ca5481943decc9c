"""``siamrcnn-bench-tdpa``: TDPA's per-frame update time and memory on an endless synthetic stream (issue 4).

A robot runs for days, so neither the time of one TDPA update nor the memory may grow with the
length of the stream. This tool runs TDPA alone (no network) on a ``RandomScene`` stream (objects,
look-alikes, misses, departures and clutter; ``--objects 26`` gives about 20 detections per frame)
and measures, per frame:

* ``update``: ``TDPA.update`` (tracklet building, online DP, selection), the number the target is about;
* ``detections``: building the ``Detections`` record (it validates and copies the arrays);
* ``scoring``: the synthetic pair scores and ff-tracklet scores (``embedding_pair_scores``), which stand
  in for the network's third stage and are not TDPA's work.

It reports the median and 99th percentile of each in a window of ``--window`` frames around frame
1,000, every ``--every`` frames and at the last frame, with the live state (``TDPA.stats()``: active
tracklets, predecessor window and its capacity, stored feature rows) and the process memory (resident
set size; with ``--tracemalloc`` also Python's traced heap, which slows every frame down).

Example: ``siamrcnn-bench-tdpa --frames 200000 --plot tdpa_stream.png --json tdpa_stream.json``
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import sys
import time
import tracemalloc
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from siamrcnn_ros.tools.tdpa_scenes import RandomScene, embedding_pair_scores
from siamrcnn_ros.tracking.records import Detections
from siamrcnn_ros.tracking.settings import TDPASettings
from siamrcnn_ros.tracking.tdpa import TDPA

MIB = 1024.0 * 1024.0
TARGET_MS = 0.3
"""Issue 4: under 0.3 ms per TDPA update at about 20 detections per frame, early and late alike."""


def resident_set_mib() -> float | None:
    """Current resident set size of this process in MiB (Linux ``/proc``), None where unavailable."""
    try:
        with open('/proc/self/statm') as statm:
            pages = int(statm.read().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf('SC_PAGE_SIZE') / MIB


def peak_resident_set_mib() -> float:
    """Peak resident set size of this process so far, in MiB (``getrusage``: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MIB if sys.platform == 'darwin' else peak / 1024.0


@dataclass(frozen=True)
class Checkpoint:
    """Numbers for a window of frames ``[first, last]`` around ``frame``; times in milliseconds."""

    frame: int
    first: int
    last: int
    update_median_ms: float
    update_p99_ms: float
    detections_median_ms: float
    scoring_median_ms: float
    detections_per_frame: float
    live_tracklets: int
    active_tracklets: int
    window_tracklets: int
    window_capacity: int
    stored_feature_rows: int
    rss_mib: float | None
    traced_mib: float | None
    traced_peak_mib: float | None


@dataclass
class StreamTimes:
    """Per-frame measurements of a run, index ``t - 1`` for frame ``t``."""

    update_ms: np.ndarray
    detections_ms: np.ndarray
    scoring_ms: np.ndarray
    num_detections: np.ndarray
    sample_frames: np.ndarray  # [S] int64 frames where the live state and memory were sampled
    sample_live: np.ndarray  # [S] int64 live tracklets
    sample_rss_mib: np.ndarray  # [S] float64, NaN where unavailable
    sample_traced_mib: np.ndarray  # [S] float64 traced Python heap, NaN unless traced


def checkpoint_frames(num_frames: int, every: int, first: int = 1000) -> list[int]:
    """Frame ``first`` (if the stream is that long), every ``every`` frames, and the last frame, sorted."""
    frames = {f for f in range(every, num_frames + 1, every)} | {num_frames}
    if first <= num_frames:
        frames.add(first)
    return sorted(frames)


def window_bounds(frame: int, num_frames: int, window: int) -> tuple[int, int]:
    """``[first, last]`` frames of a window of ``window`` frames centred on ``frame``, inside ``[1, num_frames]``."""
    first = max(1, frame - window // 2)
    last = min(num_frames, first + window - 1)
    return max(1, last - window + 1), last


def run_benchmark(num_frames: int = 200_000, num_objects: int = 26, clutter: float = 1.0, max_gap: int = 1500,
                  seed: int = 0, window: int = 1000, every: int = 20_000, sample_every: int = 100,
                  trace_memory: bool = False, progress: bool = True) -> tuple[list[Checkpoint], StreamTimes]:
    """Runs TDPA on ``num_frames`` frames of a ``RandomScene`` and measures it (see the module docstring).

    Returns:
        The checkpoints (``checkpoint_frames``) and the per-frame measurements.
    """
    scene = RandomScene(num_objects=num_objects, clutter=clutter, seed=seed)
    size = scene.image_size
    tdpa = TDPA(TDPASettings(max_gap=max_gap))
    tdpa.init(scene.first_box(), scene.first_features())
    targets = checkpoint_frames(num_frames, every)
    target_set = set(targets)
    # All storage of the measurements is allocated and filled before the run, not lazily zeroed nor
    # appended to: pages first written or objects created during the run would read as growing memory.
    max_samples = num_frames // sample_every + len(targets)
    times = StreamTimes(np.full(num_frames, np.nan), np.full(num_frames, np.nan), np.full(num_frames, np.nan),
                        np.full(num_frames, -1, np.int64), np.full(max_samples, -1, np.int64),
                        np.full(max_samples, -1, np.int64), np.full(max_samples, np.nan),
                        np.full(max_samples, np.nan))
    num_samples = 0
    # The state is recorded when a checkpoint's frame is reached; times are summarised over its window after.
    state_at: dict[int, tuple] = {}
    if trace_memory:
        tracemalloc.start()
    clock = time.perf_counter_ns
    try:
        for t in tqdm(range(1, num_frames + 1), desc='TDPA frames', unit='frame', disable=not progress,
                      mininterval=0.5, smoothing=0.05):
            frame = scene.next_frame()
            t0 = clock()
            refs = tdpa.references
            scores = embedding_pair_scores(refs.boxes, refs.features, frame.boxes, frame.embeddings, size)
            ff_tracklet = np.clip(frame.embeddings @ refs.ff_features, 0.0, 1.0)
            t1 = clock()
            detections = Detections(frame.boxes, frame.ff_scores, ff_tracklet, frame.embeddings)
            t2 = clock()
            tdpa.update(detections, scores, size)
            t3 = clock()
            i = t - 1
            times.scoring_ms[i], times.detections_ms[i], times.update_ms[i] = t1 - t0, t2 - t1, t3 - t2
            times.num_detections[i] = len(detections)
            if t % sample_every == 0 or t in target_set:
                stats = tdpa.stats()
                rss = resident_set_mib()
                traced = tracemalloc.get_traced_memory() if trace_memory else None
                times.sample_frames[num_samples], times.sample_live[num_samples] = t, stats.live_tracklets
                times.sample_rss_mib[num_samples] = np.nan if rss is None else rss
                if traced is not None:
                    times.sample_traced_mib[num_samples] = traced[0] / MIB
                num_samples += 1
                if t in target_set:
                    state_at[t] = (stats, rss, traced)
    finally:
        if trace_memory:
            tracemalloc.stop()
    times.sample_frames, times.sample_live = times.sample_frames[:num_samples], times.sample_live[:num_samples]
    times.sample_rss_mib = times.sample_rss_mib[:num_samples]
    times.sample_traced_mib = times.sample_traced_mib[:num_samples]
    for array in (times.update_ms, times.detections_ms, times.scoring_ms):
        array /= 1e6  # ns -> ms
    checkpoints = []
    for target in targets:
        first, last = window_bounds(target, num_frames, window)
        span = slice(first - 1, last)
        stats, rss, traced = state_at[target]
        checkpoints.append(Checkpoint(
            frame=target, first=first, last=last,
            update_median_ms=float(np.median(times.update_ms[span])),
            update_p99_ms=float(np.percentile(times.update_ms[span], 99)),
            detections_median_ms=float(np.median(times.detections_ms[span])),
            scoring_median_ms=float(np.median(times.scoring_ms[span])),
            detections_per_frame=float(times.num_detections[span].mean()),
            live_tracklets=stats.live_tracklets, active_tracklets=stats.active_tracklets,
            window_tracklets=stats.window_tracklets, window_capacity=stats.window_capacity,
            stored_feature_rows=stats.stored_feature_rows, rss_mib=rss,
            traced_mib=None if traced is None else traced[0] / MIB,
            traced_peak_mib=None if traced is None else traced[1] / MIB))
    return checkpoints, times


def format_table(checkpoints: list[Checkpoint]) -> str:
    """A plain-text table, one row per checkpoint."""
    header = (f'{"frame":>9} {"window":>15} {"dets":>5} {"update med":>10} {"p99":>7} {"dets rec":>8} '
              f'{"scoring":>7} {"live":>6} {"in window":>9} {"capacity":>8} {"RSS MiB":>8} {"heap MiB":>8}')
    lines = [header, '-' * len(header)]
    for c in checkpoints:
        rss = '-' if c.rss_mib is None else f'{c.rss_mib:.1f}'
        heap = '-' if c.traced_mib is None else f'{c.traced_mib:.2f}'
        lines.append(f'{c.frame:>9,} {f"{c.first:,}-{c.last:,}":>15} {c.detections_per_frame:>5.1f} '
                     f'{c.update_median_ms:>10.3f} {c.update_p99_ms:>7.3f} {c.detections_median_ms:>8.3f} '
                     f'{c.scoring_median_ms:>7.3f} {c.live_tracklets:>6} {c.window_tracklets:>9} '
                     f'{c.window_capacity:>8} {rss:>8} {heap:>8}')
    lines.append('(times: median ms per frame over the window; update = TDPA.update, dets rec = building the '
                 'Detections record, scoring = synthetic pair scores; heap = traced Python heap with --tracemalloc)')
    return '\n'.join(lines)


def rolling(values: np.ndarray, width: int, q: float) -> tuple[np.ndarray, np.ndarray]:
    """Quantile ``q`` of consecutive blocks of ``width`` values: (block end frames, values)."""
    blocks = values.shape[0] // width
    if blocks == 0:
        return np.array([values.shape[0]]), np.array([np.quantile(values, q)])
    grid = values[:blocks * width].reshape(blocks, width)  # [blocks, width]
    return (np.arange(1, blocks + 1) * width), np.quantile(grid, q, axis=1)


def plot(times: StreamTimes, path: Path, width: int) -> None:
    """Time per frame (median and p99 per block of ``width`` frames) and memory/live state vs the frame index."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, (ax_time, ax_mem) = plt.subplots(2, 1, figsize=(8, 5.5), sharex=True)
    for values, label, style in ((times.update_ms, 'TDPA.update', '-'), (times.scoring_ms, 'pair scoring', ':')):
        x, median = rolling(values, width, 0.5)
        ax_time.plot(x, median, style, label=f'{label}, median')
        if label == 'TDPA.update':
            x, p99 = rolling(values, width, 0.99)
            ax_time.plot(x, p99, '-', alpha=0.5, label=f'{label}, p99')
    ax_time.axhline(TARGET_MS, color='red', linestyle='--', linewidth=1, label=f'target {TARGET_MS} ms')
    ax_time.set_ylabel(f'ms per frame (blocks of {width})')
    ax_time.set_ylim(bottom=0)
    ax_time.legend(fontsize=7, loc='upper right')
    if np.isfinite(times.sample_traced_mib).any():
        memory, label = times.sample_traced_mib, 'traced Python heap (MiB)'
    else:
        memory, label = times.sample_rss_mib, 'resident set (MiB)'
    ax_mem.plot(times.sample_frames, memory, color='tab:green')
    ax_mem.set_ylabel(label, color='tab:green')
    top = np.nanmax(memory) if np.isfinite(memory).any() else 1.0
    ax_mem.set_ylim(0, 1.2 * top)
    ax_live = ax_mem.twinx()
    ax_live.plot(times.sample_frames, times.sample_live, color='tab:purple', linewidth=0.6, label='live tracklets')
    ax_live.set_ylabel('live tracklets', color='tab:purple')
    ax_live.set_ylim(bottom=0)
    ax_mem.set_xlabel('frame')
    fig.suptitle(f'TDPA on a synthetic stream, {times.update_ms.shape[0]:,} frames', fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog='siamrcnn-bench-tdpa', description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--frames', type=int, default=200_000, help='length of the stream in frames')
    parser.add_argument('--objects', type=int, default=26,
                        help='objects in the synthetic scene (26 give about 20 detections per frame with clutter)')
    parser.add_argument('--clutter', type=float, default=1.0, help='mean number of one-frame clutter detections')
    parser.add_argument('--max-gap', type=int, default=1500, help='TDPA maximum gap between tracklets, in frames')
    parser.add_argument('--seed', type=int, default=0, help='seed of the synthetic scene')
    parser.add_argument('--window', type=int, default=1000, help='frames per timing window around a checkpoint')
    parser.add_argument('--every', type=int, default=20_000, help='a checkpoint every this many frames')
    parser.add_argument('--sample-every', type=int, default=100,
                        help='sample the live state and memory every this many frames (for the plot)')
    parser.add_argument('--tracemalloc', action='store_true',
                        help="also trace Python's heap (current and peak); slows every frame down")
    parser.add_argument('--plot', type=Path, default=None, help='write a PNG: time per frame and memory vs frame')
    parser.add_argument('--json', type=Path, default=None, help='also write the JSON results to this file')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    args = parser.parse_args(argv)
    for name in ('frames', 'objects', 'max_gap', 'window', 'every', 'sample_every'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1, got {getattr(args, name)}')
    if args.clutter < 0:
        parser.error(f'--clutter must be >= 0, got {args.clutter}')
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    try:
        checkpoints, times = run_benchmark(args.frames, args.objects, args.clutter, args.max_gap, args.seed,
                                           args.window, args.every, args.sample_every, args.tracemalloc,
                                           progress=not args.no_progress)
        if args.plot is not None:
            plot(times, args.plot, width=args.window)
    except (ValueError, OSError) as error:
        print(f'siamrcnn-bench-tdpa: error: {error}', file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    result = {
        'tool': 'siamrcnn-bench-tdpa', 'date': datetime.date.today().isoformat(),
        'frames': args.frames, 'objects': args.objects, 'clutter': args.clutter, 'max_gap': args.max_gap,
        'seed': args.seed, 'window': args.window, 'target_ms': TARGET_MS,
        'detections_per_frame': float(times.num_detections.mean()),
        'update_median_ms': float(np.median(times.update_ms)),
        'peak_rss_mib': peak_resident_set_mib(), 'elapsed_s': elapsed,
        'python': platform.python_version(), 'numpy': np.__version__, 'machine': platform.machine(),
        'processor': platform.processor(), 'cpus': os.cpu_count(),
        'checkpoints': [asdict(c) for c in checkpoints],
    }
    print(format_table(checkpoints))
    print(json.dumps(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + '\n')
    first, last = checkpoints[0], checkpoints[-1]
    worst = max(c.update_median_ms for c in checkpoints)
    verdict = 'met' if worst < TARGET_MS else 'MISSED'
    if args.tracemalloc:
        verdict = 'not judged: tracemalloc slows every frame'
    memory = []
    if first.rss_mib is not None and last.rss_mib is not None:
        memory.append(f'RSS {first.rss_mib:.1f} -> {last.rss_mib:.1f} MiB')
    if first.traced_mib is not None and last.traced_mib is not None:
        memory.append(f'Python heap {first.traced_mib:.2f} -> {last.traced_mib:.2f} MiB')
    memory_text = f' (frame {first.frame:,} -> {last.frame:,})' if memory else ''
    print(f'siamrcnn-bench-tdpa: {args.frames:,} frames, {result["detections_per_frame"]:.1f} detections/frame: '
          f'TDPA update {first.update_median_ms:.3f} ms median at frame {first.frame:,}, '
          f'{last.update_median_ms:.3f} ms at frame {last.frame:,} (target {TARGET_MS} ms: {verdict}); '
          f'{", ".join(memory)}{memory_text}; {elapsed:.0f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
