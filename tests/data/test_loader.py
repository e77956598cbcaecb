import warnings

import pytest
import torch
from torch.utils.data import default_collate

from digitlab.data import DataLoader, DataLoaders, LeakageWarning
from digitlab.data.loader import collate


def test_every_sample_once_per_epoch():
    x, y = torch.arange(103).float(), torch.arange(103)
    dl = DataLoader((x, y), batch_size=10, shuffle=True, seed=3)
    assert len(dl) == 11
    for _ in range(2):
        seen = torch.cat([yb for _, yb in dl])
        assert sorted(seen.tolist()) == list(range(103))
    first, second = [torch.cat([yb for _, yb in dl]) for _ in range(2)]
    assert not torch.equal(first, second)  # a fresh permutation each epoch


def test_seeded_and_unshuffled_order():
    x = torch.arange(20)
    a = [yb.tolist() for _, yb in DataLoader((x, x), 6, shuffle=True, seed=1)]
    b = [yb.tolist() for _, yb in DataLoader((x, x), 6, shuffle=True, seed=1)]
    assert a == b
    assert torch.cat([yb for _, yb in DataLoader((x, x), 6)]).tolist() == list(range(20))


def test_unseeded_shuffle_follows_torch_manual_seed():
    torch.manual_seed(5)
    a = [b.tolist() for b in DataLoader(range(15), batch_size=5, shuffle=True)]
    torch.manual_seed(5)
    b = [b.tolist() for b in DataLoader(range(15), batch_size=5, shuffle=True)]
    assert a == b and sorted(sum(a, [])) == list(range(15)) and a != [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]


def test_a_range_and_a_list_of_pairs_like_pytorch():
    assert [b.tolist() for b in DataLoader(range(7), batch_size=3)] == [[0, 1, 2], [3, 4, 5], [6]]
    x, y = torch.rand(10, 784), torch.arange(10).unsqueeze(1)
    dset = list(zip(x, y, strict=True))
    xb, yb = DataLoader(dset, batch_size=4).one_batch()
    assert xb.shape == (4, 784) and yb.shape == (4, 1) and torch.equal(xb, x[:4])


@pytest.mark.parametrize(
    "items",
    [
        [(torch.rand(3), 1), (torch.rand(3), 2)],
        [(torch.rand(2, 2), torch.tensor([1])), (torch.rand(2, 2), torch.tensor([0]))],
        [1.5, 2.5, 3.0],
        [3, 4],
        [[torch.ones(2), 0.5], [torch.zeros(2), 1.5]],
        [torch.arange(3), torch.arange(3)],
    ],
)
def test_collate_equals_pytorchs(items):
    ours, theirs = collate(items), default_collate(items)
    flat_ours = ours if isinstance(ours, list | tuple) else [ours]
    flat_theirs = theirs if isinstance(theirs, list | tuple) else [theirs]
    assert len(flat_ours) == len(flat_theirs)
    for a, b in zip(flat_ours, flat_theirs, strict=True):
        assert a.dtype == b.dtype and torch.equal(a, b)


def test_drop_last_transform_and_ordered():
    x = torch.ones(25, 2)
    dl = DataLoader((x, torch.zeros(25)), 10, shuffle=True, drop_last=True, transform=lambda xb: xb * 3)
    batches = list(dl)
    assert len(dl) == len(batches) == 2 and batches[0][0].max() == 3
    plain = dl.ordered()
    assert len(plain) == 3 and not plain.shuffle and next(iter(plain))[0].max() == 1


def test_bad_arguments():
    with pytest.raises(ValueError, match="equally long"):
        DataLoader((torch.ones(3), torch.ones(2)))
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader((torch.ones(3), torch.ones(3)), batch_size=0)


def test_validating_on_the_training_data_warns_loudly():
    x, y = torch.rand(40, 784), torch.arange(40) % 2
    dset = list(zip(x, y, strict=True))
    with pytest.warns(LeakageWarning, match="40 of the validation samples"):
        DataLoaders(DataLoader(dset, 5, shuffle=True), DataLoader(dset, 5))  # the notes' 10-digit bug
    with pytest.warns(LeakageWarning, match="10 of the validation samples"):
        DataLoaders(DataLoader((x, y), 8), DataLoader((x[30:].clone(), y[30:].clone()), 8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dls = DataLoaders(DataLoader((x[:30], y[:30]), 8), DataLoader((x[30:], y[30:]), 8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # samples checked before (as `Splits` does) are not checked again
        DataLoaders(DataLoader((x, y), 8), DataLoader((x[30:], y[30:]), 8), leakage_checked=True)
    xb, yb = dls.one_batch()
    assert xb.shape == (8, 784)
    train, valid = dls
    assert train is dls.train and valid is dls.valid


def test_sample_shape_of_any_dataset():
    assert DataLoader((torch.zeros(5, 1, 28, 28), torch.zeros(5))).sample_shape() == (1, 28, 28)
    assert DataLoader([(torch.zeros(784), 1)] * 3).sample_shape() == (784,)
    assert DataLoader(range(4)).sample_shape() == ()


def test_an_epoch_of_a_set_size_goes_on_into_a_new_order_or_stops_part_way():
    """What a budget in steps needs: the same batches per epoch on data of any size."""
    x = torch.arange(10)
    whole = [b.tolist() for b in DataLoader(x, 4, shuffle=True, seed=3)]
    same = [b.tolist() for b in DataLoader(x, 4, shuffle=True, seed=3, epoch_size=10)]
    assert same == whole  # an epoch of the data's size: the order it always had
    longer = DataLoader(x, 4, shuffle=True, seed=3, epoch_size=25)
    drawn = torch.cat(list(longer)).tolist()
    assert len(longer) == 7 and len(drawn) == 25
    assert sorted(drawn[:10]) == sorted(drawn[10:20]) == list(range(10))  # two whole orders, then part
    assert len(set(drawn[20:])) == 5
    shorter = DataLoader(x, 4, shuffle=True, seed=3, epoch_size=6)
    assert len(shorter) == 2 and len(set(torch.cat(list(shorter)).tolist())) == 6
    assert torch.cat(list(DataLoader(x, 4, epoch_size=13))).tolist() == [*range(10), 0, 1, 2]
    assert [longer.batch_len(i) for i in range(len(longer))] == [4, 4, 4, 4, 4, 4, 1]


def test_a_long_epoch_replays_from_its_kth_batch():
    dl = DataLoader(torch.arange(10), 3, shuffle=True, seed=1, epoch_size=24)
    first = [b.tolist() for b in dl]
    dl.generator.set_state(dl.epoch_start_state)
    assert [b.tolist() for _, b in dl.batches(start=5)] == first[5:]
