"""Optimizers from scratch: the base owns the parameters and checks; each algorithm adds one step."""

import torch


class Optimizer:
    """Holds parameters and a learning rate; `step()` updates every parameter that has a gradient."""

    def __init__(self, params, lr: float, weight_decay: float = 0.0):
        self.params = [p for p in params if p.requires_grad]
        if not self.params:
            raise ValueError("optimizer got no parameters that require gradients")
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

    def state_dict(self) -> dict:
        return {"lr": self.lr, "state": [self.state.get(p, {}) for p in self.params]}

    def load_state_dict(self, saved: dict) -> None:
        self.lr = saved["lr"]
        self.state = {p: s for p, s in zip(self.params, saved["state"], strict=True) if s}


class SGD(Optimizer):
    """Stochastic gradient descent: p -= lr * g, with optional momentum (a running sum of g)."""

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.momentum = momentum

    def _update(self, p: torch.Tensor, grad: torch.Tensor, state: dict) -> None:
        if self.momentum:
            if "velocity" not in state:
                state["velocity"] = grad.clone()
            else:
                state["velocity"].mul_(self.momentum).add_(grad)
            grad = state["velocity"]
        p.sub_(self.lr * grad)


def get_lr(opt) -> float:
    """Our optimizers keep `lr`; torch's keep it per parameter group."""
    return opt.param_groups[0]["lr"] if hasattr(opt, "param_groups") else opt.lr


def set_lr(opt, lr: float) -> None:
    if hasattr(opt, "param_groups"):
        for group in opt.param_groups:
            group["lr"] = lr
    else:
        opt.lr = lr
