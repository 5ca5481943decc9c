"""Instance masks stored as indexed PNG files (pixel value = object number, 0 = background),
and the boxes they imply.

YouTube-VOS and DAVIS store masks as palette ('P' mode) PNGs: the value of a pixel is the index
of its palette entry, and the palette only colours it for viewing. OpenCV always expands a
palette to colours, so the index is recovered here by reading the file's ``PLTE`` chunk and
looking each colour up in it; plain 8- or 16-bit grayscale PNGs are read as they are. This
keeps PIL out of the package's dependencies.
"""
from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np

_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
_COLOR_TYPE_GRAY = 0
_COLOR_TYPE_PALETTE = 3


def read_index_mask(path: Path) -> np.ndarray:
    """The pixel values of an indexed (palette) or grayscale PNG.

    Args:
        path: a PNG file: colour type 3 (palette, any bit depth) or 0 (grayscale, 8 or 16 bit).

    Returns:
        ``[H, W]`` int32: the palette index of each pixel (grayscale: the value). Where several
        palette entries share a colour, a pixel of that colour reads as the lowest of them.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: not a PNG, not palette/grayscale, or a colour that is not in the palette
            (the message names the file).
    """
    pixels, palette = _decode(Path(path))
    if palette is None:
        return pixels.astype(np.int32)
    return _palette_indices(pixels, palette, path)


def mask_file_boxes(path: Path, object_values: tuple[int, ...]) -> np.ndarray:
    """The tight box of each object in an indexed PNG, without building the index image.

    Same result as ``boxes_from_index_mask(read_index_mask(path), object_values)`` (a colour
    shared by several palette entries belongs to the lowest), but each object costs one colour
    comparison (``cv2.inRange`` + ``cv2.boundingRect``) instead of a palette look-up per pixel:
    reading the boxes of a whole dataset's masks is dominated by the PNG decode.

    Returns:
        ``[O, 4]`` float64 xyxy pixels, continuous; NaN rows for objects with no pixel.
    """
    pixels, palette = _decode(Path(path))
    boxes = np.full((len(object_values), 4), np.nan)  # [O, 4]
    for k, value in enumerate(object_values):
        if palette is None:
            low = high = value
        else:
            if not 0 <= value < len(palette):
                continue
            colour = palette[value]
            if int(np.flatnonzero((palette == colour).all(axis=1))[0]) != value:
                continue  # the colour reads as a lower index
            low = high = tuple(int(c) for c in colour[::-1])  # the decoded pixels are BGR
        inside = cv2.inRange(pixels, low, high)  # [H, W] uint8, 255 where equal
        x, y, width, height = cv2.boundingRect(inside)
        if width > 0:
            boxes[k] = (x, y, x + width, y + height)
    return boxes


def boxes_from_index_mask(values: np.ndarray, object_values: tuple[int, ...]) -> np.ndarray:
    """The tight box of each object's pixels.

    Args:
        values: ``[H, W]`` integer mask.
        object_values: the pixel value of each object, length O.

    Returns:
        ``[O, 4]`` float64 xyxy pixels, continuous (a single pixel at column x, row y is
        ``(x, y, x + 1, y + 1)``); NaN rows for objects with no pixel.
    """
    if values.ndim != 2:
        raise ValueError(f'mask must be [H, W], got shape {values.shape}')
    boxes = np.full((len(object_values), 4), np.nan)  # [O, 4]
    for k, value in enumerate(object_values):
        inside = values == value  # [H, W]
        rows = np.flatnonzero(inside.any(axis=1))
        if rows.size == 0:
            continue
        cols = np.flatnonzero(inside.any(axis=0))
        boxes[k] = (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1)
    return boxes


def _decode(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """(``[H, W, 3]`` uint8 BGR pixels and ``[P, 3]`` RGB palette) of a palette PNG, or
    (``[H, W]`` uint8/uint16 values, None) of a grayscale one."""
    if not path.is_file():
        raise FileNotFoundError(f'mask file not found: {path}')
    color_type, bit_depth, palette = _png_header(path)
    if color_type == _COLOR_TYPE_GRAY:
        if bit_depth < 8:
            # OpenCV rescales 1/2/4-bit gray to 0..255, which would change the values.
            raise ValueError(f'{path}: {bit_depth}-bit grayscale masks are not supported (use 8 or 16 bit)')
        values = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if values is None or values.ndim != 2:
            raise ValueError(f'{path}: cannot decode the grayscale mask')
        return values, None
    if color_type != _COLOR_TYPE_PALETTE:
        raise ValueError(f'{path}: PNG colour type {color_type} is no index mask (need palette or grayscale)')
    if palette is None:
        raise ValueError(f'{path}: palette PNG without a PLTE chunk')
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f'{path}: cannot decode the palette mask')
    return bgr, palette


def _png_header(path: Path) -> tuple[int, int, np.ndarray | None]:
    """(colour type, bit depth, ``[P, 3]`` uint8 RGB palette or None) of a PNG file."""
    with path.open('rb') as stream:
        if stream.read(8) != _PNG_SIGNATURE:
            raise ValueError(f'{path}: not a PNG file')
        color_type = bit_depth = None
        while True:
            head = stream.read(8)
            if len(head) < 8:
                raise ValueError(f'{path}: truncated PNG (no image data)')
            length, kind = struct.unpack('>I4s', head)
            if kind == b'IHDR':
                data = stream.read(length)
                bit_depth, color_type = data[8], data[9]
            elif kind == b'PLTE':
                data = stream.read(length)
                palette = np.frombuffer(data, np.uint8).reshape(-1, 3)  # [P, 3]
                return color_type, bit_depth, palette
            elif kind in (b'IDAT', b'IEND'):
                # The palette must come before the image data (PNG spec 11.2.3).
                if color_type is None:
                    raise ValueError(f'{path}: PNG without IHDR')
                return color_type, bit_depth, None
            else:
                stream.seek(length, 1)
            stream.seek(4, 1)  # CRC


def _palette_indices(bgr: np.ndarray, palette: np.ndarray, path: Path) -> np.ndarray:
    """``[H, W]`` int32 palette index of each pixel of ``bgr`` (``[H, W, 3]`` uint8)."""
    codes = (bgr[..., 2].astype(np.int32) << 16) | (bgr[..., 1].astype(np.int32) << 8) | bgr[..., 0]  # [H, W]
    palette_codes = (palette[:, 0].astype(np.int32) << 16) | (palette[:, 1].astype(np.int32) << 8) | palette[:, 2]
    # A stable sort keeps the lowest index first among equal colours; searchsorted finds it.
    order = np.argsort(palette_codes, kind='stable')
    sorted_codes = palette_codes[order]
    position = np.searchsorted(sorted_codes, codes).clip(max=len(sorted_codes) - 1)  # [H, W]
    found = sorted_codes[position] == codes
    if not found.all():
        row, col = np.argwhere(~found)[0]
        raise ValueError(f'{path}: pixel ({col}, {row}) has colour {bgr[row, col, ::-1].tolist()}, not in its palette')
    return order[position].astype(np.int32)
