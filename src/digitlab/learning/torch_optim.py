"""torch.optim's optimizers in digitlab's Learner, by name (`--opt adamw`), beside digitlab's own SGD.

The Learner and its callbacks speak to an optimizer through digitlab's surface (`learning.optim`):
a `lr` attribute the one-cycle schedule sets, `step()`, `zero_grad()`, and a flat `state_dict` of
tensors keyed `"3.exp_avg"` that a safetensors checkpoint holds. `TorchOptimizer` gives a
torch.optim optimizer that surface; digitlab's own optimizers have it already.
"""

import inspect
from collections.abc import Callable, Iterable
from typing import Any

import torch

from digitlab.learning.optim import SGD, Optimizer

OptFunc = Callable[[Iterable[torch.Tensor], float], Any]  # (params, lr) -> an optimizer, as opt_func


class TorchOptimizer:
    """A torch.optim optimizer with digitlab's optimizer surface (one learning rate for every group)."""

    def __init__(self, optimizer: torch.optim.Optimizer):
        self.optimizer = optimizer
        self.params = [p for group in optimizer.param_groups for p in group["params"]]

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    @lr.setter
    def lr(self, value: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = value

    def step(self, lr: float | None = None) -> None:
        if lr is not None:
            self.lr = float(lr)
        self.optimizer.step()

    def zero_grad(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Per-parameter buffers by position (`{"3.exp_avg": tensor}`), numbers as 0-dim tensors."""
        state = self.optimizer.state
        return {
            f"{i}.{k}": v if isinstance(v, torch.Tensor) else torch.tensor(v)
            for i, p in enumerate(self.params)
            for k, v in state.get(p, {}).items()
            if isinstance(v, torch.Tensor | int | float)
        }

    def load_state_dict(self, saved: dict[str, torch.Tensor]) -> None:
        """Buffers as `state_dict` gave them; a ValueError names one that fits no parameter. A 0-dim
        count (Adam's `step`) stays on the CPU, where torch.optim keeps it."""
        state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}
        for key, value in saved.items():
            i, _, name = key.partition(".")
            if not i.isdigit() or int(i) >= len(self.params) or not name:
                raise ValueError(f"optimizer state {key!r} names no parameter")
            p = self.params[int(i)]
            if value.dim() and value.shape != p.shape:
                raise ValueError(
                    f"optimizer state {key!r} is {tuple(value.shape)}, its parameter {tuple(p.shape)}"
                )
            state.setdefault(p, {})[name] = value.clone() if not value.dim() else value.to(p.device, p.dtype)
        self.optimizer.state.clear()
        self.optimizer.state.update(state)


def optimizer_class(name: str) -> type:
    """`sgd`: digitlab's own SGD; any other name: torch.optim's class of that name, in lower case."""
    if name == "sgd":
        return SGD
    found = {
        cls.__name__.lower(): cls
        for cls in vars(torch.optim).values()
        if isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)
    }
    if name not in found:
        raise ValueError(f"opt {name!r:.80} is not an optimizer of torch.optim")
    return found[name]


def check_opt_args(cls: type, args: dict[str, Any]) -> None:
    """Every key an argument `cls` takes besides params and lr, and the values ones it accepts (tried on
    one parameter, so a bad value is refused before training, by the optimizer's own check)."""
    signature = inspect.signature(cls)
    takes = [
        n for n, p in signature.parameters.items() if n not in ("params", "lr") and p.kind != p.VAR_POSITIONAL
    ]
    open_ended = any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values())
    for key in args:
        if key not in takes and not open_ended:
            raise ValueError(
                f"opt_args: {key!r:.40} is not an argument of {cls.__name__} (it takes {', '.join(takes)})"
            )
    try:
        cls([torch.zeros(1, requires_grad=True)], lr=0.1, **args)
    except (TypeError, ValueError, RuntimeError) as e:
        raise ValueError(f"opt_args: {cls.__name__} refuses them ({e})") from None


def opt_func(cls: type, args: dict[str, Any]) -> OptFunc:
    """What the Learner calls as `opt_func(params, lr)`: `cls` with `args`, given digitlab's surface."""
    make: Any = cls  # a subclass: its own arguments, which `check_opt_args` checked against `args`
    if issubclass(cls, Optimizer):
        return lambda params, lr: make(params, lr, **args)
    if issubclass(cls, torch.optim.Optimizer):
        return lambda params, lr: TorchOptimizer(make(list(params), lr=lr, **args))
    raise ValueError(f"{cls.__name__} is neither a torch.optim nor a digitlab optimizer")
