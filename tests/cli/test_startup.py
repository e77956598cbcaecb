"""`digitlab --version`, every `--help` and Tab completion answer without loading torch or numpy:
the commands import heavy libraries inside their functions only."""

import json
import subprocess
import sys

# One fresh interpreter asks for everything that must stay light, then lists what it loaded.
LIGHT = """
import contextlib, io, json, os, sys
import typer
from digitlab.cli import app, run as run_cli

def run(*args):
    sys.argv = ["digitlab", *args]
    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.redirect_stderr(io.StringIO()):
        try:
            run_cli()
        except SystemExit as e:
            return e.code, out.getvalue()
    return 0, out.getvalue()

def paths(group, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name)
        if hasattr(command, "commands"):
            yield from paths(command, (*prefix, name))

answers = {"--version": run("--version"), "--help": run("--help")}
for path in paths(typer.main.get_command(app)):
    answers[" ".join(path)] = run(*path, "--help")
os.environ |= {"_DIGITLAB_COMPLETE": "complete_bash", "COMP_WORDS": "digitlab train --pres",
               "COMP_CWORD": "2"}
answers["completion"] = run("train", "--pres")
heavy = ("torch", "numpy", "pandas", "matplotlib", "PIL", "safetensors", "fastapi", "starlette",
         "uvicorn", "onnxruntime", "mlflow", "captum", "scipy")
loaded = sorted({m.split(".")[0] for m in sys.modules} & set(heavy))
print(json.dumps({"answers": answers, "loaded": loaded}))
"""


def test_version_help_of_every_command_and_completion_load_no_heavy_library():
    result = subprocess.run([sys.executable, "-c", LIGHT], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    answers = found["answers"]
    # every command was asked (the data group's too) and answered with its help
    assert {"train", "serve", "predict", "explain", "data", "data download"} <= set(answers)
    helps = {name: answer for name, answer in answers.items() if name not in ("--version", "completion")}
    assert all(code == 0 and "Usage: digitlab" in text for code, text in helps.values()), helps
    assert answers["--version"][1].startswith("digitlab ")
    assert answers["completion"] == [0, "--preset\n"]
    assert found["loaded"] == []


def test_the_version_module_agrees_with_the_installed_package():
    from importlib.metadata import version

    from digitlab.version import __version__

    assert __version__ == version("digitlab")
