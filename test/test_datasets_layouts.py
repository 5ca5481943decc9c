"""Reading sequences in the OTB, LaSOT and GOT-10k layouts, image folders and video files, from tiny
fixtures written here; and the errors for missing or malformed files."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from siamrcnn_ros.datasets import list_sequences, open_sequence

SIZE = 16


def write_frames(folder: Path, count: int, digits: int, suffix: str = '.jpg') -> list[Path]:
    """``count`` 16x16 frames whose red channel encodes the frame index (10 * index, modulo 250)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        bgr = np.zeros((SIZE, SIZE, 3), np.uint8)
        bgr[..., 2] = (10 * index) % 250  # red, in OpenCV's BGR order
        path = folder / f'{index + 1:0{digits}d}{suffix}'
        cv2.imwrite(str(path), bgr)
        paths.append(path)
    return paths


def boxes_text(count: int, separator: str = ',') -> str:
    return ''.join(separator.join(str(v) for v in (1 + i, 2, 5, 6)) + '\n' for i in range(count))


def make_otb(root: Path, name: str, count: int = 3, separator: str = ',') -> Path:
    folder = root / name
    write_frames(folder / 'img', count, 4)
    (folder / 'groundtruth_rect.txt').write_text(boxes_text(count, separator))
    return folder


def make_lasot(root: Path, category: str, index: int, count: int = 4) -> Path:
    folder = root / category / f'{category}-{index}'
    write_frames(folder / 'img', count, 8)
    (folder / 'groundtruth.txt').write_text(boxes_text(count))
    (folder / 'full_occlusion.txt').write_text(','.join(['0'] * (count - 2) + ['1', '0']) + '\n')
    (folder / 'out_of_view.txt').write_text(','.join(['0'] * (count - 1) + ['1']) + '\n')
    (folder / 'nlp.txt').write_text('a thing\n')
    return folder


def make_got10k(split: Path, name: str, count: int = 3, only_first: bool = False) -> Path:
    folder = split / name
    write_frames(folder, count, 8)
    (folder / 'groundtruth.txt').write_text(boxes_text(1 if only_first else count))
    (folder / 'cover.label').write_text('8\n0\n' + '5\n' * (count - 2))
    (folder / 'absence.label').write_text('0\n1\n' + '0\n' * (count - 2))
    return folder


def test_otb_sequence_with_comma_and_tab_separators(tmp_path: Path) -> None:
    comma = open_sequence(make_otb(tmp_path, 'Basketball'))
    tab = open_sequence(make_otb(tmp_path, 'Jogging2', separator='\t'))
    for sequence in (comma, tab):
        assert len(sequence) == 3
        assert sequence.video is None
        assert sequence.absent is None
        np.testing.assert_array_equal(sequence.ground_truth[1], [2, 2, 5, 6])
        assert sequence.ground_truth.dtype == np.float64
    assert comma.name == 'Basketball'
    assert [p.name for p in comma.frames] == ['0001.jpg', '0002.jpg', '0003.jpg']


def test_frames_are_rgb_uint8_in_order(tmp_path: Path) -> None:
    sequence = open_sequence(make_otb(tmp_path, 'Car4'), layout='otb')
    frames = list(sequence.iter_frames())
    assert len(frames) == 3
    for index, frame in enumerate(frames):
        assert frame.shape == (SIZE, SIZE, 3)
        assert frame.dtype == np.uint8
        assert abs(int(frame[..., 0].mean()) - 10 * index) <= 2  # red first: RGB
        assert int(frame[..., 2].max()) <= 2
    np.testing.assert_array_equal(sequence.read_frame(2), frames[2])
    with pytest.raises(IndexError, match='frame 3 out of range'):
        sequence.read_frame(3)


def test_otb_folder_with_two_targets_and_an_empty_annotation(tmp_path: Path) -> None:
    folder = tmp_path / 'Jogging'
    write_frames(folder / 'img', 2, 4)
    (folder / 'groundtruth_rect.1.txt').write_text(boxes_text(2))
    (folder / 'groundtruth_rect.2.txt').write_text(boxes_text(2, ' '))
    human = tmp_path / 'Human4'
    write_frames(human / 'img', 2, 4)
    (human / 'groundtruth_rect.1.txt').write_text('\n')
    (human / 'groundtruth_rect.2.txt').write_text(boxes_text(2))

    sequences = list_sequences(tmp_path)
    assert [s.name for s in sequences] == ['Human4', 'Jogging-1', 'Jogging-2']
    with pytest.raises(ValueError, match='holds 2 targets'):
        open_sequence(folder)
    assert open_sequence(folder, target=1).name == 'Jogging-2'


def test_otb_frame_range_of_david(tmp_path: Path) -> None:
    folder = tmp_path / 'David'
    (folder / 'img').mkdir(parents=True)
    for index in range(1, 773):  # opening reads no pixels: empty files will do
        (folder / 'img' / f'{index:04d}.png').touch()
    (folder / 'groundtruth_rect.txt').write_text(boxes_text(471))
    sequence = open_sequence(folder)
    assert len(sequence) == 471
    assert sequence.frames[0].name == '0300.png'
    assert sequence.frames[-1].name == '0770.png'


def test_lasot_class_nesting_and_absent_flags(tmp_path: Path) -> None:
    make_lasot(tmp_path, 'airplane', 1)
    make_lasot(tmp_path, 'airplane', 2)
    make_lasot(tmp_path, 'zebra', 1, count=5)
    sequences = list_sequences(tmp_path)
    assert [s.name for s in sequences] == ['airplane-1', 'airplane-2', 'zebra-1']
    first = sequences[0]
    assert len(first) == 4
    np.testing.assert_array_equal(first.absent, [False, False, True, True])  # occlusion, then out of view
    assert first.frames[0].name == '00000001.jpg'
    assert open_sequence(tmp_path / 'zebra' / 'zebra-1', layout='lasot').absent.tolist() == [0, 0, 0, 1, 1]


def test_got10k_split_with_list_and_cover(tmp_path: Path) -> None:
    split = tmp_path / 'val'
    make_got10k(split, 'GOT-10k_Val_000002')
    make_got10k(split, 'GOT-10k_Val_000001', count=4)
    (split / 'list.txt').write_text('GOT-10k_Val_000002\nGOT-10k_Val_000001\n')
    sequences = list_sequences(split)
    assert [s.name for s in sequences] == ['GOT-10k_Val_000002', 'GOT-10k_Val_000001']  # list.txt order
    np.testing.assert_array_equal(sequences[1].absent, [False, True, False, False])
    assert sequences[1].ground_truth.shape == (4, 4)


def test_got10k_absence_label_when_there_is_no_cover(tmp_path: Path) -> None:
    folder = make_got10k(tmp_path, 'seq')
    (folder / 'cover.label').unlink()
    np.testing.assert_array_equal(open_sequence(folder).absent, [False, True, False])


def test_got10k_test_split_gives_only_the_first_box(tmp_path: Path) -> None:
    folder = make_got10k(tmp_path / 'test', 'GOT-10k_Test_000001', count=3, only_first=True)
    for label in folder.glob('*.label'):
        label.unlink()
    sequence = open_sequence(folder, layout='got10k')
    np.testing.assert_array_equal(sequence.ground_truth[0], [1, 2, 5, 6])
    assert np.isnan(sequence.ground_truth[1:]).all()
    assert sequence.absent is None


def test_image_folder_and_video_file(tmp_path: Path) -> None:
    write_frames(tmp_path / 'frames', 3, 3, suffix='.png')
    images = open_sequence(tmp_path / 'frames')
    assert images.ground_truth is None
    assert len(images) == 3

    video_path = tmp_path / 'clip.avi'
    writer = cv2.VideoWriter(str(video_path), cv2.VideoWriter_fourcc(*'MJPG'), 10.0, (SIZE, SIZE))
    assert writer.isOpened()
    for index in range(5):
        writer.write(np.full((SIZE, SIZE, 3), (0, 0, 40 * index), np.uint8))
    writer.release()
    video = open_sequence(video_path)
    assert video.name == 'clip'
    assert video.frames is None
    assert len(video) == 5
    frames = list(video.iter_frames())
    assert len(frames) == 5
    assert frames[3].shape == (SIZE, SIZE, 3)
    assert abs(int(frames[3][..., 0].mean()) - 120) <= 6  # red channel first
    assert abs(int(video.read_frame(3)[..., 0].mean()) - 120) <= 6
    assert [s.name for s in list_sequences(video_path)] == ['clip']


def test_missing_paths_and_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match='nowhere'):
        open_sequence(tmp_path / 'nowhere')
    with pytest.raises(FileNotFoundError, match='nowhere'):
        list_sequences(tmp_path / 'nowhere')
    folder = make_lasot(tmp_path, 'cat', 1)
    (folder / 'groundtruth.txt').unlink()
    with pytest.raises(ValueError, match='cannot tell the layout'):
        open_sequence(folder)
    with pytest.raises(FileNotFoundError, match=r'groundtruth\.txt'):
        open_sequence(folder, layout='lasot')
    split = tmp_path / 'val'
    make_got10k(split, 'a')
    (split / 'list.txt').write_text('a\nb\n')
    with pytest.raises(FileNotFoundError, match="names 'b'"):
        list_sequences(split)
    (tmp_path / 'empty' / 'sub').mkdir(parents=True)
    with pytest.raises(ValueError, match='no sequences found'):
        list_sequences(tmp_path / 'empty')
    with pytest.raises(ValueError, match="layout must be 'auto'"):
        open_sequence(folder, layout='vot')


def test_malformed_files_name_the_file_and_line(tmp_path: Path) -> None:
    folder = make_otb(tmp_path, 'Bolt')
    (folder / 'groundtruth_rect.txt').write_text('1,2,3,4\n1,2,3\n5,6,7,8\n')
    with pytest.raises(ValueError, match=r'groundtruth_rect\.txt, line 2: expected 4 values'):
        open_sequence(folder)
    (folder / 'groundtruth_rect.txt').write_text('1,2,3,4\n1,2,x,4\n5,6,7,8\n')
    with pytest.raises(ValueError, match=r'line 2: not numbers'):
        open_sequence(folder)
    (folder / 'groundtruth_rect.txt').write_text('1,2,3,4\n')
    with pytest.raises(ValueError, match=r'groundtruth_rect\.txt: 1 boxes for 3 frames'):
        open_sequence(folder)
    lasot = make_lasot(tmp_path, 'dog', 1)
    (lasot / 'out_of_view.txt').write_text('0,1\n')
    with pytest.raises(ValueError, match=r'out_of_view\.txt: 2 flags for 4 frames'):
        open_sequence(lasot)
    (lasot / 'out_of_view.txt').write_text('0,1,0,0.5\n')
    with pytest.raises(ValueError, match=r"out_of_view\.txt: label '0.5' is not an integer"):
        open_sequence(lasot)
    broken = make_otb(tmp_path, 'Broken')
    (broken / 'img' / '0002.jpg').write_bytes(b'not a jpeg')
    with pytest.raises(OSError, match=r'cannot read image .*0002\.jpg'):
        list(open_sequence(broken).iter_frames())


def test_got10k_frames_are_the_numbered_images_only(tmp_path: Path) -> None:
    """Issue 19 item 11: a montage.png beside the frames was counted as a frame ("217 boxes for 218 frames")."""
    folder = make_got10k(tmp_path, 'seq', count=3)
    cv2.imwrite(str(folder / 'montage.png'), np.zeros((8, 8, 3), np.uint8))
    cv2.imwrite(str(folder / 'thumb.jpg'), np.zeros((8, 8, 3), np.uint8))
    sequence = open_sequence(folder)
    assert [p.name for p in sequence.frames] == ['00000001.jpg', '00000002.jpg', '00000003.jpg']
    assert sequence.ground_truth.shape == (3, 4)
    plain = tmp_path / 'plain'  # no numbered frames: every image is a frame
    write_frames(plain, 2, 3)
    (plain / 'groundtruth.txt').write_text(boxes_text(2))
    assert len(open_sequence(plain, layout='got10k').frames) == 2
