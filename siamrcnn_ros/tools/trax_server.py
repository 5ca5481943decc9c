"""``siamrcnn-trax``: the tracker behind the TraX protocol, so the VOT toolkit can run it.

In a VOT workspace's ``trackers.ini``::

    [SiamRCNN]
    label = SiamRCNN
    protocol = trax
    command = siamrcnn-trax --preset fast --checkpoint /path/to/model.safetensors
    # or, from a source checkout: command = /path/to/siamrcnn_ros/scripts/in-env siamrcnn-trax ...

Each frame is answered with the box as a rectangle region and the presence confidence as the
``confidence`` property, which the long-term analyses (VOT-LT precision / recall / F) read. Several
objects per sequence (VOT's multi-object stacks) are tracked with one ``MultiTracker``, sharing the
backbone work. Initialisation regions may be rectangles, polygons (their bounding box) or masks
(the bounding box of the mask's pixels).
"""
from __future__ import annotations

import argparse
import sys

import cv2
import numpy as np

from siamrcnn_ros.boxes import xywh_to_xyxy, xyxy_to_xywh
from siamrcnn_ros.tools.common import add_tracker_arguments, build_tracker


def region_to_xyxy(region: object) -> np.ndarray:
    """A TraX region (rectangle, polygon or mask) -> ``[4]`` float64 xyxy pixels of its bounding box."""
    from trax import Region

    kind = region.type
    if kind == Region.RECTANGLE:
        return xywh_to_xyxy(np.array(region.bounds(), dtype=np.float64))
    if kind == Region.POLYGON:
        points = np.array([region.get(i) for i in range(region.size())], dtype=np.float64)  # [P, 2]
        return np.concatenate([points.min(axis=0), points.max(axis=0)])
    if kind == Region.MASK:
        mask = region.array(normalize=True)
        ys, xs = np.nonzero(mask)
        if xs.size == 0:
            raise ValueError('the initialisation mask is empty')
        return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=np.float64)
    raise ValueError(f'unsupported TraX region type {kind!r}')


def read_image(image: object) -> np.ndarray:
    """A TraX path image -> ``[H, W, 3]`` uint8 RGB; ``ValueError`` naming the file if it cannot be read."""
    path = image.path()
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f'cannot read the image {path}')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='siamrcnn-trax', description=__doc__.split('\n\n')[0])
    parser.add_argument('--log', default=None, help='write the TraX protocol log to this file')
    add_tracker_arguments(parser)
    return parser


def serve(args: argparse.Namespace) -> None:
    """Answers TraX requests on stdin/stdout (the environment of a TraX client) until the client quits."""
    from trax import Image, Rectangle, Region, Server, TraxStatus

    tracker = build_tracker(args, 'siamrcnn-trax', multi=True)
    with Server([Region.RECTANGLE, Region.POLYGON, Region.MASK], [Image.PATH], tracker_name='SiamRCNN',
                tracker_family='siamrcnn_ros', log=args.log if args.log else False, multiobject=True) as server:
        while True:
            request = server.wait()
            if request.type in (TraxStatus.QUIT, None):
                break
            image = read_image(request.image['color'])
            if request.type == TraxStatus.INITIALIZE:
                tracker.remove()
                boxes = {index + 1: region_to_xyxy(region) for index, (region, _) in enumerate(request.objects)}
                results = tracker.step(image, add=boxes)
            else:
                results = tracker.step(image)
            replies = []
            for target_id in sorted(results):
                result = results[target_id]
                x, y, w, h = (float(v) for v in xyxy_to_xywh(result.box))
                replies.append((Rectangle.create(x, y, w, h), {'confidence': float(result.confidence)}))
            server.status(replies)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        serve(args)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f'siamrcnn-trax: error: {error}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
