"""Kaggle digit-recognizer CSV: `label,pixel0..pixel783` (train) or `pixel0..pixel783` (test).

The parser works on the whole byte buffer with numpy instead of field by field: it finds
every separator at once, checks that each row has the right number of fields and that
every cell is a plain integer, and builds each value from its (at most 3) digits.
"""

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from digitlab.data.cache import cached_arrays
from digitlab.errors import DigitlabError
from digitlab.fileio import regular_file

PIXELS = [f"pixel{i}" for i in range(784)]
COMMA, NEWLINE, ZERO = ord(","), ord("\n"), ord("0")
CHUNK_BYTES = 1 << 19  # parse ~512 KB at a time: fewer numpy calls, arrays still near the cache (measured)
MAX_CSV_BYTES = 512 << 20  # MNIST's 70,000 images as CSV take 127 MB, Kaggle's train.csv 77 MB
HEADER_BYTES = 16384  # the header line is 6,370 bytes


def read_kaggle_csv(path: str | Path, cache: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Images as uint8 (N,28,28) and labels as int64 (N,), or None for a test file."""
    path = regular_file(path)  # a pipe or a device would hang or never end
    if path.stat().st_size > MAX_CSV_BYTES:  # before hashing it for the cache, too
        raise DigitlabError(
            f"{path}: {path.stat().st_size:,} bytes, over the {MAX_CSV_BYTES:,} a Kaggle CSV may have"
        )
    arrays = (
        cached_arrays(path, "kaggle", _parse_file, _sound, ("images", "labels"))
        if cache
        else _parse_file(path)
    )
    return arrays["images"], arrays.get("labels")


def _sound(arrays: dict[str, np.ndarray]) -> bool:
    """Arrays as _parse_file makes them (a cache file may be damaged or from another version)."""
    images, labels = arrays.get("images"), arrays.get("labels")
    if images is None or images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        return False
    if set(arrays) - {"images", "labels"}:
        return False
    return labels is None or (labels.dtype == np.int64 and labels.shape == (len(images),))


def _parse_file(path: Path) -> dict[str, np.ndarray]:
    """The file read once into memory (its size checked first, its header before the rest), then parsed."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        _header(f.read(HEADER_BYTES), str(path))  # a file that is no CSV is refused before it is read
        f.seek(0)
        data = bytearray(size)  # parse_kaggle_csv adds a line end in place, where bytes would be copied
        f.readinto(data)
    images, labels = parse_kaggle_csv(data, str(path))
    return {"images": images} if labels is None else {"images": images, "labels": labels}


def _header(data: bytes | bytearray, name: str) -> tuple[int, int, list[str]]:
    """(where the header starts, where it ends, its columns), checked: the whole file's or its start."""
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    header_end = data.find(b"\n", start)
    columns = bytes(data[start:header_end]).decode("utf-8", "replace").strip().split(",")
    has_label = columns[:1] == ["label"]
    if header_end < 0 or columns != (["label"] if has_label else []) + PIXELS:
        raise DigitlabError(f"{name}: line 1: header must be 'label,pixel0..pixel783' or 'pixel0..pixel783'")
    return start, header_end, columns


def parse_kaggle_csv(data: bytes | bytearray, name: str = "<csv>") -> tuple[np.ndarray, np.ndarray | None]:
    """Parse CSV bytes (a UTF-8 BOM and Windows line ends are accepted)."""
    # Work on offsets into `data`: every copy of a 77 MB file costs more than a parsing pass.
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
    if not data.endswith(b"\n"):
        data += b"\n"  # a bytearray grows in place
    _, header_end, columns = _header(data, name)
    has_label = columns[0] == "label"
    end = len(data.rstrip(b"\n")) + 1 if data[-2:] == b"\n\n" else len(data)
    if end <= header_end + 1:
        raise DigitlabError(f"{name}: no data rows after the header")
    values = _parse_body(data, header_end + 1, end, columns, name)
    if not has_label:
        return values.reshape(-1, 28, 28), None
    labels = values[:, 0].astype(np.int64)
    if (bad := np.flatnonzero(labels > 9)).size:
        r = int(bad[0])
        raise DigitlabError(f"{name}: row {r + 1} (line {r + 2}), column label: {labels[r]} is not 0..9")
    return np.ascontiguousarray(values[:, 1:]).reshape(-1, 28, 28), labels


def _parse_body(data: bytes | bytearray, start: int, stop: int, columns: list[str], name: str) -> np.ndarray:
    """All rows as uint8 (N, ncols). Chunks end at line ends and are parsed on every core:
    numpy releases the GIL, so threads run in parallel; errors surface in file order."""
    bounds = []
    while start < stop:
        end = data.find(b"\n", min(start + CHUNK_BYTES, stop) - 1) + 1
        bounds.append((start, end))
        start = end
    first_rows = np.cumsum([0] + [data.count(b"\n", s, e) for s, e in bounds[:-1]])

    def parse(i: int) -> np.ndarray:
        s, e = bounds[i]
        buf = np.frombuffer(data, np.uint8, count=e - s, offset=s)
        return _parse_chunk(buf, len(columns), int(first_rows[i]), columns, name)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return np.concatenate(list(pool.map(parse, range(len(bounds)))))


def _parse_chunk(buf: np.ndarray, ncols: int, first_row: int, columns: list[str], name: str) -> np.ndarray:
    """Whole lines of CSV bytes -> uint8 (rows, ncols); the first bad cell raises."""

    def fail(field: int, why: str) -> DigitlabError:
        row, col = first_row + field // ncols, field % ncols
        return DigitlabError(f"{name}: row {row + 1} (line {row + 2}), column {columns[col]}: {why}")

    # Bytes below "0" are separators: correct once no byte is above "9" and every one of
    # them is a comma or a newline. Three cheap passes check the whole chunk.
    is_sep = buf < ZERO
    sep = np.flatnonzero(is_sep)  # the byte after each cell
    line_ends = np.flatnonzero(buf == NEWLINE)
    if np.count_nonzero(buf > ZERO + 9) or np.count_nonzero(buf == COMMA) + len(line_ends) != len(sep):
        digit = (buf >= ZERO) & (buf <= ZERO + 9)
        raise _bad_character(
            buf, int(np.argmin(digit | (buf == COMMA) | (buf == NEWLINE))), first_row, columns, name
        )
    counts = np.diff(np.searchsorted(sep, line_ends), prepend=-1)  # cells per line
    if (bad := np.flatnonzero(counts != ncols)).size:
        r = int(bad[0])
        raise DigitlabError(
            f"{name}: row {first_row + r + 1} (line {first_row + r + 2}): "
            f"has {counts[r]} columns, expected {ncols}"
        )
    gaps = np.empty_like(sep)  # a cell's length + 1 (np.diff(prepend=) would copy: 10x slower)
    gaps[0] = sep[0] + 1
    np.subtract(sep[1:], sep[:-1], out=gaps[1:])
    if gaps.min() < 2 or gaps.max() > 4:
        f = int(np.flatnonzero((gaps < 2) | (gaps > 4))[0])
        cell = bytes(buf[sep[f] - gaps[f] + 1 : sep[f]]).decode()
        raise fail(f, "empty cell" if not cell else f"{cell!r} is not an integer in 0..255")
    # Each value from its digits, last first. Most cells are a single "0", so the tens and
    # hundreds are gathered only for the few longer cells.
    values = np.take(buf, sep - 1).astype(np.uint16) - ZERO
    longer = np.flatnonzero(gaps > 2)
    ends = np.take(sep, longer)
    values[longer] += 10 * (np.take(buf, ends - 2) - np.uint8(ZERO))
    longest = longer[np.take(gaps, longer) == 4]
    values[longest] += 100 * (np.take(buf, np.take(sep, longest) - 3) - np.uint8(ZERO)).astype(np.uint16)
    if values.max() > 255:
        f = int(np.argmax(values > 255))
        raise fail(f, f"{int(values[f])} is not an integer in 0..255")
    return values.astype(np.uint8).reshape(-1, ncols)


def _bad_character(buf: np.ndarray, pos: int, first_row: int, columns: list[str], name: str) -> DigitlabError:
    """The error for a cell holding something other than digits, located by line and column."""
    line_start = int(np.flatnonzero(buf[:pos] == NEWLINE)[-1]) + 1 if NEWLINE in buf[:pos] else 0
    row = first_row + int(np.count_nonzero(buf[:line_start] == NEWLINE))
    line = bytes(buf[line_start:]).split(b"\n", 1)[0]
    col = line[: pos - line_start].count(b",")
    cell = line.split(b",")[col].decode("utf-8", "replace")
    column = columns[col] if col < len(columns) else f"#{col + 1}"
    return DigitlabError(
        f"{name}: row {row + 1} (line {row + 2}), column {column}: {cell!r} is not an integer in 0..255"
    )
