"""Sections 6-7: all ten digits with softmax and cross-entropy, and what the notes got wrong."""

import functools
import warnings

import torch

from digitlab.data import DataLoader, DataLoaders, Dataset, LeakageWarning, Splits
from digitlab.lesson.binary import learner_for
from digitlab.lesson.story import Story
from digitlab.models import MLP, Linear
from digitlab.report import figures
from digitlab.train.learner import Learner
from digitlab.train.losses import cross_entropy, softmax
from digitlab.train.optim import SGD

SGD_MOMENTUM = functools.partial(SGD, momentum=0.9)


def ten_digit_loaders(train: Dataset, valid: Dataset) -> tuple[Splits, DataLoaders]:
    """Loaders over an honest split, and the split with its normalisation (from train only)."""
    splits = Splits(train, valid)  # refuses a validation set that overlaps the training set
    return splits, DataLoaders(
        DataLoader(splits.train.floats(), splits.train.labels, 256, shuffle=True, seed=1337),
        DataLoader(splits.valid.floats(), splits.valid.labels, 2048),
    )


def norm(splits: Splits) -> dict:
    return {"mean": splits.mean, "std": splits.std}


def ten_digit_learner(story: Story, dls: DataLoaders, model, lr: float = 0.1) -> Learner:
    return learner_for(dls, model, cross_entropy, story, lr, SGD_MOMENTUM)


def all_ten_digits(
    story: Story, splits: Splits, dls: DataLoaders, test: Dataset, epochs: int = 8
) -> tuple[Learner, dict]:
    """6. Ten outputs, softmax turns them into probabilities, cross-entropy scores them."""
    story.section("6. All ten digits: softmax and cross-entropy")
    torch.manual_seed(42)
    model = MLP(hidden=30, n_out=10, **norm(splits))
    learn = ten_digit_learner(story, dls, model)
    xb, yb = learn.one_batch()
    with torch.no_grad():
        acts = model(xb[:6])
    probs = softmax(acts)
    story.say(f"Untrained activations of one image: {_fmt(acts[0])}; they sum to {acts[0].sum():.4f}.")
    story.say(f"After softmax: {_fmt(probs[0])}; they sum to {probs[0].sum():.4f}.")
    story.figure(figures.softmax_bars(probs, yb[:6]), "softmax of six untrained activations")
    story.say(
        f"fine_tune({epochs}, 0.1): one epoch training only the last layer, then {epochs} with all "
        "layers, one-cycle learning rate, SGD with momentum; validation on held-out images."
    )
    learn.fine_tune(epochs, base_lr=0.1, freeze_epochs=1)
    story.table(learn.recorder.rows, "epoch table after unfreezing")
    valid_acc = learn.recorder.rows[-1]["accuracy"]
    test_probs, test_y = learn.get_preds(DataLoader(test.floats(), test.labels, 2048))
    test_acc = (test_probs.argmax(1) == test_y).float().mean().item()
    story.say(
        f"Held-out validation accuracy {valid_acc:.4f}; on the 10,000 official test images {test_acc:.4f}."
    )
    story.figure(
        figures.first_layer_weights(model.first_layer.weight), "first-layer weights of the 10-digit net"
    )
    story.figure(figures.loss_curves(learn.recorder.history()), "losses while fine-tuning")
    return learn, {"valid_accuracy": valid_acc, "test_accuracy": test_acc}


def what_the_notes_got_wrong(story: Story, splits: Splits, dls: DataLoaders, epochs: int = 3) -> dict:
    """7. Each mistake of the notes, measured next to the right way."""
    story.section("7. What the notes got wrong")
    results = {}
    story.say(
        "a) Validating on the training set. The notes built their 10-digit valid_dl from the "
        "training data, so their 0.9975 is a training accuracy. digitlab refuses that pair unless "
        "asked explicitly, and then warns:"
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        leaky = Splits(splits.train, splits.train, allow_leakage=True)
    story.say("  " + "; ".join(str(w.message) for w in caught if issubclass(w.category, LeakageWarning)))
    torch.manual_seed(42)
    notes_dls = DataLoaders(dls.train, DataLoader(leaky.valid.floats(), leaky.valid.labels, 2048))
    learn = ten_digit_learner(story, notes_dls, MLP(hidden=30, n_out=10, **norm(splits)))
    learn.fit_one_cycle(epochs, 0.1)
    probs, targets = learn.get_preds(dls.valid)
    results["notes_train_accuracy"] = learn.recorder.rows[-1]["accuracy"]
    results["notes_heldout_accuracy"] = (probs.argmax(1) == targets).float().mean().item()
    story.table(
        [
            {"measured on": "training images (the notes)", "accuracy": results["notes_train_accuracy"]},
            {"measured on": "held-out images (honest)", "accuracy": results["notes_heldout_accuracy"]},
        ],
        "the same model, two ways of measuring it",
    )
    results.update(_no_relu(story, splits, dls, epochs))
    _simple_net_bug(story)
    _calc_grad_bug(story)
    return results


def _no_relu(story: Story, splits: Splits, dls: DataLoaders, epochs: int) -> dict:
    story.say(
        "b) nn.Sequential(nn.Linear(784, 30), nn.Linear(30, 10)) has no ReLU. Two linear layers "
        "compose into one linear layer, so this 'neural net' is only a linear model:"
    )
    rows = {}
    models = [
        ("linear model", Linear(10, **norm(splits))),
        ("two layers, no ReLU", MLP(30, 10, relu=False, **norm(splits))),
        ("two layers with ReLU", MLP(30, 10, **norm(splits))),
    ]
    for name, model in models:
        torch.manual_seed(42)
        learn = ten_digit_learner(story, dls, model)
        learn.fit_one_cycle(epochs, 0.1)
        rows[name] = learn.recorder.rows[-1]["accuracy"]
        if name == "two layers, no ReLU":
            gap = _collapse_gap(model, dls.valid.x[:512])
    story.table([{"model": k, "valid accuracy": v} for k, v in rows.items()], f"{epochs} epochs each")
    story.say(
        f"Folding the no-ReLU net into a single Linear(784, 10) (W = W2 W1, b = W2 b1 + b2) gives the "
        f"same outputs: largest difference {gap:.2e}."
    )
    return {
        "linear_accuracy": rows["linear model"],
        "no_relu_accuracy": rows["two layers, no ReLU"],
        "relu_accuracy": rows["two layers with ReLU"],
        "no_relu_collapse_gap": gap,
    }


def _collapse_gap(model: MLP, x: torch.Tensor) -> float:
    first, second = model[2], model[4]
    folded = Linear(10, mean=model[0].mean.item(), std=model[0].std.item())
    with torch.no_grad():
        folded[2].weight.copy_(second.weight @ first.weight)
        folded[2].bias.copy_(second.weight @ first.bias + second.bias)
        return (folded(x) - model.eval()(x)).abs().max().item()


def _simple_net_bug(story: Story) -> None:
    story.say(
        "c) The notes' simple_net ends with `res = xb @ w2 + b2`: the second layer is handed the "
        "input pixels instead of the hidden activations. It cannot even run:"
    )
    xb, w2 = torch.rand(4, 784), torch.rand(30, 1)
    try:
        xb @ w2
    except RuntimeError as e:
        story.code(f"RuntimeError: {e}")
    story.say("digitlab's MLP feeds the ReLU's output to the second layer (see models/mlp.py).")


def _calc_grad_bug(story: Story) -> None:
    story.say(
        "d) The notes' calc_grad computes the loss but never calls loss.backward(), so no gradient "
        "exists and the step has nothing to follow:"
    )
    weights = torch.randn(784, 1, requires_grad=True)
    loss = (torch.rand(4, 784) @ weights).sigmoid().mean()
    story.code(f"without backward(): weights.grad = {weights.grad}")
    loss.backward()
    story.code(
        f"after backward():   weights.grad has shape {tuple(weights.grad.shape)}, "
        f"mean {weights.grad.mean():.2e}"
    )


def _fmt(t: torch.Tensor) -> str:
    return "[" + ", ".join(f"{v:.3f}" for v in t.tolist()) + "]"
