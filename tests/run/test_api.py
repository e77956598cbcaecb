"""The Python API, and the example of it in docs/python-api.md, run as it is written."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import digitlab
from digitlab.modelfiles.model_file import load_model
from digitlab.run.settings import TrainConfig
from tests.helpers import cli

API_PAGE = Path(__file__).parents[2] / "docs" / "python-api.md"


def test_the_api_pages_python_example_runs_as_written(tmp_path, monkeypatch):
    (code,) = re.findall(r"```python\n(.*?)```", API_PAGE.read_text(), re.S)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/python-api.md", "exec"), {"__name__": "__docs__"})
    assert (tmp_path / "runs" / "api-demo" / "model.json").exists() and (tmp_path / "seven.png").exists()


def test_train_is_the_command_lines_train(tiny_mnist_dir, tmp_path, monkeypatch):
    import digitlab.inference.predictor

    def refused(*args):
        raise AssertionError("the model trained was read back from disk")

    settings = dict(data=str(tiny_mnist_dir), model="linear", epochs=1, seed=2)
    with monkeypatch.context() as patched:
        patched.setattr(digitlab.inference.predictor, "load_model", refused)
        run = digitlab.train(TrainConfig(**settings), quiet=True, out=str(tmp_path / "api"), patience=3)
    model = run.model
    saved = json.loads((tmp_path / "api" / "model.json").read_text())
    assert run.folder == model.path == tmp_path / "api" and run.config.epochs == 1 == len(run.history)
    assert run.history == saved["history"] and run.metrics == saved["metrics"] and run.kept_epoch == 0
    assert run.metrics["test_accuracy"] == run.evaluation.accuracy and run.evaluation.split == "test"
    assert {"load", "train", "evaluate"} <= set(run.seconds) and run.config.patience == 3
    assert (
        model.probs(mnist_digits := np.zeros((1, 28, 28), np.uint8)).tolist()
        == digitlab.load(str(tmp_path / "api")).probs(mnist_digits).tolist()
    )  # the model in hand is the one saved
    assert (
        cli("train", *[f"--{k}={v}" for k, v in settings.items()], "--out", tmp_path / "cli").returncode == 0
    )
    for a, b in zip(
        model.module.state_dict().values(), load_model(tmp_path / "cli")[0].state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)


def test_predict_takes_every_kind_of_image_and_agrees_with_itself(trained_model, mnist, tmp_path):
    model = digitlab.load(str(trained_model))
    digits = mnist.test.images[:4].numpy()
    expected = model.probs(digits).argmax(1).tolist()
    assert [p.digit for p in model.predict(digits)] == expected  # (N,28,28) uint8
    assert [
        p.digit for p in model.predict(torch.tensor(digits)[:, None].float() / 255)
    ] == expected  # (N,1,28,28) 0..1
    assert model.predict(digits[0])[0].digit == expected[0]  # one 28x28 digit
    picture = Image.fromarray(255 - np.asarray(Image.fromarray(digits[1]).resize((140, 140))))
    picture.save(tmp_path / "two.png")
    answers = model.predict([picture, tmp_path / "two.png", str(tmp_path)])  # PIL, a file, a folder
    assert [a.digit for a in answers] == [expected[1]] * 3
    calls = []
    model.predictor.predict_paths = lambda paths, real=model.predictor.predict_paths: (
        calls.append(list(paths)) or real(paths)
    )
    mixed = model.predict([tmp_path / "two.png", str(tmp_path), picture, tmp_path / "two.png"])
    assert [a.path for a in mixed] == [str(tmp_path / "two.png")] * 2 + ["image", str(tmp_path / "two.png")]
    assert calls == [
        [tmp_path / "two.png", str(tmp_path)],
        [tmp_path / "two.png"],
    ]  # files in a row: together
    assert model.predict(np.asarray(picture))[0].digit == expected[1]  # a big array is a picture
    with pytest.raises(digitlab.errors.DigitlabError, match="0 to 255"):
        model.predict(np.full((28, 28), 300.0))


def test_evaluate_is_the_command_lines_evaluate(trained_model, mini_mnist_dir):
    import json

    ours = digitlab.load(str(trained_model)).evaluate(str(mini_mnist_dir))
    theirs = json.loads(cli("evaluate", trained_model, "--data", mini_mnist_dir, "--json").stdout)
    # the same computation; the JSON rounds to 6 decimals, so the two differ by at most 5e-7
    assert ours.accuracy == pytest.approx(theirs["accuracy"], abs=1e-6) and ours.n == theirs["n"]


def test_the_api_prints_short_lines_and_is_exported_from_the_package(trained_model, mnist):
    model = digitlab.load(str(trained_model))
    (answer,) = model.predict(mnist.test.images[:1].numpy())
    line = repr(answer)
    assert "\n" not in line and len(line) < 100 and f"digit={answer.digit}" in line  # not its 784 pixels
    assert repr(model) == f"<Model {str(trained_model)!r}: cnn, 10 classes, 28x28 input>"
    assert digitlab.Model is type(model) and digitlab.Prediction is type(answer)
    assert digitlab.TrainConfig is TrainConfig and "RunResult" in digitlab.__all__
    assert "Any" not in dir(digitlab) and "TYPE_CHECKING" not in dir(digitlab)  # nothing leaks
