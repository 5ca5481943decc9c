"""write_index_mask: hand-written palette PNGs that read_index_mask, OpenCV and zlib agree on."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from siamrcnn_ros.datasets.index_masks import davis_palette, read_index_mask, write_index_mask


def png_chunks(path: Path) -> list[tuple[bytes, bytes, int]]:
    """(type, data, stored CRC) of each chunk of a PNG file, after checking the signature."""
    content = path.read_bytes()
    assert content[:8] == b'\x89PNG\r\n\x1a\n'
    chunks, offset = [], 8
    while offset < len(content):
        (length,) = struct.unpack('>I', content[offset:offset + 4])
        kind = content[offset + 4:offset + 8]
        data = content[offset + 8:offset + 8 + length]
        (crc,) = struct.unpack('>I', content[offset + 8 + length:offset + 12 + length])
        chunks.append((kind, data, crc))
        offset += 12 + length
    return chunks


def test_davis_palette_colours() -> None:
    palette = davis_palette()
    assert palette.shape == (256, 3)
    assert palette.dtype == np.uint8
    # Bits of the index dealt to R, G, B from the top bit down: 1 -> red 128, 8 -> red 64, ...
    assert palette[:9].tolist() == [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128],
                                    [128, 0, 128], [0, 128, 128], [128, 128, 128], [64, 0, 0]]
    assert palette[255].tolist() == [224, 224, 192]  # DAVIS / VOC void colour
    assert len(np.unique(palette, axis=0)) == 256
    assert davis_palette(4).tolist() == palette[:4].tolist()
    with pytest.raises(ValueError, match='palette size'):
        davis_palette(257)


def test_round_trip_every_value(tmp_path: Path) -> None:
    labels = np.random.default_rng(0).integers(0, 256, size=(13, 17))
    path = write_index_mask(tmp_path / 'sub' / 'mask.png', labels)
    assert path == tmp_path / 'sub' / 'mask.png'
    read = read_index_mask(path)
    assert read.dtype == np.int32
    np.testing.assert_array_equal(read, labels)


@pytest.mark.parametrize('dtype', [np.uint8, np.int64, bool])
def test_round_trip_dtypes(tmp_path: Path, dtype: type) -> None:
    labels = np.zeros((4, 5), dtype=dtype)
    labels[1:3, 2:4] = 1
    np.testing.assert_array_equal(read_index_mask(write_index_mask(tmp_path / 'm.png', labels)), labels.astype(int))


def test_chunks_header_crc_and_scanlines(tmp_path: Path) -> None:
    labels = np.array([[0, 1, 2], [3, 4, 255]])
    path = write_index_mask(tmp_path / 'm.png', labels)
    chunks = png_chunks(path)
    assert [kind for kind, _, _ in chunks] == [b'IHDR', b'PLTE', b'IDAT', b'IEND']
    for kind, data, crc in chunks:
        assert crc == zlib.crc32(kind + data)
    width, height, depth, colour_type, compression, filtering, interlace = struct.unpack('>IIBBBBB', chunks[0][1])
    assert (width, height, depth, colour_type, compression, filtering, interlace) == (3, 2, 8, 3, 0, 0, 0)
    assert chunks[1][1] == davis_palette().tobytes()
    # Each row: filter byte 0 then the indices.
    assert zlib.decompress(chunks[2][1]) == bytes([0, 0, 1, 2, 0, 3, 4, 255])
    assert chunks[3][1] == b''


def test_opencv_reads_the_palette_colours(tmp_path: Path) -> None:
    labels = np.array([[0, 1], [2, 255]])
    bgr = cv2.imread(str(write_index_mask(tmp_path / 'm.png', labels)), cv2.IMREAD_COLOR)
    assert bgr is not None
    np.testing.assert_array_equal(bgr[..., ::-1], davis_palette()[labels])


def test_custom_palette(tmp_path: Path) -> None:
    palette = np.array([[0, 0, 0], [255, 255, 255], [10, 20, 30]], dtype=np.uint8)
    labels = np.array([[0, 1, 2]])
    path = write_index_mask(tmp_path / 'm.png', labels, palette)
    np.testing.assert_array_equal(read_index_mask(path), labels)
    assert cv2.imread(str(path))[0, 2, ::-1].tolist() == [10, 20, 30]


def test_bad_input_is_refused(tmp_path: Path) -> None:
    path = tmp_path / 'm.png'
    with pytest.raises(ValueError, match=r'0\.\.255'):
        write_index_mask(path, np.array([[0, 256]]))
    with pytest.raises(ValueError, match=r'0\.\.255'):
        write_index_mask(path, np.array([[-1, 0]]))
    with pytest.raises(TypeError, match='float'):
        write_index_mask(path, np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r'\[H, W\]'):
        write_index_mask(path, np.zeros((2, 2, 1), dtype=np.uint8))
    with pytest.raises(ValueError, match=r'0\.\.1 '):
        write_index_mask(path, np.array([[0, 2]]), np.array([[0, 0, 0], [9, 9, 9]]))
    with pytest.raises(ValueError, match='repeats a colour'):
        write_index_mask(path, np.array([[0, 1]]), np.array([[0, 0, 0], [0, 0, 0]]))
    assert not path.exists()
