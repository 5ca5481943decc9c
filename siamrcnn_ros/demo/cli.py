"""``siamrcnn-demo`` (``make demo``): the ROS 2 node tracking a held-out synthetic long-term video, end to end.

1. the synthetic world is written into --world-root if it is not there (seeded: the same world every time);
   the clip is part of one of its long-term test videos, with look-alikes of the target in view and a
   disappearance of the target (siamrcnn_ros.demo.clip says how it is chosen);
2. siamrcnn_node runs as its own process (the real node: lifecycle, worker thread, messages), on a free
   DDS domain with discovery on this machine only;
3. this process plays the clip's frames as sensor_msgs/Image, sets the target from the first frame's ground
   truth (~/set_target), and records the Track messages; each frame is published after the node has
   answered the previous one, so no frame is dropped and the results do not depend on the machine's load;
4. the node is stopped with Ctrl-C; the outputs are written and the summary printed.

Outputs in --output-dir: demo.mp4 (target, distractor tracklets, absent frames, ground truth in white),
success.png and precision.png, tracks.csv (every Track: x,y,w,h, confidence, state, ...), summary.json,
node.log (the node's own log).

The node loads the demo preset's shipped checkpoint (checkpoints/demo.safetensors, trained on the synthetic
world: checkpoints/README.md). Without it the re-detection head has random weights: the pipeline is real,
the scores are meaningless, and the demo says so.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

from tqdm import tqdm

from siamrcnn_ros.boxes import xywh_to_xyxy
from siamrcnn_ros.demo.clip import Clip, choose_clip, ensure_world, world_frames
from siamrcnn_ros.demo.node_process import NodeError, NodeProcess, node_command
from siamrcnn_ros.demo.outputs import evaluate_clip, write_plots, write_tracks_csv, write_video
from siamrcnn_ros.demo.player import Player, frame_stamps
from siamrcnn_ros.demo.records import TrackRecord, record_from_track
from siamrcnn_ros.model.default_weights import SHIPPED, shipped_checkpoint
from siamrcnn_ros.synthetic.settings import PRESETS as WORLD_PRESETS

DEFAULT_CHECKPOINT = Path('checkpoints') / SHIPPED['demo']
IMAGE_TOPIC = '/demo_camera/image_raw'
RANDOM_WARNING = ('RANDOM WEIGHTS: no trained checkpoint ({missing} not found), the re-detection head is random. '
                  'The pipeline is real; the boxes and scores are MEANINGLESS.')
SUMMARY_KEYS = ('success_auc', 'precision_20', 'vot_lt_f', 'frames', 'fps', 'weights', 'weights_trained')


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='siamrcnn-demo', description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split('\n\n', 1)[1])
    parser.add_argument('--output-dir', default='outputs/demo', help='where the outputs go; default: %(default)s')
    parser.add_argument('--frames', type=int, default=300,
                        help='frames to play (about 0.3 s each on 2 CPU cores); default: %(default)s')
    parser.add_argument('--world-root', default='data/synthetic',
                        help='the synthetic world: used if there, else written there; default: %(default)s')
    parser.add_argument('--world-preset', default='demo', choices=sorted(WORLD_PRESETS),
                        help='settings of the world when it is written (tiny: seconds, for tests); '
                             'default: %(default)s')
    parser.add_argument('--video', default=None, help='long-term video to play (e.g. rectangle-1); default: chosen')
    parser.add_argument('--start', type=int, default=None,
                        help='first frame (0-based) of the video to play; default: chosen to show a disappearance')
    parser.add_argument('--checkpoint', default=None,
                        help=f'trained checkpoint for the node (model.checkpoint); default: {DEFAULT_CHECKPOINT} '
                             'when it exists, else random weights')
    parser.add_argument('--device', default='cpu',
                        help='model.device of the node: cpu, cuda, auto; default: %(default)s')
    parser.add_argument('--domain-id', type=int, default=None,
                        help='ROS_DOMAIN_ID for the node and the player; default: a random one where no node is seen')
    parser.add_argument('--start-timeout', type=float, default=180.0,
                        help='seconds for the node to load the model and become active; default: %(default)s')
    parser.add_argument('--frame-timeout', type=float, default=120.0,
                        help='seconds to wait for the node to answer one frame; default: %(default)s')
    parser.add_argument('--resend-after', type=float, default=10.0,
                        help='publish a frame again when unanswered for this long (lost in transport); '
                             'default: %(default)s')
    parser.add_argument('--no-progress', action='store_true', help='no progress bars')
    return parser


def resolve_checkpoint(given: str | None) -> tuple[Path | None, str]:
    """The checkpoint to load and how to name the weights in the summary.

    Raises:
        FileNotFoundError: ``given`` does not exist.
    """
    if given is not None:
        path = Path(given)
        if not path.is_file():
            raise FileNotFoundError(f'checkpoint not found: {path}')
        return path, f'trained checkpoint {path}'
    shipped = shipped_checkpoint('demo')
    if shipped is not None:
        return shipped, f'trained checkpoint {shipped}'
    return None, 'RANDOM (no trained checkpoint: the scores are meaningless)'


def run(args: argparse.Namespace) -> dict[str, object]:
    """The whole demo as ``args`` say; returns the summary (also written to ``summary.json``)."""
    if args.frames < 2:
        raise ValueError(f'--frames must be at least 2, got {args.frames}')
    started = time.perf_counter()
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    checkpoint, weights = resolve_checkpoint(args.checkpoint)
    if checkpoint is None:
        _shout(RANDOM_WARNING.format(missing=DEFAULT_CHECKPOINT))

    with tqdm(total=world_frames(args.world_preset), unit='frame', desc='synthetic world', leave=False,
              disable=args.no_progress) as bar:
        world = ensure_world(args.world_root, args.world_preset, on_frame=bar.update)
    if world.generated:
        print(f'siamrcnn-demo: wrote the synthetic world ({world.preset} preset) to {world.root} in '
              f'{world.seconds:.0f} s')
    clip = choose_clip(world.root, args.frames, video=args.video, start=args.start)
    absent_frames = int(clip.sequence.absent.sum()) if clip.sequence.absent is not None else 0
    print(f'siamrcnn-demo: playing {clip.video} frames {clip.start}-{clip.start + len(clip) - 1} ({len(clip)}): '
          f'"{clip.description}"; the target is absent in {absent_frames} of them (clip frames '
          f'{", ".join(f"{a}-{b - 1}" for a, b in clip.gaps) or "none"})')

    node_log = output_dir / 'node.log'
    tracked = _track(args, clip, checkpoint, node_log)
    records, timing = tracked['records'], tracked['timing']

    outputs_started = time.perf_counter()
    fps = (len(records) - 1) / timing['answers_s'] if timing['answers_s'] > 0 else None
    label = 'Siam R-CNN node' + (' (RANDOM weights)' if checkpoint is None else '')
    evaluation = evaluate_clip(clip, records, label, fps)
    footer = 'RANDOM WEIGHTS' if checkpoint is None else ''
    with tqdm(total=len(records), unit='frame', desc='video', leave=False, disable=args.no_progress) as bar:
        video = write_video(output_dir / 'demo.mp4', clip, records, footer, on_frame=bar.update)
    title = f'{clip.video}, frames {clip.start}-{clip.start + len(clip) - 1}'
    paths = [video, *write_plots(evaluation, output_dir, title),
             write_tracks_csv(output_dir / 'tracks.csv', clip, records), node_log]
    scores = evaluation.summary()
    latencies = [r.latency_s for r in records[1:]] or [records[0].latency_s]
    summary = {
        'success_auc': scores['success_auc'],
        'precision_20': scores['precision_20'],
        'vot_lt_f': scores['vot_lt_f'],
        'frames': len(records),
        'fps': fps,
        'weights': weights,
        'weights_trained': checkpoint is not None,
        'checkpoint': None if checkpoint is None else str(checkpoint),
        'node_ms_per_frame': 1e3 * sum(latencies) / len(latencies),
        'frames_published': len(clip),
        'resends': tracked['resends'],
        'node_exit_status': tracked['exit_status'],
        'node_summary': tracked['node_summary'],
        'frames_reported_absent': sum(not r.present for r in records),
        'frames_truth_absent': absent_frames,
        'mean_distractors': sum(len(r.distractor_ids) for r in records) / len(records),
        'clip': {'video': clip.video, 'folder': str(clip.folder), 'start': clip.start, 'frames': len(clip),
                 'description': clip.description, 'lookalikes': clip.lookalikes, 'absent_runs': clip.gaps},
        'world': {'root': str(world.root), 'generated': world.generated, 'preset': world.preset},
        'device': args.device,
        'domain_id': tracked['domain_id'],
        'seconds': {'world': world.seconds, 'node_start': timing['node_start_s'], 'tracking': timing['tracking_s'],
                    'outputs': time.perf_counter() - outputs_started},
        'outputs': [str(p) for p in paths],
    }
    summary['seconds']['total'] = time.perf_counter() - started
    summary_path = output_dir / 'summary.json'
    summary['outputs'].append(str(summary_path))
    summary_path.write_text(json.dumps(summary, indent=1) + '\n')
    return summary


def _track(args: argparse.Namespace, clip: Clip, checkpoint: Path | None, node_log: Path) -> dict[str, object]:
    """Runs the node and plays the clip; returns the records, resends, timings and how the node ended."""
    # Paced playback: the next image comes only after the node's answer, so on a loaded machine the gap between
    # images is a whole processing time; the node's "no image for 5 s" warning would be a false alarm.
    command = node_command(preset='demo', checkpoint=checkpoint, device=args.device, image_topic=IMAGE_TOPIC,
                           extra_parameters={'no_image_warning_s': '60.0'})
    with Player.on_free_domain(IMAGE_TOPIC, args.domain_id) as player:
        print(f'siamrcnn-demo: starting siamrcnn_node (ROS_DOMAIN_ID={player.domain_id}, log {node_log})')
        node_started = time.perf_counter()
        with NodeProcess(command, node_log, player.domain_id) as node:
            player.wait_active(node, args.start_timeout)
            active = time.perf_counter()
            stamps = frame_stamps(time.time_ns(), len(clip))
            frame_of_stamp = {stamp: index for index, stamp in enumerate(stamps)}
            target_id = player.set_target(xywh_to_xyxy(clip.sequence.ground_truth[0]), stamps[0], node,
                                          args.frame_timeout)
            records: list[TrackRecord] = []
            answered: list[float] = []
            frames = tqdm(clip.sequence.iter_frames(), total=len(clip), unit='frame', desc='tracking (node)',
                          disable=args.no_progress)
            for index, rgb in enumerate(frames):
                array = player.play_frame(rgb, stamps[index], node, args.frame_timeout, args.resend_after)
                answered.append(time.perf_counter())
                track = next((t for t in array.tracks if t.target_id == target_id), None)
                if track is None:
                    states = [(t.target_id, t.state) for t in array.tracks]
                    raise RuntimeError(f'the node answered frame {index} without a Track for target {target_id} '
                                       f'(tracks: {states})\n{node.log_tail()}')
                records.append(record_from_track(track, frame_of_stamp))
                frames.set_postfix_str(f'{records[-1].state_name.lower()} {records[-1].confidence:.2f}', refresh=False)
            frames.close()
            exit_status = node.stop()
        domain_id = player.domain_id
    if exit_status != 0:
        print(f'siamrcnn-demo: warning: the node exited with status {exit_status} after Ctrl-C\n{node.log_tail()}',
              file=sys.stderr)
    timing = {'node_start_s': active - node_started, 'tracking_s': answered[-1] - active,
              'answers_s': answered[-1] - answered[0]}
    return {'records': records, 'resends': player.resends, 'exit_status': exit_status, 'domain_id': domain_id,
            'node_summary': node.summary_line(), 'timing': timing}


def _shout(text: str) -> None:
    line = '!' * min(100, len(text) + 4)
    print(f'{line}\n! {text}\n{line}', file=sys.stderr)


def format_summary(summary: dict[str, object]) -> str:
    """The printed summary: scores, speed, weights, outputs, wall times."""
    clip, seconds = summary['clip'], summary['seconds']
    fps = 'n/a' if summary['fps'] is None else f"{summary['fps']:.2f}"
    rows = [
        ('video', f"{clip['video']} frames {clip['start']}-{clip['start'] + clip['frames'] - 1}: "
                  f"{clip['description']}; target absent in {summary['frames_truth_absent']} frames"),
        ('weights', summary['weights']),
        ('success AUC', f"{summary['success_auc']:.3f}"),
        ('precision @20 px', f"{summary['precision_20']:.3f}"),
        ('VOT-LT F-score', f"{summary['vot_lt_f']:.3f}"),
        ('frames', f"{summary['frames']} Track messages for {summary['frames_published']} frames played "
                   f"({summary['resends']} resent); reported absent in {summary['frames_reported_absent']}, "
                   f"{summary['mean_distractors']:.1f} distractor tracklets per frame on average"),
        ('speed', f"{fps} frames/s end to end (paced, first frame excluded); "
                  f"{summary['node_ms_per_frame']:.0f} ms per frame in the node"),
        ('node', f"{summary['node_summary'] or '(no summary line)'}; exit status {summary['node_exit_status']}"),
        ('wall time', f"world {seconds['world']:.1f} s, node start {seconds['node_start']:.1f} s, tracking "
                      f"{seconds['tracking']:.1f} s, outputs {seconds['outputs']:.1f} s, "
                      f"total {seconds['total']:.1f} s"),
        ('outputs', ', '.join(summary['outputs'])),
    ]
    width = max(len(name) for name, _ in rows)
    return '\n'.join(f'  {name:<{width}}  {value}' for name, value in rows)


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # SIGTERM (a CI timeout, `kill`) cleans up as Ctrl-C does: the node process is stopped, not orphaned.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        summary = run(args)
    except (ValueError, OSError, RuntimeError, TimeoutError, NodeError) as error:
        print(f'siamrcnn-demo: error: {error}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print('siamrcnn-demo: interrupted', file=sys.stderr)
        return 130
    print('siamrcnn-demo summary:')
    print(format_summary(summary))
    if not summary['weights_trained']:
        _shout(RANDOM_WARNING.format(missing=DEFAULT_CHECKPOINT))
    print(f"siamrcnn-demo: {summary['frames']} frames, success AUC {summary['success_auc']:.3f}, precision "
          f"{summary['precision_20']:.3f}, {summary['fps'] or 0:.2f} frames/s, weights "
          f"{'trained' if summary['weights_trained'] else 'RANDOM'}; outputs in {args.output_dir}")
    return 1 if summary['node_exit_status'] != 0 else 0


if __name__ == '__main__':
    sys.exit(main())
