"""The package's layers only point down: data -> models -> train -> the application -> cli."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import digitlab

PACKAGE = Path(digitlab.__file__).parent
# Lower number = lower layer. A module may import its own layer and those below it.
LAYERS = {"errors": 0, "fileio": 0, "data": 1, "models": 2, "train": 3, "cli": 5, "all": 5, "__main__": 5}
APP = 4  # everything else: config, training, evaluation, predict, checkpoint, report, lesson, web, bench


def layer_of(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else ""
    return LAYERS.get(top, APP) if top else APP


def imports_of(path: Path) -> list[tuple[str, int]]:
    """Every `digitlab...` import in a file, with its line (also those inside functions)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("digitlab"):
            found.append((node.module, node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.startswith("digitlab")]
    return found


def test_no_module_imports_a_layer_above_its_own():
    upward = []
    for path in PACKAGE.rglob("*.py"):
        module = "digitlab." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        for imported, line in imports_of(path):
            if imported != "digitlab" and layer_of(imported) > layer_of(module):
                upward.append(f"{path.relative_to(PACKAGE)}:{line} imports {imported}")
    assert upward == []


def test_the_check_catches_an_upward_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from digitlab.training import train\n")
    assert [layer_of(m) for m, _ in imports_of(bad)] == [APP] and layer_of("digitlab.train.learner") == 3


# What a fresh interpreter has loaded at each step, one import after another (one interpreter for
# both tests below: starting one and importing torch costs seconds):
# `import digitlab` alone; then two submodules; then the learner's names; then everything.
IMPORTS = """
import json, sys
import digitlab
light = "torch" not in sys.modules
from digitlab import distributed, training
alone = not {"digitlab.all", "matplotlib"} & set(sys.modules)
from digitlab import Learner, DataLoader
names = [Learner.__name__, DataLoader.__name__]
import digitlab.cli, digitlab.bench.run, digitlab.all, digitlab.predict
dev = ("pandas", "pytest", "hypothesis", "nbclient", "playwright", "tensorboard", "onnx")
loaded = [m for m in dev if m in sys.modules]
print(json.dumps({"light": light, "alone": alone, "names": names, "dev": loaded}))
"""


@pytest.fixture(scope="module")
def imported():
    result = subprocess.run([sys.executable, "-c", IMPORTS], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_library_imports_no_dev_package_and_no_optional_extra_until_asked(imported):
    assert imported["dev"] == []


def test_the_package_gives_the_learners_names_lazily(imported):
    """`import digitlab` stays light, and `from digitlab import training` (a submodule) must not load
    digitlab.all (pyplot, the lesson) on the way, nor matplotlib at all: a run's report draws its
    charts as SVG (0.5 s of import and 0.7 s of drawing less); `from digitlab import Learner` then
    loads digitlab.all."""
    assert imported["light"] and imported["alone"] and imported["names"] == ["Learner", "DataLoader"]
