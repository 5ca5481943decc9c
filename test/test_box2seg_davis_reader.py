"""The DAVIS 2017 training reader (``read_training_videos(root, 'davis', split)``) on a tiny fixture in the real
layout, with palette PNG masks written by ``write_index_mask``."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from siamrcnn_ros.datasets.index_masks import write_index_mask
from siamrcnn_ros.datasets.videos import TRAINING_DATASETS, read_training_videos

HEIGHT, WIDTH = 12, 16
NAN4 = [np.nan] * 4


def write_sequence(root: Path, name: str, masks: list[np.ndarray | None]) -> None:
    """Frames 00000.jpg, ... and, where given, the palette masks 00000.png, ... of one sequence."""
    frames = root / 'JPEGImages' / '480p' / name
    frames.mkdir(parents=True)
    for index, mask in enumerate(masks):
        cv2.imwrite(str(frames / f'{index:05d}.jpg'), np.full((HEIGHT, WIDTH, 3), 10 * index, np.uint8))
        if mask is not None:
            write_index_mask(root / 'Annotations' / '480p' / name / f'{index:05d}.png', mask)


@pytest.fixture
def davis(tmp_path: Path) -> Path:
    first = np.zeros((HEIGHT, WIDTH), np.uint8)
    first[2:5, 3:8] = 1
    first[6:12, 10:12] = 2
    first[0, 15] = 255  # void: no object
    second = np.zeros((HEIGHT, WIDTH), np.uint8)
    second[0:2, 0:1] = 2  # object 1 absent here
    write_sequence(tmp_path, 'dogs', [first, second, first])
    only_first = np.zeros((HEIGHT, WIDTH), np.uint8)
    only_first[1:3, 1:3] = 1
    write_sequence(tmp_path, 'cat', [only_first, None])  # test-dev style: only the first frame annotated
    sets = tmp_path / 'ImageSets' / '2017'
    sets.mkdir(parents=True)
    (sets / 'train.txt').write_text('dogs\n')
    (sets / 'val.txt').write_text('cat\n\n')
    return tmp_path


def test_davis_objects_boxes_and_masks_from_the_palette_pngs(davis: Path) -> None:
    assert 'davis' in TRAINING_DATASETS
    [video] = read_training_videos(davis, 'davis')  # the default split: train
    assert video.name == 'dogs'
    assert video.source == 'davis'
    assert [path.name for path in video.frames] == ['00000.jpg', '00001.jpg', '00002.jpg']
    assert video.object_ids == ('1', '2')
    np.testing.assert_array_equal(video.boxes[:, 0], [[3, 2, 8, 5], [10, 6, 12, 12]])
    np.testing.assert_array_equal(video.boxes[:, 1], [NAN4, [0, 0, 1, 2]])
    np.testing.assert_array_equal(video.visible(0), [True, False, True])
    mask = video.read_mask(0)
    assert mask.dtype == np.int32
    assert mask[0, 15] == 0  # void reads as background
    assert np.count_nonzero(mask == 1) == 15
    assert np.count_nonzero(mask == 2) == 12


def test_davis_frames_without_masks_and_other_splits(davis: Path) -> None:
    [video] = read_training_videos(davis, 'davis', 'val')
    assert video.name == 'cat'
    assert video.object_ids == ('1',)
    assert video.masks[1] is None
    assert video.read_mask(1) is None
    np.testing.assert_array_equal(video.boxes[0], [[1, 1, 3, 3], NAN4])


def test_davis_missing_files_are_named(davis: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r'ImageSets/2017/test-dev\.txt'):
        read_training_videos(davis, 'davis', 'test-dev')
    (davis / 'ImageSets' / '2017' / 'train.txt').write_text('dogs\nmissing\n')
    with pytest.raises(FileNotFoundError, match=r'JPEGImages/480p/missing'):
        read_training_videos(davis, 'davis')
