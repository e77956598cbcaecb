"""digitlab.train's keywords are TrainConfig's settings, typed: an editor completes them and mypy
refuses a wrong name or type."""

import dataclasses
import subprocess
import sys
import typing

import pytest

from digitlab.run.keywords import TrainSettings
from digitlab.run.settings import TrainConfig

USE = """
import digitlab

run = digitlab.train(epochs=1, model_args={"n_classes": 47}, widths=(8, 16, 32), quiet=True)
accuracy: float = run.evaluation.accuracy
answers: list[digitlab.Prediction] = run.model.predict(["a.png", run.folder])
"""
MISUSE = """
import digitlab

digitlab.train(epochs="3")
digitlab.train(epoch=3)
"""
# digitlab's modules are read for their types, quietly; the heavy libraries' are not read at all
# (their names become Any): a few seconds, not a minute
CONFIG = """
[mypy]
ignore_missing_imports = True
follow_imports = silent
[mypy-torch.*,numpy.*,PIL.*,pandas.*,matplotlib.*,fastapi.*,starlette.*,safetensors.*,captum.*,rich.*]
follow_imports = skip
"""


def test_the_keywords_are_the_settings_with_their_types():
    settings = {f.name: f.type for f in dataclasses.fields(TrainConfig)}
    keywords = typing.get_type_hints(TrainSettings)
    assert list(keywords) == list(settings)  # the same names, in the same order as --help lists them
    assert keywords.pop("model_args") == dict[str, typing.Any] | str | None  # a dict too, not only JSON
    assert keywords == {k: typing.get_type_hints(TrainConfig)[k] for k in keywords}


@pytest.mark.slow  # mypy reads digitlab's modules: 10-20 s; the test above keeps the keywords in step
def test_mypy_accepts_the_api_used_right_and_refuses_a_wrong_type_or_name(tmp_path):
    (tmp_path / "use.py").write_text(USE)
    (tmp_path / "misuse.py").write_text(MISUSE)
    (tmp_path / "mypy.ini").write_text(CONFIG)
    mypy = [sys.executable, "-m", "mypy", "--config-file", "mypy.ini", "--cache-dir", "cache"]
    result = subprocess.run([*mypy, "use.py", "misuse.py"], capture_output=True, text=True, cwd=tmp_path)
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert result.returncode == 1 and len(errors) == 2, result.stdout
    assert (
        errors[0].startswith("misuse.py:4:")
        and '"epochs"' in errors[0]
        and 'expected "int | None"' in errors[0]
    )
    assert errors[1].startswith("misuse.py:5:") and 'did you mean "epochs"' in errors[1]
