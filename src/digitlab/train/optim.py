"""Optimizers from scratch: the base owns the parameters and checks; each algorithm adds one step.

digitlab trains every model it ships with this SGD; a test proves it equal, step for step,
to `torch.optim.SGD` with the same settings (momentum, Nesterov, weight decay).
"""

import torch


class Optimizer:
    """Holds parameters and a learning rate `lr`; `step()` updates every parameter that has a gradient."""

    def __init__(self, params, lr: float, weight_decay: float = 0.0):
        self.params = [p for p in params if p.requires_grad]
        if not self.params:
            raise ValueError("the optimizer got no parameters that require gradients")
        if not lr > 0:
            raise ValueError(f"learning rate must be > 0, got {lr}")
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        self.lr, self.weight_decay = lr, weight_decay
        self.state: dict[torch.Tensor, dict] = {}

    @torch.no_grad()
    def step(self) -> None:
        for p in self.params:
            if p.grad is not None:  # frozen parameters (fine_tune) have none
                grad = p.grad if not self.weight_decay else p.grad + self.weight_decay * p
                self._update(p, grad, self.state.setdefault(p, {}))

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def _update(self, p: torch.Tensor, grad: torch.Tensor, state: dict) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Per-parameter buffers (momentum) by position, as `{"3.velocity": tensor}`: what resume needs."""
        return {f"{i}.{k}": v for i, p in enumerate(self.params) for k, v in self.state.get(p, {}).items()}

    def load_state_dict(self, saved: dict[str, torch.Tensor]) -> None:
        self.state = {}
        for key, value in saved.items():
            i, name = key.split(".", 1)
            p = self.params[int(i)]
            self.state.setdefault(p, {})[name] = value.to(p.device, p.dtype).clone()


class SGD(Optimizer):
    """Stochastic gradient descent: p -= lr * g.

    With `momentum`, g is replaced by a velocity v = momentum * v + g (a running sum of
    gradients); with `nesterov`, by g + momentum * v: the step looks ahead along v.
    """

    def __init__(
        self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False
    ):
        super().__init__(params, lr, weight_decay)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        if nesterov and not momentum:
            raise ValueError("Nesterov momentum needs momentum > 0")
        self.momentum, self.nesterov = momentum, nesterov

    def _update(self, p: torch.Tensor, grad: torch.Tensor, state: dict) -> None:
        if self.momentum:
            if "velocity" not in state:
                state["velocity"] = grad.clone()
            else:
                state["velocity"].mul_(self.momentum).add_(grad)
            grad = grad + self.momentum * state["velocity"] if self.nesterov else state["velocity"]
        p.sub_(self.lr * grad)
