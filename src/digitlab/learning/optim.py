"""Optimizers from scratch: the base owns the parameters and checks; each algorithm adds one step.

digitlab trains every model it ships with this SGD; a test proves it equal, step for step,
to `torch.optim.SGD` with the same settings (momentum, Nesterov, weight decay).

A step updates every parameter at once with `torch._foreach_*` operations, which take a list
of tensors: one call (one GPU kernel launch) per operation instead of one per parameter and
operation. The arithmetic reads as it would for one tensor; it is what torch.optim does too.
"""

from collections.abc import Iterable
from typing import Any, cast

import torch

Rate = float | torch.Tensor  # a learning rate: a number, or a 0-dim tensor read on the device


class Optimizer:
    """Holds parameters and a learning rate `lr`; `step()` updates every parameter that has a gradient."""

    def __init__(self, params: Iterable[torch.Tensor], lr: float, weight_decay: float = 0.0):
        self.params = [p for p in params if p.requires_grad]
        if not self.params:
            raise ValueError("the optimizer got no parameters that require gradients")
        if not lr > 0:
            raise ValueError(f"learning rate must be > 0, got {lr}")
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        self.lr, self.weight_decay = lr, weight_decay
        self.state: dict[torch.Tensor, dict[str, Any]] = {}

    @torch.no_grad()
    def step(self, lr: Rate | None = None) -> None:
        """One update at `lr` (default `self.lr`). A 0-dim tensor `lr` on the parameters' device is read
        when the step runs, not when it is queued: what a step recorded in a CUDA graph needs."""
        params = [p for p in self.params if p.grad is not None]  # frozen parameters (fine_tune) have none
        if not params:
            return
        grads: list[torch.Tensor] = [cast(torch.Tensor, p.grad) for p in params]
        if self.weight_decay:  # g + wd * p: the gradient of an extra wd/2 * p**2 in the loss
            grads = list(torch._foreach_add(grads, params, alpha=self.weight_decay))
        states = [self.state.setdefault(p, {}) for p in params]
        self._update(params, grads, states, self.lr if lr is None else lr)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def _update(
        self, params: list[torch.Tensor], grads: list[torch.Tensor], states: list[dict[str, Any]], lr: Rate
    ) -> None:
        """Change `params` in place, given their gradients, their per-parameter state dicts and `lr`."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Per-parameter buffers (momentum) by position, as `{"3.velocity": tensor}`: what resume needs."""
        return {f"{i}.{k}": v for i, p in enumerate(self.params) for k, v in self.state.get(p, {}).items()}

    def load_state_dict(self, saved: dict[str, torch.Tensor]) -> None:
        """Buffers as `state_dict` gave them; a ValueError names one that does not fit its parameter."""
        state: dict[torch.Tensor, dict[str, Any]] = {}
        for key, value in saved.items():
            i, _, name = key.partition(".")
            if not i.isdigit() or int(i) >= len(self.params) or not name:
                raise ValueError(f"optimizer state {key!r} names no parameter")
            p = self.params[int(i)]
            if value.shape != p.shape or not value.is_floating_point():
                raise ValueError(
                    f"optimizer state {key!r} is {tuple(value.shape)}, its parameter {tuple(p.shape)}"
                )
            state.setdefault(p, {})[name] = value.to(p.device, p.dtype).clone()
        self.state = state


class SGD(Optimizer):
    """Stochastic gradient descent: p -= lr * g.

    With `momentum`, g is replaced by a velocity v = momentum * v + g (a running sum of
    gradients); with `nesterov`, by g + momentum * v: the step looks ahead along v.
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ):
        super().__init__(params, lr, weight_decay)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        if nesterov and not momentum:
            raise ValueError("Nesterov momentum needs momentum > 0")
        self.momentum, self.nesterov = momentum, nesterov

    def _update(
        self, params: list[torch.Tensor], grads: list[torch.Tensor], states: list[dict[str, Any]], lr: Rate
    ) -> None:
        if self.momentum:
            for s, p in zip(states, params, strict=True):
                if "velocity" not in s:  # starting at 0 makes the first v exactly g, as in torch.optim
                    s["velocity"] = torch.zeros_like(p)
            velocities = [s["velocity"] for s in states]
            torch._foreach_mul_(velocities, self.momentum)  # v = momentum * v + g
            torch._foreach_add_(velocities, grads)
            # Nesterov looks ahead along v: g + momentum * v; plain momentum steps along v
            grads = (
                list(torch._foreach_add(grads, velocities, alpha=self.momentum))
                if self.nesterov
                else velocities
            )
        if isinstance(lr, torch.Tensor):  # p -= lr * g, with lr read from the device
            torch._foreach_sub_(params, torch._foreach_mul(grads, lr))
        else:
            torch._foreach_add_(params, grads, alpha=-lr)  # p -= lr * g
