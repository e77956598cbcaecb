"""fastai 2.8.12 itself as the oracle: the notes' ten-digit cells and the book's Learner methods by both
libraries on the same 500 digits, from the same weights, batches in the same order (bench/fastai_oracle.py).

Needs the oracle's venv (`make fastai-oracle`; DIGITLAB_FASTAI_PYTHON names its Python): skipped without.
"""

import math

import pytest
from bench import fastai_oracle

pytestmark = [pytest.mark.slow, pytest.mark.numeric]


@pytest.fixture(scope="module")
def result():
    python = fastai_oracle.fastai_python()
    if python is None:
        pytest.skip("no fastai venv: run `make fastai-oracle` or set DIGITLAB_FASTAI_PYTHON")
    return fastai_oracle.compare(n=500, python=python)


def test_every_figure_matches_fastais(result):
    diff, ours, theirs = result["differences"], result["digitlab"], result["fastai"]
    assert list(ours["lr_find"]) == list(theirs["lr_find"]) == ["valley", "slide", "minimum", "steep"]
    # The same batches through the same float32 operations: measured differences are rounding, at most
    # 6.2e-06 (the lr_find curve, whose losses grow to ~10) and 3.6e-07 elsewhere; 1e-4 leaves room
    # for other CPU kernels' summation orders without letting a different loop pass.
    for name in ("lr_find_lrs", "lr_find_losses", "fit_rows", "fit_losses", "validate", "fine_tune_rows"):
        assert diff[name] <= 1e-4, (name, diff[name])
    assert diff["fit_iters"] == 0 and ours["fit_iters"] == [80, 160]  # 400 training pairs in batches of 5
    assert ours["validate"] == pytest.approx(ours["fit_rows"][-1][1:], rel=1e-6)  # the table's last row
    # a suggestion picks one point of the sweep; a rounding-level difference in the curve could at most
    # move it to a neighbour, 8/100 of a decade away (100 steps from 1e-7 to 10)
    for name in ("valley", "slide", "minimum", "steep"):
        assert diff[f"lr_find: {name} (log10 rate)"] <= 0.08 + 1e-6, name
    assert diff["predict: class and index differ"] == 0
    assert diff["predict: probabilities"] <= 1e-5  # softmax of the same logits
    assert all(math.isfinite(v) for v in theirs["lr_find"].values())
