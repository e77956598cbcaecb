import numpy as np
import pytest

from digitlab.data.kaggle import parse_kaggle_csv, read_kaggle_csv
from digitlab.errors import DigitlabError
from tests.helpers import csv_text

HEADER = "label," + ",".join(f"pixel{i}" for i in range(784))


@pytest.fixture
def sample():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (7, 28, 28), dtype=np.uint8), rng.integers(0, 10, 7)


def test_train_and_test_files(sample):
    images, labels = sample
    got_images, got_labels = parse_kaggle_csv(csv_text(images, labels).encode())
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    got_images, got_labels = parse_kaggle_csv(csv_text(images, None).encode())
    np.testing.assert_array_equal(got_images, images)
    assert got_labels is None


def test_bom_and_windows_line_ends_accepted(sample):
    images, labels = sample
    data = b"\xef\xbb\xbf" + csv_text(images, labels, "\r\n").encode()
    np.testing.assert_array_equal(parse_kaggle_csv(data)[0], images)


def test_matches_pandas_on_real_mnist(mnist, tmp_path):
    pd = pytest.importorskip("pandas")
    images, labels = mnist.train.images[:300].numpy(), mnist.train.labels[:300].numpy()
    path = tmp_path / "train.csv"
    path.write_text(csv_text(images, labels))
    frame = pd.read_csv(path)
    ours_images, ours_labels = read_kaggle_csv(path)
    np.testing.assert_array_equal(ours_images.reshape(300, -1), frame.iloc[:, 1:].to_numpy())
    np.testing.assert_array_equal(ours_labels, frame["label"].to_numpy())


def test_chunked_parse_crosses_chunk_boundaries(sample, monkeypatch):
    import digitlab.data.kaggle as kaggle

    monkeypatch.setattr(kaggle, "CHUNK_BYTES", 1000)
    images, labels = sample
    np.testing.assert_array_equal(parse_kaggle_csv(csv_text(images, labels).encode())[0], images)


def bad_csv(cell: str, column: int = 301, row: int = 2) -> bytes:
    images, labels = np.zeros((3, 28, 28), np.uint8), np.array([1, 2, 3])
    lines = csv_text(images, labels).splitlines()
    cells = lines[row].split(",")
    cells[column] = cell
    lines[row] = ",".join(cells)
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize(
    "cell, column, why",
    [
        ("256", 301, "256 is not an integer in 0..255"),
        ("-1", 301, "'-1' is not an integer"),
        ("x7", 301, "'x7' is not an integer"),
        ("1.5", 301, "'1.5' is not an integer"),
        ("", 301, "empty cell"),
        ("1000", 301, "'1000' is not an integer"),
        ("10", 0, "10 is not 0..9"),
    ],
)
def test_bad_cells_name_row_and_column(cell, column, why):
    with pytest.raises(DigitlabError) as e:
        parse_kaggle_csv(bad_csv(cell, column), "train.csv")
    message = str(e.value)
    column_name = "label" if column == 0 else f"pixel{column - 1}"
    assert message.startswith(f"train.csv: row 2 (line 3), column {column_name}: ")
    assert why in message


def test_wrong_column_count():
    data = bad_csv("0").replace(b",0\n3,", b"\n3,", 1)
    with pytest.raises(DigitlabError, match=r"row 2 \(line 3\): has 784 columns, expected 785"):
        parse_kaggle_csv(data, "train.csv")


@pytest.mark.parametrize(
    "data, message", [(b"", "header"), (b"a,b\n1,2\n", "header"), (HEADER.encode() + b"\n", "no data rows")]
)
def test_bad_files(data, message):
    with pytest.raises(DigitlabError, match=message):
        parse_kaggle_csv(data, "f.csv")


def test_second_load_comes_from_cache(sample, tmp_path, monkeypatch):
    import digitlab.data.kaggle as kaggle

    images, labels = sample
    path = tmp_path / "train.csv"
    path.write_text(csv_text(images, labels))
    read_kaggle_csv(path)
    monkeypatch.setattr(kaggle, "parse_kaggle_csv", lambda *a: pytest.fail("parsed twice"))
    np.testing.assert_array_equal(read_kaggle_csv(path)[0], images)


def test_cache_notices_a_changed_file(sample, tmp_path):
    images, labels = sample
    path = tmp_path / "train.csv"
    path.write_text(csv_text(images, labels))
    read_kaggle_csv(path)
    path.write_text(csv_text(images[:3], labels[:3]))
    assert len(read_kaggle_csv(path)[0]) == 3


def test_cache_notices_an_edit_that_keeps_size_and_mtime(sample, tmp_path):
    import os

    images, labels = sample
    path = tmp_path / "train.csv"
    path.write_text(csv_text(images, labels))
    stat = path.stat()
    read_kaggle_csv(path)
    edited = labels.copy()
    edited[3] = (edited[3] + 1) % 10  # one digit changed: same size
    path.write_text(csv_text(images, edited))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns
    np.testing.assert_array_equal(read_kaggle_csv(path)[1], edited)


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # truncated
        lambda data: data[:20] + b"\x07" * 100,  # a header, then garbage
        lambda data: b"",
        lambda data: b"\x93NUMPY garbage",
    ],
)
def test_a_damaged_cache_file_is_parsed_again(sample, tmp_path, damage):
    from digitlab.data.cache import cache_dir, content_hash

    images, labels = sample
    path = tmp_path / "train.csv"
    path.write_text(csv_text(images, labels))
    read_kaggle_csv(path)
    cached = cache_dir() / f"{content_hash(path)}.kaggle.images.npy"
    cached.write_bytes(damage(cached.read_bytes()))
    got_images, got_labels = read_kaggle_csv(path)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)


def test_cached_arrays_of_the_wrong_shape_are_parsed_again(sample, tmp_path):
    from digitlab.data.cache import cache_dir, content_hash

    images, labels = sample
    path = tmp_path / "train.csv"
    path.write_text(csv_text(images, labels))
    stem = cache_dir() / f"{content_hash(path)}.kaggle"
    stem.parent.mkdir(parents=True, exist_ok=True)
    np.save(f"{stem}.images.npy", np.zeros((2, 3), np.uint8))
    np.save(f"{stem}.labels.npy", np.array([1.5]))
    np.testing.assert_array_equal(read_kaggle_csv(path)[1], labels)


def test_the_cache_key_changes_with_any_edit_even_one_a_sum_would_miss(tmp_path):
    """Bytes swapped 2 MiB apart kept the old additive hash (its weights repeated every 2 MiB): the
    key is SHA-256 now, so a swap, a moved byte or one changed byte each give another key."""
    from digitlab.data.cache import content_hash

    rng = np.random.default_rng(0)
    data = bytearray(rng.integers(0, 256, 5 << 20, dtype=np.uint8).tobytes())
    data[100], data[100 + (2 << 20)] = 1, 2
    path = tmp_path / "f"
    path.write_bytes(data)
    keys = {content_hash(path)}
    for edit in range(3):
        edited = bytearray(data)
        if edit == 0:
            edited[100], edited[100 + (2 << 20)] = 2, 1  # the swap
        elif edit == 1:
            edited[-1] ^= 1  # the last byte (beyond the last whole 8-byte word)
        else:
            edited[len(data) // 2] ^= 0x80  # the first byte of the second half
        path.write_bytes(edited)
        keys.add(content_hash(path))
    assert len(keys) == 4
    path.write_bytes(data)
    assert content_hash(path) in keys and len(content_hash(path)) == 64


def test_a_pipe_or_an_oversized_file_is_refused_before_it_is_read(tmp_path, monkeypatch):
    import os

    import digitlab.data.kaggle as kaggle

    fifo = tmp_path / "train.csv"
    os.mkfifo(fifo)
    with pytest.raises(DigitlabError, match="is not a regular file"):
        read_kaggle_csv(fifo)  # would wait for a writer for ever
    big = tmp_path / "big.csv"
    big.write_bytes(b"label," + b"\0" * 1000)
    monkeypatch.setattr(kaggle, "MAX_CSV_BYTES", 100)
    with pytest.raises(DigitlabError, match="1,006 bytes, over the 100 a Kaggle CSV may have"):
        read_kaggle_csv(big)
    monkeypatch.setattr(kaggle, "MAX_CSV_BYTES", 1 << 20)
    with pytest.raises(DigitlabError, match="line 1: header must be"):
        read_kaggle_csv(big)
