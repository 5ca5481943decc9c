"""Training-data readers (``read_training_videos``) on tiny fixtures written here in each dataset's real
layout: GOT-10k, LaSOT, TrackingNet, ImageNet VID (XML), YouTube-VOS (palette PNG masks), COCO (JSON)
and the synthetic world; boxes xyxy with NaN where absent, object counts, frame order, masks, and
the errors for missing or malformed files."""
from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from siamrcnn_ros.box2seg.training.samples import mask_sample_table
from siamrcnn_ros.datasets.index_masks import boxes_from_index_mask, mask_file_boxes, read_index_mask
from siamrcnn_ros.datasets.videos import TRAINING_DATASETS, AnnotatedVideo, read_training_videos

WIDTH, HEIGHT = 32, 24
NAN4 = [np.nan] * 4


def write_frame(path: Path, index: int) -> Path:
    """A 32x24 image whose red channel encodes ``index`` (10 * index)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    bgr = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    bgr[..., 2] = 10 * index  # red, in OpenCV's BGR order
    cv2.imwrite(str(path), bgr)
    return path


def write_palette_mask(path: Path, values: np.ndarray) -> None:
    """An indexed PNG as YouTube-VOS stores them (PIL 'P' mode with a colour palette)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(values.astype(np.uint8), mode='P')
    palette = [0, 0, 0] + [(37 * i) % 256 for i in range(3, 768)]  # index 0 black, the others coloured
    image.putpalette(palette)
    image.save(path)


def assert_boxes(actual: np.ndarray, expected: list) -> None:
    np.testing.assert_array_equal(actual, np.asarray(expected, dtype=np.float64))


def frame_names(video: AnnotatedVideo) -> list[str]:
    return [path.name for path in video.frames]


# --- GOT-10k ---------------------------------------------------------------------------------------------------

def make_got10k_sequence(split_dir: Path, name: str, boxes: str, cover: str = '8\n8\n8\n') -> Path:
    folder = split_dir / name
    for index in range(3):
        write_frame(folder / f'{index + 1:08d}.jpg', index)
    (folder / 'groundtruth.txt').write_text(boxes)
    (folder / 'cover.label').write_text(cover)
    (folder / 'absence.label').write_text(''.join('1\n' if c == '0' else '0\n' for c in cover.split()))
    (folder / 'meta_info.ini').write_text('[METAINFO]\nobject_class: thing\n')
    return folder


def test_got10k_train_split_in_list_order_with_absent_frames_nan(tmp_path: Path) -> None:
    split = tmp_path / 'train'
    make_got10k_sequence(split, 'GOT-10k_Train_000002', '1,2,3,4\n5,6,7,8\n9,10,11,12\n', cover='8\n0\n5\n')
    make_got10k_sequence(split, 'GOT-10k_Train_000001', '0,0,10,5\n1,1,10,5\n2,2,10,5\n')
    (split / 'list.txt').write_text('GOT-10k_Train_000002\nGOT-10k_Train_000001\n')
    videos = read_training_videos(tmp_path, 'got10k')
    assert [v.name for v in videos] == ['GOT-10k_Train_000002', 'GOT-10k_Train_000001']
    video = videos[0]
    assert video.source == 'got10k'
    assert len(video) == 3
    assert video.object_ids == ('0',)
    assert video.masks is None
    assert frame_names(video) == ['00000001.jpg', '00000002.jpg', '00000003.jpg']
    assert video.boxes.shape == (1, 3, 4)
    assert video.boxes.dtype == np.float64
    assert_boxes(video.boxes[0], [[1, 2, 4, 6], NAN4, [9, 10, 20, 22]])  # xywh -> xyxy, cover 0 -> NaN
    np.testing.assert_array_equal(video.visible(0), [True, False, True])
    frame = video.read_frame(2)
    assert frame.shape == (HEIGHT, WIDTH, 3)
    assert frame.dtype == np.uint8
    assert abs(int(frame[..., 0].mean()) - 20) <= 2  # red first: RGB


def test_got10k_val_split_and_malformed_groundtruth(tmp_path: Path) -> None:
    make_got10k_sequence(tmp_path / 'val', 'GOT-10k_Val_000001', '1,2,3,4\n5,6,7,8\n9,10,11,12\n')
    assert [v.name for v in read_training_videos(tmp_path, 'got10k', 'val')] == ['GOT-10k_Val_000001']
    with pytest.raises(FileNotFoundError, match='train'):
        read_training_videos(tmp_path, 'got10k')  # no train/ folder
    bad = make_got10k_sequence(tmp_path / 'bad', 'GOT-10k_Val_000009', '1,2,3,4\n5,6,7\n9,10,11,12\n')
    with pytest.raises(ValueError, match=r'groundtruth\.txt, line 2'):
        read_training_videos(tmp_path, 'got10k', 'bad')
    (bad / 'groundtruth.txt').write_text('1,2,3,4\n')
    (bad / 'cover.label').unlink()
    (bad / 'absence.label').unlink()
    # A single row is the test split's first-frame-only annotation.
    assert_boxes(read_training_videos(tmp_path, 'got10k', 'bad')[0].boxes[0], [[1, 2, 4, 6], NAN4, NAN4])
    (bad / 'groundtruth.txt').unlink()
    with pytest.raises(FileNotFoundError, match=r'groundtruth\.txt'):
        read_training_videos(tmp_path, 'got10k', 'bad')


# --- LaSOT -----------------------------------------------------------------------------------------------------

def make_lasot_sequence(root: Path, name: str, occlusion: str, out_of_view: str) -> Path:
    folder = root / name.rsplit('-', 1)[0] / name
    for index in range(4):
        write_frame(folder / 'img' / f'{index + 1:08d}.jpg', index)
    (folder / 'groundtruth.txt').write_text('1,2,3,4\n2,3,4,5\n0,0,0,0\n4,5,6,7\n')
    (folder / 'full_occlusion.txt').write_text(occlusion)
    (folder / 'out_of_view.txt').write_text(out_of_view)
    (folder / 'nlp.txt').write_text('white airplane\n')
    return folder


def test_lasot_official_split_and_absent_frames(tmp_path: Path) -> None:
    make_lasot_sequence(tmp_path, 'airplane-1', '0,1,0,0\n', '0,0,1,0\n')
    make_lasot_sequence(tmp_path, 'guitar-3', '0,0,0,0\n', '0,0,0,0\n')
    make_lasot_sequence(tmp_path, 'monster-truck-2', '0,0,0,0\n', '0,0,0,1\n')  # class name with a '-'
    (tmp_path / 'training_set.txt').write_text('monster-truck-2\nairplane-1\n')
    (tmp_path / 'testing_set.txt').write_text('guitar-3\n')
    train = read_training_videos(tmp_path, 'lasot')
    assert [v.name for v in train] == ['monster-truck-2', 'airplane-1']
    airplane = train[1]
    assert airplane.source == 'lasot'
    assert frame_names(airplane)[0] == '00000001.jpg'
    assert_boxes(airplane.boxes[0], [[1, 2, 4, 6], NAN4, NAN4, [4, 5, 10, 12]])
    assert [v.name for v in read_training_videos(tmp_path, 'lasot', 'test')] == ['guitar-3']
    assert [v.name for v in read_training_videos(tmp_path, 'lasot', 'all')] == ['airplane-1', 'guitar-3',
                                                                               'monster-truck-2']
    with pytest.raises(ValueError, match="'val'"):
        read_training_videos(tmp_path, 'lasot', 'val')
    (tmp_path / 'testing_set.txt').write_text('guitar-4\n')
    with pytest.raises(FileNotFoundError, match='guitar-4'):
        read_training_videos(tmp_path, 'lasot', 'test')
    (tmp_path / 'airplane' / 'airplane-1' / 'out_of_view.txt').write_text('0,0,1\n')
    with pytest.raises(ValueError, match=r'out_of_view\.txt: 3 flags for 4 frames'):
        read_training_videos(tmp_path, 'lasot')


# --- TrackingNet -----------------------------------------------------------------------------------------------

def make_trackingnet_video(chunk: Path, name: str, count: int, boxes: str) -> None:
    for index in range(count):
        write_frame(chunk / 'frames' / name / f'{index}.jpg', index)
    (chunk / 'anno').mkdir(parents=True, exist_ok=True)
    (chunk / 'anno' / f'{name}.txt').write_text(boxes)


def test_trackingnet_chunks_numeric_frame_order_and_test_set(tmp_path: Path) -> None:
    make_trackingnet_video(tmp_path / 'TRAIN_0', 'vid_b', 12, ''.join(f'{i},1,2,3\n' for i in range(12)))
    make_trackingnet_video(tmp_path / 'TRAIN_0', 'vid_a', 2, '0,0,4,4\n1,1,4,4\n')
    make_trackingnet_video(tmp_path / 'TRAIN_10', 'vid_c', 2, '0,0,4,4\n1,1,4,4\n')
    make_trackingnet_video(tmp_path / 'TRAIN_2', 'vid_d', 2, '0,0,4,4\n1,1,4,4\n')
    make_trackingnet_video(tmp_path / 'TEST', 'vid_t', 3, '2,3,4,5\n')
    videos = read_training_videos(tmp_path, 'trackingnet')
    assert [v.name for v in videos] == ['vid_a', 'vid_b', 'vid_d', 'vid_c']  # chunks 0, 2, 10
    long_video = videos[1]
    assert long_video.source == 'trackingnet'
    assert frame_names(long_video)[:3] == ['0.jpg', '1.jpg', '2.jpg']
    assert frame_names(long_video)[10] == '10.jpg'  # numeric order, not '1.jpg', '10.jpg', '11.jpg', '2.jpg'
    assert abs(int(long_video.read_frame(10)[..., 0].mean()) - 100) <= 2
    assert_boxes(long_video.boxes[0, 10], [10, 1, 12, 4])
    assert [v.name for v in read_training_videos(tmp_path, 'trackingnet', 'TRAIN_2')] == ['vid_d']
    test = read_training_videos(tmp_path, 'trackingnet', 'test')[0]
    assert_boxes(test.boxes[0], [[2, 3, 6, 8], NAN4, NAN4])
    with pytest.raises(ValueError, match="'valid'"):
        read_training_videos(tmp_path, 'trackingnet', 'valid')
    (tmp_path / 'TRAIN_2' / 'anno' / 'vid_d.txt').write_text('0,0,4,4\n1,1,4,4\n2,2,4,4\n')
    with pytest.raises(ValueError, match=r'vid_d\.txt: 3 boxes for 2 frames'):
        read_training_videos(tmp_path, 'trackingnet', 'TRAIN_2')


# --- ImageNet VID ----------------------------------------------------------------------------------------------

def vid_xml(objects: list[tuple[int, tuple[int, int, int, int]]]) -> str:
    parts = ['<annotation><folder>snippet</folder><filename>000000</filename><source><database>ILSVRC_2015'
             '</database></source><size><width>32</width><height>24</height></size>']
    for track_id, (x0, y0, x1, y1) in objects:
        parts.append(f'<object><trackid>{track_id}</trackid><name>n02691156</name><bndbox><xmax>{x1}</xmax>'
                     f'<xmin>{x0}</xmin><ymax>{y1}</ymax><ymin>{y0}</ymin></bndbox><occluded>0</occluded>'
                     '<generated>0</generated></object>')
    parts.append('</annotation>')
    return '\n'.join(parts)


def make_vid_snippet(root: Path, split: str, relative: str, per_frame: list[list]) -> Path:
    annotation_dir = root / 'Annotations' / 'VID' / split / relative
    annotation_dir.mkdir(parents=True, exist_ok=True)
    for index, objects in enumerate(per_frame):
        write_frame(root / 'Data' / 'VID' / split / relative / f'{index:06d}.JPEG', index)
        (annotation_dir / f'{index:06d}.xml').write_text(vid_xml(objects))
    return annotation_dir


def test_imagenet_vid_several_objects_by_trackid(tmp_path: Path) -> None:
    make_vid_snippet(tmp_path, 'train', 'ILSVRC2015_VID_train_0000/ILSVRC2015_train_00000001', [
        [(0, (1, 2, 10, 12))],
        [(0, (2, 2, 11, 12)), (10, (20, 5, 30, 20))],
        [(2, (0, 0, 5, 5)), (10, (21, 5, 31, 20))],
    ])
    make_vid_snippet(tmp_path, 'train', 'ILSVRC2015_VID_train_0001/ILSVRC2015_train_00000000', [[], []])
    make_vid_snippet(tmp_path, 'val', 'ILSVRC2015_val_00000000', [[(0, (1, 1, 3, 3))]])
    videos = read_training_videos(tmp_path, 'imagenet_vid')
    assert [v.name for v in videos] == ['ILSVRC2015_train_00000001', 'ILSVRC2015_train_00000000']
    video = videos[0]
    assert video.source == 'imagenet_vid'
    assert frame_names(video) == ['000000.JPEG', '000001.JPEG', '000002.JPEG']
    assert video.object_ids == ('0', '2', '10')  # numeric order of the track ids
    assert video.boxes.shape == (3, 3, 4)
    assert_boxes(video.boxes[0], [[1, 2, 10, 12], [2, 2, 11, 12], NAN4])
    assert_boxes(video.boxes[1], [NAN4, NAN4, [0, 0, 5, 5]])
    assert_boxes(video.boxes[2], [NAN4, [20, 5, 30, 20], [21, 5, 31, 20]])
    assert videos[1].boxes.shape == (0, 2, 4)  # a snippet with no object
    val = read_training_videos(tmp_path, 'imagenet_vid', 'val')
    assert [v.name for v in val] == ['ILSVRC2015_val_00000000']


def test_imagenet_vid_malformed_and_missing_xml(tmp_path: Path) -> None:
    annotations = make_vid_snippet(tmp_path, 'val', 'ILSVRC2015_val_00000000', [[(0, (1, 1, 3, 3))]] * 3)
    (annotations / '000001.xml').write_text(vid_xml([(0, (1, 1, 3, 3))]).replace('<xmin>1</xmin>', '<xmin>a</xmin>'))
    with pytest.raises(ValueError, match=r'000001\.xml: object 0 \(trackid 0\): bndbox/xmin'):
        read_training_videos(tmp_path, 'imagenet_vid', 'val')
    (annotations / '000001.xml').write_text('<annotation><object>')
    with pytest.raises(ValueError, match=r'000001\.xml: not valid XML'):
        read_training_videos(tmp_path, 'imagenet_vid', 'val')
    (annotations / '000001.xml').unlink()
    with pytest.raises(FileNotFoundError, match=r'000001\.xml'):
        read_training_videos(tmp_path, 'imagenet_vid', 'val')


# --- YouTube-VOS -----------------------------------------------------------------------------------------------

def make_youtube_vos(root: Path) -> np.ndarray:
    """Video 'abc' of 7 frames, masks on frames 0 and 5 (every 5th), objects 1 and 3 (no 2)."""
    split = root / 'train'
    for index in range(7):
        write_frame(split / 'JPEGImages' / 'abc' / f'{5 * index:05d}.jpg', index)
    first = np.zeros((HEIGHT, WIDTH), np.uint8)
    first[2:6, 3:9] = 1  # rows 2..5, columns 3..8
    first[10:20, 20:22] = 3
    fifth = np.zeros((HEIGHT, WIDTH), np.uint8)
    fifth[0:1, 0:1] = 1
    write_palette_mask(split / 'Annotations' / 'abc' / '00000.png', first)
    write_palette_mask(split / 'Annotations' / 'abc' / '00025.png', fifth)
    meta = {'videos': {'abc': {'objects': {
        '3': {'category': 'penguin', 'frames': ['00000']},
        '1': {'category': 'person', 'frames': ['00000', '00025']},
    }}}}
    (split / 'meta.json').write_text(json.dumps(meta))
    return first


def test_youtube_vos_boxes_from_palette_masks(tmp_path: Path) -> None:
    first = make_youtube_vos(tmp_path)
    [video] = read_training_videos(tmp_path, 'youtube_vos')
    assert video.name == 'abc'
    assert video.source == 'youtube_vos'
    assert frame_names(video)[:2] == ['00000.jpg', '00005.jpg']
    assert video.object_ids == ('1', '3')
    assert video.boxes.shape == (2, 7, 4)
    assert_boxes(video.boxes[:, 0], [[3, 2, 9, 6], [20, 10, 22, 20]])  # continuous xyxy: last pixel + 1
    assert_boxes(video.boxes[:, 5], [[0, 0, 1, 1], NAN4])  # object 3 has no pixel in frame 25
    assert np.isnan(video.boxes[:, [1, 2, 3, 4, 6]]).all()  # frames without a mask
    assert [m is None for m in video.masks] == [False, True, True, True, True, False, True]
    assert video.read_mask(1) is None
    mask = video.read_mask(0)
    assert mask.dtype == np.int32
    assert mask.shape == (HEIGHT, WIDTH)
    np.testing.assert_array_equal(mask, np.select([first == 1, first == 3], [1, 2], 0))  # k + 1 for object k
    np.testing.assert_array_equal(read_index_mask(video.masks[0]), first)  # the palette indices themselves
    np.testing.assert_array_equal(video.visible(1), [True] + [False] * 6)


def test_youtube_vos_malformed_meta_and_missing_frames(tmp_path: Path) -> None:
    make_youtube_vos(tmp_path)
    meta = tmp_path / 'train' / 'meta.json'
    meta.write_text('{"videos": {"abc": {"objects": {"x": {}}}}}')
    with pytest.raises(ValueError, match=r"meta\.json: video 'abc': object id 'x'"):
        read_training_videos(tmp_path, 'youtube_vos')
    meta.write_text('{"videos": ')
    with pytest.raises(ValueError, match=r'meta\.json: not valid JSON'):
        read_training_videos(tmp_path, 'youtube_vos')
    meta.write_text('{"videos": {"xyz": {"objects": {"1": {}}}}}')
    with pytest.raises(FileNotFoundError, match='JPEGImages/xyz'):
        read_training_videos(tmp_path, 'youtube_vos')


def test_index_masks_from_grayscale_shared_palette_colours_and_refused_colour_png(tmp_path: Path) -> None:
    values = np.arange(WIDTH * HEIGHT, dtype=np.uint8).reshape(HEIGHT, WIDTH) % 7  # [H, W]
    cv2.imwrite(str(tmp_path / 'gray.png'), values)
    np.testing.assert_array_equal(read_index_mask(tmp_path / 'gray.png'), values)
    assert_boxes(mask_file_boxes(tmp_path / 'gray.png', (6, 9)), [[0, 0, WIDTH, HEIGHT], NAN4])  # 6 in every row
    shared = np.zeros((HEIGHT, WIDTH), np.uint8)
    shared[1:3, 4:6] = 1
    shared[5:9, 2:3] = 3
    image = Image.fromarray(shared, mode='P')
    image.putpalette([0, 0, 0, 200, 10, 10, 0, 200, 0, 200, 10, 10])  # index 3 has index 1's colour
    image.save(tmp_path / 'shared.png')
    np.testing.assert_array_equal(read_index_mask(tmp_path / 'shared.png'), np.where(shared > 0, 1, 0))
    for boxes in (mask_file_boxes(tmp_path / 'shared.png', (1, 3)),
                  boxes_from_index_mask(read_index_mask(tmp_path / 'shared.png'), (1, 3))):
        assert_boxes(boxes, [[2, 1, 6, 9], NAN4])  # the shared colour reads as the lower index
    cv2.imwrite(str(tmp_path / 'colour.png'), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match=r'colour\.png: PNG colour type 2'):
        read_index_mask(tmp_path / 'colour.png')
    (tmp_path / 'text.png').write_text('not a png')
    with pytest.raises(ValueError, match=r'text\.png: not a PNG'):
        read_index_mask(tmp_path / 'text.png')


# --- COCO ------------------------------------------------------------------------------------------------------

def make_coco(root: Path, annotations: list[dict]) -> None:
    write_frame(root / 'train2017' / '000000000009.jpg', 0)
    write_frame(root / 'train2017' / '000000000025.jpg', 1)
    data = {'images': [{'id': 9, 'file_name': '000000000009.jpg', 'width': WIDTH, 'height': HEIGHT},
                       {'id': 25, 'file_name': '000000000025.jpg', 'width': WIDTH, 'height': HEIGHT}],
            'annotations': annotations, 'categories': [{'id': 1, 'name': 'thing'}]}
    (root / 'annotations').mkdir(parents=True, exist_ok=True)
    (root / 'annotations' / 'instances_train2017.json').write_text(json.dumps(data))


def test_coco_images_as_one_frame_videos_without_crowds(tmp_path: Path) -> None:
    make_coco(tmp_path, [
        {'id': 101, 'image_id': 9, 'bbox': [1.5, 2.0, 10.0, 4.25], 'iscrowd': 0, 'category_id': 1},
        {'id': 102, 'image_id': 9, 'bbox': [0, 0, 32, 24], 'iscrowd': 1, 'category_id': 1},
        {'id': 103, 'image_id': 9, 'bbox': [20, 10, 5, 5], 'iscrowd': 0, 'category_id': 1},
    ])
    videos = read_training_videos(tmp_path, 'coco')
    assert [v.name for v in videos] == ['000000000009', '000000000025']
    first = videos[0]
    assert first.source == 'coco'
    assert len(first) == 1
    assert first.object_ids == ('101', '103')
    assert first.masks is None
    assert_boxes(first.boxes, [[[1.5, 2.0, 11.5, 6.25]], [[20, 10, 25, 15]]])
    assert first.read_frame(0).shape == (HEIGHT, WIDTH, 3)
    assert videos[1].boxes.shape == (0, 1, 4)
    with pytest.raises(FileNotFoundError, match=r'instances_val2017\.json'):
        read_training_videos(tmp_path, 'coco', 'val2017')


def test_coco_segmentations_become_instance_masks_that_box2seg_samples(tmp_path: Path) -> None:
    polygon = [[4, 2, 12, 2, 12, 8, 4, 8]]  # pixels x 4..11, y 2..7
    run_lengths = [2 * HEIGHT + 5, 3, HEIGHT * WIDTH - 2 * HEIGHT - 8]  # column 2, rows 5..7
    make_coco(tmp_path, [
        {'id': 101, 'image_id': 9, 'bbox': [4, 2, 8, 6], 'iscrowd': 0, 'segmentation': polygon},
        {'id': 103, 'image_id': 9, 'bbox': [2, 5, 1, 3], 'iscrowd': 0,
         'segmentation': {'counts': run_lengths, 'size': [HEIGHT, WIDTH]}},
    ])
    first, second = read_training_videos(tmp_path, 'coco')
    labels = first.read_mask(0)
    expected = np.zeros((HEIGHT, WIDTH), np.int32)
    expected[2:8, 4:12] = 1
    expected[5:8, 2] = 2
    np.testing.assert_array_equal(labels, expected)
    assert second.masks is None  # no objects, nothing to segment
    assert mask_sample_table([first, second]).tolist() == [[0, 0, 0], [0, 1, 0]]  # (video, object, frame)


@pytest.mark.parametrize(('annotation', 'message'), [
    ({'id': 7, 'image_id': 9, 'bbox': [1, 2, 3], 'iscrowd': 0}, 'annotation 7: bbox must be 4 numbers'),
    ({'id': 8, 'image_id': 4, 'bbox': [1, 2, 3, 4], 'iscrowd': 0}, "annotation 8 refers to image 4"),
])
def test_coco_malformed_annotation_names_it(tmp_path: Path, annotation: dict, message: str) -> None:
    make_coco(tmp_path, [annotation])
    with pytest.raises(ValueError, match=rf'instances_train2017\.json: {message}'):
        read_training_videos(tmp_path, 'coco')


# --- the dispatch and the dataclass ----------------------------------------------------------------------------

def test_unknown_dataset_lists_the_known_names_and_missing_root(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown training dataset 'mot17'; known: synthetic, got10k") as info:
        read_training_videos(tmp_path, 'mot17')
    assert all(name in str(info.value) for name in TRAINING_DATASETS)
    with pytest.raises(FileNotFoundError, match='nowhere'):
        read_training_videos(tmp_path / 'nowhere', 'got10k')


def test_annotated_video_checks_shapes_and_keeps_boxes_read_only(tmp_path: Path) -> None:
    frames = (write_frame(tmp_path / 'a.jpg', 0), write_frame(tmp_path / 'b.jpg', 1))
    boxes = np.array([[[0, 0, 4, 4], [1, 1, 1, 5]]], dtype=np.float64)  # second box has zero width
    video = AnnotatedVideo(name='v', source='coco', frames=frames, object_ids=('x',), boxes=boxes, masks=None)
    np.testing.assert_array_equal(video.visible(0), [True, False])
    with pytest.raises(ValueError, match='read-only'):
        video.boxes[0, 0, 0] = 5.0
    boxes[0, 0, 0] = 3.0  # the caller's array stays its own
    assert video.boxes[0, 0, 0] == 0.0
    with pytest.raises(ValueError, match=r'boxes must have shape \[O, N, 4\] = \[2, 2, 4\]'):
        AnnotatedVideo(name='v', source='coco', frames=frames, object_ids=('x', 'y'), boxes=boxes, masks=None)
    with pytest.raises(ValueError, match='1 mask entries for 2 frames'):
        AnnotatedVideo(name='v', source='coco', frames=frames, object_ids=('x',), boxes=boxes, masks=(None,))
    with pytest.raises(ValueError, match="source must be one of"):
        AnnotatedVideo(name='v', source='mot', frames=frames, object_ids=('x',), boxes=boxes, masks=None)
    with pytest.raises(IndexError, match='frame 2 out of range'):
        video.read_frame(2)
    assert video.read_mask(1) is None


# --- the synthetic world ---------------------------------------------------------------------------------------

def make_synthetic_sequence(folder: Path, frame_dir: Path, objects: list[dict], masks: bool = True) -> None:
    for index in range(3):
        write_frame(frame_dir / f'{index + 1:08d}.jpg', index)
        if masks:
            labels = np.zeros((HEIGHT, WIDTH), np.uint8)
            labels[index:index + 4, 2:6] = 1
            labels[10:12, 20:30] = 2 if index != 1 else 0
            (folder / 'masks').mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / 'masks' / f'{index + 1:08d}.png'), labels)
    document = {'version': 1, 'image_size': [WIDTH, HEIGHT], 'frames': 3, 'objects': objects}
    (folder / 'objects.json').write_text(json.dumps(document))


SYNTHETIC_OBJECTS = [
    {'id': '0', 'role': 'target', 'lookalike_of': None, 'boxes': [[2, 0, 6, 4], [2, 1, 6, 5], [2, 2, 6, 6]]},
    {'id': '1', 'role': 'lookalike', 'lookalike_of': '0', 'boxes': [[20, 10, 30, 12], None, [20.5, 10, 30, 12]]},
]


def test_synthetic_world_splits_and_long_term_videos(tmp_path: Path) -> None:
    for name in ('Synthetic_Train_000002', 'Synthetic_Train_000001'):
        folder = tmp_path / 'train' / name
        make_synthetic_sequence(folder, folder, SYNTHETIC_OBJECTS)
    (tmp_path / 'train' / 'list.txt').write_text('Synthetic_Train_000001\nSynthetic_Train_000002\n')
    long_term = tmp_path / 'lasot' / 'ellipse' / 'ellipse-1'
    make_synthetic_sequence(long_term, long_term / 'img', SYNTHETIC_OBJECTS[:1], masks=False)
    videos = read_training_videos(tmp_path, 'synthetic')
    assert [v.name for v in videos] == ['Synthetic_Train_000001', 'Synthetic_Train_000002']
    video = videos[0]
    assert video.source == 'synthetic'
    assert video.object_ids == ('0', '1')
    assert frame_names(video) == ['00000001.jpg', '00000002.jpg', '00000003.jpg']
    assert_boxes(video.boxes[1], [[20, 10, 30, 12], NAN4, [20.5, 10, 30, 12]])
    np.testing.assert_array_equal(video.visible(1), [True, False, True])
    mask = video.read_mask(2)
    assert mask.dtype == np.int32
    assert_boxes(boxes_from_index_mask(mask, (1, 2)), video.boxes[:, 2].round())
    [lasot] = read_training_videos(tmp_path, 'synthetic', 'lasot')
    assert lasot.name == 'ellipse-1'
    assert lasot.masks is None
    assert lasot.frames[0] == long_term / 'img' / '00000001.jpg'
    assert lasot.boxes.shape == (1, 3, 4)


@pytest.mark.parametrize(('change', 'message'), [
    ({'version': 2}, 'objects.json version 2, this code reads 1'),
    ({'frames': 4}, "object '0' has 3 boxes for 4 frames"),
    ({'objects': [{'id': '0', 'boxes': [[1, 2, 3, 4], [1, 2, 3], None]}]}, "object '0', frame 1: box must be 4"),
    ({'objects': [{'boxes': [None, None, None]}]}, 'expected "frames" and "objects" with "id" and "boxes"'),
])
def test_synthetic_malformed_objects_json_names_the_file(tmp_path: Path, change: dict, message: str) -> None:
    folder = tmp_path / 'val' / 'Synthetic_Val_000001'
    make_synthetic_sequence(folder, folder, SYNTHETIC_OBJECTS)
    document = json.loads((folder / 'objects.json').read_text())
    (folder / 'objects.json').write_text(json.dumps({**document, **change}))
    with pytest.raises(ValueError, match=r'Synthetic_Val_000001/objects\.json: ' + re.escape(message)):
        read_training_videos(tmp_path, 'synthetic', 'val')


def test_synthetic_frame_count_must_match_objects_json(tmp_path: Path) -> None:
    folder = tmp_path / 'test' / 'Synthetic_Test_000001'
    make_synthetic_sequence(folder, folder, SYNTHETIC_OBJECTS)
    write_frame(folder / '00000004.jpg', 3)
    with pytest.raises(ValueError, match=r'3 frames, but .* holds 4'):
        read_training_videos(tmp_path, 'synthetic', 'test')
