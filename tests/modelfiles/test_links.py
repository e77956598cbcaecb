"""digitlab's own files are never written through links: at every name digitlab writes, a symbolic
link or a hard link to a file of the user's is refused with one line, and the user's file is unchanged."""

import json
import os
from pathlib import Path

import pytest
import torch
from PIL import Image

from digitlab.errors import DigitlabError
from digitlab.modelfiles import ownership
from digitlab.modelfiles.model_file import ModelInfo, read_info, save_model
from digitlab.models import build_model
from tests.helpers import CliResult, cli, csv_text

MANIFEST_TEXT = json.dumps({"format": "digitlab-folder", "runs": [], "pending": [], "files": []})


def save_linear(out: Path) -> None:
    """The same model every time (seeded), so its weights file has the same name."""
    torch.manual_seed(0)
    model = build_model("linear")
    save_model(model, out, ModelInfo.describe(model))


def linear_weights_name(tmp_path: Path) -> str:
    save_linear(tmp_path / "first")
    return read_info(tmp_path / "first").weights_file


def train(out: Path, env: dict) -> CliResult:
    return cli("train", "--data", env["data"], "--model", "linear", "--epochs", "1", "--out", out)


def train_in_own_folder(out: Path, env: dict) -> CliResult:
    """A folder digitlab's manifest is in: its checkpoint/ is digitlab's, so the checkpoint is written."""
    (out / ownership.MANIFEST).write_text(MANIFEST_TEXT)
    return train(out, env)


def explain(out: Path, env: dict) -> CliResult:
    return cli("explain", env["model"], env["seven"], "--out", out)


def explain_over_a_listed_name(out: Path, env: dict) -> CliResult:
    """A name an earlier run listed as its own: claimed again, and the write's own check refuses it."""
    (out / ownership.OwnedFiles.MARKER).write_text(json.dumps({"files": ["0000-seven.png"]}))
    return explain(out, env)


def save(out: Path, env: dict) -> CliResult:
    try:
        save_linear(out)
    except DigitlabError as e:
        return CliResult(1, "", f"error: {e}\n")
    return CliResult(0, "", "")


def show(out: Path, env: dict) -> CliResult:
    return cli("data", "show", "mnist", "--out", out / "fig.png", "--count", "4")


def evaluate(out: Path, env: dict) -> CliResult:
    return cli("evaluate", env["model"], "--data", env["csv"], "--report", out / "r.html")


def submit(out: Path, env: dict) -> CliResult:
    return cli("submit", env["model"], "--test", env["test"], "--out", out / "s.csv")


def export(out: Path, env: dict) -> CliResult:
    return cli("export", env["model"], "--data", env["csv"], "--out", out / "m.onnx")


def notebook(out: Path, env: dict) -> CliResult:
    return cli("lesson", "--notebook", out / "l.ipynb")


# kind -> (the name planted in the folder `out`, the user's file's text, how digitlab writes there)
WRITERS = {
    "lock": (ownership.LOCK, "", train),
    "folder manifest": (ownership.MANIFEST, MANIFEST_TEXT, train),
    "checkpoint": ("checkpoint/checkpoint.json", "the user's", train_in_own_folder),
    "files manifest": (ownership.OwnedFiles.MARKER, MANIFEST_TEXT, explain),
    "explain figure": ("0000-seven.png", "the user's", explain_over_a_listed_name),
    "model weights": (linear_weights_name, "the user's", save),
    "model.json": ("model.json", "the user's", save),
    "figure": ("fig.png", "the user's", show),
    "report": ("r.html", "the user's", evaluate),
    "submission": ("s.csv", "the user's", submit),
    "notebook": ("l.ipynb", "the user's", notebook),
    "onnx": ("m.onnx", "the user's", export),
}


@pytest.fixture(scope="module")
def env(trained_model, tiny_mnist_dir, mnist, tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    Image.fromarray(mnist.test.images[0].numpy()).save(folder / "seven.png")
    (folder / "test.csv").write_text(csv_text(mnist.test.images[:5].numpy(), None))
    images, labels = mnist.test.images[:50].numpy(), mnist.test.labels[:50].numpy()
    (folder / "labelled.csv").write_text(csv_text(images, labels))
    return {"model": trained_model, "data": tiny_mnist_dir, "seven": folder / "seven.png",
            "test": folder / "test.csv", "csv": folder / "labelled.csv"}  # fmt: skip


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
@pytest.mark.parametrize("kind", WRITERS)
def test_a_link_at_any_name_digitlab_writes_is_refused_and_the_users_file_kept(tmp_path, env, kind, link):
    name, text, write = WRITERS[kind]
    name = name(tmp_path) if callable(name) else name
    users = tmp_path / "users-file"
    users.write_text(text)
    out = tmp_path / "out"
    (out / name).parent.mkdir(parents=True)
    if link == "symlink":
        (out / name).symlink_to(users)
    else:
        os.link(users, out / name)
    result = write(out, env)
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert str(out / name) in result.stderr or f"holds {name}" in result.stderr, result.stderr
    said = ("symbolic link", "hard link", f"holds {name}")
    assert any(words in result.stderr for words in said), result.stderr
    assert users.read_text() == text and os.stat(users).st_nlink == (2 if link == "hardlink" else 1)
    assert (out / name).is_symlink() == (link == "symlink")  # the link itself is left as it was


def test_a_lock_file_holding_anything_but_a_process_id_is_not_digitlabs(tmp_path):
    (tmp_path / ownership.LOCK).write_text("my notes\n")
    with pytest.raises(DigitlabError, match="holds something digitlab did not write"):
        with ownership.writing(tmp_path):
            pass
    assert (tmp_path / ownership.LOCK).read_text() == "my notes\n"
    (tmp_path / ownership.LOCK).write_text("1234\n")  # a lock of an earlier run: reused
    with ownership.writing(tmp_path):
        assert (tmp_path / ownership.LOCK).read_text() == f"{os.getpid()}\n"
