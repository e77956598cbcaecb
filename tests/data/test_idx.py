import gzip

import numpy as np
import pytest

from digitlab.data.idx import parse_idx, read_idx, read_idx_images, read_idx_labels
from digitlab.data.sources import bundled_mnist_dir
from digitlab.errors import DigitlabError
from tests.helpers import to_idx


def test_round_trip_on_hand_built_bytes(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = to_idx(images)
    assert raw[:4] == bytes([0, 0, 0x08, 3])
    assert raw[4:16] == (2).to_bytes(4, "big") + (3).to_bytes(4, "big") + (4).to_bytes(4, "big")
    (tmp_path / "a").write_bytes(raw)
    (tmp_path / "a.gz").write_bytes(gzip.compress(raw))
    np.testing.assert_array_equal(read_idx(tmp_path / "a"), images)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), images)


def test_big_endian_dtypes_become_native():
    values = np.array([1, -2, 300000], dtype=np.int32)
    np.testing.assert_array_equal(parse_idx(to_idx(values)), values)


def test_real_bundled_files():
    root = bundled_mnist_dir()
    images = read_idx_images(root / "t10k-images-idx3-ubyte.gz")
    labels = read_idx_labels(root / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert np.bincount(labels).tolist()[:3] == [980, 1135, 1032]


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "too short"),
        (b"\x01\x02\x08\x01" + b"\x00" * 8, "bad magic"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x00", "dtype code"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x02", "truncated IDX header"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x05abc", "payload holds 3 bytes, not the 5 bytes"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x02abcd", "payload holds more than the 2 bytes"),
        (b"\x00\x00\x08\x03" + bytes.fromhex("800000008000000000000004"), "over the"),  # wraps in int64
        (b"\x00\x00\x08\xff" + b"\xff" * 1020, "over the"),  # 255 dims
        (b"\x00\x00\x08\x03" + bytes.fromhex("00000000ffffffffffffffff"), "hold no items"),
    ],
)
def test_bad_bytes_are_named(tmp_path, data, message):
    path = tmp_path / "bad-idx"
    path.write_bytes(data)
    with pytest.raises(DigitlabError, match=message) as e:
        read_idx_images(path)
    assert str(e.value).startswith(str(path))


@pytest.mark.parametrize(
    "labels, shown",
    [
        (np.array([1, np.nan], ">f4"), "nan"),
        (np.array([1, np.inf], ">f8"), "inf"),
        (np.array([3.7, 1], ">f4"), "3.7"),
        (np.array([2, -1], ">i2"), "-1"),
        (np.array([], ">u1"), None),
    ],
)
def test_labels_must_be_whole_numbers_0_to_9(tmp_path, labels, shown):
    path = tmp_path / "labels"
    path.write_bytes(to_idx(labels))
    with pytest.raises(DigitlabError, match="hold no items" if shown is None else f"label {shown}") as e:
        read_idx_labels(path)
    assert str(e.value).startswith(str(path))
    path.write_bytes(to_idx(np.array([1.0, 9.0], ">f4")))
    assert read_idx_labels(path).tolist() == [1, 9]  # whole-valued floats are fine


@pytest.mark.parametrize("side", [1, 7, 257])
def test_images_must_have_sides_of_8_to_256(tmp_path, side):
    path = tmp_path / "images"
    path.write_bytes(to_idx(np.zeros((2, side, side), np.uint8)))
    with pytest.raises(DigitlabError, match=f"images are {side}x{side}; digitlab reads 8 to 256"):
        read_idx_images(path)


def test_images_of_other_sizes_are_read(tmp_path):
    path = tmp_path / "images"
    images = np.random.default_rng(0).integers(0, 256, (3, 32, 20), dtype=np.uint8)
    path.write_bytes(to_idx(images))
    np.testing.assert_array_equal(read_idx_images(path), images)


def test_a_gzip_bomb_is_stopped_after_what_the_header_declares(tmp_path):
    """256 MiB of zeros behind a header declaring 10 images: refused after reading ~8 KB of it."""
    import tracemalloc
    import zlib

    path = tmp_path / "train-images-idx3-ubyte.gz"
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\x00" * (1 << 20)
    with open(path, "wb") as f:
        f.write(packer.compress(to_idx(np.zeros((10, 28, 28), np.uint8))))
        for _ in range(256):
            f.write(packer.compress(chunk))
        f.write(packer.flush())
    assert path.stat().st_size < 1 << 20
    tracemalloc.start()
    with pytest.raises(DigitlabError, match="more than the 7840 bytes"):
        read_idx_images(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50 << 20


def test_a_header_declaring_more_than_the_file_can_hold_is_refused_before_reading(tmp_path):
    """A 1 MB gzip declaring 1 GiB (1.37 million images) would need a 1000x inflation: refused from
    the header alone. A raw file declaring more than its length likewise."""
    import gzip
    import tracemalloc

    header = bytes([0, 0, 0x08, 3]) + np.array([1_369_000, 28, 28], ">u4").tobytes()
    gz = tmp_path / "bomb-images-idx3-ubyte.gz"
    gz.write_bytes(gzip.compress(header + bytes(1 << 20)))
    raw = tmp_path / "raw-images-idx3-ubyte"
    raw.write_bytes(header + bytes(100))
    tracemalloc.start()
    with pytest.raises(DigitlabError, match="over 100x the .*-byte gzip file"):
        read_idx_images(gz)
    with pytest.raises(DigitlabError, match="declare 1,073,296,000 bytes, but the file has 116"):
        read_idx_images(raw)
    assert tracemalloc.get_traced_memory()[1] < 8 << 20
    tracemalloc.stop()


def test_truncated_gzip(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(to_idx(np.zeros((10, 28, 28), np.uint8)))[:-20])
    with pytest.raises(DigitlabError, match="truncated gzip|corrupt gzip"):
        read_idx(path)


def test_labels_out_of_range(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(to_idx(np.array([1, 1000], ">i2")))
    with pytest.raises(DigitlabError, match="label 1000 at index 1 is not a whole number 0..999"):
        read_idx_labels(path)
    path.write_bytes(to_idx(np.array([1, 46], np.uint8)))  # EMNIST's 47 classes
    assert read_idx_labels(path).tolist() == [1, 46]
