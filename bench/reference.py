"""PyTorch's official examples/mnist recipe, re-implemented faithfully, as the yardstick.

conv 32 -> conv 64 -> max-pool -> dropout -> linear 128 -> linear 10; Adadelta(lr=1.0),
StepLR(gamma=0.7) per epoch, batch 64, test batch 1000, inputs normalised with (0.1307, 0.3081).
It gets its data from torch's own DataLoader over tensors already in memory, which is faster
than the example's per-image PIL transforms: the comparison flatters the reference.

`python -m bench.reference --seed S [--max-epochs N]` runs it as its own process, as the example
runs, and prints the result as one JSON line (bench/training.py times that process from outside).
"""

import argparse
import json
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from digitlab.data import load_source


class ReferenceNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(64 * 12 * 12, 128)  # 28 -> 26 -> 24 after two 3x3 convs, 12 after pooling
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = self.dropout1(F.max_pool2d(x, 2))
        x = self.dropout2(F.relu(self.fc1(torch.flatten(x, 1))))
        return F.log_softmax(self.fc2(x), dim=1)


def time_to_accuracy(
    target: float = 0.99,
    max_epochs: int = 14,
    seed: int = 1,
    device: str = "cpu",
    train_limit: int | None = None,
) -> dict:
    """Train epoch by epoch, testing after each, until test accuracy reaches `target` or the cap."""
    start = time.perf_counter()
    torch.manual_seed(seed)
    source = load_source("mnist")
    train_n = train_limit or len(source.train)
    x = ((source.train.floats() - 0.1307) / 0.3081)[:train_n]
    xt = (source.test.floats() - 0.1307) / 0.3081
    loader = DataLoader(TensorDataset(x, source.train.labels[:train_n]), batch_size=64, shuffle=True)
    model = ReferenceNet().to(device)
    opt = torch.optim.Adadelta(model.parameters(), lr=1.0)
    schedule = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    history, epoch_seconds = [], []
    for _ in range(max_epochs):
        epoch_start = time.perf_counter()
        model.train()
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            opt.zero_grad()
            F.nll_loss(model(xb), yb).backward()
            opt.step()
        schedule.step()
        history.append(_test(model, xt, source.test.labels, device))
        epoch_seconds.append(time.perf_counter() - epoch_start)
        if history[-1] >= target:
            break
    return {
        "seconds": time.perf_counter() - start,
        "epochs": len(history),
        "accuracy": history[-1],
        "history": history,
        "epoch_seconds": epoch_seconds,  # each epoch's training and test
        "reached": history[-1] >= target,
    }


@torch.no_grad()
def _test(model, x, y, device) -> float:
    model.eval()
    correct = sum(
        (model(x[i : i + 1000].to(device)).argmax(1).cpu() == y[i : i + 1000]).sum().item()
        for i in range(0, len(x), 1000)
    )
    return correct / len(x)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.reference", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-epochs", type=int, default=14)
    args = parser.parse_args()
    print(json.dumps(time_to_accuracy(seed=args.seed, max_epochs=args.max_epochs)))


if __name__ == "__main__":
    main()
