"""digitlab.train's keywords are TrainConfig's settings, typed: an editor completes them and mypy
refuses a wrong name or type."""

import dataclasses
import inspect
import sys
import typing
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from mypy import api as mypy_api
from PIL import Image

import digitlab
from digitlab.run.keywords import ImageLike, TrainSettings
from digitlab.run.settings import TrainConfig

USE = """
import numpy as np
import torch
from PIL import Image

import digitlab

run = digitlab.train(epochs=1, model_args={"n_classes": 47}, widths=(8, 16, 32), quiet=True)
accuracy: float = run.evaluation.accuracy
answers: list[digitlab.Prediction] = run.model.predict(["a.png", run.folder])
for kind in ("a.png", run.folder, np.zeros((28, 28)), torch.zeros(3, 28, 28), Image.new("L", (28, 28))):
    answers = run.model.predict(kind)
"""
MISUSE = """
import digitlab

digitlab.train(epochs="3")
digitlab.train(epoch=3)
"""
# digitlab's modules are read for their types, quietly; the heavy libraries' are not read at all
# (their names become Any), nor digitlab's below the API's own modules: a few seconds, not a minute
CONFIG = """
[mypy]
ignore_missing_imports = True
follow_imports = silent
[mypy-torch.*,numpy.*,PIL.*,pandas.*,matplotlib.*,fastapi.*,starlette.*,safetensors.*,captum.*,rich.*]
follow_imports = skip
[mypy-digitlab.data.*,digitlab.models.*,digitlab.learning.*,digitlab.modelfiles.*,digitlab.run.training_run]
follow_imports = skip
"""


def test_the_keywords_are_the_settings_with_their_types():
    settings = {f.name: f.type for f in dataclasses.fields(TrainConfig)}
    keywords = typing.get_type_hints(TrainSettings)
    assert list(keywords) == list(settings)  # the same names, in the same order as --help lists them
    assert keywords == typing.get_type_hints(TrainConfig)
    assert keywords["model_args"] == dict[str, typing.Any] | None  # a dict, as the README passes it


def test_help_pdoc_and_completion_see_every_setting_as_a_keyword():
    """train's runtime signature (what help(), pdoc and IPython read) names each setting, typed."""
    parameters = inspect.signature(digitlab.train).parameters
    keywords = typing.get_type_hints(TrainSettings)
    assert list(parameters) == ["config", *keywords, "quiet"]
    assert {n: p.annotation for n, p in parameters.items() if n in keywords} == keywords
    assert all(parameters[n].kind is inspect.Parameter.KEYWORD_ONLY for n in [*keywords, "quiet"])
    assert parameters["epochs"].default is None and parameters["model"].default == TrainConfig().model


def test_predict_has_a_signature_for_each_kind_of_image():
    """Paths, arrays, tensors, PIL images, or a list of them: an editor shows each one (typing's
    record of the overloads; mypy reads the same, but this test skips torch's and numpy's types)."""
    kinds = [typing.get_type_hints(f)["images"] for f in typing.get_overloads(digitlab.Model.predict)]
    assert kinds == [str | Path, np.ndarray, torch.Tensor, Image.Image, Sequence[ImageLike]]
    returns = {typing.get_type_hints(f)["return"] for f in typing.get_overloads(digitlab.Model.predict)}
    assert returns == {list[digitlab.Prediction]}


def test_mypy_accepts_the_api_used_right_and_refuses_a_wrong_type_or_name(tmp_path, monkeypatch):
    """mypy's API in this process (8 s on a busy 2-core machine: in make test)."""
    (tmp_path / "use.py").write_text(USE)
    (tmp_path / "misuse.py").write_text(MISUSE)
    (tmp_path / "mypy.ini").write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    depth = sys.getrecursionlimit()
    try:
        stdout, _, status = mypy_api.run(
            ["--config-file", "mypy.ini", "--cache-dir", "cache", "use.py", "misuse.py"]
        )
    finally:
        sys.setrecursionlimit(depth)  # mypy raises it to 16,384 for the whole process
    errors = [line for line in stdout.splitlines() if ": error:" in line]
    assert status == 1 and len(errors) == 2, stdout
    assert (
        errors[0].startswith("misuse.py:4:")
        and '"epochs"' in errors[0]
        and 'expected "int | None"' in errors[0]
    )
    assert errors[1].startswith("misuse.py:5:") and 'did you mean "epochs"' in errors[1]
