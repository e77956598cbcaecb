"""One split rule: `data info` states exactly the split `train` makes, and says when it is small."""

import re

import torch

from digitlab.data import Dataset
from digitlab.data.holdout import MIN_VALID_IMAGES, hold_out
from tests.helpers import cli, make_dataset, write_idx_folder


def _split_line(text: str) -> str:
    return re.search(r"split: train [\d,]+ / valid [\d,]+ \([^)]*\)", text).group(0)


def test_data_info_states_the_split_train_makes(tmp_path):
    """Same fraction, same seed, same counts: the line `train` prints is the one `data info` printed."""
    data = write_idx_folder(tmp_path / "data", make_dataset(300))
    for flags in ([], ["--preset", "best"], ["--valid-fraction", "0.25", "--seed", "4"]):
        info = cli("data", "info", data, *flags)
        run = cli(
            "train", "--data", data, "--model", "linear", "--epochs", "1", "--out", tmp_path / "m", *flags
        )
        assert info.returncode == 0 and run.returncode == 0, info.stderr + run.stderr
        assert _split_line(info.stdout) == _split_line(run.stdout + run.stderr)
    assert "split: train 225 / valid 75 (25% of 300 held out at random, seed 4)" in info.stdout


def test_the_split_is_the_datasets_own_seeded_permutation():
    data = make_dataset(1000)
    holdout = hold_out(data, None, 0.1, seed=3)
    perm = torch.randperm(1000, generator=torch.Generator().manual_seed(3))
    assert holdout.valid.images.equal(data.images[perm[:100].sort().values])
    assert len(holdout.train) == 900 and holdout.fraction == 0.1


def test_a_small_validation_split_says_so_in_one_line():
    """Under the smaller of 500 images and 10% of the data: one line; at or over it: none."""
    small = hold_out(make_dataset(4000), None, 0.02, seed=0)  # 80 images < min(500, 400)
    assert small.warning() is not None and "80 images, under the 400" in small.warning()
    assert "\n" not in small.warning()
    assert hold_out(make_dataset(4000), None, 0.1, seed=0).warning() is None  # 400 = 10%
    big = hold_out(make_dataset(60_000), None, 0.02, seed=0)  # 1,200 >= 500
    assert big.warning() is None and MIN_VALID_IMAGES == 500
    assert hold_out(make_dataset(60_000), None, 0.008, seed=0).warning() is not None  # 480 < 500


def test_a_sources_own_valid_split_is_used_as_it_is():
    train, valid = (
        make_dataset(50),
        Dataset(make_dataset(20, seed=9).images, torch.zeros(20, dtype=torch.long)),
    )
    holdout = hold_out(train, valid, 0.5, seed=0)
    assert holdout.train is train and holdout.valid is valid
    assert holdout.line() == "split: train 50 / valid 20 (the source's own valid/ folder)"
