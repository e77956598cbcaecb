import json
import re
import subprocess
import sys

import pytest

from digitlab.checkpoint import load_model
from digitlab.train.recipe import PRESETS, TrainConfig, train_and_save


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "digitlab", *args], capture_output=True, text=True, timeout=600
    )


def test_train_cli_writes_model_history_report_and_final_line(mini_mnist_dir, tmp_path):
    result = cli(
        "train",
        "--data",
        str(mini_mnist_dir),
        "--preset",
        "fast",
        "--epochs",
        "1",
        "--out",
        str(tmp_path),
        "--device",
        "cpu",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert re.fullmatch(r"epoch\s+train_loss\s+valid_loss\s+accuracy\s+time", lines[0])
    assert re.fullmatch(r"test accuracy: 0\.\d{4}", lines[-1])
    assert float(lines[-1].split()[-1]) > 0.9
    assert (tmp_path / "history.csv").read_text().startswith("epoch,train_loss,valid_loss,accuracy,time")
    assert (tmp_path / "report.html").read_text().rstrip().endswith("</html>")
    model, info = load_model(tmp_path)
    assert info["architecture"] == "cnn" and info["settings"]["preset"] == "fast"
    assert len(info["data_fingerprint"]) == 64 and info["metrics"]["test_accuracy"] > 0.9


def test_same_seed_same_weights_and_accuracy(mini_mnist_dir, tmp_path):
    runs = []
    for name in ("a", "b"):
        config = TrainConfig(
            data=str(mini_mnist_dir), preset="fast", epochs=1, seed=7, out=str(tmp_path / name), device="cpu"
        )
        _, evaluation = train_and_save(config)
        info = json.loads((tmp_path / name / "model.json").read_text())
        runs.append((info["weights_sha256"], evaluation.accuracy))
    assert runs[0] == runs[1]
    other = TrainConfig(
        data=str(mini_mnist_dir), preset="fast", epochs=1, seed=8, out=str(tmp_path / "c"), device="cpu"
    )
    train_and_save(other)
    assert json.loads((tmp_path / "c" / "model.json").read_text())["weights_sha256"] != runs[0][0]


@pytest.mark.parametrize("model", ["baseline", "linear", "mlp"])
def test_every_model_trains_from_a_kaggle_csv(model, mnist, tmp_path):
    from tests.test_kaggle import csv_text

    csv = tmp_path / "train.csv"
    csv.write_text(csv_text(mnist.train.images[:3000].numpy(), mnist.train.labels[:3000].numpy()))
    result = cli("train", "--data", str(csv), "--model", model, "--epochs", "2", "--out", str(tmp_path / "m"))
    assert result.returncode == 0, result.stderr
    final = result.stdout.strip().splitlines()[-1]
    assert final.startswith("valid accuracy: ") and float(final.split()[-1]) > 0.6
    assert load_model(tmp_path / "m")[1]["architecture"] == model


def test_presets_and_flags_resolve():
    settings = TrainConfig(preset="fast", epochs=3).resolved()
    assert settings["epochs"] == 3 and settings["channels"] == PRESETS["fast"]["channels"]
    with pytest.raises(ValueError, match="unknown preset"):
        TrainConfig(preset="turbo").resolved()


def test_bad_data_is_one_line(tmp_path):
    result = cli("train", "--data", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o"))
    assert result.returncode == 1 and result.stderr.startswith("error: ") and "nope.csv" in result.stderr


def test_fine_tune_a_trained_model_on_saved_drawings(trained_model, mnist, tmp_path):
    """What the web app's "that's wrong" button saves, `train --init` can learn from."""
    import numpy as np
    from PIL import Image

    for i in range(60):
        digit = int(mnist.test.labels[i])
        folder = tmp_path / "saved" / str(digit)
        folder.mkdir(parents=True, exist_ok=True)
        ink = np.asarray(Image.fromarray(mnist.test.images[i].numpy()).resize((280, 280)))
        rgba = np.zeros((280, 280, 4), np.uint8)
        rgba[..., 3] = ink  # black strokes on a transparent canvas
        Image.fromarray(rgba, "RGBA").save(folder / f"{i}.png")
    result = cli(
        "train",
        "--data",
        str(tmp_path / "saved"),
        "--init",
        str(trained_model),
        "--epochs",
        "1",
        "--lr",
        "0.01",
        "--out",
        str(tmp_path / "tuned"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("valid accuracy: ")
    _, info = load_model(tmp_path / "tuned")
    assert info["architecture"] == "cnn" and info["settings"]["init"] == str(trained_model)
    assert info["normalization"] == load_model(trained_model)[1]["normalization"]  # the model's own
