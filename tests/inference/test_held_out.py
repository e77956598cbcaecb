"""Commands remember the data: evaluate, export and the Python API score a model on its own data's held-out
split without --data (the valid split train drew when the data have no test split) and say which."""

import json
import shutil
import warnings

import pytest

from tests.helpers import cli, make_block_classes, write_named_folders

NAMES = {0: "bar", 1: "dot", 2: "ring", 3: "star"}  # four kinds of block image that are not digits
# a learning rate so low that some valid images stay wrong: explain has mistakes to show
LINEAR = ["--model", "linear", "--epochs", "1", "--lr", "0.0003", "--valid-fraction", "0.25", "--seed", "3"]


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """200 images of 4 named classes in one folder (no test split), and a linear model trained on them."""
    root = tmp_path_factory.mktemp("shapes")
    write_named_folders(root / "shapes", make_block_classes(50, classes=4), NAMES)
    result = cli("train", "--data", root / "shapes", *LINEAR, "--out", root / "model")
    assert result.returncode == 0, result.stderr
    return root


def test_evaluate_defaults_to_the_valid_split_train_held_out_and_names_it(shapes):
    from digitlab.modelfiles.model_file import read_info

    info = read_info(shapes / "model")
    assert info.data_source == str(shapes / "shapes")  # absolute: any folder may evaluate it later
    scores = json.loads(cli("evaluate", shapes / "model", "--json").stdout)
    held = (str(shapes / "shapes"), "valid", 50)  # 25% of 200 held out
    assert (scores["data"], scores["split"], scores["n"]) == held
    assert scores["accuracy"] == pytest.approx(info.metrics["valid_accuracy"], abs=1e-6)  # the same images
    text = cli("evaluate", shapes / "model").stdout
    assert text.splitlines()[:2] == [
        f"data: {shapes / 'shapes'}, valid split (50 images)",
        f"valid accuracy: {scores['accuracy']:.4f} on 50 images",
    ]

    named = json.loads(cli("evaluate", shapes / "model", "--data", shapes / "shapes", "--json").stdout)
    assert (named["split"], named["n"]) == ("valid", 50)  # its own data named: still no training images

    import digitlab

    assert digitlab.load(shapes / "model").evaluate().accuracy == pytest.approx(scores["accuracy"], abs=1e-6)


def test_export_checks_on_the_model_s_own_images_not_mnist(shapes, tmp_path):
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    result = cli("export", shapes / "model", "--out", tmp_path / "m.onnx")
    assert result.returncode == 0, result.stderr
    assert f"data: {shapes / 'shapes'}, valid split (50 images)" in result.stdout
    assert "checked on these 50 images" in result.stdout and "mnist" not in result.stdout.lower()
    refused = cli("export", shapes / "model", "--out", tmp_path / "d.onnx", "--data", "mnist")
    assert refused.returncode == 1 and not (tmp_path / "d.onnx").exists()
    assert refused.stderr.startswith("error: mnist (test): has labels up to 9, and the model 4 classes")
    assert len(refused.stderr.splitlines()) == 1 and "without --data" in refused.stderr


def test_a_moved_data_folder_is_one_line_that_says_to_pass_data(shapes, tmp_path):
    shutil.copytree(shapes / "model", tmp_path / "model", symlinks=True)
    moved = shapes / "moved"
    (shapes / "shapes").rename(moved)
    try:
        result = cli("evaluate", tmp_path / "model")
        assert result.returncode == 1 and result.stderr == (
            f"error: {shapes / 'shapes'}: the data this model was trained on is no longer there; "
            "pass --data SRC\n"
        )
        given = cli("evaluate", tmp_path / "model", "--data", moved)
        assert given.returncode == 0 and given.stdout.startswith(f"data: {moved}, all split (200 images)")
    finally:
        moved.rename(shapes / "shapes")


def test_explain_without_images_explains_the_worst_mistakes_on_the_held_out_split(shapes):
    scores = json.loads(cli("evaluate", shapes / "model", "--json").stdout)
    worst = scores["top_losses"][:2]
    result = cli("explain", shapes / "model", "--top", "2", "--json")
    assert result.returncode == 0 and result.stderr == f"data: {shapes / 'shapes'}, valid split (50 images)\n"
    items = json.loads(result.stdout)
    assert [i["path"] for i in items] == [
        f"{shapes / 'shapes'} (valid) image {t['index']}, labelled {NAMES[t['label']]}" for t in worst
    ]
    assert len(worst) == 2 and [i["index"] for i in items] == [t["predicted"] for t in worst]
    assert all("attribution" in i for i in items)


def test_data_changed_since_training_is_one_warning_line(shapes):
    from PIL import Image

    extra = shapes / "shapes" / "dot" / "added-later.png"
    Image.new("L", (28, 28), 255).save(extra)  # the split train drew is no longer the same images
    try:
        with pytest.warns(UserWarning, match="its images changed since the model was trained") as record:
            assert cli("evaluate", shapes / "model").returncode == 0
        assert len(record) == 1 and "\n" not in str(record[0].message)
    finally:
        extra.unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cli("evaluate", shapes / "model").returncode == 0  # as trained: no warning
