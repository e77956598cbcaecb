"""What an exercise is: its cases (inputs made anew for every call from a fixed seed, so the learner's
function and the reference see equal, untouched inputs and a change in place is caught), what is
observed of a call, and the typical mistakes it is told apart from."""

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

Args = dict[str, object]
Observed = dict[str, object]  # named values to compare: "result", "weights.grad", "model.bias", ...


@dataclass(frozen=True)
class Case:
    label: str  # what the inputs are, as the verdict names them
    make: Callable[[torch.Generator], Args]
    seed: int = 0


@dataclass(frozen=True)
class Mistake:
    fn: Callable
    message: str  # the explanation given when the learner's function does what `fn` does


@dataclass(frozen=True)
class Exercise:
    name: str
    section: int  # the lesson's section to reread
    reference: Callable
    cases: tuple[Case, ...]
    observe: Callable[[Callable, Args], Observed]
    mistakes: tuple[Mistake, ...] = ()
    deps: tuple[str, ...] = ()  # the exercises it calls: bound to the references while it is checked
    pure: bool = True  # its inputs must come back unchanged
    shapes: str = ""  # the shapes involved, for a shape error's hint
    task: str = field(default="")

    def stub_doc(self) -> str:
        return self.task or inspect.getdoc(self.reference) or ""


def fresh_args(case: Case) -> Args:
    return case.make(torch.Generator().manual_seed(case.seed))


def returns(fn: Callable, args: Args) -> Observed:
    """What `fn(**args)` returns, and the gradient it sends back to each input that asks for one."""
    result = fn(**args)
    seen: Observed = {"result": result}
    if isinstance(result, torch.Tensor) and result.grad_fn is not None and result.is_floating_point():
        # weights 1..2 over the outputs, not a plain sum: the sum of a softmax is always 1, its gradient 0
        weights = torch.linspace(1, 2, result.numel()).reshape(result.shape)
        (result * weights).sum().backward()
    for name, value in args.items():
        if isinstance(value, torch.Tensor) and value.requires_grad:
            seen[f"{name}.grad"] = value.grad
    return seen


def seeded(fn: Callable, args: Args) -> Observed:
    """What `fn(**args)` returns when torch's random numbers start from seed 0 (restored after)."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return {"result": fn(**args)}


def parameters_after(fn: Callable, args: Args) -> Observed:
    """The model's parameters after `fn(**args)` ran: what training changes. (Not the gradients left
    at the end: zeroed or None, before backward() or after step(), all are right.)"""
    fn(**args)
    model = args["model"]
    assert isinstance(model, nn.Module)
    return {f"model.{name}": p.detach().clone() for name, p in model.named_parameters()}


def gradients_after(fn: Callable, args: Args) -> Observed:
    """The model's gradients after `fn(**args)`, called `times` times: what calc_grad leaves."""
    args = dict(args)
    model, times = args.pop("model"), args.pop("times", 1)
    assert isinstance(model, nn.Module) and isinstance(times, int)
    for _ in range(times):
        fn(model=model, **args)
    return {f"model.{name}.grad": p.grad for name, p in model.named_parameters()}


def optimizer_steps(cls: Callable, args: Args) -> Observed:
    """The parameters after `cls(params, lr).step()`, then their gradients after `zero_grad()`."""
    params = args["params"]
    assert isinstance(params, list)
    opt = cls(params, args["lr"])
    opt.step()
    seen: Observed = {f"{n} after step()": p.detach().clone() for n, p in zip("wb", params, strict=True)}
    opt.zero_grad()
    return seen | {f"{n}.grad after zero_grad()": p.grad for n, p in zip("wb", params, strict=True)}


def images(g: torch.Generator, n: int) -> torch.Tensor:
    return torch.rand(n, 28, 28, generator=g)


def randn(g: torch.Generator, *shape: int, grad: bool = False, scale: float = 1.0) -> torch.Tensor:
    return (torch.randn(*shape, generator=g) * scale).requires_grad_(grad)


def labels(g: torch.Generator, n: int) -> torch.Tensor:
    return torch.randint(0, 2, (n, 1), generator=g)


def linear_model(g: torch.Generator) -> nn.Linear:
    model = nn.Linear(28 * 28, 1)
    with torch.no_grad():
        model.weight.copy_(torch.randn(1, 28 * 28, generator=g) * 0.05)
        model.bias.copy_(torch.randn(1, generator=g) * 0.05)
    return model


def batches(g: torch.Generator, n: int = 3, size: int = 4) -> list:
    return [(torch.rand(size, 28 * 28, generator=g), labels(g, size).float()) for _ in range(n)]
