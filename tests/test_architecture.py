"""The package's layers only point down: data -> models -> train -> the application -> cli."""

import ast
import subprocess
import sys
from pathlib import Path

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


def test_the_library_imports_no_dev_package_and_no_optional_extra_until_asked():
    code = (
        "import sys, digitlab.cli, digitlab.bench.run, digitlab.all; "
        "import digitlab.training, digitlab.predict; "
        "dev = ('pandas', 'pytest', 'hypothesis', 'nbclient', 'playwright', 'tensorboard', 'onnx'); "
        "bad = [m for m in dev if m in sys.modules]; "
        "print(bad)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_package_gives_the_learners_names_lazily():
    """`import digitlab` stays light, and `from digitlab import training` (a submodule) must not load
    digitlab.all (pyplot, the lesson) on the way; `from digitlab import Learner` then does."""
    code = "import sys, digitlab; light = 'torch' not in sys.modules; "
    code += "from digitlab import distributed, training; "
    code += "alone = not {'digitlab.all', 'matplotlib.pyplot'} & set(sys.modules); "
    code += (
        "from digitlab import Learner, DataLoader; print(light, alone, Learner.__name__, DataLoader.__name__)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.split() == ["True", "True", "Learner", "DataLoader"], result.stderr
