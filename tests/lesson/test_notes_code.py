"""The notes' own code, fixed, runs under `from digitlab.all import *` on a Kaggle-format CSV."""

import runpy
import warnings
from pathlib import Path

import pytest
import torch

from tests.helpers import csv_text

pytestmark = pytest.mark.numeric  # float results compared with bounds: rerun under other kernels


@pytest.fixture(scope="module")
def notes(mnist, tmp_path_factory):
    pytest.importorskip("pandas")
    csv = tmp_path_factory.mktemp("kaggle") / "train.csv"
    rows = 8000  # the notes' batches of 5 and fine_tune(10, 0.1) as written: 1,280 steps an epoch here
    csv.write_text(csv_text(mnist.train.images[:rows].numpy(), mnist.train.labels[:rows].numpy()))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no LeakageWarning, no tensor-copy warning: the fixes hold
        return runpy.run_path(str(Path(__file__).with_name("notes_fixed_code.py")), {"CSV": str(csv)})


def test_baseline_per_class(notes):
    assert notes["accuracy_ones"] > 0.95 and notes["accuracy_zeros"] > 0.8
    assert notes["valid_ones_dist"].shape == (len(notes["valid_ones"]),)
    assert len(notes["train_ones"]) + len(notes["valid_ones"]) == int(
        (notes["train_df"].label == 1).sum()
    ) + int((notes["valid_df"].label == 1).sum())


def test_from_scratch_learner_and_net_on_zeros_and_ones(notes):
    assert notes["single_grad"][0] == torch.Size([784, 1])
    assert sorted(torch.cat(notes["fifteen"]).tolist()) == list(range(15))
    assert notes["shapes"] == (torch.Size([1, 784]), torch.Size([1]))
    assert notes["raw_net_shape"] == (4, 1)
    ones, zeros = len(notes["valid_ones"]), len(notes["valid_zeros"])
    right = float(notes["accuracy_ones"]) * ones + float(notes["accuracy_zeros"]) * zeros
    baseline = right / (ones + zeros)
    assert notes["scratch_accuracy"] > baseline  # learning beats the fixed rule, even in ~36 steps
    assert notes["learner_linear_accuracy"] >= 0.99
    assert notes["net_accuracy"] >= 0.99


def test_ten_digits_with_honest_validation(notes):
    n, total, n_sm, total_sm = notes["sums"]
    assert n == n_sm == 10 and float(total_sm) == pytest.approx(1)
    assert float(total) != pytest.approx(1, abs=1e-3)  # get_preds gives raw scores, as in fastai
    # 0.93 is issue #30's target, not a fit: measured 0.9488 for torch seeds 0-2 alike (AVX2), and
    # 0.9646 on 42,000 rows (BENCHMARKS.md, "The notes' code as written")
    assert notes["ten_valid_accuracy"] >= 0.93
    assert len(notes["valid_dset"]) == 1600 and notes["dls"].valid.dataset is notes["valid_dset"]
