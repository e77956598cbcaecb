"""A user's folder is the user's: each command writing a model folder keeps what digitlab did not write."""

import fcntl
import json
import os
import shutil
from pathlib import Path

import pytest

from digitlab.errors import DigitlabError
from digitlab.modelfiles import ownership
from digitlab.modelfiles.model_file import ModelInfo, load_model, save_model
from digitlab.models import build_model
from tests.helpers import cli

LINEAR = ["--model", "linear", "--epochs", "1"]


def train(data, out) -> None:
    result = cli("train", "--data", data, *LINEAR, "--out", out)
    assert result.returncode == 0, result.stderr


def user_files(folder: Path) -> dict[str, str]:
    """Files a user put there, by path: what must survive every command."""
    files = {
        "runs/notes/todo.txt": "buy milk",
        "runs/lesson/lesson.html": "<p>my notes</p>",
        "checkpoint/mine.txt": "mine",
        "runs/.tmp-mine": "a name like digitlab's temp folders",
        ".model.json.tmp": "not a name digitlab's temp files have",
        "notes.md": "# mine",
    }
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return files


def assert_kept(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        assert (folder / name).read_text() == text, name


def test_ensemble_into_the_folder_holding_its_members_keeps_them_and_the_users_files(trained_model, tmp_path):
    runs = tmp_path / "runs"
    for name in ("a", "b"):
        shutil.copytree(trained_model, runs / name, symlinks=True)
    files = user_files(tmp_path)
    result = cli("ensemble", runs / "a", runs / "b", "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    assert_kept(tmp_path, files)
    for name in ("a", "b"):  # the members are whole models still
        assert load_model(runs / name)[1].architecture == "cnn"
    assert load_model(tmp_path)[1].architecture == "ensemble"


def test_train_twice_into_a_users_folder_removes_only_its_own_earlier_run(tiny_mnist_dir, tmp_path):
    files = user_files(tmp_path)
    train(tiny_mnist_dir, tmp_path)
    first = os.readlink(tmp_path / "current")
    (tmp_path / first / "my-analysis.txt").write_text("kept")  # the user's file inside digitlab's run
    train(tiny_mnist_dir, tmp_path)
    assert_kept(tmp_path, files)
    assert os.readlink(tmp_path / "current") != first
    assert sorted(p.name for p in (tmp_path / first).iterdir()) == ["my-analysis.txt"]  # digitlab's went
    assert not (tmp_path / "checkpoint" / "checkpoint.json").exists()  # the run's checkpoint went
    manifest = json.loads((tmp_path / ownership.MANIFEST).read_text())
    assert manifest["runs"] == [Path(os.readlink(tmp_path / "current")).name]


@pytest.mark.parametrize(
    "planted",
    ["model.json", "report.html", "current", "checkpoint/checkpoint.json", "runs"],
)
def test_foreign_files_under_digitlabs_names_are_refused_with_one_line(tiny_mnist_dir, tmp_path, planted):
    path = tmp_path / planted
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("the user's")
    result = cli("train", "--data", tiny_mnist_dir, *LINEAR, "--out", tmp_path)
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert f"holds {planted}, which digitlab did not write" in result.stderr
    assert path.read_text() == "the user's"
    assert sorted(p.name for p in tmp_path.iterdir()) == [Path(planted).parts[0]]  # nothing else written


def test_links_of_the_users_own_are_foreign_too(tmp_path, trained_model):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "runs").symlink_to(tmp_path / "elsewhere")  # removals would reach elsewhere/
    (tmp_path / "out" / "model.json").symlink_to(trained_model / "model.json")
    result = cli("ensemble", trained_model, trained_model, "--out", tmp_path / "out")
    assert result.returncode == 1 and "holds model.json, runs, which digitlab did not write" in result.stderr


def test_a_damaged_or_tampered_manifest_is_one_line_and_never_a_path(tmp_path, trained_model):
    (tmp_path / "victim").mkdir()
    (tmp_path / "victim" / "model.json").write_text("keep me")
    for runs in (["../victim"], "x", [1]):
        (tmp_path / "out").mkdir(exist_ok=True)
        (tmp_path / "out" / ownership.MANIFEST).write_text(json.dumps({"runs": runs, "pending": []}))
        result = cli("ensemble", trained_model, trained_model, "--out", tmp_path / "out")
        assert result.returncode == 1 and "digitlab's record of this folder is damaged" in result.stderr
    assert (tmp_path / "victim" / "model.json").read_text() == "keep me"


def test_a_second_writer_is_refused_at_once_naming_the_first(tiny_mnist_dir, tmp_path):
    with ownership.writing(tmp_path):  # another process's lock (flock: a second open conflicts)
        result = cli("train", "--data", tiny_mnist_dir, *LINEAR, "--out", tmp_path)
        ensemble = cli("lesson", "--out", tmp_path, "--subset", "1")
    for refused in (result, ensemble):
        assert refused.returncode == 1 and refused.stderr.count("\n") == 1
        assert f"another digitlab process (process {os.getpid()}) is writing this folder" in refused.stderr
    assert "epoch" not in result.stdout  # refused before training
    train(tiny_mnist_dir, tmp_path)  # once the first has finished, the folder is free


def test_the_lock_is_released_when_a_run_fails(tiny_mnist_dir, tmp_path):
    (tmp_path / "bad.csv").write_text("nonsense\n")
    assert cli("train", "--data", tmp_path / "bad.csv", *LINEAR, "--out", tmp_path / "m").returncode == 1
    assert not (tmp_path / "m").exists()  # a folder made for a run that wrote nothing is taken back
    (tmp_path / "m").mkdir()
    assert cli("train", "--data", tmp_path / "bad.csv", *LINEAR, "--out", tmp_path / "m").returncode == 1
    with open(tmp_path / "m" / ownership.LOCK) as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free


def test_a_killed_runs_half_made_run_is_removed_and_nothing_else(tiny_mnist_dir, tmp_path):
    train(tiny_mnist_dir, tmp_path)
    manifest = json.loads((tmp_path / ownership.MANIFEST).read_text())
    manifest["pending"] = ["0badc0de"]
    (tmp_path / ownership.MANIFEST).write_text(json.dumps(manifest))
    half = tmp_path / "runs" / ".tmp-0badc0de"
    half.mkdir()
    (half / "model.json").write_text("{}")
    renamed = tmp_path / "runs" / "0123456789ab-0badc0de"  # killed after the rename, before the switch
    renamed.mkdir()
    (renamed / "report.html").write_text("")
    temp = tmp_path / ".history.csv.abcd_123.tmp"  # an interrupted atomic write of ours
    temp.write_text("")
    files = user_files(tmp_path)
    train(tiny_mnist_dir, tmp_path)
    assert not half.exists() and not renamed.exists() and not temp.exists()
    assert_kept(tmp_path, files)


def test_a_lesson_folder_written_before_manifests_is_taken_over(tiny_mnist_dir, tmp_path):
    model = build_model("mlp")
    save_model(model, tmp_path, ModelInfo.describe(model))  # as `lesson` wrote its folder then
    (tmp_path / "lesson.html").write_text("old lesson")
    weights = json.loads((tmp_path / "model.json").read_text())["weights_file"]
    train(tiny_mnist_dir, tmp_path)
    assert (tmp_path / "model.json").is_symlink() and not (tmp_path / weights).exists()
    assert not (tmp_path / "lesson.html").exists()  # this model has no lesson


def test_writes_replace_only_regular_files(tmp_path, trained_model, mnist):
    from tests.helpers import csv_text

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "target.csv")
    test_csv = tmp_path / "test.csv"
    test_csv.write_text(csv_text(mnist.test.images[:5].numpy(), None))
    for out in (fifo, link):
        result = cli("submit", trained_model, "--test", test_csv, "--out", out)
        assert result.returncode == 1 and "digitlab writes only regular files" in result.stderr
    result = cli("evaluate", trained_model, "--report", fifo)
    assert result.returncode == 1 and f"{fifo}: is a pipe (FIFO)" in result.stderr
    assert fifo.is_fifo() and link.is_symlink() and not (tmp_path / "target.csv").exists()
    with pytest.raises(Exception, match="is a device"):
        ownership.write_text_atomic(Path("/dev/null"), "x")  # refused before anything is written


DEEP = "[" * 100_000 + "]" * 100_000  # JSON nested far past Python's recursion limit
WRONG = ["[]", '"files"', "5", "null", '{"files": 5}', '{"files": "ab"}', '{"files": [1]}', '{"runs": {}}',
         '{"runs": [], "pending": "x"}', '{"files": ' + DEEP + "}", DEEP]  # fmt: skip


@pytest.mark.parametrize("text", WRONG, ids=range(len(WRONG)))
def test_either_manifest_of_the_wrong_type_or_nested_deep_is_one_line(tmp_path, text):
    """`.digitlab.json` (a model folder's) and `.digitlab-files.json` (explain --out's, --save-inputs')."""
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / ownership.MANIFEST).write_text(text)
    with pytest.raises(DigitlabError) as error:
        ownership.check(folder)
    assert str(error.value).startswith(f"{folder / ownership.MANIFEST}: digitlab's record of this folder")
    marker = folder / ownership.OwnedFiles.MARKER
    marker.write_text(text)
    with pytest.raises(DigitlabError) as error:
        ownership.OwnedFiles(folder)
    assert str(error.value) == f"{marker}: is not a list of files digitlab wrote"


def test_explain_into_a_folder_whose_manifest_is_damaged_is_one_line(trained_model, tmp_path, mnist):
    from PIL import Image

    Image.fromarray(mnist.test.images[0].numpy()).save(tmp_path / "seven.png")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / ownership.OwnedFiles.MARKER).write_text('{"files": ' + DEEP + "}")
    result = cli("explain", trained_model, tmp_path / "seven.png", "--out", tmp_path / "out")
    assert (
        result.returncode == 1
        and result.stderr.count("\n") == 1
        and "rerun with --debug" not in result.stderr
    )
    assert "is not a list of files digitlab wrote" in result.stderr


@pytest.mark.parametrize(
    "written", ["[1]", "null", '{"a.png": [true, 1]}', '{"a.png": [1e400, 1]}', '{"a.png": "x"}']
)
def test_a_files_record_whose_sizes_and_times_are_not_pairs_of_integers_is_one_line(tmp_path, written):
    marker = tmp_path / ownership.OwnedFiles.MARKER
    marker.write_text('{"files": ["a.png"], "written": ' + written + "}")
    with pytest.raises(DigitlabError) as error:
        ownership.OwnedFiles(tmp_path)
    assert str(error.value) == f"{marker}: is not a list of files digitlab wrote"


def test_a_file_digitlab_wrote_is_replaced_only_while_unchanged(tmp_path):
    files = ownership.OwnedFiles(tmp_path)
    files.claim(["a.png"])
    files.write("a.png", b"digitlab's")
    files.save()
    ownership.OwnedFiles(tmp_path).claim(["a.png"])  # unchanged: a later run may replace it
    (tmp_path / "a.png").write_bytes(b"the user's edit")
    with pytest.raises(DigitlabError, match="a.png: changed since digitlab wrote it"):
        ownership.OwnedFiles(tmp_path).claim(["a.png"])
    assert (tmp_path / "a.png").read_bytes() == b"the user's edit"
