"""The package's folders have levels, and an import points only down (lazy imports inside functions too)."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import digitlab

PACKAGE = Path(digitlab.__file__).parent
# Each folder (or top-level module) and its level: a module may import its own level and those below.
LEVELS = {
    "errors": 0, "fileio": 0, "lazy": 0, "version": 0,
    "data": 1, "models": 2, "learning": 3,  # the core: what the lesson teaches
    "modelfiles": 4,  # model folders, checkpoints' neighbours, ONNX files: what a model is on disk
    "inference": 5,  # predicting, evaluating, submitting with a model folder
    "report": 6,  # HTML pages and figures of models and evaluations
    "run": 7,  # settings, building a Learner, a training run, processes, joining models
    "lesson": 8, "web": 8,  # the two front ends for people: the lesson and the draw-a-digit page
    "exercises": 8,  # what the learner practises after the lesson: its quiz, and exercises checked
    "cli": 9, "all": 9, "__main__": 9,  # the command line, the learner's one import
    "__init__": 10,  # the package root, the API: the top only, so nothing inside imports it
}  # fmt: skip
# nothing else lies loose at the top
TOP_LEVEL = {"__init__", "__main__", "all", "errors", "fileio", "lazy", "version"}


def level_of(module: str) -> int:
    parts = module.split(".")
    if parts[0] != "digitlab" or len(parts) == 1:
        return LEVELS["__init__"] if parts[0] == "digitlab" else 99  # the package root is the top
    return LEVELS[parts[1]]


def imports_of(path: Path) -> list[tuple[str, int]]:
    """Every `digitlab...` (and repository `bench`) import in a file, with its line, inside functions too."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.split(".")[0] in ("digitlab", "bench")
        ):
            found.append((node.module, node.lineno))
        elif isinstance(node, ast.Import):
            found += [
                (a.name, node.lineno) for a in node.names if a.name.split(".")[0] in ("digitlab", "bench")
            ]
    return found


def modules() -> list[tuple[Path, str]]:
    return [
        (path, "digitlab." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts))
        for path in PACKAGE.rglob("*.py")
    ]


def test_every_folder_has_a_level_and_nothing_else_lies_at_the_top():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    loose = {p.stem for p in PACKAGE.glob("*.py")}
    assert folders <= set(LEVELS) and loose == TOP_LEVEL, (folders - set(LEVELS), loose - TOP_LEVEL)


def test_no_module_imports_a_level_above_its_own():
    upward = [
        f"{path.relative_to(PACKAGE)}:{line} imports {imported}"
        for path, module in modules()
        for imported, line in imports_of(path)
        if level_of(imported) > level_of(module)
    ]
    assert upward == []


def test_nothing_inside_the_package_imports_its_root():
    """The root is the top only: `from digitlab import __version__` inside would make it the bottom too."""
    rooted = [
        f"{path.relative_to(PACKAGE)}:{line}"
        for path, module in modules()
        for imported, line in imports_of(path)
        if imported == "digitlab" and module != "digitlab.__init__"
    ]
    assert rooted == []


def test_no_two_modules_share_a_name():
    names = [path.stem for path, _ in modules() if path.stem not in ("__init__", "__main__")]
    folders = [p.name for p in PACKAGE.rglob("*") if p.is_dir() and (p / "__init__.py").exists()]
    assert sorted(n for n in set(names + folders) if (names + folders).count(n) > 1) == []


def test_the_check_catches_an_upward_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from digitlab import __version__\n"
        "def f():\n    from digitlab.run.training_run import train\n    import bench.run\n"
    )
    assert [level_of(m) for m, _ in imports_of(bad)] == [10, 7, 99]  # the package root is the top
    assert level_of("digitlab.learning.learner") == 3 and level_of("digitlab.version") == 0


# What a fresh interpreter has loaded at each step, one import after another (one interpreter for
# both tests below: starting one and importing torch costs seconds):
# `import digitlab` alone; then the training run; then the learner's names; then everything.
IMPORTS = """
import json, sys
import digitlab
light = "torch" not in sys.modules
from digitlab.run import processes, training_run
alone = not {"digitlab.all", "matplotlib"} & set(sys.modules)
from digitlab.all import Learner, DataLoader
names = [Learner.__name__, DataLoader.__name__]
import digitlab.cli, digitlab.all, digitlab.inference.predictor, digitlab.web.app, digitlab.lesson
dev = ("pytest", "hypothesis", "nbclient", "playwright", "tensorboard", "onnx", "mlflow", "captum")
loaded = [m for m in dev if m in sys.modules]
bench = "bench" in sys.modules
print(json.dumps({"light": light, "alone": alone, "names": names, "dev": loaded, "bench": bench}))
"""


@pytest.fixture(scope="module")
def imported():
    result = subprocess.run([sys.executable, "-c", IMPORTS], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_library_imports_no_dev_package_no_optional_extra_and_no_benchmark(imported):
    assert imported["dev"] == [] and not imported["bench"]


def test_importing_digitlab_is_light_and_a_training_run_loads_no_plotting(imported):
    """`import digitlab` loads nothing (the command line starts fast); a training run must not load
    digitlab.all (pyplot, the lesson) nor matplotlib at all: a run's report draws its charts as SVG
    (0.5 s of import and 0.7 s of drawing less)."""
    assert imported["light"] and imported["alone"] and imported["names"] == ["Learner", "DataLoader"]
