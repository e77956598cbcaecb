"""`predict` over many files: threads that decode, and the next batch prepared while the model runs,
change nothing in the output (bytes, order, one-line errors) and hold a bounded number of files."""

import functools
import json
import subprocess
import sys

import numpy as np
from PIL import Image

from digitlab.inference import preparing
from digitlab.inference.predictor import Predictor
from digitlab.inference.preparing import InputKind, Preparing
from tests.helpers import cli
from tests.helpers.processes import CONSOLE_SCRIPT


def _files(folder, mnist, n=300):
    """`n` digits as people hand them over (dark on white, 56x56; some JPEG), and bad files among them."""
    folder.mkdir()
    for i in range(n):
        image = Image.fromarray(255 - mnist.test.images[i].numpy()).resize((56, 56))
        image.save(folder / (f"{i:03d}.jpg" if i % 7 == 0 else f"{i:03d}.png"))
    (folder / "050-broken.png").write_bytes(b"not a png")
    (folder / "100-empty.png").write_bytes(b"")
    (folder / "150-cut.png").write_bytes((folder / "001.png").read_bytes()[:60])
    Image.new("L", (40, 40), 255).save(folder / "160-blank.png")  # no digit: digit null, not an error
    return folder


def test_threads_and_processes_give_the_same_bytes_as_one_at_a_time(
    trained_model, mnist, tmp_path, monkeypatch
):
    """In this process (torch loaded) predict decodes in threads; run as a command it forks processes
    before it imports torch: both print what preparing one file at a time prints."""
    folder = _files(tmp_path / "many", mnist)
    empty = tmp_path / "empty"
    empty.mkdir()
    args = [folder, tmp_path / "missing.png", empty, folder / "007.jpg"]
    forms = ("--jsonl", "--csv")
    runs = {"threads": [cli("predict", trained_model, *args, form) for form in forms]}
    runs["processes"] = [
        subprocess.run(
            [CONSOLE_SCRIPT, "predict", trained_model, *args, form], capture_output=True, text=True
        )
        for form in forms
    ]
    monkeypatch.setattr(Preparing, "__init__", functools.partialmethod(Preparing.__init__, workers=0))
    runs["alone"] = [cli("predict", trained_model, *args, form) for form in forms]
    for way in ("threads", "processes"):
        assert [(r.returncode, r.stdout, r.stderr) for r in runs[way]] == [
            (r.returncode, r.stdout, r.stderr) for r in runs["alone"]
        ], way
    rows = [json.loads(line) for line in runs["processes"][0].stdout.splitlines()]
    names = [row["path"].rsplit("/", 1)[-1] for row in rows]
    assert len(rows) == 304 + 3 and names[-3:] == ["missing.png", "empty", "007.jpg"]
    assert names[:-3] == sorted(p.name for p in folder.iterdir())  # the folder in sorted order
    failed = [name for name, row in zip(names, rows, strict=True) if "error" in row]
    assert failed == ["050-broken.png", "100-empty.png", "150-cut.png", "missing.png", "empty"]
    assert (
        len(runs["processes"][0].stderr.splitlines()) == 5 and "Traceback" not in runs["processes"][0].stderr
    )
    assert rows[names.index("160-blank.png")]["digit"] is None


def test_many_threads_and_small_batches_give_the_same_answers(trained_model, mnist, tmp_path):
    folder = _files(tmp_path / "many", mnist, n=100)
    predictor = Predictor.load(trained_model)
    alone = list(predictor.iter_paths([folder], batch_size=16, workers=0))
    threaded = list(predictor.iter_paths([folder], batch_size=16, workers=5))
    assert [p.to_json() for p in threaded] == [p.to_json() for p in alone]
    assert all(
        np.array_equal(a.input, b.input) for a, b in zip(alone, threaded, strict=True) if a.input is not None
    )


def test_the_next_batch_is_prepared_while_the_model_runs_and_no_more(
    trained_model, mnist, tmp_path, monkeypatch
):
    """When the model gets its first batch, the files of the next one are in the decoders' hands, and
    no others: memory holds two batches however many files."""
    folder = _files(tmp_path / "many", mnist, n=100)
    taken, seen_by_model = [], []
    files, probs = preparing.listed, Predictor.probs

    def counted_files(paths):
        for item in files(paths):
            taken.append(item[0])
            yield item

    def counted_probs(self, images):
        seen_by_model.append(len(taken))
        return probs(self, images)

    monkeypatch.setattr(preparing, "listed", counted_files)
    monkeypatch.setattr(Predictor, "probs", counted_probs)
    answers = list(Predictor.load(trained_model).iter_paths([folder], batch_size=16, workers=2))
    assert len(answers) == 104
    assert seen_by_model[0] == 2 * 16 - 1  # a full batch for the model, the next less one taken ahead
    assert seen_by_model == [min(104, 16 * (i + 2) - 1) for i in range(7)]  # and so on, batch by batch


FORKED = """
import json, sys
from digitlab.inference.preparing import InputKind, Preparing
with Preparing([sys.argv[1]], InputKind((28, 28)), fork=True, ahead=64) as prepared:
    items = [(n, None if d is None else d.tolist(), e) for n, d, e in prepared]
    print(json.dumps({"processes": prepared.processes, "torch": "torch" in sys.modules, "items": items}))
"""


def test_processes_forked_before_torch_prepare_what_one_at_a_time_prepares(mnist, tmp_path):
    """A fresh interpreter forks its preparers (it has not imported torch, and never does for this), a
    bounded number of files ahead; each file's digit and error are those of preparing it here."""
    folder = _files(tmp_path / "many", mnist, n=120)
    done = subprocess.run([sys.executable, "-c", FORKED, folder], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    forked = json.loads(done.stdout)
    assert forked["processes"] and not forked["torch"]
    alone = [
        (n, None if d is None else d.tolist(), e) for n, d, e in Preparing([folder], InputKind((28, 28)), 0)
    ]
    assert [tuple(item) for item in forked["items"]] == alone
    assert len(alone) == 124 and sum(e is not None for _, _, e in alone) == 3
