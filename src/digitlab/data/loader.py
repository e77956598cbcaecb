"""Mini-batches: the DataLoader a learner meets in the lesson, and the pair a Learner trains on.

`DataLoader` takes any indexable dataset, as PyTorch's does: a list of (x, y) pairs, a
`range`, a tensor. Items are gathered and collated one by one. A tuple of tensors, e.g.
`(x, y)`, takes the fast path: a batch is one indexing operation on each whole tensor, no
per-item step, which is what makes training from memory several times faster.
"""

import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from digitlab.data.dataset import LeakageWarning, shared_rows


def collate(items: Sequence[Any]) -> Any:
    """Stack a list of samples into a batch, field by field (as `torch.utils.data.default_collate`)."""
    first = items[0]
    if isinstance(first, torch.Tensor):
        return torch.stack(list(items))
    if isinstance(first, bool | int | float):
        return torch.tensor(items, dtype=torch.float64 if isinstance(first, float) else None)
    if isinstance(first, tuple | list):
        fields = [collate(field) for field in zip(*items, strict=True)]
        return tuple(fields) if isinstance(first, tuple) else fields
    return list(items)  # strings and other objects stay a plain list


class DataLoader:
    """Yields batches of `dataset`; a shuffled loader draws a new order each epoch.

    `seed` makes the order reproducible; without it the order comes from torch's global
    generator (so `torch.manual_seed` fixes it, as in PyTorch). `transform` is applied to the
    first field of each batch (augmentation). `epoch_size`: samples in an epoch (default: the
    dataset's); a shuffled epoch longer than the data goes on into a new order of it, a shorter
    one stops part way (what a training budget in steps, the same on any data, needs).
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int = 64,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        shard: tuple[int, int] = (0, 1),
        epoch_size: int | None = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if epoch_size is not None and epoch_size < 1:
            raise ValueError(f"epoch_size must be >= 1, got {epoch_size}")
        self.tensors = _tensor_fields(dataset)
        self.dataset, self.batch_size, self.shuffle = dataset, batch_size, shuffle
        self.drop_last, self.transform, self.seed, self.shard = drop_last, transform, seed, shard
        self.epoch_size = epoch_size
        seed = seed if seed is not None else int(torch.randint(2**62, (1,)))
        self.generator = torch.Generator().manual_seed(seed)

    @property
    def n_samples(self) -> int:
        return len(self.dataset if self.tensors is None else self.tensors[0])

    @property
    def epoch_samples(self) -> int:
        return self.n_samples if self.epoch_size is None else self.epoch_size

    def __len__(self) -> int:
        n = self.epoch_samples
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        return (batch for _, batch in self.batches())

    def batches(self, start: int = 0) -> Iterator[tuple[int, Any]]:
        """(index, batch) pairs of one epoch from batch `start` on; the epoch's order is drawn first.

        `epoch_start_state` keeps the generator as it was before that draw: restoring it and
        asking for `start=k` replays the same epoch from its k-th batch (resuming a run).
        """
        bs = self.batch_size
        self.epoch_start_state = self.generator.get_state()
        order = self._order()
        if order is not None and self.tensors is not None:
            order = order.to(self.tensors[0].device)  # once an epoch, not once a batch
        for i in range(start, len(self)):
            index = order[i * bs : (i + 1) * bs] if order is not None else slice(i * bs, (i + 1) * bs)
            yield i, self._sharded(self._transformed(self._gather(index)))

    def _order(self) -> torch.Tensor | None:
        """The epoch's sample indices; None for the stored order over exactly the data (slices, no gather)."""
        n, size = self.n_samples, self.epoch_samples
        if self.shuffle:  # as many fresh permutations as the epoch needs (one when it is the data's size)
            orders = [torch.randperm(n, generator=self.generator) for _ in range(math.ceil(size / n))]
            return torch.cat(orders)[:size]
        return None if size == n else torch.arange(size) % n

    def _sharded(self, batch: Any) -> Any:
        """This process's part of the batch (`shard=(rank, world)`: distributed training).

        Every process draws and augments the same whole batch, so the random generators stay
        in step everywhere, then keeps its contiguous slice.
        """
        rank, world = self.shard
        if world == 1:
            return batch
        if isinstance(batch, tuple | list):
            return type(batch)(field.tensor_split(world)[rank] for field in batch)
        return batch.tensor_split(world)[rank]

    def batch_len(self, i: int) -> int:
        """Samples in the whole i-th batch, across every process."""
        return min(self.batch_size, self.epoch_samples - i * self.batch_size)

    def _gather(self, index: torch.Tensor | slice) -> Any:
        if self.tensors is None:  # the general path: item by item, then collate
            positions = index.tolist() if isinstance(index, torch.Tensor) else range(len(self.dataset))[index]
            return collate([self.dataset[j] for j in positions])
        fields = tuple(t[index] for t in self.tensors)  # slices are views: no copy at all
        return fields if isinstance(self.dataset, tuple) else fields[0]

    def _transformed(self, batch: Any) -> Any:
        if self.transform is None:
            return batch
        if isinstance(batch, tuple | list):
            return (self.transform(batch[0]), *batch[1:])
        return self.transform(batch)

    def one_batch(self) -> Any:
        """The first batch: handy to look at shapes."""
        return next(iter(self))

    def sample_shape(self) -> torch.Size:
        """The shape of one input sample (no batch drawn: the random generators are left alone)."""
        if self.tensors is not None:
            return self.tensors[0].shape[1:]
        item = self.dataset[0]
        return torch.as_tensor(item[0] if isinstance(item, tuple | list) else item).shape

    def ordered(self) -> "DataLoader":
        """The same data in its stored order, every sample, no augmentation (for predictions)."""
        return DataLoader(self.dataset, self.batch_size)


def _tensor_fields(dataset: Any) -> tuple[torch.Tensor, ...] | None:
    """The tensors of a tensor dataset (one tensor, or a tuple of equally long ones), else None."""
    if isinstance(dataset, torch.Tensor):
        return (dataset,)
    if isinstance(dataset, tuple) and dataset and all(isinstance(t, torch.Tensor) for t in dataset):
        lengths = {len(t) for t in dataset}
        if len(lengths) != 1:
            raise ValueError(f"the tensors of a dataset must be equally long, got lengths {sorted(lengths)}")
        return dataset
    return None


@dataclass
class DataLoaders:
    """The training and validation loaders a Learner works with (fastai's `DataLoaders(train, valid)`)."""

    train: DataLoader
    valid: DataLoader
    leakage_checked: bool = False  # True: the samples were checked before they became tensors (`Splits`)

    def __post_init__(self) -> None:
        if not self.leakage_checked:
            warn_if_leaky(self.train, self.valid)

    def one_batch(self) -> Any:
        """The first training batch."""
        return self.train.one_batch()

    def __iter__(self) -> Iterator[DataLoader]:
        return iter((self.train, self.valid))


def warn_if_leaky(train: Any, valid: Any) -> int:
    """Warn loudly when validation samples come from the training data; returns how many do."""
    shared = _shared_samples(train, valid)
    if shared:
        warnings.warn(
            f"LEAKAGE: {shared} of the validation samples are also training samples: the 'validation' "
            "scores measure memory, not how well the model generalises",
            LeakageWarning,
            stacklevel=3,
        )
    return shared


def _shared_samples(train: Any, valid: Any) -> int:
    if getattr(train, "dataset", train) is getattr(valid, "dataset", valid):
        return valid.n_samples if isinstance(valid, DataLoader) else len(valid)
    train_x, valid_x = _first_tensor(train), _first_tensor(valid)
    if train_x is None or valid_x is None or train_x.shape[1:] != valid_x.shape[1:]:
        return 0
    return shared_rows(train_x, valid_x)


def _first_tensor(dl: Any) -> torch.Tensor | None:
    tensors = getattr(dl, "tensors", None)
    return tensors[0] if tensors else None
