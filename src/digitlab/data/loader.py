"""Mini-batches from tensors already in memory: slices picked by a seeded permutation.

No per-item collate step: a batch is one indexing operation on the whole tensor, which is
why this is several times faster than `torch.utils.data.DataLoader` over a list of pairs.
"""

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

Batch = tuple[torch.Tensor, torch.Tensor]


class DataLoader:
    """Yields (xb, yb) batches; shuffled loaders draw a new permutation each epoch."""

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int = 64,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ):
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} samples but y has {len(y)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.x, self.y, self.batch_size = x, y, batch_size
        self.shuffle, self.drop_last, self.transform = shuffle, drop_last, transform
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        n = len(self.x)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        n, bs = len(self.x), self.batch_size
        order = torch.randperm(n, generator=self.generator).to(self.x.device) if self.shuffle else None
        for i in range(len(self)):
            if order is None:  # plain slices are views: no copy at all
                xb, yb = self.x[i * bs : (i + 1) * bs], self.y[i * bs : (i + 1) * bs]
            else:
                idx = order[i * bs : (i + 1) * bs]
                xb, yb = self.x[idx], self.y[idx]
            yield (self.transform(xb) if self.transform else xb), yb

    def one_batch(self) -> Batch:
        return next(iter(self))


@dataclass
class DataLoaders:
    """The training and validation loaders a Learner works with."""

    train: DataLoader
    valid: DataLoader
