"""`data info`, `data show` and `data download`: look at a data source before training on it."""

import dataclasses
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from digitlab.cli.common import SRC_HELP, Verbosity, number_option, out, say, with_settings
from digitlab.errors import DigitlabError, plain
from digitlab.run.settings import TrainConfig


@with_settings("preset", "valid_fraction", "seed", "classes")
def data_info(settings: TrainConfig, src: str = typer.Argument("mnist", help=SRC_HELP)):
    """Counts per class, the split `train` makes with the same flags, shape, pixel range and mean."""
    from digitlab.data import load_source
    from digitlab.data.class_names import parse_classes
    from digitlab.data.holdout import hold_out

    # the fraction `train` with these flags takes, decided where train decides it
    config = dataclasses.replace(settings, data=src, device="cpu").resolve()
    source = load_source(src, parse_classes(config.classes) if config.classes else None)
    say(f"source: {source.name}")
    for name, ds in (("train", source.train), ("valid", source.valid), ("test", source.test)):
        if ds is None:
            continue
        s = ds.summary()
        say(
            f"{name}: {s['n']:,} images {s['height']}x{s['width']}{COLOUR[s['channels']]} uint8, "
            f"labelled: {s['labelled']}, "
            f"pixel range {s['min']}..{s['max']}, mean {s['mean']:.2f} ({s['mean'] / 255:.4f} as float)"
        )
        if name == "train" and ds.labels is not None:
            holdout = hold_out(ds, source.valid, config.valid_fraction, config.seed)
            say(f"  as `train --preset {config.preset}` makes it: {holdout.line()}")
            if warning := holdout.warning():
                say(f"  {warning}")
        if ds.labels is not None:
            out.print(_class_table(ds, name))


COLOUR = {1: "", 3: " RGB"}  # grey images are said as they always were


def _class_table(ds, name: str) -> Table:
    """Images per class: the ten digits in one row; named or more classes one row each, sorted."""
    counts = ds.class_counts()
    if ds.classes is None and len(counts) <= 10:
        table = Table("digit", *[str(d) for d in range(10)], title=f"{name}: images per class")
        table.add_row("count", *[str(c) for c in counts])
        return table
    table = Table("class", "name", "count", title=f"{name}: images per class ({len(counts)} classes)")
    for label, count in enumerate(counts):
        class_name = ds.classes[label] if ds.classes is not None else str(label)
        table.add_row(str(label), Text(plain(class_name)), str(count))  # a name is text, never markup
    return table


def data_show(
    src: str = typer.Argument("mnist", help=SRC_HELP),
    out_path: Path = typer.Option(..., "--out", help="PNG file to write."),
    count: int = number_option("count", 40, "--count", help="How many images."),
    seed: int = number_option("seed", 0, "--seed", help="Which random sample to show."),
    means: bool = typer.Option(False, help="Show each class's mean image instead (the lesson's baseline)."),
):
    """Save a labelled grid of sample images, or of the mean image of each class."""
    import torch

    from digitlab.data import load_source
    from digitlab.report.figures import class_means, image_grid, save_png

    ds = load_source(src).train
    if len(ds) == 0:
        raise DigitlabError(f"{src}: holds no images")
    if means:
        if ds.labels is None:
            raise DigitlabError(f"{src}: has no labels, so no class means")
        save_png(class_means(ds.images, ds.labels, ds.classes), out_path)
        say(f"wrote {out_path} (the mean image of each class)")
        return
    pick = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))[:count]
    titles = None
    if ds.labels is not None:  # each image titled by its class: its name, or its number
        names = ds.classes or [str(c) for c in range(ds.n_classes())]
        titles = [names[int(ds.labels[i])] for i in pick]
    save_png(image_grid(ds.images[pick], titles), out_path)
    say(f"wrote {out_path} ({len(pick)} images)")


def data_download(
    name: str = typer.Argument(..., help="mnist or fashion-mnist"),
    to: Path = typer.Option(..., "--to", help="Folder for the four IDX files."),
):
    """Fetch the original files from known mirrors and verify their checksums."""
    from rich.console import Console
    from rich.progress import DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    from digitlab.data.download import download

    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), DownloadColumn(), TransferSpeedColumn(), console=console,
                  transient=True, disable=not console.is_terminal or Verbosity.quiet) as bar:  # fmt: skip
        tasks: dict[str, int] = {}

        def show(filename: str, size: int, total: int | None) -> None:
            if filename not in tasks:
                tasks[filename] = bar.add_task(filename, total=total)
            bar.update(tasks[filename], completed=size)

        paths = download(name, to, progress=show)
    for path in paths:
        say(f"ok {path}")
