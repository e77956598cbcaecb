"""`digitlab lesson`: the MNIST-basics lesson from one source, in the terminal, as a page or a notebook."""

import io
import time
from pathlib import Path

import numpy as np
import PIL.Image
import torch
from rich.console import Console
from rich.markdown import Markdown
from rich.syntax import Syntax
from torch import nn

from digitlab.errors import DigitlabError, plain
from digitlab.lesson.cells import Cell, check_parameters, lesson_cells
from digitlab.lesson.notebook import write_notebook
from digitlab.lesson.runner import Output, run_cell
from digitlab.modelfiles import ownership
from digitlab.modelfiles.model_file import ModelInfo
from digitlab.modelfiles.publishing import publish_run
from digitlab.models import MLP
from digitlab.report.attribution import half_blocks
from digitlab.report.html import Page

__all__ = ["run_lesson", "write_notebook"]
FIGURE_COLUMNS = 60  # a figure in the terminal: at most this many characters wide, two pixel rows a line
RESULTS = (  # the numbers the lesson measures, by their names in the lesson's code
    "baseline_accuracy", "before_training", "after_one_epoch", "scratch_accuracy",
    "learner_linear_accuracy", "sorted_accuracy", "net_accuracy", "frozen_epoch_accuracy",
    "ten_valid_accuracy", "ten_train_accuracy", "ten_test_accuracy",
    "linear_accuracy", "no_relu_accuracy", "relu_accuracy", "fold_gap", "linear_layer_gap",
    "first_epoch_accuracy", "deeper_accuracy", "cnn_accuracy",
)  # fmt: skip


def run_lesson(
    pair: tuple[int, int] = (0, 1),
    out: str | Path = "runs/lesson",
    data: str = "mnist",
    subset: int | None = None,
    console: Console | None = None,
) -> dict:
    """Run and print every cell, write DIR/lesson.html and the 10-digit model; returns the numbers."""
    import matplotlib

    matplotlib.use("Agg")  # figures go to the page, never to a window
    check_parameters(pair, subset)
    start, console = time.perf_counter(), console or Console(highlight=False)
    out = Path(out)
    ownership.check(out)  # refused at once, not after the lesson, when OUT is not digitlab's to write
    page, namespace = _run_cells(lesson_cells(data, pair, subset), console, data, pair, out / "lesson.html")
    results = {k: namespace[k] for k in RESULTS if k in namespace}
    results["seconds"] = time.perf_counter() - start
    model, info = _ten_digit_model(namespace["learn"].model, results, namespace["train"])
    with ownership.writing(out) as manifest:
        publish_run(out, manifest, model, info, {"lesson.html": page.render()})
    took = f"The lesson took {results['seconds']:.1f} s. Wrote {out / 'lesson.html'} and the 10-digit model"
    console.print("\n" + plain(took), markup=False)
    console.print(plain(f"in {out}/ (try: digitlab predict {out} some-digit.png)."), markup=False)
    return results


def _run_cells(
    cells: list[Cell], console: Console, data: str, pair: tuple[int, int], html: Path
) -> tuple[Page, dict]:
    """Every cell run and shown in order; the page they make and the names they defined."""
    title = cells[0].source.splitlines()[0].lstrip("# ")
    page, namespace, figures = Page(title), {"__name__": "__lesson__"}, 0
    for cell in cells:
        if cell.kind == "markdown":
            _show_prose(cell, console, page, title)
            continue
        try:
            output = run_cell(cell.source, namespace)
        except Exception:
            _blame_the_data(namespace, data, pair)  # one clear line when too little data is the cause
            raise
        if cell.hidden:
            _fold_answers(output, console, page)
            continue
        _show_code(cell, output, console, page)
        for png in output.figures:
            figures += 1
            page.image(png, cell.caption or "figure drawn by the cell above")
            _show_figure(png, console, f"figure {figures} in {html}")
            console.print()
    return page, namespace


def _blame_the_data(namespace: dict, data: str, pair: tuple[int, int]) -> None:
    """A cell failed: raise a DigitlabError saying so when the data is why (no labels, or a digit of
    the pair missing from one side of the lesson's split); return when it is not."""
    source, train, valid = (namespace.get(name) for name in ("source", "train", "valid"))
    if source is not None and source.train.labels is None:
        raise DigitlabError(f"{data}: has no labels; the lesson needs labelled images (train.csv)") from None
    for split, side in ((train, "training"), (valid, "held-out")):
        labels = getattr(split, "labels", None)
        missing = [d for d in pair if labels is not None and not (labels == d).any()]
        if missing:
            n = sum(len(s) for s in (train, valid) if s is not None)
            raise DigitlabError(
                f"{data}: the lesson's {side} images hold no {missing[0]} ({n:,} labelled in all); it needs "
                f"more images of {pair[0]} and {pair[1]}: more data, or another --pair"
            ) from None


def _show_prose(cell: Cell, console: Console, page: Page, title: str) -> None:
    console.print(Markdown(cell.source))
    page.markdown(cell.source.removeprefix(f"# {title}"))


def _show_code(cell: Cell, output: Output, console: Console, page: Page) -> None:
    width = max(map(len, cell.source.splitlines()), default=1)
    syntax = Syntax(cell.source, "python", theme="ansi_dark", background_color="default", code_width=width)
    console.rule(style="dim")  # code below the line; not indented, so it can be copied as it is
    console.print(syntax, soft_wrap=True, crop=False)  # a long line is one line: the terminal folds it
    console.print()
    page.code(cell.source)
    if output.text:
        if cell.caption:
            console.print(f"[italic]{cell.caption}[/italic]", markup=True)
        console.print(output.text.rstrip("\n"), markup=False)
        page.output(output.text, cell.caption)
    console.print()


def _show_figure(png: bytes, console: Console, where: str) -> None:
    """A small copy of the figure in half blocks where the terminal has colour, and where to see it whole."""
    if console.color_system is not None:
        console.print(half_blocks(_small_rgb(png, min(FIGURE_COLUMNS, console.width))), end="")
    console.print(plain(f"(full size: {where}, or the notebook)"), style="dim", markup=False, highlight=False)


def _small_rgb(png: bytes, columns: int) -> np.ndarray:
    """The PNG shrunk to `columns` pixels wide (and an even height: two pixel rows a line), as RGB 0..255."""
    image = PIL.Image.open(io.BytesIO(png)).convert("RGB")
    rows = max(2, round(image.height * columns / image.width / 2) * 2)
    return np.asarray(image.resize((columns, rows), PIL.Image.Resampling.BOX), dtype=int)


def _fold_answers(output: Output, console: Console, page: Page) -> None:
    """Answers: folded on the page, named in the terminal (where `digitlab quiz` asks the questions)."""
    page.details("answers (open after answering)", output.text)
    console.print("[dim](the answers are folded on lesson.html and in the notebook)[/dim]", markup=True)
    console.print()


def _ten_digit_model(net: nn.Sequential, results: dict, train) -> tuple[MLP, ModelInfo]:
    """The lesson's nn.Sequential net as a digitlab MLP, so `predict` and `serve` can use its folder."""
    model = MLP(hidden=net[0].out_features, n_out=10)
    with torch.no_grad():
        for ours, theirs in ((model.first_layer, net[0]), (model.last_layer, net[2])):
            ours.weight.copy_(theirs.weight), ours.bias.copy_(theirs.bias)
    metrics = {
        k: float(results[k]) for k in RESULTS if k in results
    }  # every figure: `digitlab quiz` asks them
    return model, ModelInfo.describe(model, metrics=metrics, data_fingerprint=train.fingerprint())
