"""The measuring tools of the `best` target's benchmark: test-time shifts and the weight average."""

from types import SimpleNamespace

import torch
from torch import nn

from digitlab.bench.budget import EMA, SHIFTS, shifted_probs
from digitlab.models import predict_probs


def test_shifted_probs_average_the_model_over_images_moved_one_pixel():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))
    x = torch.rand(3, 1, 28, 28)
    torch.testing.assert_close(shifted_probs(model, x, SHIFTS[:1]), predict_probs(model, x))
    right, down = torch.zeros_like(x), torch.zeros_like(x)
    right[..., :, 1:], down[..., 1:, :] = x[..., :, :-1], x[..., :-1, :]  # the pixel moved in is background
    expected = (model(right).softmax(-1) + model(down).softmax(-1)) / 2
    torch.testing.assert_close(shifted_probs(model, x, [(1, 0), (0, 1)]), expected.detach())


def test_the_ema_moves_a_fraction_of_the_way_to_each_new_weight():
    model = nn.Linear(2, 1)
    ema = EMA(model, decay=0.9)
    with torch.no_grad():
        start = model.weight.clone()
        ema.after_step(SimpleNamespace(model=model))  # the first update copies
        model.weight.add_(1.0)
        ema.after_step(SimpleNamespace(model=model))
    torch.testing.assert_close(ema.average.module.weight, start + 0.1)
