"""The `digitlab` command: parses flags, calls the library, formats the output. Nothing more."""

import sys
import warnings
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from digitlab.errors import DigitlabError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Handwritten digit recognition built from scratch on PyTorch.",
)
data_app = typer.Typer(no_args_is_help=True, help="Inspect, show and download data sources.")
app.add_typer(data_app, name="data")
out = Console(highlight=False, soft_wrap=True)

SRC_HELP = "'mnist' (bundled), a Kaggle CSV, a folder of IDX files, or a folder of 0/..9/ image folders"


@app.callback()
def root(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors.")):
    """digitlab: the fast.ai MNIST lesson, done right, and a digit recogniser that works."""


@app.command()
def lesson(
    pair: tuple[int, int] = typer.Option((0, 1), help="The two digits of the binary part."),
    out_dir: Path = typer.Option(Path("runs/lesson"), "--out", help="Folder for lesson.html and the model."),
    subset: int = typer.Option(None, help="Use only the first N training images (quick runs)."),
):
    """Run the whole MNIST-basics lesson on the bundled data and write DIR/lesson.html."""
    from digitlab.lesson import run_lesson

    run_lesson(tuple(pair), out_dir, subset, out)


@data_app.command("info")
def data_info(
    src: str = typer.Argument("mnist", help=SRC_HELP),
    valid_fraction: float = typer.Option(0.2, help="Fraction held out for validation."),
    seed: int = typer.Option(1337, help="Seed of the train/valid split."),
):
    """Counts per class, split sizes, shape, pixel range and mean."""
    from digitlab.data import load_source

    source = load_source(src)
    out.print(f"source: {source.name}")
    for name, ds in (("train", source.train), ("test", source.test)):
        if ds is None:
            continue
        h, w = ds.images.shape[1:]
        pixels = ds.images.float()
        out.print(
            f"{name}: {len(ds):,} images {h}x{w} uint8, labelled: {ds.labels is not None}, "
            f"pixel range {int(pixels.min())}..{int(pixels.max())}, "
            f"mean {pixels.mean():.2f} ({pixels.mean() / 255:.4f} as float)"
        )
        if name == "train" and ds.labels is not None:
            train, valid = ds.split(valid_fraction, seed)
            out.print(
                f"  split (valid {valid_fraction:.0%}, seed {seed}): "
                f"train {len(train):,} / valid {len(valid):,}"
            )
        if ds.labels is not None:
            table = Table("digit", *[str(d) for d in range(10)], title=f"{name}: images per class")
            table.add_row("count", *[str(c) for c in ds.class_counts()])
            out.print(table)


@data_app.command("show")
def data_show(
    src: str = typer.Argument("mnist", help=SRC_HELP),
    out_path: Path = typer.Option(..., "--out", help="PNG file to write."),
    count: int = typer.Option(40, help="How many images."),
    seed: int = typer.Option(0, help="Which random sample to show."),
):
    """Save a labelled grid of sample images."""
    import torch

    from digitlab.data import load_source
    from digitlab.report.figures import image_grid, save_png

    ds = load_source(src).train
    pick = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))[:count]
    titles = [str(int(ds.labels[i])) for i in pick] if ds.labels is not None else None
    save_png(image_grid(ds.images[pick], titles), out_path)
    out.print(f"wrote {out_path} ({len(pick)} images)")


@data_app.command("download")
def data_download(
    name: str = typer.Argument(..., help="mnist or fashion-mnist"),
    to: Path = typer.Option(..., "--to", help="Folder for the four IDX files."),
):
    """Fetch the original files from known mirrors and verify their checksums."""
    from digitlab.data.download import download

    for path in download(name, to):
        out.print(f"ok {path}")


def _format_warning(message, category, filename, lineno, line=None):
    return f"warning: {message}\n"


def main() -> None:
    """Entry point: one-line errors and exit status 1, tracebacks only with --debug."""
    debug = "--debug" in sys.argv
    warnings.formatwarning = _format_warning
    try:
        app()
    except (DigitlabError, OSError, ValueError) as e:
        if debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
