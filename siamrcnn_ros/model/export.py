"""``siamrcnn-export``: turn a training checkpoint into a checkpoint to ship (smaller, described).

Reads one of our model checkpoints (``<run>/checkpoints/step_*.safetensors``), checks that it loads
into the model its config describes, and writes it again with the floating-point tensors in
``--dtype`` (float16 halves the file; loading casts back to float32) and a ``description`` entry in
the metadata. The optimizer state (``*.state.safetensors``) is not needed and not read.

    siamrcnn-export runs/synthetic_head/checkpoints/step_0003000.safetensors checkpoints/demo.safetensors \\
        --description "demo preset trained on the synthetic world (checkpoints/README.md)"
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from siamrcnn_ros.model.checkpoints import CheckpointError, load_checkpoint_into, read_checkpoint, save_checkpoint

DTYPES = {'float16': torch.float16, 'bfloat16': torch.bfloat16, 'float32': torch.float32}


def export_checkpoint(source: str | Path, destination: str | Path, dtype: torch.dtype = torch.float16,
                      description: str = '') -> Path:
    """Writes ``source``'s weights and config to ``destination`` with floating tensors in ``dtype``.

    Raises:
        CheckpointError: ``source`` is not a loadable model checkpoint.
    """
    from siamrcnn_ros.model.siamrcnn import SiamRCNN  # the model is built only to check the weights fit

    checkpoint = read_checkpoint(source)
    model = SiamRCNN(checkpoint.config)
    load_checkpoint_into(model, source, read=checkpoint)
    extra = {'description': description} if description else {}
    extra['exported_from'] = Path(source).name
    save_checkpoint(destination, model, checkpoint.config, extra_metadata=extra, dtype=dtype)
    return Path(destination)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='siamrcnn-export', description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split('\n\n', 1)[1])
    parser.add_argument('source', help='a model checkpoint (safetensors) written by siamrcnn-train')
    parser.add_argument('destination', help='the checkpoint to write')
    parser.add_argument('--dtype', default='float16', choices=sorted(DTYPES),
                        help='storage dtype of the floating-point tensors; default: %(default)s')
    parser.add_argument('--description', default='', help='stored in the metadata as "description"')
    args = parser.parse_args(argv)
    try:
        path = export_checkpoint(args.source, args.destination, DTYPES[args.dtype], args.description)
    except (CheckpointError, RuntimeError) as error:
        print(f'siamrcnn-export: error: {error}', file=sys.stderr)
        return 1
    size = path.stat().st_size / 2 ** 20
    print(f'wrote {path} ({size:.1f} MiB, {args.dtype}) from {args.source}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
