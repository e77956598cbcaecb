"""Every file digitlab reads whole is sized on its open descriptor first: a sparse file declaring
gigabytes is refused at once, without one byte of it read (a 3 GB manifest once took 6.4 GB and 42 s)."""

import json
import os
import time
import tracemalloc
from pathlib import Path

import pytest

from digitlab.data.class_names import classes_txt
from digitlab.data.download import download
from digitlab.errors import DigitlabError
from digitlab.exercises.learner_file import load_definitions
from digitlab.fileio import read_regular
from digitlab.inference.submission import check_submission
from digitlab.modelfiles import checkpoint_file, ownership
from digitlab.modelfiles.model_file import ModelInfo, load_model, read_info, save_model
from digitlab.modelfiles.onnx_export import read_onnx_file
from digitlab.models import build_model
from digitlab.run.config_file import read_config
from digitlab.version import __version__

SPARSE = 4 << 30  # declared, never written: 4 GB take no disk and no time to make
STATE = "state-" + "0" * 16 + ".safetensors"


def sparse(path: Path, size: int = SPARSE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def model_with_huge_weights(folder: Path) -> None:
    model = build_model("linear")
    save_model(model, folder, ModelInfo.describe(model))
    sparse(folder / read_info(folder).weights_file)


def checkpoint_with_huge_state(folder: Path) -> None:
    meta = {"format": checkpoint_file.FORMAT, "format_version": checkpoint_file.FORMAT_VERSION,
            "digitlab_version": __version__, "tensors_file": STATE, "tensors_sha256": "0" * 64}  # fmt: skip
    (folder / checkpoint_file.JSON_NAME).write_text(json.dumps(meta))
    sparse(folder / STATE)


# (what is read, the file made sparse, how digitlab reads it): each reader of a whole file
READERS = {
    "folder manifest": (ownership.MANIFEST, lambda d: ownership.check(d)),
    "files manifest": (ownership.OwnedFiles.MARKER, lambda d: ownership.OwnedFiles(d)),
    "model.json": ("model.json", lambda d: read_info(d)),
    "weights": (None, lambda d: (model_with_huge_weights(d), load_model(d))),
    "checkpoint.json": (checkpoint_file.JSON_NAME, lambda d: checkpoint_file.load_metadata(d)),
    "checkpoint state": (None, lambda d: (checkpoint_with_huge_state(d), checkpoint_file.load(d))),
    "config file": ("run.toml", lambda d: read_config(d / "run.toml")),
    "submission": ("submission.csv", lambda d: check_submission(d / "submission.csv", d / "test.csv")),
    "onnx file": ("model.onnx", lambda d: read_onnx_file(d / "model.onnx", 1 << 20)),
    "exercise file": ("mine.py", lambda d: load_definitions(d / "mine.py")),
    "class names": ("classes.txt", lambda d: classes_txt(d)),
    "downloaded file in place": ("train-images-idx3-ubyte.gz", lambda d: download("mnist", d, mirrors=[])),
}


@pytest.mark.parametrize("reader", READERS)
def test_a_sparse_file_of_gigabytes_is_refused_before_it_is_read(tmp_path, reader):
    name, read = READERS[reader]
    if name is not None:
        sparse(tmp_path / name)
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(DigitlabError) as refused:
            read(tmp_path)
        seconds, (_, peak) = time.monotonic() - started, tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "\n" not in str(refused.value) and str(tmp_path) in str(refused.value)
    assert "bytes, more than" in str(refused.value) or "exists and is not" in str(refused.value)
    # Reading would take the 4 GB (and tens of seconds); refusing takes the few hundred KB a model
    # of ours makes, and what tracemalloc itself holds: 16 MB is far between the two.
    assert peak < 16 << 20, f"{peak:,} bytes allocated"
    assert seconds < 10, seconds  # a 3 GB read took 42 s; a refusal is milliseconds, on a busy machine too


def test_a_legacy_model_json_of_gigabytes_is_not_read_to_adopt_the_folder(tmp_path):
    sparse(tmp_path / "model.json")
    tracemalloc.start()
    try:
        with pytest.raises(DigitlabError, match="holds model.json, which digitlab did not write"):
            ownership.check(tmp_path)  # not adopted as digitlab's, so never replaced
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ownership.read_manifest(tmp_path).legacy == [] and peak < 16 << 20


def test_reads_refuse_links_pipes_devices_and_folders(tmp_path):
    target = tmp_path / "target.json"
    target.write_text("{ }")
    (tmp_path / "link.json").symlink_to(target)
    os.mkfifo(tmp_path / "fifo")
    refusals = {
        tmp_path / "link.json": r"not a regular file \(a symbolic link",
        tmp_path / "fifo": r"not a regular file \(a pipe",
        Path("/dev/zero"): "not a regular file",
        tmp_path: "is a folder",
        tmp_path / "none": "no such file",
    }
    for path, message in refusals.items():
        with pytest.raises(DigitlabError, match=message):
            read_regular(path, 1 << 20)
    assert read_regular(tmp_path / "link.json", 3, follow_links=True) == b"{ }"  # a file the user named
    with pytest.raises(DigitlabError, match=r"3 bytes, more than a test allows \(2\)"):
        read_regular(tmp_path / "target.json", 2, what="a test allows")


def test_manifests_nested_past_the_recursion_limit_are_one_line(tmp_path):
    deep = "[" * 100_000 + "]" * 100_000  # 200 KB, within the size limit
    (tmp_path / ownership.OwnedFiles.MARKER).write_text(deep)
    with pytest.raises(DigitlabError, match="is not a list of files digitlab wrote"):
        ownership.OwnedFiles(tmp_path)
    (tmp_path / "model.json").write_text(deep)  # a folder from before manifests: not adopted
    assert ownership.read_manifest(tmp_path).legacy == []
