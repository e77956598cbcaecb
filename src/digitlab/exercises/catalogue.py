"""Every exercise: its reference, the cases it is run on, what is compared, and the typical mistakes
it is told apart from (each a small wrong version with its own explanation).

Cases are made anew for every call from a fixed seed, so the learner's function and the reference
see equal, untouched inputs, and a function that changes an input in place is caught.
"""

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from digitlab.exercises import mistakes as wrong
from digitlab.exercises import solutions as ref
from digitlab.learning.optim import SGD
from digitlab.lesson.cells import lesson_text

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


def section_title(number: int) -> str:
    """`3 ("Stochastic gradient descent")`: the lesson's own heading of that section."""
    match = re.search(rf"^## {number}\. (.+?)(?: \(notes:.*\))?$", lesson_text(), re.M)
    return f'{number} ("{match.group(1)}")' if match else str(number)


def fresh_args(case: Case) -> Args:
    return case.make(torch.Generator().manual_seed(case.seed))


def returns(fn: Callable, args: Args) -> Observed:
    """What `fn(**args)` returns, and the gradient it sends back to each input that asks for one."""
    result = fn(**args)
    seen: Observed = {"result": result}
    if isinstance(result, torch.Tensor) and result.grad_fn is not None and result.is_floating_point():
        result.sum().backward()
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


def _images(g: torch.Generator, n: int) -> torch.Tensor:
    return torch.rand(n, 28, 28, generator=g)


def _randn(g: torch.Generator, *shape: int, grad: bool = False, scale: float = 1.0) -> torch.Tensor:
    return (torch.randn(*shape, generator=g) * scale).requires_grad_(grad)


def _labels(g: torch.Generator, n: int) -> torch.Tensor:
    return torch.randint(0, 2, (n, 1), generator=g)


def _model(g: torch.Generator) -> nn.Linear:
    model = nn.Linear(28 * 28, 1)
    with torch.no_grad():
        model.weight.copy_(torch.randn(1, 28 * 28, generator=g) * 0.05)
        model.bias.copy_(torch.randn(1, generator=g) * 0.05)
    return model


def _batches(g: torch.Generator, n: int = 3, size: int = 4) -> list:
    return [(torch.rand(size, 28 * 28, generator=g), _labels(g, size).float()) for _ in range(n)]


def _optimizer_case(g: torch.Generator) -> Args:
    params = [_randn(g, 3, 2, grad=True), _randn(g, 2, grad=True)]
    for p in params:
        p.grad = torch.randn(p.shape, generator=g)
    return {"params": params, "lr": 0.1}


def _batch_case(g: torch.Generator, times: int) -> Args:
    xb, yb = _batches(g, 1)[0]
    return {"model": _model(g), "xb": xb, "yb": yb, "times": times}


def _epoch_case(g: torch.Generator) -> Args:
    model = _model(g)
    return {"model": model, "lr": 0.5, "params": list(model.parameters()), "dl": _batches(g)}


def _fit_case(g: torch.Generator) -> Args:
    model = _model(g)  # digitlab's SGD skips a parameter without a gradient, as torch.optim's does
    opt = SGD(model.parameters(), 0.5)
    return {"model": model, "dl": _batches(g), "loss_func": ref.mnist_loss, "opt": opt, "epochs": 2}


IMAGES = "3 random 28x28 images"
BATCHES = "3 batches of 4 flattened images (4,784) and 0/1 labels (4,1)"
MODEL = "model = nn.Linear(784, 1)"
EXERCISES = (
    Exercise("mnist_distance", 2, ref.mnist_distance, (
        Case(f"a = {IMAGES}, b = one image", lambda g: {"a": _images(g, 3), "b": _images(g, 1)[0]}),
        Case("a = one image, b = another", lambda g: {"a": _images(g, 1)[0], "b": _images(g, 1)[0]}, 1),
    ), returns, shapes="a (N,28,28), b (28,28) -> (N,)"),
    Exercise("is_one", 2, ref.is_one, (
        Case("x = 6 images, mean1 and mean0 two others", lambda g: {
            "x": _images(g, 6), "mean1": _images(g, 1)[0], "mean0": _images(g, 1)[0]}),
    ), returns, deps=("mnist_distance",)),
    Exercise("init_params", 3, ref.init_params, (
        Case("size = (4, 3) after torch.manual_seed(0)", lambda g: {"size": (4, 3)}),
        Case("size = (5,), std = 0.5 after torch.manual_seed(0)", lambda g: {"size": (5,), "std": 0.5}),
    ), seeded),
    Exercise("linear1", 3, ref.linear1, (
        Case("xb = 4 flattened images (4,784), weights (784,1), bias (1,)", lambda g: {
            "xb": torch.rand(4, 784, generator=g), "weights": _randn(g, 784, 1, grad=True),
            "bias": _randn(g, 1, grad=True)}),
    ), returns, shapes="xb (B,784) @ weights (784,1) + bias (1,) -> (B,1)"),
    Exercise("mnist_loss", 3, ref.mnist_loss, (
        Case("predictions = 6 raw scores (6,1), targets 0/1 (6,1)", lambda g: {
            "predictions": _randn(g, 6, 1, grad=True, scale=2), "targets": _labels(g, 6)}),
    ), returns, (Mistake(wrong.loss_without_sigmoid, "it measures raw scores, not probabilities: a missing "
                         "sigmoid (predictions.sigmoid()) before comparing with the targets"),),
        task="Squash each raw score (B,1) into 0..1 with the sigmoid, then take 1 - p where the target (B,1) "
        "is 1 and p where it is 0; return their mean."),
    Exercise("calc_grad", 4, ref.calc_grad, (
        Case(f"xb, yb = one batch, {MODEL}", lambda g: _batch_case(g, 1)),
        Case(f"calc_grad called twice on one batch, {MODEL}", lambda g: _batch_case(g, 2)),
    ), gradients_after, (Mistake(wrong.calc_grad_without_backward, "no gradient at all: calc_grad "
                                 "computes the loss but never calls loss.backward()"),),
        deps=("mnist_loss",), pure=False),
    Exercise("train_epoch", 4, ref.train_epoch, (
        Case(f"dl = {BATCHES}, {MODEL}, lr = 0.5", _epoch_case),
    ), parameters_after, (
        Mistake(wrong.train_epoch_without_zero, "gradients add up from batch to batch: a missing "
                "p.grad.zero_() after each step"),
        Mistake(wrong.train_epoch_uphill, "each step goes up the gradient: a step is p.data -= p.grad * lr"),
    ), ("calc_grad",), pure=False),
    Exercise("batch_accuracy", 4, ref.batch_accuracy, (
        Case("xb = 8 raw scores between -2 and 3 (8,1), yb = 0/1 (8,1)", lambda g: {
            "xb": torch.tensor([[-2.0], [-0.3], [0.2], [0.4], [0.7], [3.0], [-0.1], [0.3]]),
            "yb": torch.tensor([[0], [0], [1], [0], [1], [1], [1], [0]])}),
    ), returns, (Mistake(wrong.accuracy_without_sigmoid, "it compares raw scores with 0.5: a missing sigmoid "
                         "(xb.sigmoid() > 0.5)"),)),
    Exercise("validate_epoch", 4, ref.validate_epoch, (
        Case(f"valid_dl = {BATCHES}, {MODEL}", lambda g: {"model": _model(g), "valid_dl": _batches(g)}),
    ), returns, deps=("batch_accuracy",)),
    Exercise("BasicOptim", 5, ref.BasicOptim, (
        Case("params = [w (3,2), b (2,)] with gradients, lr = 0.1", _optimizer_case),
    ), optimizer_steps, pure=False),
    Exercise("fit", 5, ref.fit, (
        Case(f"dl = {BATCHES}, {MODEL}, loss_func = mnist_loss, opt = SGD(lr 0.5), epochs = 2", _fit_case),
    ), parameters_after, (
        Mistake(wrong.fit_without_backward, "the parameters never move: a missing loss.backward() before "
                "opt.step()"),
        Mistake(wrong.fit_without_zero_grad, "gradients add up from batch to batch: a missing "
                "opt.zero_grad() after each step"),
    ), pure=False),
    Exercise("simple_net", 6, ref.simple_net, (
        Case("xb = 4 flattened images (4,784), w1 (784,30), b1 (30,), w2 (30,1), b2 (1,)", lambda g: {
            "xb": torch.rand(4, 784, generator=g), "w1": _randn(g, 784, 30, grad=True, scale=0.1),
            "b1": _randn(g, 30, grad=True), "w2": _randn(g, 30, 1, grad=True),
            "b2": _randn(g, 1, grad=True)}),
    ), returns, (Mistake(wrong.net_without_relu, "negative hidden activations pass through: a missing ReLU "
                         "between the layers (res.max(tensor(0.0)) or F.relu)"),),
        shapes="xb (B,784) @ w1 (784,30) -> res (B,30) @ w2 (30,1) -> (B,1)"),
    Exercise("softmax", 8, ref.softmax, (
        Case("logits = 3 rows of 10 activations (3,10)", lambda g: {"logits": _randn(g, 3, 10, scale=3)}),
    ), returns, (Mistake(wrong.softmax_by_column, "each column sums to 1, not each row: sum over the last "
                         "dim (sum(-1, keepdim=True))"),), task="Activations (B,10) -> probabilities: "
                 "each row's exponentials divided by their sum, so every row is positive and sums to 1."),
    Exercise("cross_entropy", 8, ref.cross_entropy, (
        Case("logits = 4 rows of 10 activations (4,10), targets = 4 digits (4,)", lambda g: {
            "logits": _randn(g, 4, 10, grad=True, scale=2),
            "targets": torch.randint(0, 10, (4,), generator=g)}),
    ), returns, (Mistake(wrong.cross_entropy_without_log, "it takes minus the probability of the right "
                         "digit, not minus its log: a missing .log()"),),
        task="The mean, over the rows, of minus the log of the softmax probability each row gives its "
        "target digit (logits (B,10), targets (B,))."),
)  # fmt: skip
