"""Camera messages -> ``[H, W, 3]`` uint8 RGB arrays, and RGB arrays -> ``sensor_msgs/Image`` (pure functions).

Pixels are converted by a library, not by hand: ``cv_bridge`` where the ROS distro provides it, else
``rosbags-image`` (``rosbags.image``), which converts rclpy ``Image`` messages directly (ENVIRONMENT.md).
Before either sees a message, ``check_image`` verifies what a malformed message could get wrong (an
unknown encoding, a zero or huge size, a row stride shorter than a row, data shorter than
``step * height``), so a bad message becomes one ``InvalidImageError`` with a reason, never a crash or a
read past the end of the buffer. ``rosbags.image`` ignores ``step``; rows padded to a larger stride are
compacted here first.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import cv2
import numpy as np
from rosbags.image import image_to_cvimage
from sensor_msgs.msg import Image

try:  # the native choice on a ROS 2 distro; absent from the pip wheels (ENVIRONMENT.md)
    from cv_bridge import CvBridge
except ImportError:
    CvBridge = None

# Encodings the node accepts (sensor_msgs/image_encodings.hpp names) -> bytes per pixel.
BYTES_PER_PIXEL: dict[str, int] = {
    'rgb8': 3, 'bgr8': 3, 'rgba8': 4, 'bgra8': 4, 'mono8': 1,
    'rgb16': 6, 'bgr16': 6, 'rgba16': 8, 'bgra16': 8, 'mono16': 2,
    'yuv422': 2, 'uyvy': 2, 'yuyv': 2, 'yuv422_yuy2': 2,
    'bayer_rggb8': 1, 'bayer_bggr8': 1, 'bayer_gbrg8': 1, 'bayer_grbg8': 1,
    'bayer_rggb16': 2, 'bayer_bggr16': 2, 'bayer_gbrg16': 2, 'bayer_grbg16': 2,
}
BACKEND = 'cv_bridge' if CvBridge is not None else 'rosbags.image'
"""The library that converts raw ``Image`` pixels here."""


class InvalidImageError(ValueError):
    """A camera message the node cannot use.

    Attributes:
        kind: what was wrong, a diagnostics key: ``'encoding'``, ``'size'``, ``'data'`` or ``'decode'``.
    """

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind


def check_image(msg: Image, max_pixels: int) -> int:
    """Checks a raw ``Image``'s layout fields against its data; returns its row length in bytes (``width * bpp``).

    Raises:
        InvalidImageError: unknown encoding, zero size, more than ``max_pixels`` pixels, ``step`` shorter than
            a row, or fewer than ``step * height`` bytes of data.
    """
    encoding = msg.encoding
    if encoding not in BYTES_PER_PIXEL:
        raise InvalidImageError('encoding', f'unsupported image encoding {msg.encoding!r}; the node accepts '
                                        f'{", ".join(BYTES_PER_PIXEL)}')
    width, height = int(msg.width), int(msg.height)
    if width == 0 or height == 0:
        raise InvalidImageError('size', f'image has zero size ({width}x{height})')
    if width * height > max_pixels:
        raise InvalidImageError('size', f'image of {width}x{height} pixels is larger than max_image_pixels '
                                    f'({max_pixels})')
    row = width * BYTES_PER_PIXEL[encoding]
    if encoding in ('yuv422', 'uyvy', 'yuyv', 'yuv422_yuy2') and width % 2:
        raise InvalidImageError('size', f'{encoding} needs an even width, got {width}')
    if int(msg.step) < row:
        raise InvalidImageError('data', f'step {msg.step} bytes is shorter than one row of {width} {encoding} pixels '
                                    f'({row} bytes)')
    needed = int(msg.step) * height
    if len(msg.data) < needed:
        raise InvalidImageError('data', f'image data has {len(msg.data)} bytes, fewer than step x height = '
                                    f'{msg.step} x {height} = {needed}')
    return row


EIGHT_BIT = frozenset(encoding for encoding in BYTES_PER_PIXEL if not encoding.endswith('16'))
"""Encodings with 8-bit components, where ``is_bigendian`` has no meaning."""
NOTE_KINDS = ('extra_data', 'bigendian_8bit')
"""What ``image_notes`` reports: usable images with a field a careful publisher would set otherwise."""


def image_notes(msg: Any) -> list[tuple[str, str]]:
    """``(kind, text)`` for each oddity of a raw ``Image`` that passed ``check_image`` and is used as it is.

    ``'extra_data'``: more bytes than ``step * height`` (the rest is ignored); ``'bigendian_8bit'``: ``is_bigendian``
    set on an encoding with 8-bit components (byte order does not apply; ignored). Empty for compressed images.
    """
    if hasattr(msg, 'format'):
        return []
    notes = []
    needed = int(msg.step) * int(msg.height)
    if len(msg.data) > needed:
        notes.append(('extra_data', f'image data has {len(msg.data)} bytes, more than step x height = {msg.step} x '
                                    f'{msg.height} = {needed}; the {len(msg.data) - needed} bytes after them are '
                                    f'ignored'))
    if msg.is_bigendian and msg.encoding in EIGHT_BIT:
        notes.append(('bigendian_8bit', f'is_bigendian = {int(msg.is_bigendian)} on {msg.encoding}, whose '
                                        f'components are 8-bit: byte order does not apply, ignored'))
    return notes


def image_msg_to_rgb(msg: Any, max_pixels: int) -> np.ndarray:
    """A ``sensor_msgs/Image`` or ``CompressedImage`` as ``[H, W, 3]`` uint8 RGB (C-contiguous).

    Raw images go through ``cv_bridge`` when importable, else ``rosbags.image``; 16-bit encodings are
    scaled to 8 bits, Bayer patterns demosaiced, YUV 4:2:2 converted. Compressed images (JPEG, PNG, ...)
    are decoded with OpenCV.

    Raises:
        InvalidImageError: the message cannot be converted (see ``check_image``; ``'decode'`` for compressed data
            OpenCV cannot read).
    """
    if hasattr(msg, 'format'):  # sensor_msgs/CompressedImage
        rgb = _decode_compressed(msg)
    else:
        row = check_image(msg, max_pixels)
        try:
            rgb = _convert_raw(msg, row)
        except (cv2.error, ValueError, TypeError) as error:
            raise InvalidImageError('decode', f'cannot convert {msg.encoding} image: {error}') from error
    if rgb.shape[0] * rgb.shape[1] > max_pixels:
        raise InvalidImageError('size', f'decoded image of {rgb.shape[1]}x{rgb.shape[0]} pixels is larger than '
                                    f'max_image_pixels ({max_pixels})')
    return np.ascontiguousarray(rgb, dtype=np.uint8)


def _convert_raw(msg: Image, row: int) -> np.ndarray:
    if CvBridge is not None:
        return CvBridge().imgmsg_to_cv2(msg, desired_encoding='rgb8')
    height, step = int(msg.height), int(msg.step)
    data = np.frombuffer(msg.data, dtype=np.uint8, count=step * height)  # no copy of the message buffer
    if step != row:
        data = np.ascontiguousarray(data.reshape(height, step)[:, :row])  # [H, row]: drop the row padding
    compact = SimpleNamespace(height=height, width=int(msg.width), encoding=msg.encoding,
                              is_bigendian=int(msg.is_bigendian), data=data)
    rgb = image_to_cvimage(compact, 'rgb8')
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f'conversion gave shape {rgb.shape}, not H x W x 3')
    return rgb


def _decode_compressed(msg: Any) -> np.ndarray:
    if len(msg.data) == 0:
        raise InvalidImageError('data', f'compressed image ({msg.format!r}) has no data')
    buffer = np.frombuffer(msg.data, dtype=np.uint8)
    try:
        bgr = cv2.imdecode(buffer, cv2.IMREAD_COLOR)  # always 3 channels, 8 bits
    except cv2.error as error:
        raise InvalidImageError('decode', f'cannot decode compressed image ({msg.format!r}): {error}') from error
    if bgr is None or bgr.size == 0:
        raise InvalidImageError('decode', f'cannot decode compressed image ({msg.format!r}, {len(msg.data)} bytes)')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def rgb_to_image_msg(rgb: np.ndarray, header: Any) -> Image:
    """``[H, W, 3]`` uint8 RGB -> ``sensor_msgs/Image`` with encoding ``rgb8`` and the given header."""
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f'rgb must be an HxWx3 uint8 array, got shape {getattr(rgb, "shape", None)}')
    msg = Image()
    msg.header = header
    msg.height, msg.width = int(rgb.shape[0]), int(rgb.shape[1])
    msg.encoding = 'rgb8'
    msg.is_bigendian = 0
    msg.step = 3 * msg.width
    msg.data = np.ascontiguousarray(rgb).tobytes()
    return msg
