"""Training speed: optimizer steps per second of ``Trainer`` on small synthetic videos (issue 6).

Writes a few videos of coloured rectangles on a texture (the training tests' data, ``test/training_videos.py``)
into a temporary folder, builds a run for a preset, trains ``--warmup`` steps (first shapes, allocator),
then times ``--steps`` more.

    scripts/in-env python benchmarks/train_speed.py --preset demo --batch 2 --size 240x320 --device cpu
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / 'test'))  # the test data writer

from training_videos import write_videos  # noqa: E402

from siamrcnn_ros.training.settings import TrainingConfig  # noqa: E402
from siamrcnn_ros.training.trainer import Trainer, steps_per_second  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--preset', default='demo', help='model preset')
    parser.add_argument('--phase', default='head', choices=('head', 'detector'), help='training phase')
    parser.add_argument('--batch', type=int, default=2, help='pairs per step')
    parser.add_argument('--size', default='240x320', help='frame size HxW of the videos, pixels')
    parser.add_argument('--device', default='cpu', help='cpu, cuda, auto')
    parser.add_argument('--data-threads', type=int, default=0, help='threads preparing the next step\'s examples')
    parser.add_argument('--warmup', type=int, default=5, help='untimed steps first')
    parser.add_argument('--steps', type=int, default=20, help='timed steps')
    args = parser.parse_args()
    height, width = (int(v) for v in args.size.split('x'))
    with tempfile.TemporaryDirectory() as folder:
        videos = write_videos(Path(folder) / 'videos', count=4, frames=10, size=(height, width), objects=3)
        config = TrainingConfig.from_dict({
            'model': {'preset': args.preset}, 'phase': args.phase, 'batch_size': args.batch, 'device': args.device,
            'data_threads': args.data_threads,
            'steps': args.warmup + args.steps, 'checkpoint_interval': 10 ** 6, 'output_dir': str(Path(folder) / 'run')})
        trainer = Trainer(config, datasets=[videos])
        trainer.run(stop_at=args.warmup, progress=False)
        result = trainer.run(progress=False)
    rate = steps_per_second(result)
    print(f'{args.preset} {args.phase} batch {args.batch} {args.size} on {trainer.model.device}, '
          f'{args.data_threads} data threads: '
          f'{rate:.3f} steps/s ({1 / rate:.3f} s/step) over {result.step - result.start_step} steps, '
          f'last loss {result.history[-1]["total"]:.3f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
