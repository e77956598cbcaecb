"""The measuring tools of the `best` target's benchmark: the weight average (its test-time shifts are
`digitlab ensemble --tta`'s, tested in test_ensemble.py)."""

from types import SimpleNamespace

import torch
from bench.budget import EMA
from torch import nn


def test_the_ema_moves_a_fraction_of_the_way_to_each_new_weight():
    model = nn.Linear(2, 1)
    ema = EMA(model, decay=0.9)
    with torch.no_grad():
        start = model.weight.clone()
        ema.after_step(SimpleNamespace(model=model))  # the first update copies
        model.weight.add_(1.0)
        ema.after_step(SimpleNamespace(model=model))
    torch.testing.assert_close(ema.average.module.weight, start + 0.1)
