"""`predict` over many files: threads that decode, and the next batch prepared while the model runs,
change nothing in the output (bytes, order, one-line errors) and hold a bounded number of files."""

import functools
import json

import numpy as np
from PIL import Image

from digitlab.inference.predictor import Predictor
from tests.helpers import cli


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


def test_threads_give_the_same_bytes_as_one_at_a_time(trained_model, mnist, tmp_path, monkeypatch):
    folder = _files(tmp_path / "many", mnist)
    empty = tmp_path / "empty"
    empty.mkdir()
    args = [folder, tmp_path / "missing.png", empty, folder / "007.jpg"]
    runs = {}
    for workers in (None, 0):  # the threads as predict runs them; then here, one file at a time
        monkeypatch.setattr(
            Predictor,
            "iter_paths",
            functools.partialmethod(Predictor.__dict__["iter_paths"], workers=workers),
        )
        runs[workers] = [cli("predict", trained_model, *args, form) for form in ("--jsonl", "--csv")]
    assert [(r.returncode, r.stdout, r.stderr) for r in runs[None]] == [
        (r.returncode, r.stdout, r.stderr) for r in runs[0]
    ]
    rows = [json.loads(line) for line in runs[None][0].stdout.splitlines()]
    names = [row["path"].rsplit("/", 1)[-1] for row in rows]
    assert len(rows) == 304 + 3 and names[-3:] == ["missing.png", "empty", "007.jpg"]
    assert names[:-3] == sorted(p.name for p in folder.iterdir())  # the folder in sorted order
    failed = [name for name, row in zip(names, rows, strict=True) if "error" in row]
    assert failed == ["050-broken.png", "100-empty.png", "150-cut.png", "missing.png", "empty"]
    assert len(runs[None][0].stderr.splitlines()) == 5 and "Traceback" not in runs[None][0].stderr
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
    files, probs = Predictor._files, Predictor.probs

    def counted_files(self, paths):
        for item in files(self, paths):
            taken.append(item[0])
            yield item

    def counted_probs(self, images):
        seen_by_model.append(len(taken))
        return probs(self, images)

    monkeypatch.setattr(Predictor, "_files", counted_files)
    monkeypatch.setattr(Predictor, "probs", counted_probs)
    answers = list(Predictor.load(trained_model).iter_paths([folder], batch_size=16, workers=2))
    assert len(answers) == 104
    assert seen_by_model[0] == 2 * 16 - 1  # a full batch for the model, the next less one taken ahead
    assert seen_by_model == [min(104, 16 * (i + 2) - 1) for i in range(7)]  # and so on, batch by batch
