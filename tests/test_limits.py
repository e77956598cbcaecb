"""Bounded memory: no hostile input grows the process by more than 300 MB (measured in a fresh one)."""

import json
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from digitlab.checkpoint import ModelInfo, save_model
from digitlab.models import build_model
from tests.conftest import to_idx

LIMIT_MB = 300


def make_bombs(folder: Path, mnist) -> None:
    Image.fromarray(mnist.test.images[0].numpy()).save(folder / "seven.png")
    Image.new("P", (6000, 6000)).save(folder / "gif-6000x6000.gif")  # 26 KB
    Image.new("RGBA", (6000, 6000), (0, 0, 0, 0)).save(
        folder / "rgba-6000x6000.png", compress_level=1
    )  # 144 MB decoded
    Image.new("RGB", (7000, 5000), (255, 255, 255)).save(folder / "jpeg-7000x5000.jpg")
    bomb = folder / "bomb"
    bomb.mkdir()
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)  # level 1: 2 MB on disk, 3x faster to make than 9
    with open(bomb / "train-images-idx3-ubyte.gz", "wb") as f:  # 60,000 images declared, 400 MB inside
        f.write(packer.compress(to_idx(np.zeros((60000, 28, 28), np.uint8))))
        for _ in range(400):
            f.write(packer.compress(b"\0" * (1 << 20)))
        f.write(packer.flush())
    (bomb / "train-labels-idx1-ubyte").write_bytes(to_idx(np.zeros(60000, np.uint8)))
    model = build_model("cnn")
    save_model(model, folder / "huge-model", ModelInfo.describe(model))
    info = json.loads((folder / "huge-model" / "model.json").read_text())
    info["config"]["channels"] = [1, 8000, 8000]
    (folder / "huge-model" / "model.json").write_text(json.dumps(info))


def test_no_bomb_grows_the_process_by_more_than_300_mb(tmp_path, mnist, trained_model):
    make_bombs(tmp_path, mnist)
    probe = Path(__file__).with_name("limits_probe.py")
    result = subprocess.run(
        [sys.executable, str(probe), str(tmp_path), str(trained_model)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    codes, growth = report["codes"], report["growth_mb"]
    assert codes["http-gif"] == 400 and codes["idx-gzip-bomb"] == 1 and codes["model-8000-channels"] == 1
    assert 40 < growth.pop("control: a plain 48 MB allocation") < 60  # the measurement itself works
    print("growth in MB:", growth)
    assert max(growth.values()) < LIMIT_MB, growth
