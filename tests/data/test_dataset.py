import pytest
import torch

from digitlab.data import Dataset, LeakageWarning, Splits, load_source
from digitlab.data.dataset import shared_rows
from digitlab.errors import DigitlabError
from tests.helpers import make_dataset, to_idx


def test_bundled_mnist_loads_and_is_verified(mnist):
    assert len(mnist.train) == 60000 and len(mnist.test) == 10000
    assert mnist.train.labels.dtype == torch.int64


def test_checksum_mismatch_is_caught(tmp_path, monkeypatch):
    import digitlab.data.sources as sources

    fake = tmp_path / "mnist"
    fake.mkdir()
    (fake / "a.gz").write_bytes(b"changed")
    (fake / "SHA256SUMS").write_text("0" * 64 + "  a.gz\n")
    monkeypatch.setattr(sources, "bundled_mnist_dir", lambda: fake)
    sources.verify_bundled_mnist.cache_clear()
    with pytest.raises(DigitlabError, match="checksum mismatch"):
        sources.verify_bundled_mnist()
    sources.verify_bundled_mnist.cache_clear()


def test_split_is_seeded_disjoint_and_complete():
    ds = make_dataset(100)
    train, valid = ds.split(0.2, seed=1337)
    again, _ = ds.split(0.2, seed=1337)
    other, _ = ds.split(0.2, seed=1)
    assert len(train) == 80 and len(valid) == 20
    assert torch.equal(train.images, again.images) and not torch.equal(train.images, other.images)
    rows = {r.tobytes() for r in train.images.numpy()} | {r.tobytes() for r in valid.images.numpy()}
    assert len(rows) == 100


def test_floats_and_normalisation_from_train_only():
    train = Dataset(torch.full((4, 28, 28), 255, dtype=torch.uint8), torch.zeros(4, dtype=torch.int64))
    valid = Dataset(torch.zeros((2, 28, 28), dtype=torch.uint8), torch.zeros(2, dtype=torch.int64))
    assert train.floats().shape == (4, 1, 28, 28) and train.floats().max() == 1.0
    splits = Splits(train, valid)
    assert splits.mean == 1.0 and splits.std == 0.0


def test_leakage_is_refused_or_warned():
    ds = make_dataset(30)
    with pytest.raises(DigitlabError, match="also in the training set"):
        Splits(ds, ds)  # the lesson notes' mistake: validating on the training set
    with pytest.warns(LeakageWarning, match="30 of 30"):
        Splits(ds, ds, allow_leakage=True)
    train, valid = ds.split()
    Splits(train, valid)  # an honest split passes


def test_shared_rows_counts_exact_copies_only():
    x = torch.randint(0, 256, (50, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    near = x[40:].clone()
    near[:, 27, 27] ^= 1  # one bit of the last pixel: no longer the same image
    assert shared_rows(x, x[40:].clone()) == 10 and shared_rows(x, near) == 0
    assert shared_rows(x, x[40:], chunk=7) == 10  # the training side read a few samples at a time
    assert shared_rows(x[:1], torch.cat([x[:1], x[:1], x[1:2]])) == 2  # each copy in `b` counts
    assert shared_rows(x[:0], x) == 0 and shared_rows(x, x[:0]) == 0
    floats = x.float() / 255
    assert (
        shared_rows(floats, floats[45:].clone()) == 5
        and shared_rows(floats.bfloat16(), floats[:2].bfloat16()) == 2
    )
    assert shared_rows(torch.tensor([-0.0]), torch.tensor([0.0])) == 0  # value for value means bit for bit


def test_idx_folder_source(tmp_path):
    images = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8).numpy()
    (tmp_path / "train-images-idx3-ubyte").write_bytes(to_idx(images))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(to_idx(torch.arange(5).to(torch.uint8).numpy()))
    source = load_source(tmp_path)
    assert len(source.train) == 5 and source.test is None
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(to_idx(images))
    with pytest.raises(DigitlabError, match="no t10k-labels"):
        load_source(tmp_path)


def test_unknown_source(tmp_path):
    with pytest.raises(DigitlabError, match="no such file"):
        load_source(tmp_path / "missing")
    with pytest.raises(DigitlabError, match="not a data source"):
        load_source(tmp_path)
