"""IDX files (the format MNIST ships in): a tiny header, then one flat big-endian array.

Header: two zero bytes, a dtype code, the number of dimensions, then each dimension
as a big-endian uint32. The payload must hold exactly prod(dims) items.
"""

import zlib
from pathlib import Path

import numpy as np

from digitlab.errors import DigitlabError

DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when it is gzip (by its magic bytes, not its name)."""
    data = path.read_bytes()
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        d = zlib.decompressobj(wbits=31)
        out = d.decompress(data)
        if not d.eof:
            raise DigitlabError(f"{path}: truncated gzip stream")
        return out
    except zlib.error as e:
        raise DigitlabError(f"{path}: corrupt gzip data ({e})") from None


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode IDX bytes into a native-endian numpy array, checking every header field."""
    if len(data) < 4:
        raise DigitlabError(f"{name}: too short for an IDX header ({len(data)} bytes)")
    if data[0] != 0 or data[1] != 0:
        raise DigitlabError(f"{name}: not an IDX file (bad magic number {data[:4].hex()})")
    code, ndim = data[2], data[3]
    if code not in DTYPES:
        raise DigitlabError(f"{name}: unknown IDX dtype code 0x{code:02x}")
    if ndim == 0:
        raise DigitlabError(f"{name}: IDX header has zero dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DigitlabError(f"{name}: truncated IDX header")
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    dtype = np.dtype(DTYPES[code])
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(data) - header != expected:
        raise DigitlabError(f"{name}: payload is {len(data) - header} bytes but dims {dims} need {expected}")
    return np.frombuffer(data, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file, raw or gzipped."""
    path = Path(path)
    if not path.is_file():
        raise DigitlabError(f"{path}: no such file")
    return parse_idx(read_bytes(path), str(path))


def read_idx_images(path: str | Path) -> np.ndarray:
    """Images as uint8 (N,28,28) or (N,H,W)."""
    arr = read_idx(path)
    if arr.ndim != 3 or arr.dtype != np.uint8:
        raise DigitlabError(f"{path}: expected uint8 images of 3 dims, got {arr.dtype} {arr.shape}")
    return arr


def read_idx_labels(path: str | Path) -> np.ndarray:
    """Labels as int64 (N,), each 0..9."""
    arr = read_idx(path)
    if arr.ndim != 1:
        raise DigitlabError(f"{path}: expected 1-dim labels, got shape {arr.shape}")
    bad = np.flatnonzero((arr < 0) | (arr > 9))
    if bad.size:
        raise DigitlabError(f"{path}: label {int(arr[bad[0]])} at index {bad[0]} is not 0..9")
    return arr.astype(np.int64)
