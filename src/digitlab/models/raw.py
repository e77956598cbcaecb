"""Models as bare tensors, exactly as the lesson builds them: no nn.Module, just weights.

These drive the from-scratch training loop (own loss, gradients, SGD and DataLoader).
The `nn.Module` versions in `linear.py` and `mlp.py` compute the same functions.
"""

import torch


def init_params(
    size: tuple[int, ...], std: float = 1.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Random normal values scaled by `std`, tracked by autograd."""
    return (torch.randn(size, generator=generator) * std).requires_grad_()


class RawLinear:
    """xb @ w + b on flattened images: (B,1,28,28) -> (B,n_out)."""

    def __init__(self, n_out: int = 1, std: float = 1.0, generator=None):
        self.weights = init_params((28 * 28, n_out), std, generator)
        self.bias = init_params((n_out,), std, generator)

    def __call__(self, xb: torch.Tensor) -> torch.Tensor:
        return xb.reshape(len(xb), -1) @ self.weights + self.bias

    def parameters(self) -> list[torch.Tensor]:
        return [self.weights, self.bias]


class RawMLP:
    """Two linear layers with a ReLU between them: (B,1,28,28) -> (B,hidden) -> (B,n_out).

    The lesson's `simple_net` fed `xb` to the second layer by mistake; the second layer must
    see the hidden activations, which is what makes this more than a linear model.
    """

    def __init__(self, hidden: int = 30, n_out: int = 1, std: float = 1.0, generator=None):
        self.w1 = init_params((28 * 28, hidden), std, generator)
        self.b1 = init_params((hidden,), std, generator)
        self.w2 = init_params((hidden, n_out), std, generator)
        self.b2 = init_params((n_out,), std, generator)

    def __call__(self, xb: torch.Tensor) -> torch.Tensor:
        hidden = xb.reshape(len(xb), -1) @ self.w1 + self.b1
        hidden = hidden.clamp_min(0.0)  # ReLU: the non-linearity
        return hidden @ self.w2 + self.b2

    def parameters(self) -> list[torch.Tensor]:
        return [self.w1, self.b1, self.w2, self.b2]
