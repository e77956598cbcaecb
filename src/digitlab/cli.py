"""The `digitlab` command: parses flags, calls the library, formats the output. Nothing more."""

import sys
import warnings
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from digitlab.config import TrainConfig
from digitlab.errors import DigitlabError, TrainingDiverged

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


DEFAULT = TrainConfig()  # the one place train's defaults are written
# Options that `train` and `lr-find` share:
DATA = typer.Option(DEFAULT.data, help=SRC_HELP)
MODEL = typer.Option(DEFAULT.model, help="baseline, linear, mlp or cnn.")
PRESET = typer.Option(DEFAULT.preset, help="fast, default or best (CNN size, epochs, lr).")
BATCH_SIZE = typer.Option(DEFAULT.batch_size, help="Batch size (default: the preset's).")
SEED = typer.Option(DEFAULT.seed, help="Seed for initialisation, split, order and augmentation.")


class State:
    debug = False  # set by --debug, read by main()


@app.callback()
def root(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors.")):
    """digitlab: the fast.ai MNIST lesson, done right, and a digit recogniser that works."""
    State.debug = debug


@app.command()
def lesson(
    pair: tuple[int, int] = typer.Option((0, 1), help="The two digits of the binary part."),
    out_dir: Path = typer.Option(Path("runs/lesson"), "--out", help="Folder for lesson.html and the model."),
    data: str = typer.Option("mnist", help=SRC_HELP + " (20% held out, seed 1337)"),
    notebook: Path = typer.Option(None, help="Write the lesson as a Jupyter notebook here instead."),
    subset: int = typer.Option(None, help="Use only the first N training images (quick runs)."),
):
    """The MNIST-basics lesson, every step explained and measured; writes DIR/lesson.html."""
    from digitlab.lesson import run_lesson, write_notebook

    if notebook is not None:
        write_notebook(notebook, pair=tuple(pair), data=data, subset=subset)
        out.print(f"wrote {notebook} (open it in Jupyter, or run: jupyter nbconvert --execute)")
        return
    run_lesson(pair=tuple(pair), out=out_dir, data=data, subset=subset, console=out)


@app.command("train")
def train_cmd(
    data: str = DATA,
    model: str = MODEL,
    preset: str = PRESET,
    epochs: int = typer.Option(DEFAULT.epochs, help="Epochs (default: the preset's)."),
    lr: float = typer.Option(DEFAULT.lr, help="Peak learning rate (default: the preset's)."),
    batch_size: int = BATCH_SIZE,
    seed: int = SEED,
    valid_fraction: float = typer.Option(
        DEFAULT.valid_fraction, help="Training data held out for validation."
    ),
    patience: int = typer.Option(DEFAULT.patience, help="Stop after N epochs without a better valid loss."),
    device: str = typer.Option(DEFAULT.device, help="auto, cpu or cuda."),
    out_dir: Path = typer.Option(Path(DEFAULT.out), "--out", help="Folder for the model and report."),
    init: Path = typer.Option(DEFAULT.init, help="Start from this trained model (fine-tune it on --data)."),
    tensorboard: Path = typer.Option(DEFAULT.tensorboard, help="Log to TensorBoard in this folder."),
    checkpoint_every: int = typer.Option(
        DEFAULT.checkpoint_every, help="Batches between checkpoints in OUT/checkpoint (default: each epoch)."
    ),
    resume: Path = typer.Option(None, help="Continue the run stored in this OUT folder, with its settings."),
    nproc: int = typer.Option(DEFAULT.nproc, min=1, help="Processes sharing each batch (torch.distributed)."),
    compile_model: bool = typer.Option(
        DEFAULT.compile, "--compile", help="torch.compile the model (compilation timed apart from training)."
    ),
    nnodes: int = typer.Option(1, min=1, help="Machines taking part (each runs this command)."),
    node_rank: int = typer.Option(0, min=0, help="This machine's number, 0..nnodes-1."),
    rdzv_endpoint: str = typer.Option(None, help="HOST:PORT where the machines meet (with --nnodes)."),
):
    """Train a model; prints the epoch table and ends with 'test accuracy: 0.9951'."""
    import time

    from digitlab import distributed
    from digitlab.training import resume_and_save, stored_config, train_and_save

    start = time.perf_counter()
    if resume is not None:
        nproc = max(nproc, stored_config(resume).nproc)
    if (nproc > 1 or nnodes > 1) and not distributed.launched():  # start the processes, each runs this
        distributed.launch(
            distributed.without_launcher_flags(sys.argv[1:]), nproc, nnodes, node_rank, rdzv_endpoint
        )
        return
    nproc = distributed.world_size()
    if resume is not None:
        done = resume_and_save(resume)
        if done is not None:  # rank 0
            out.print(f"resumed and finished {resume}/ in {time.perf_counter() - start:.1f} s")
            out.print(f"{done[1].split} accuracy: {done[1].accuracy:.4f}")
        return
    config = TrainConfig(
        data=data, model=model, preset=preset, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
        valid_fraction=valid_fraction, patience=patience, device=device, out=str(out_dir),
        init=str(init) if init else None, tensorboard=str(tensorboard) if tensorboard else None,
        checkpoint_every=checkpoint_every, nproc=nproc, compile=compile_model,
    )  # fmt: skip
    done = train_and_save(config)
    if done is None:  # not rank 0: rank 0 reports
        return
    evaluation = done[1]
    out.print(
        f"wrote {out_dir}/ (model.json, weights, history.csv, report.html) "
        f"in {time.perf_counter() - start:.1f} s"
    )
    out.print(f"{evaluation.split} accuracy: {evaluation.accuracy:.4f}")


@app.command("lr-find")
def lr_find(
    data: str = DATA,
    model: str = MODEL,
    preset: str = PRESET,
    batch_size: int = BATCH_SIZE,
    seed: int = SEED,
    plot: Path = typer.Option(Path("runs/lr-find.png"), help="PNG of loss against learning rate."),
):
    """Sweep the learning rate over ~100 batches and suggest one (then train with --lr)."""
    from digitlab.report.figures import lr_finder, save_png
    from digitlab.training import find_lr

    config = TrainConfig(data=data, model=model, preset=preset, batch_size=batch_size, seed=seed)
    result = find_lr(config)
    save_png(lr_finder(result.lrs, result.losses, result.suggestion), plot)
    out.print(f"wrote {plot}")
    out.print(f"suggested learning rate: {result.suggestion:.3g}")


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
    from digitlab.evaluation import evaluation_data
    from digitlab.fileio import write_text_atomic
    from digitlab.report.training import evaluation_report

    net, info = load_model(model)
    split, dataset = evaluation_data(load_source(data))
    result, _ = run_evaluation(net, dataset, split)
    if report:
        write_text_atomic(report, evaluation_report(result, dataset, info))
    if as_json:
        print(json.dumps(result.to_json(), allow_nan=False))
        return
    out.print(f"{split} accuracy: {result.accuracy:.4f} on {result.n:,} images")
    for c, (p, r) in enumerate(zip(result.precision, result.recall, strict=True)):
        out.print(f"  {c}: precision {p:.4f}  recall {r:.4f}")


@app.command()
def ensemble(
    models: list[Path] = typer.Argument(..., help="Two or more folders that `train` wrote."),
    out_path: Path = typer.Option(..., "--out", help="The model folder to write."),
    data: str = typer.Option("mnist", help=SRC_HELP + " (scored on its test split)"),
):
    """Join trained models into one that averages their probabilities (a model folder like any other)."""
    from digitlab.ensembling import make_ensemble

    result = make_ensemble(models, out_path, data)
    split = result.evaluation.split
    for path, acc, seconds in result.members:
        out.print(f"  {path}: {split} accuracy {acc:.4f} ({seconds:.2f} s)")
    out.print(f"wrote {out_path}/ (model.json, weights, report.html)")
    n = result.evaluation.n
    out.print(f"{split} accuracy: {result.evaluation.accuracy:.4f} ({result.seconds:.2f} s for {n:,} images)")


@app.command()
def predict(
    model: Path = typer.Argument(..., help="The folder `train` wrote, or its model file."),
    paths: list[Path] = typer.Argument(..., help="Image files or folders of images."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON array."),
    save_inputs: Path = typer.Option(None, help="Write the 28x28 images the model saw here."),
    engine: str = typer.Option("torch", help="torch, or onnx (ONNX Runtime; needs the onnx extra)."),
):
    """Predict the digit in each image (photos, scans, drawings: any size, any background)."""
    import json

    from digitlab.predict import Predictor
    from digitlab.predict import save_inputs as write_inputs

    results = Predictor.load(model, engine).predict_paths(paths)
    if save_inputs is not None:
        write_inputs(results, save_inputs)
    for r in results:
        if r.error:
            print(f"error: {r.error}", file=sys.stderr)
        elif not as_json:
            guess = "no digit" if r.digit is None else f"{r.digit} ({r.confidence:.3f})"
            out.print(f"{r.path}: {guess}")
    if as_json:
        print(json.dumps([r.to_json() for r in results], allow_nan=False))
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
    engine: str = typer.Option("torch", help="torch, or onnx (ONNX Runtime; needs the onnx extra)."),
    batch_ms: float = typer.Option(
        2.0, min=0, max=1000, help="Milliseconds concurrent requests wait to share one model call (0: none)."
    ),
):
    """The draw-a-digit web page and its JSON API (docs at /docs)."""
    import torch

    from digitlab.predict import Predictor
    from digitlab.web.server import serve

    torch.set_num_threads(1)  # the model runs beside the requests being decoded: no oversubscription
    from digitlab.web.app import create_app

    app_ = create_app(Predictor.load(model, engine), save_dir, cors_origin or None, batch_ms / 1000)
    out.print(f"serving on http://{host}:{port}/  (API docs: /docs; Ctrl+C stops)")
    serve(app_, host, port)


@app.command()
def export(
    model: Path = typer.Argument(..., help="The folder `train` wrote, or its model file."),
    out_path: Path = typer.Option(..., "--out", help="The ONNX file to write (FILE.onnx)."),
):
    """Export to ONNX (image [N,1,28,28] in [0,1] -> probs [N,10]), checked on the MNIST test set."""
    from digitlab.checkpoint import load_model
    from digitlab.data import load_source
    from digitlab.export import MAX_PROB_DIFF, export_model

    net, info = load_model(model)
    test = load_source("mnist").test
    check = export_model(net, info, out_path, test.floats(), test.labels)
    out.print(f"wrote {out_path} ({out_path.stat().st_size:,} bytes)")
    out.print(
        f"checked on {check.n:,} MNIST test images with ONNX Runtime: largest probability difference "
        f"{check.max_prob_diff:.1e} (limit {MAX_PROB_DIFF:.0e}), predicted classes agree on "
        f"{check.class_agreement:.2%}; accuracy PyTorch {check.torch_accuracy:.4f}, "
        f"ONNX {check.onnx_accuracy:.4f}"
    )


@app.command()
def bench(
    quick: bool = typer.Option(False, "--quick", help="A smoke run in under 3 minutes."),
    out_path: Path = typer.Option(Path("BENCHMARKS.md"), "--out", help="Markdown file to write."),
    preset: list[str] = typer.Option(["default"], help="Presets to run over 3 seeds (fast always runs)."),
    only: str = typer.Option(
        None,
        help="Re-measure one section in place: csv, engines, distributed, speed, robustness, web, ensemble,"
        " budget, gpu.",
    ),
):
    """Speed and accuracy side by side with the references; writes BENCHMARKS.md."""
    from digitlab.bench import run

    if only is None:
        run.run_bench(quick, out_path, tuple(preset), out)
    else:
        run.update_only(only, out_path, quick, out)


@data_app.command("info")
def data_info(
    src: str = typer.Argument("mnist", help=SRC_HELP),
    valid_fraction: float = typer.Option(DEFAULT.valid_fraction, help="Fraction held out, as `train` does."),
    seed: int = typer.Option(DEFAULT.seed, help="Seed of the split, as `train` does."),
):
    """Counts per class, split sizes, shape, pixel range and mean."""
    from digitlab.data import load_source

    source = load_source(src)
    out.print(f"source: {source.name}")
    for name, ds in (("train", source.train), ("test", source.test)):
        if ds is None:
            continue
        s = ds.summary()
        out.print(
            f"{name}: {s['n']:,} images {s['height']}x{s['width']} uint8, labelled: {s['labelled']}, "
            f"pixel range {s['min']}..{s['max']}, mean {s['mean']:.2f} ({s['mean'] / 255:.4f} as float)"
        )
        if name == "train" and ds.labels is not None:
            train, valid = ds.split(valid_fraction, seed)
            out.print(
                f"  split as `train` makes it (valid {valid_fraction:.0%}, seed {seed}): "
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
    count: int = typer.Option(40, min=1, help="How many images."),
    seed: int = typer.Option(0, help="Which random sample to show."),
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
        save_png(class_means(ds.images, ds.labels), out_path)
        out.print(f"wrote {out_path} (the mean image of each class)")
        return
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
    warnings.formatwarning = _format_warning
    try:
        app()
    except (DigitlabError, TrainingDiverged, OSError) as e:
        if State.debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as e:  # a bug: still one line, and the way to see more
        if State.debug:
            raise
        print(f"error: {type(e).__name__}: {e} (rerun with --debug for the traceback)", file=sys.stderr)
        sys.exit(1)
