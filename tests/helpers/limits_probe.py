"""Run by tests/test_limits.py in a fresh process: each hostile input once, and its peak memory.

Before each input the kernel's peak-RSS counter is reset (`5` written to /proc/self/clear_refs),
so the growth printed for it is its own: the peak while it ran, minus the RSS before it.
"""

import io
import json
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from digitlab.cli import run as run_command
from digitlab.inference.predictor import Predictor
from digitlab.web.app import create_app

folder, model = Path(sys.argv[1]), sys.argv[2]
EXPORT_ONLY = "--export" in sys.argv  # read now: each command below sets sys.argv as its own


def status_mb(field: str) -> float:
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith(field))
    return int(line.split()[1]) / 1024


def growth_of(run) -> tuple[object, float]:
    """(result, peak RSS while `run` ran minus the RSS before it), in MB."""
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak to the current RSS
    before = status_mb("VmRSS:")
    result = run()
    return result, status_mb("VmHWM:") - before


def command(*args: str) -> int:
    sys.argv = ["digitlab", *args]
    try:
        run_command()
    except SystemExit as e:
        return int(e.code or 0)
    return 0


out = io.StringIO()
sys.stdout = out  # the commands' own output is not ours to print
client = TestClient(create_app(Predictor.load(model)), base_url="http://localhost")
command("predict", model, str(folder / "seven.png"))  # warm up: imports, model, one prediction
client.post("/api/predict", files={"file": ("s.png", (folder / "seven.png").read_bytes(), "image/png")})


def gif() -> bytes:
    return (folder / "gif-6000x6000.gif").read_bytes()  # 26 KB


runs = {
    **{
        name: lambda name=name: command("predict", model, str(folder / name))
        for name in ("gif-6000x6000.gif", "rgba-6000x6000.png", "jpeg-7000x5000.jpg")
    },
    "idx-gzip-bomb": lambda: command("data", "info", str(folder / "bomb")),
    "model-8000-channels": lambda: command("predict", str(folder / "huge-model"), str(folder / "seven.png")),
    "http-gif": lambda: (
        client.post("/api/predict", files={"file": ("g.gif", gif(), "image/gif")}).status_code
    ),
    "idx: 1 MB gzip declaring 1 GiB": lambda: command("data", "info", str(folder / "declared")),
    "ensemble of 16 largest CNNs": lambda: command(
        "predict", str(folder / "ensemble-16"), str(folder / "seven.png")
    ),
    "submit --check /dev/zero": lambda: command(
        "submit", "--check", "/dev/zero", "--test", str(folder / "test.csv")
    ),
    "csv: 1 GB of NULs": lambda: command("data", "info", str(folder / "nuls.csv")),
    "model.onnx of 3 GB": lambda: command(
        "predict", str(folder / "onnx-model"), str(folder / "seven.png"), "--engine", "onnx"
    ),
    "checkpoint.json of 2 GB": lambda: command("train", "--resume", str(folder / "resumable")),
    "control: a plain 48 MB allocation": lambda: len(bytearray(48 << 20)),
}
if EXPORT_ONLY:  # `make slow`: tracing and checking an export takes 8 s
    runs = {"export of a trained model": lambda: command("export", model, "--out", str(folder / "m.onnx"))}
codes, growth = {}, {}
for name, run in runs.items():
    codes[name], growth[name] = growth_of(run)
sys.stdout = sys.__stdout__
print(json.dumps({"growth_mb": growth, "codes": codes}))
