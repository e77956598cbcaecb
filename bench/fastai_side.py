"""fastai's side of the oracle: run by the oracle venv's Python (`make fastai-oracle`), never by digitlab's.

It imports fastai and torch only. It reads JSON commands, one a line, on stdin and answers each with one
line of JSON on stdout:
- {"do": "epoch", "data": PT, "threads": N}: one epoch of the notes' ten-digit loop (batches of 5 from a
  list of pairs, shuffled), timed: {"seconds", "accuracy"}.
- {"do": "figures", "data": PT, "weights": PT}: the notes' cells and the book's methods on that data from
  those starting weights, every figure in a dict (see `figures`).

PT files hold what bench/fastai_oracle.py saved with torch.save: {"train": [(x, y), ...], "valid": [...]}
and a state_dict of the notes' 784-30-10 net.
"""

import json
import sys
import time
import warnings

import torch


def import_fastai():
    """fastai.vision.all; where PyPI's torchvision cannot load its operators against the CPU-only torch
    build ('operator torchvision::nms does not exist'), the two operators it registers fakes for are
    declared first (nothing here calls them), and it is imported again."""
    try:
        import torchvision  # noqa: F401
    except RuntimeError as e:
        if "torchvision::nms" not in str(e):
            raise
        for name in [m for m in sys.modules if m.startswith("torchvision")]:
            del sys.modules[name]
        global _STUB  # kept alive: the declarations live as long as this Library object
        _STUB = torch.library.Library("torchvision", "FRAGMENT")
        for op in ("nms", "qnms"):
            _STUB.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    import fastai.vision.all as fv

    return fv


fv = import_fastai()
nn = torch.nn


def net(weights=None):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(28 * 28, 30), nn.ReLU(), nn.Linear(30, 10))
    if weights is not None:
        model.load_state_dict(weights)
    return model


def learner(train, valid, weights=None, shuffle=True):
    dls = fv.DataLoaders(fv.DataLoader(train, bs=5, shuffle=shuffle), fv.DataLoader(valid, bs=5))
    return fv.Learner(
        dls, net(weights), opt_func=fv.SGD, loss_func=nn.CrossEntropyLoss(), metrics=fv.accuracy
    )


def epoch(data, threads):
    torch.set_num_threads(threads)
    learn = learner(data["train"], data["valid"])
    start = time.perf_counter()
    with learn.no_bar(), learn.no_logging():
        learn.fit(1, 0.1)
    return {"seconds": time.perf_counter() - start, "accuracy": float(learn.recorder.values[-1][2])}


def figures(data, weights):
    """The notes' ten-digit cells from the same starting weights, batches in their stored order."""
    train, valid = data["train"], data["valid"]
    out = {}
    learn = learner(train, valid, weights, shuffle=False)
    with learn.no_bar(), learn.no_logging():
        out["lr_find"] = learn.lr_find(
            suggest_funcs=(fv.valley, fv.slide, fv.minimum, fv.steep), show_plot=False
        )._asdict()
        out["lr_find_lrs"] = [float(v) for v in learn.recorder.lrs]
        out["lr_find_losses"] = [float(v) for v in learn.recorder.losses]
        learn.fit(2, 0.1)
        out["fit_rows"] = [[float(v) for v in row] for row in learn.recorder.values]
        out["fit_losses"] = [float(v) for v in learn.recorder.losses]
        out["fit_iters"] = list(learn.recorder.iters)
        out["validate"] = [float(v) for v in learn.validate()]
    learn = learner(train, valid, weights, shuffle=False)
    with learn.no_bar(), learn.no_logging():
        learn.fine_tune(2, 0.1)
        out["fine_tune_rows"] = [[float(v) for v in row] for row in learn.recorder.values]
    out["predict"] = predict(learn.model.state_dict(), valid)
    return out


def predict(weights, valid, n=3):
    """fastai's predict needs DataLoaders it built (the notes' list of pairs has no decoding): the same
    validation pairs through a DataBlock whose class names are '0'..'9', and the trained weights."""
    xs = [x for x, _ in valid]
    block = fv.DataBlock(
        blocks=(fv.TransformBlock(), fv.CategoryBlock(vocab=[str(i) for i in range(10)])),
        get_x=lambda i: xs[i],
        get_y=lambda i: str(int(valid[i][1])),
        splitter=fv.IndexSplitter(list(range(len(xs) // 2))),
    )
    dls = block.dataloaders(list(range(len(xs))), bs=5)
    learn = fv.Learner(dls, net(weights), loss_func=fv.CrossEntropyLossFlat())
    answers = []
    with learn.no_bar(), learn.no_logging():
        for i in range(n):
            decoded, index, probs = learn.predict(i)
            answers.append([decoded, int(index), [float(p) for p in probs]])
    return answers


def main() -> None:
    warnings.simplefilter("ignore")
    answers, sys.stdout = sys.stdout, sys.stderr  # what fastai prints is not an answer
    for line in sys.stdin:
        command = json.loads(line)
        data = torch.load(command["data"])
        if command["do"] == "epoch":
            answer = epoch(data, command["threads"])
        else:
            answer = figures(data, torch.load(command["weights"]))
        print(json.dumps(answer), file=answers, flush=True)


if __name__ == "__main__":
    main()
