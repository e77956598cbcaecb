import pytest
import torch

from digitlab.data import DataLoader


def test_every_sample_once_per_epoch():
    x, y = torch.arange(103).float(), torch.arange(103)
    dl = DataLoader(x, y, batch_size=10, shuffle=True, seed=3)
    assert len(dl) == 11
    for _ in range(2):
        seen = torch.cat([yb for _, yb in dl])
        assert sorted(seen.tolist()) == list(range(103))
    first, second = [torch.cat([yb for _, yb in dl]) for _ in range(2)]
    assert not torch.equal(first, second)  # a fresh permutation each epoch


def test_seeded_and_unshuffled_order():
    x = torch.arange(20)
    a = [yb.tolist() for _, yb in DataLoader(x, x, 6, shuffle=True, seed=1)]
    b = [yb.tolist() for _, yb in DataLoader(x, x, 6, shuffle=True, seed=1)]
    assert a == b
    assert torch.cat([yb for _, yb in DataLoader(x, x, 6)]).tolist() == list(range(20))


def test_drop_last_and_transform():
    x = torch.ones(25, 2)
    dl = DataLoader(x, torch.zeros(25), 10, drop_last=True, transform=lambda xb: xb * 3)
    batches = list(dl)
    assert len(dl) == len(batches) == 2 and batches[0][0].max() == 3


def test_bad_arguments():
    with pytest.raises(ValueError):
        DataLoader(torch.ones(3), torch.ones(2))
    with pytest.raises(ValueError):
        DataLoader(torch.ones(3), torch.ones(3), batch_size=0)
