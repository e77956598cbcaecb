"""docs/own-images.md as a reader runs it: its Python block makes the folder, then each `digitlab` line of
its code blocks runs in order (in this process), and each answer is checked to name the classes and data."""

import json
import re
import shlex
from pathlib import Path

import pytest

from tests.helpers import cli

PAGE = Path(__file__).parents[1] / "docs" / "own-images.md"
CLASSES = ["circle", "square", "triangle"]


def blocks() -> list[tuple[str, str]]:
    """The page's code blocks in order: ("python", code) or ("", lines)."""
    return re.findall(r"```(python)?\n(.*?)```", PAGE.read_text(), re.S)


def test_the_walk_through_runs_as_written(tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime", reason="the page exports to ONNX")
    monkeypatch.chdir(tmp_path)
    answers = {}
    for kind, code in blocks():
        if kind == "python":
            exec(compile(code, str(PAGE), "exec"), {"__name__": "__own_images__"})
            continue
        for line in (line for line in code.splitlines() if line.startswith("digitlab ")):
            args = shlex.split(line)[1:]
            if args[0] == "serve":  # it would serve until stopped: its app is checked below instead
                answers["serve"] = args
                continue
            result = cli(*args)
            assert result.returncode == 0, f"{line}: {result.stderr}"
            answers[line] = result
    outputs = list(answers.values())
    info, trained, evaluated, predicted, explained, exported, onnx_json = (r.stdout for r in outputs[:7])
    assert all(name in info for name in CLASSES)
    from digitlab.modelfiles.model_file import read_info

    recorded = read_info("runs/shapes")
    assert (recorded.channels, recorded.preprocessing) == (3, "as-is")  # the page: colour, kept in colour
    data = str(tmp_path / "shapes")
    assert evaluated.startswith(f"data: {data}, test split (30 images)\n")  # 3 classes x 10, no --data
    assert all(line.split(": ")[1].split()[0] in CLASSES for line in predicted.splitlines())
    assert explained.startswith(f"data: {data}, test split (30 images)")
    assert f"data: {data}, test split (30 images)" in exported and "mnist" not in exported.lower()
    assert {a["label"] for a in json.loads(onnx_json)} <= set(CLASSES) and len(json.loads(onnx_json)) == 10

    from fastapi.testclient import TestClient

    from digitlab.inference.predictor import Predictor
    from digitlab.web.app import create_app

    assert answers["serve"] == ["serve", "runs/shapes"]
    client = TestClient(create_app(Predictor.load("runs/shapes")), base_url="http://127.0.0.1")
    assert client.get("/api/model").json()["classes"] == CLASSES
