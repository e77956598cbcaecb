"""IDX files (the format MNIST ships in): a tiny header, then one flat big-endian array.

Header: two zero bytes, a dtype code, the number of dimensions, then each dimension
as a big-endian uint32. The payload must hold exactly prod(dims) items.

The header is read first and checked against what the file can hold before any memory is
committed: a raw file must be as long as its dims declare, and a gzip file may declare at most
MAX_INFLATION times its own size (MNIST's inflate 2-5x; a 1 MB gzip of zeros can inflate to a
gigabyte). The payload is then streamed into one array, never more than declared.
"""

import gzip
import io
import os
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from digitlab.errors import DigitlabError
from digitlab.fileio import regular_file

DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
MAX_PAYLOAD = 1 << 30  # bytes one IDX file may declare: 20x MNIST's largest file (47 MB)
MAX_INFLATION = 100  # a gzip may declare this many times its own size (MNIST's: 4.8x at most)
SMALL_PAYLOAD = 1 << 20  # payloads up to this size are never too inflated (tiny test files of zeros)
READ_CHUNK = 1 << 22
# Images may be of any size from MIN_SIDE to MAX_SIDE a side (MNIST's are 28x28): the CNN halves its
# input three times, and a 256x256 grey image is already 8x MNIST's largest side.
MIN_SIDE, MAX_SIDE = 8, 256
MAX_CLASSES = 1000  # labels are whole numbers 0..999 (MNIST's 0..9, EMNIST's up to 0..61)


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode IDX bytes (raw or gzipped) into a native-endian numpy array, checking every field."""
    return _read(io.BytesIO(data), name, len(data))


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file, raw or gzipped (known by its magic bytes, not its name)."""
    path = regular_file(path)  # a pipe or a device would hang or never end
    with open(path, "rb") as f:
        return _read(f, str(path), os.fstat(f.fileno()).st_size)


def _read(f: BinaryIO, name: str, file_size: int) -> np.ndarray:
    gzipped = f.read(2) == b"\x1f\x8b"
    f.seek(0)
    stream: BinaryIO = gzip.GzipFile(fileobj=f, mode="rb") if gzipped else f  # type: ignore[assignment]
    try:
        dtype, dims, size = _header(stream, name)
        _check_budget(name, size, file_size, gzipped, dims)
        payload = np.empty(size, np.uint8)
        got = _read_into(stream, payload)
        extra = len(stream.read(1))  # one byte more tells "too long" from "just right"
    except EOFError:
        raise DigitlabError(f"{name}: truncated gzip stream") from None
    except (OSError, zlib.error) as e:
        raise DigitlabError(f"{name}: corrupt gzip data ({e})") from None
    if got != size or extra:
        held = "more than" if extra else f"{got} bytes, not"
        raise DigitlabError(f"{name}: payload holds {held} the {size} bytes that dims {dims} declare")
    return payload.view(dtype).reshape(dims).astype(dtype.newbyteorder("="), copy=False)


def _check_budget(name: str, size: int, file_size: int, gzipped: bool, dims: tuple[int, ...]) -> None:
    """Refuse a payload the file cannot really hold, before any memory is committed to it."""
    if not gzipped and size > file_size:
        raise DigitlabError(f"{name}: dims {dims} declare {size:,} bytes, but the file has {file_size:,}")
    if not gzipped and file_size > 4 + 4 * len(dims) + size:  # refused before a byte of payload is read
        raise DigitlabError(f"{name}: payload holds more than the {size} bytes that dims {dims} declare")
    if gzipped and size > max(SMALL_PAYLOAD, MAX_INFLATION * file_size):
        raise DigitlabError(
            f"{name}: dims {dims} declare {size:,} bytes, over {MAX_INFLATION}x the {file_size:,}-byte "
            "gzip file (real images inflate 2-5x: a decompression bomb?)"
        )


def _read_into(stream: BinaryIO, payload: np.ndarray) -> int:
    """Fill `payload` from the stream a chunk at a time; the bytes read (fewer if the stream ends)."""
    got = 0
    while got < len(payload):
        n = stream.readinto(memoryview(payload.data)[got : got + READ_CHUNK])  # type: ignore[attr-defined]
        if not n:
            break
        got += n
    return got


def _header(stream: BinaryIO, name: str) -> tuple[np.dtype, tuple[int, ...], int]:
    head = stream.read(4)
    if len(head) < 4:
        raise DigitlabError(f"{name}: too short for an IDX header ({len(head)} bytes)")
    if head[0] != 0 or head[1] != 0:
        raise DigitlabError(f"{name}: not an IDX file (bad magic number {head.hex()})")
    code, ndim = head[2], head[3]
    if code not in DTYPES:
        raise DigitlabError(f"{name}: unknown IDX dtype code 0x{code:02x}")
    if ndim == 0:
        raise DigitlabError(f"{name}: IDX header has zero dimensions")
    raw_dims = stream.read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise DigitlabError(f"{name}: truncated IDX header ({ndim} dims declared)")
    dims = tuple(int(d) for d in np.frombuffer(raw_dims, ">u4"))
    dtype = np.dtype(DTYPES[code])
    if 0 in dims:
        raise DigitlabError(f"{name}: dims {dims} hold no items")
    size = dtype.itemsize * int(np.prod(dims, dtype=object))  # Python ints: no overflow
    if size > MAX_PAYLOAD:
        raise DigitlabError(f"{name}: dims {dims} declare {size:,} bytes, over the {MAX_PAYLOAD:,} limit")
    return dtype, dims, size


def read_idx_images(path: str | Path) -> np.ndarray:
    """Images as uint8 (N,H,W), N >= 1, each side MIN_SIDE..MAX_SIDE."""
    arr = read_idx(path)
    if arr.ndim != 3 or arr.dtype != np.uint8:
        raise DigitlabError(f"{path}: expected uint8 images of 3 dims, got {arr.dtype} {arr.shape}")
    if len(arr) == 0:
        raise DigitlabError(f"{path}: holds no images")
    if not all(MIN_SIDE <= side <= MAX_SIDE for side in arr.shape[1:]):
        h, w = arr.shape[1:]
        raise DigitlabError(
            f"{path}: images are {h}x{w}; digitlab reads {MIN_SIDE} to {MAX_SIDE} pixels a side"
        )
    return arr


def read_idx_labels(path: str | Path) -> np.ndarray:
    """Labels as int64 (N,), each a whole number 0..MAX_CLASSES-1."""
    arr = read_idx(path)
    if arr.ndim != 1:
        raise DigitlabError(f"{path}: expected 1-dim labels, got shape {arr.shape}")
    if len(arr) == 0:
        raise DigitlabError(f"{path}: holds no labels")
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(~np.isin(arr, np.arange(MAX_CLASSES)))  # NaN, inf, 3.7, -1 and 1000 all fail
    if bad.size:
        raise DigitlabError(
            f"{path}: label {arr[bad[0]]} at index {bad[0]} is not a whole number 0..{MAX_CLASSES - 1}"
        )
    return arr.astype(np.int64)
