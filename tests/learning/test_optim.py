import pytest
import torch
from torch import nn

from digitlab.learning.optim import SGD

pytestmark = pytest.mark.numeric  # float results compared with bounds: rerun under other kernels

SETTINGS = [
    dict(momentum=0.0, weight_decay=0.0),
    dict(momentum=0.9, weight_decay=0.0),
    dict(momentum=0.9, weight_decay=1e-2),
    dict(momentum=0.5, weight_decay=1e-3),
    dict(momentum=0.9, weight_decay=5e-4, nesterov=True),
    dict(momentum=0.5, weight_decay=0.0, nesterov=True),
]


@pytest.mark.parametrize("settings", SETTINGS)
def test_sgd_matches_torch_step_for_step(settings):
    torch.manual_seed(0)
    ours, theirs = nn.Linear(5, 3), nn.Linear(5, 3)
    theirs.load_state_dict(ours.state_dict())
    opt_a = SGD(ours.parameters(), lr=0.1, **settings)
    opt_b = torch.optim.SGD(theirs.parameters(), lr=0.1, **settings)
    for step in range(6):
        x = torch.randn(4, 5, generator=torch.Generator().manual_seed(step))
        for model, opt in ((ours, opt_a), (theirs, opt_b)):
            model(x).square().mean().backward()
            opt.step()
            opt.zero_grad()
        for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
            torch.testing.assert_close(a, b)


def test_a_parameter_that_joins_late_starts_its_own_velocity_as_torch_does():
    """Steps where only some parameters have gradients (frozen layers), then all: one list update."""
    torch.manual_seed(0)
    ours = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    theirs = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    theirs.load_state_dict(ours.state_dict())
    settings = dict(lr=0.1, momentum=0.9, weight_decay=1e-2, nesterov=True)
    opt_a, opt_b = SGD(ours.parameters(), **settings), torch.optim.SGD(theirs.parameters(), **settings)
    for step in range(5):
        x = torch.randn(6, 4, generator=torch.Generator().manual_seed(step))
        for model, opt in ((ours, opt_a), (theirs, opt_b)):
            model(x).square().mean().backward()
            if step < 2:  # the first layer joins at step 2
                model[0].weight.grad = model[0].bias.grad = None
            opt.step()
            opt.zero_grad()
    for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
        torch.testing.assert_close(a, b)
    assert len(opt_a.state_dict()) == 4  # a velocity for each of the four parameters


def test_frozen_parameters_are_left_alone():
    model = nn.Linear(2, 1)
    opt = SGD(model.parameters(), lr=1.0)
    model.weight.grad = torch.ones_like(model.weight)
    before = model.bias.clone()
    opt.step()
    assert torch.equal(model.bias, before) and model.weight.grad is not None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"lr": 0},
        {"lr": -1},
        {"lr": 0.1, "momentum": 1.0},
        {"lr": 0.1, "weight_decay": -1},
        {"lr": 0.1, "nesterov": True},
    ],
)
def test_bad_hyperparameters(kwargs):
    with pytest.raises(ValueError):
        SGD(nn.Linear(2, 1).parameters(), **kwargs)
