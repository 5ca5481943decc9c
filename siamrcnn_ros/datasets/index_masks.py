"""Instance masks stored as indexed PNG files (pixel value = object number, 0 = background),
and the boxes they imply.

YouTube-VOS and DAVIS store masks as palette ('P' mode) PNGs: the value of a pixel is the index
of its palette entry, and the palette only colours it for viewing. OpenCV always expands a
palette to colours, so the index is recovered here by reading the file's ``PLTE`` chunk and
looking each colour up in it; plain 8- or 16-bit grayscale PNGs are read as they are. This
keeps PIL out of the package's dependencies. ``write_index_mask`` writes such a palette PNG (the
DAVIS result format), chunk by chunk with ``zlib``, for the same reason.
"""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np

_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
_COLOR_TYPE_GRAY = 0
_COLOR_TYPE_PALETTE = 3
_PALETTE_SIZE = 256


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


def davis_palette(size: int = _PALETTE_SIZE) -> np.ndarray:
    """The colour map of the DAVIS and PASCAL VOC masks: index 1 dark red, 2 dark green, ...

    Each index's bits are dealt out in turn to red, green and blue (bit 0 to red, bit 1 to green,
    bit 2 to blue, then bits 3-5 the same way one place lower, ...), filling each channel from its
    most significant bit down, so small indices get distinct, saturated colours and no two of the
    256 indices share one (255 is the light grey ``(224, 224, 192)`` of DAVIS's void label).

    Returns:
        ``[size, 3]`` uint8 RGB, row i = colour of index i.
    """
    if not 1 <= size <= _PALETTE_SIZE:
        raise ValueError(f'palette size must be in 1..{_PALETTE_SIZE}, got {size}')
    index = np.arange(size)
    palette = np.zeros((size, 3), dtype=np.int64)  # [size, 3]
    for position in range(8):
        bits = index >> (3 * position)
        for channel in range(3):
            palette[:, channel] |= ((bits >> channel) & 1) << (7 - position)
    return palette.astype(np.uint8)


def write_index_mask(path: str | Path, labels: np.ndarray, palette: np.ndarray | None = None) -> Path:
    """Writes an indexed mask as an 8-bit palette PNG (colour type 3), the DAVIS result format.

    ``read_index_mask`` reads the labels back; any PNG reader shows the palette colours.

    Args:
        path: the PNG file to write (parent folders are created).
        labels: ``[H, W]`` integer array, values 0..255 (0 = background, k = object k in DAVIS).
        palette: ``[P, 3]`` uint8 RGB colours, ``P <= 256`` and every label ``< P``, with no
            colour repeated (a repeated colour would read back as its lowest index); default
            ``davis_palette()``.

    Returns:
        The path written.

    Raises:
        TypeError: labels not an integer array.
        ValueError: labels not 2-D or empty, a label outside 0..255 or past the palette, or a bad palette.
    """
    labels = np.asarray(labels)
    if labels.dtype.kind not in 'iub':
        raise TypeError(f'labels must be an integer array, got dtype {labels.dtype}')
    if labels.ndim != 2 or labels.size == 0:
        raise ValueError(f'labels must be a non-empty [H, W] array, got shape {labels.shape}')
    palette = davis_palette() if palette is None else np.asarray(palette)
    if palette.ndim != 2 or palette.shape[1] != 3 or not 1 <= len(palette) <= _PALETTE_SIZE:
        raise ValueError(f'palette must be [P, 3] with 1 <= P <= {_PALETTE_SIZE}, got shape {palette.shape}')
    if palette.dtype.kind not in 'iu' or palette.min() < 0 or palette.max() > 255:
        raise ValueError(f'palette must hold integer colours in 0..255, got dtype {palette.dtype}')
    if len(np.unique(palette, axis=0)) != len(palette):
        raise ValueError('palette repeats a colour: those labels could not be read back apart')
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= len(palette):
        raise ValueError(f'labels must be in 0..{len(palette) - 1} (the palette size), got {low}..{high}')
    height, width = labels.shape
    # Each scanline is preceded by its filter type; 0 = none (PNG spec 9.2).
    scanlines = np.zeros((height, width + 1), dtype=np.uint8)  # [H, 1 + W]
    scanlines[:, 1:] = labels
    header = struct.pack('>IIBBBBB', width, height, 8, _COLOR_TYPE_PALETTE, 0, 0, 0)
    content = b''.join((_PNG_SIGNATURE, _chunk(b'IHDR', header), _chunk(b'PLTE', palette.astype(np.uint8).tobytes()),
                        _chunk(b'IDAT', zlib.compress(scanlines.tobytes(), 6)), _chunk(b'IEND', b'')))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def _chunk(kind: bytes, data: bytes) -> bytes:
    """A PNG chunk: length, type, data, CRC-32 of type and data (PNG spec 5.3)."""
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))


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
