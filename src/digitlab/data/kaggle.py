"""Kaggle digit-recognizer CSV: `label,pixel0..pixel783` (train) or `pixel0..pixel783` (test).

The parser works on the whole byte buffer with numpy instead of field by field: it finds
every separator at once, checks that each row has the right number of fields and that
every cell is a plain integer, and builds each value from its (at most 3) digits.
"""

from pathlib import Path

import numpy as np

from digitlab.data.cache import cached_arrays
from digitlab.errors import DigitlabError

PIXELS = [f"pixel{i}" for i in range(784)]
COMMA, NEWLINE, ZERO = ord(","), ord("\n"), ord("0")
CHUNK_BYTES = 1 << 18  # parse ~256 KB at a time: the arrays stay in cache (measured fastest)


def read_kaggle_csv(path: str | Path, cache: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Images as uint8 (N,28,28) and labels as int64 (N,), or None for a test file."""
    path = Path(path)
    if not path.is_file():
        raise DigitlabError(f"{path}: no such file")
    if cache:
        arrays = cached_arrays(path, "kaggle", _parse_file)
    else:
        arrays = _parse_file(path)
    return arrays["images"], arrays.get("labels")


def _parse_file(path: Path) -> dict[str, np.ndarray]:
    images, labels = parse_kaggle_csv(path.read_bytes(), str(path))
    return {"images": images} if labels is None else {"images": images, "labels": labels}


def parse_kaggle_csv(data: bytes, name: str = "<csv>") -> tuple[np.ndarray, np.ndarray | None]:
    """Parse CSV bytes (a UTF-8 BOM and Windows line ends are accepted)."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
    head, _, body = data.partition(b"\n")
    columns = head.decode("utf-8", "replace").strip().split(",")
    has_label = columns[:1] == ["label"]
    if columns != (["label"] if has_label else []) + PIXELS:
        raise DigitlabError(f"{name}: line 1: header must be 'label,pixel0..pixel783' or 'pixel0..pixel783'")
    body = body.rstrip(b"\n") + b"\n"
    if body == b"\n":
        raise DigitlabError(f"{name}: no data rows after the header")
    values = _parse_body(body, len(columns), columns, name)
    if not has_label:
        return values.reshape(-1, 28, 28), None
    labels = values[:, 0].astype(np.int64)
    if (bad := np.flatnonzero(labels > 9)).size:
        r = int(bad[0])
        raise DigitlabError(f"{name}: row {r + 1} (line {r + 2}), column label: {labels[r]} is not 0..9")
    return np.ascontiguousarray(values[:, 1:]).reshape(-1, 28, 28), labels


def _parse_body(body: bytes, ncols: int, columns: list[str], name: str) -> np.ndarray:
    """All rows as uint8 (N, ncols), parsed chunk by chunk at line boundaries."""
    chunks, start, row = [], 0, 0
    while start < len(body):
        end = body.find(b"\n", min(start + CHUNK_BYTES, len(body)) - 1) + 1
        buf = np.frombuffer(body, np.uint8, count=end - start, offset=start)
        chunks.append(_parse_chunk(buf, ncols, row, columns, name))
        row += len(chunks[-1])
        start = end
    return np.concatenate(chunks)


def _parse_chunk(buf: np.ndarray, ncols: int, first_row: int, columns: list[str], name: str) -> np.ndarray:
    """Whole lines of CSV bytes -> uint8 (rows, ncols); the first bad cell raises."""

    def fail(field: int, why: str) -> DigitlabError:
        row, col = first_row + field // ncols, field % ncols
        return DigitlabError(f"{name}: row {row + 1} (line {row + 2}), column {columns[col]}: {why}")

    digits = buf - np.uint8(ZERO)  # wraps around: every non-digit byte becomes >= 10
    is_sep = (buf == COMMA) | (buf == NEWLINE)
    if not np.all((digits < 10) | is_sep):
        raise _bad_character(buf, int(np.argmin((digits < 10) | is_sep)), first_row, columns, name)
    sep = np.flatnonzero(is_sep)
    row_ends = np.flatnonzero(buf[sep] == NEWLINE)
    counts = np.diff(row_ends, prepend=-1)
    if (bad := np.flatnonzero(counts != ncols)).size:
        r = int(bad[0])
        raise DigitlabError(
            f"{name}: row {first_row + r + 1} (line {first_row + r + 2}): "
            f"has {counts[r]} columns, expected {ncols}"
        )
    lengths = np.diff(sep, prepend=-1) - 1
    if (bad := np.flatnonzero((lengths == 0) | (lengths > 3))).size:
        f = int(bad[0])
        cell = bytes(buf[sep[f] - lengths[f] : sep[f]]).decode()
        raise fail(f, "empty cell" if not cell else f"{cell!r} is not an integer in 0..255")
    # each value from its last three digits; a shorter number masks the missing ones
    values = digits[sep - 1].astype(np.uint16)
    values += 10 * digits[sep - 2] * (lengths >= 2)
    values += 100 * digits[sep - 3].astype(np.uint16) * (lengths >= 3)
    if (bad := np.flatnonzero(values > 255)).size:
        raise fail(int(bad[0]), f"{int(values[bad[0]])} is not an integer in 0..255")
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
