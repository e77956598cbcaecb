"""Parsing a Kaggle train.csv: digitlab's parser and its cache against pandas.read_csv."""

import os
import statistics
import tempfile
from pathlib import Path

import numpy as np

from bench.stamp import figures
from bench.timing import command_line, interleaved, timed
from digitlab.data import load_source
from digitlab.data.cache import content_hash
from digitlab.data.kaggle import PIXELS, read_kaggle_csv


def write_kaggle_train_csv(path: Path, rows: int = 42000) -> None:
    """A Kaggle-shaped train.csv from the bundled MNIST (the competition's file has 42,000 rows)."""
    train = load_source("mnist").train
    table = np.concatenate(
        [train.labels[:rows, None].numpy(), train.images[:rows].reshape(rows, -1).numpy()], 1
    )
    with open(path, "w") as f:
        f.write(",".join(["label", *PIXELS]) + "\n")
        np.savetxt(f, table, fmt="%d", delimiter=",")


def run(repeats: int = 5) -> dict:
    import pandas as pd

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.csv"
        write_kaggle_train_csv(path)
        os.environ["DIGITLAB_CACHE_DIR"] = str(Path(tmp) / "cache")
        try:
            read_kaggle_csv(path)  # fills the cache (and warms the file cache for every reader)
            sides = {
                "pandas": lambda: timed(pd.read_csv, path)[0],
                "parse": lambda: timed(read_kaggle_csv, path, cache=False)[0],
                "cached": lambda: timed(read_kaggle_csv, path)[0],
                "hash": lambda: timed(content_hash, path)[0],
            }
            times = interleaved(sides, repeats)
        finally:
            del os.environ["DIGITLAB_CACHE_DIR"]
        medians = {f"{k}_s": statistics.median(v) for k, v in times.items()}
        return {
            "rows": 42000,
            "megabytes": path.stat().st_size / 1e6,
            "repeats": repeats,
            **medians,
            **{f"{k}_min_s": min(v) for k, v in times.items()},
            "parse_speedup": medians["pandas_s"] / medians["parse_s"],
            "cache_speedup": medians["pandas_s"] / medians["cached_s"],
        }


def section(r: dict, command: str = "") -> str:
    run = command_line(command)
    return (
        f"## Kaggle CSV parsing\n\n{run}{r['rows']:,}-row train.csv ({r['megabytes']:.0f} MB) made from the "
        f"bundled MNIST; {r['repeats']} runs of each reader in one process, interleaved "
        "(A, B, C, A, B, C ...), min and median. The cached load hashes every "
        f"byte of the file (SHA-256, its two halves in two threads: {r['hash_s'] * 1000:.0f} ms of the "
        "cached load) before trusting the cache, then maps the cached arrays into memory "
        "(copy-on-write).\n\n"
        "| reader | min seconds | median seconds | speed-up over pandas (medians) |\n|---|---|---|---|\n"
        f"| pandas.read_csv | {r['pandas_min_s']:.3f} | {r['pandas_s']:.3f} | 1.0x |\n"
        f"| digitlab parser (no cache) | {r['parse_min_s']:.3f} | {r['parse_s']:.3f} | "
        f"{r['parse_speedup']:.1f}x |\n"
        f"| digitlab, cached second load | {r['cached_min_s']:.4f} | {r['cached_s']:.4f} | "
        f"{r['cache_speedup']:.0f}x |\n"
        + figures(parse_speedup=f"{r['parse_speedup']:.1f}x", cache_speedup=f"{r['cache_speedup']:.0f}x")
    )
