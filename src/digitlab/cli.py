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


@app.command("train")
def train_cmd(
    data: str = typer.Option("mnist", help=SRC_HELP),
    model: str = typer.Option("cnn", help="baseline, linear, mlp or cnn."),
    preset: str = typer.Option("default", help="fast, default or best (CNN size, epochs, lr)."),
    epochs: int = typer.Option(None, help="Epochs (default: the preset's)."),
    lr: float = typer.Option(None, help="Peak learning rate (default: the preset's)."),
    batch_size: int = typer.Option(None, help="Batch size (default: the preset's)."),
    seed: int = typer.Option(0, help="Seed for initialisation, split, order and augmentation."),
    valid_fraction: float = typer.Option(0.1, help="Training data held out to validate each epoch."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    out_dir: Path = typer.Option(Path("runs/train"), "--out", help="Folder for the model and report."),
    init: Path = typer.Option(None, help="Start from this trained model (fine-tune it on --data)."),
):
    """Train a model; prints the epoch table and ends with 'test accuracy: 0.9951'."""
    import time

    from digitlab.train.recipe import TrainConfig, train_and_save

    start = time.perf_counter()
    config = TrainConfig(
        data,
        model,
        preset,
        epochs,
        lr,
        batch_size,
        seed,
        valid_fraction,
        device,
        str(out_dir),
        str(init) if init else None,
    )
    result, evaluation = train_and_save(config)
    out.print(
        f"wrote {out_dir}/ (model.json, weights, history.csv, report.html) "
        f"in {time.perf_counter() - start:.1f} s"
    )
    out.print(f"{evaluation.split} accuracy: {evaluation.accuracy:.4f}")


@app.command()
def evaluate(
    model: Path = typer.Argument(..., help="The folder `train` wrote, or its model file."),
    data: str = typer.Option("mnist", help=SRC_HELP + " (its test split when it has one)"),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    report: Path = typer.Option(None, help="Also write an HTML report to this file."),
):
    """Accuracy, per-class precision and recall, confusion matrix and top losses."""
    import json

    from digitlab.checkpoint import load_model
    from digitlab.data import load_source
    from digitlab.evaluation import evaluate as run_evaluation
    from digitlab.fileio import write_text_atomic
    from digitlab.report.training import evaluation_report

    net, info = load_model(model)
    source = load_source(data)
    dataset, split = (source.test, "test") if source.test is not None else (source.train, "all")
    if dataset.labels is None:
        raise DigitlabError(f"{data}: has no labels to evaluate against")
    result, _ = run_evaluation(net, dataset, split)
    if report:
        write_text_atomic(report, evaluation_report(result, dataset, info))
    if as_json:
        print(json.dumps(result.to_json()))
        return
    out.print(f"{split} accuracy: {result.accuracy:.4f} on {result.n:,} images")
    for c, (p, r) in enumerate(zip(result.precision, result.recall, strict=True)):
        out.print(f"  {c}: precision {p:.4f}  recall {r:.4f}")


@app.command()
def predict(
    model: Path = typer.Argument(..., help="The folder `train` wrote, or its model file."),
    paths: list[Path] = typer.Argument(..., help="Image files or folders of images."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON array."),
    save_inputs: Path = typer.Option(None, help="Write the 28x28 images the model saw here."),
):
    """Predict the digit in each image (photos, scans, drawings: any size, any background)."""
    import json

    from digitlab.predict import Predictor
    from digitlab.predict import save_inputs as write_inputs

    results = Predictor.load(model).predict_paths(paths)
    if save_inputs is not None:
        write_inputs(results, save_inputs)
    for r in results:
        if r.error:
            print(f"error: {r.error}", file=sys.stderr)
        elif not as_json:
            guess = "no digit" if r.digit is None else f"{r.digit} ({r.confidence:.3f})"
            out.print(f"{r.path}: {guess}")
    if as_json:
        print(json.dumps([r.to_json() for r in results]))
    if any(r.error for r in results):
        sys.exit(1)


@app.command()
def submit(
    model: Path = typer.Argument(None, help="The folder `train` wrote, or its model file."),
    test: Path = typer.Option(..., "--test", help="Kaggle test.csv (pixel0..pixel783)."),
    out_path: Path = typer.Option(None, "--out", help="Submission CSV to write."),
    check: Path = typer.Option(None, "--check", help="Verify this submission file instead."),
):
    """Write a Kaggle digit-recognizer submission, or check one with --check."""
    from digitlab.predict import Predictor
    from digitlab.submission import check_submission, write_submission

    if check is not None:
        rows = check_submission(check, test)
        out.print(f"ok: {check} has {rows:,} valid rows for {test}")
        return
    if model is None or out_path is None:
        raise DigitlabError("submit needs MODEL and --out (or --check FILE)")
    rows = write_submission(Predictor.load(model), test, out_path)
    out.print(f"wrote {out_path} ({rows:,} rows)")


@app.command()
def serve(
    model: Path = typer.Argument(..., help="The folder `train` wrote, or its model file."),
    host: str = typer.Option("127.0.0.1", help="Address to bind (0.0.0.0 exposes it to the network)."),
    port: int = typer.Option(8000, help="Port to listen on."),
    save_dir: Path = typer.Option(None, help="Let users save corrected drawings here, as DIR/<digit>/."),
    cors_origin: list[str] = typer.Option(None, help="Allow cross-origin requests from this origin."),
):
    """The draw-a-digit web page and its JSON API (docs at /docs)."""
    import torch
    import uvicorn

    from digitlab.predict import Predictor

    torch.set_num_threads(1)  # one image per request, many requests in parallel threads: no oversubscription
    from digitlab.web.app import create_app

    app_ = create_app(Predictor.load(model), save_dir, cors_origin or None)
    out.print(f"serving on http://{host}:{port}/  (API docs: /docs; Ctrl+C stops)")
    uvicorn.run(app_, host=host, port=port, log_level="warning")


@app.command()
def bench(
    quick: bool = typer.Option(False, "--quick", help="A smoke run in under 3 minutes."),
    out_path: Path = typer.Option(Path("BENCHMARKS.md"), "--out", help="Markdown file to write."),
    preset: list[str] = typer.Option(["default"], help="Presets to run over 3 seeds (fast always runs)."),
):
    """Speed and accuracy side by side with the references; writes BENCHMARKS.md."""
    from digitlab.bench.run import run_bench

    run_bench(quick, out_path, tuple(preset), out)


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
