"""Our messages survive a rosbag2 bag (sqlite3 and MCAP) written and read with rosbags.

Each message is serialised by rclpy (the bytes a live node sends), written with rosbags using
types registered from our own .msg files, read back, and compared both as bytes and decoded.
"""
from __future__ import annotations

from pathlib import Path

import msg_samples
import pytest
from conftest import REPO_ROOT

rclpy_serialization = pytest.importorskip('rclpy.serialization', reason='needs rclpy: run through scripts/in-env')
from rosbags.rosbag2 import Reader, StoragePlugin, Writer  # noqa: E402
from rosbags.typesys import Stores, get_types_from_msg, get_typestore  # noqa: E402

pytestmark = pytest.mark.ros


def typestore_with_our_types():
    """The rosbags typestore of ROS 2 Kilted plus every .msg of this package."""
    typestore = get_typestore(Stores.ROS2_KILTED)
    types = {}
    for path in sorted((REPO_ROOT / 'msg').glob('*.msg')):
        types.update(get_types_from_msg(path.read_text(), f'siamrcnn_ros/msg/{path.stem}'))
    typestore.register(types)
    return typestore


def test_every_msg_file_is_registered_and_sampled() -> None:
    on_disk = {f'siamrcnn_ros/msg/{p.stem}' for p in (REPO_ROOT / 'msg').glob('*.msg')}
    assert on_disk == set(msg_samples.sample_messages())
    assert on_disk <= set(typestore_with_our_types().fielddefs)


@pytest.mark.parametrize('storage', [StoragePlugin.SQLITE3, StoragePlugin.MCAP], ids=['sqlite3', 'mcap'])
def test_bag_round_trip(tmp_path: Path, storage: StoragePlugin) -> None:
    typestore = typestore_with_our_types()
    samples = msg_samples.sample_messages()
    written: dict[str, bytes] = {}
    bag = tmp_path / 'bag'
    with Writer(bag, version=9, storage_plugin=storage) as writer:
        for i, (type_name, msg) in enumerate(samples.items()):
            topic = '/samples/' + type_name.rsplit('/', 1)[1].lower()
            connection = writer.add_connection(topic, type_name, typestore=typestore)
            written[type_name] = bytes(rclpy_serialization.serialize_message(msg))
            writer.write(connection, 1_700_000_000_000_000_000 + i, written[type_name])

    read: dict[str, bytes] = {}
    with Reader(bag) as reader:
        assert reader.message_count == len(samples)
        for connection, _timestamp, rawdata in reader.messages():
            read[connection.msgtype] = bytes(rawdata)

    assert read == written
    for type_name, msg in samples.items():
        decoded_by_rosbags = typestore.deserialize_cdr(read[type_name], type_name)
        assert msg_samples.field_differences(msg, decoded_by_rosbags) == []
        decoded_by_rclpy = rclpy_serialization.deserialize_message(read[type_name], type(msg))
        assert decoded_by_rclpy == msg
        # And the other way: what rosbags encodes from our .msg definitions, rclpy decodes
        # (the bytes may differ in trailing padding, the message may not).
        reencoded = bytes(typestore.serialize_cdr(decoded_by_rosbags, type_name))
        assert rclpy_serialization.deserialize_message(reencoded, type(msg)) == msg
