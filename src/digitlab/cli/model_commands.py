"""`evaluate`, `ensemble`, `predict`, `submit` and `export`: the commands that use a trained model."""

import contextlib
import sys
from pathlib import Path
from typing import Literal

import typer

from digitlab.cli.common import OWN_DATA_HELP, SRC_HELP, Verbosity, as_is_option, say, trust_code_option
from digitlab.errors import DigitlabError, plain


def evaluate(
    model: Path = typer.Argument(..., help="The folder `train` wrote, or its model file."),
    data: str = typer.Option(None, help=SRC_HELP + OWN_DATA_HELP, show_default=False),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    report: Path = typer.Option(None, help="Also write an HTML report to this file."),
    trust_code: bool = trust_code_option(),
):
    """Accuracy, per-class precision and recall, the confusion matrix, the most confused pairs and the
    top losses; --report draws them with the reasons behind the top losses."""
    import json

    from digitlab.fileio import write_text_atomic
    from digitlab.inference.evaluation import evaluate as run_evaluation
    from digitlab.inference.held_out import held_out
    from digitlab.inference.predictor import Predictor
    from digitlab.modelfiles.model_file import load_model
    from digitlab.report.model_report import evaluation_report

    net, info = load_model(model, trust_code)
    scored = held_out(info, data)
    result, _ = run_evaluation(net, scored.data, scored.split)
    if report:
        write_text_atomic(report, evaluation_report(result, scored.data, info, Predictor(net, info)))
    if as_json:
        print(json.dumps({**result.to_json(), "data": scored.source}, allow_nan=False))
        return
    say(scored.line())
    say(f"{scored.split} accuracy: {result.accuracy:.4f} on {result.n:,} images")
    for c, (p, r) in enumerate(zip(result.precision, result.recall, strict=True)):
        say(f"  {result.name(c)}: precision {p:.4f}  recall {r:.4f}")
    _print_confusion(result)
    name = result.name
    pairs = "; ".join(f"{name(a)} taken for {name(p)}: {n}" for a, p, n in result.most_confused())
    say(f"most confused: {pairs or 'none'}")
    if result.top_losses:
        worst = ", ".join(
            f"#{t['index']} ({name(t['label'])}→{name(t['predicted'])})" for t in result.top_losses[:5]
        )
        say(f"top losses: {worst} (digitlab explain shows why; --report draws them)")


MAX_PRINTED_CLASSES = 20  # a confusion matrix wider than this does not fit a terminal's line


def _print_confusion(result) -> None:
    """Rows and columns by class number; named classes have their name at the end of their row."""
    confusion, n = result.confusion, len(result.confusion)
    if n > MAX_PRINTED_CLASSES:
        say(f"confusion matrix: {n}x{n}, too wide to print here: see --json or --report")
        return
    named = any(isinstance(c, str) for c in result.classes)
    say(f"confusion matrix (rows: actual {'class' if named or n != 10 else 'digit'}, columns: predicted)")
    width = max(len(str(count)) for row in confusion for count in row) + 1
    say("   " + "".join(f"{c:>{width}}" for c in range(n)))
    for actual, row in enumerate(confusion):
        say(
            f"{actual:>2} "
            + "".join(f"{count:>{width}}" for count in row)
            + (f"  {result.name(actual)}" if named else "")
        )


def ensemble(
    models: list[Path] = typer.Argument(..., help="Two or more folders that `train` wrote (one with --tta)."),
    out_path: Path = typer.Option(..., "--out", help="The model folder to write."),
    data: str = typer.Option(
        None,
        help=SRC_HELP
        + " (scored on its test split). Default: the members' own data, held out as evaluate does.",
    ),
    tta: bool = typer.Option(
        False,
        "--tta",
        help="Also average each image moved one pixel each way (test-time augmentation; 5x the cost).",
    ),
):
    """Join trained models into one that averages their probabilities (a model folder like any other)."""
    from digitlab.run.joining import make_ensemble

    result = make_ensemble(models, out_path, data, tta)
    say(result.data)
    split = result.evaluation.split
    for path, acc, seconds in result.members:
        say(f"  {path}: {split} accuracy {acc:.4f} ({seconds:.2f} s)")
    say(f"wrote {out_path}/ (model.json, weights, report.html)")
    n = result.evaluation.n
    say(f"{split} accuracy: {result.evaluation.accuracy:.4f} ({result.seconds:.2f} s for {n:,} images)")


def predict(
    model: Path = typer.Argument(..., help="The folder `train` wrote, or its model file."),
    paths: list[Path] = typer.Argument(..., help="Image files or folders of images."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON array."),
    as_jsonl: bool = typer.Option(False, "--jsonl", help="Print one JSON object per line, as each is done."),
    as_csv: bool = typer.Option(
        False, "--csv", help="Print CSV: path,digit,confidence,p0..p9, as each is done."
    ),
    save_inputs: Path = typer.Option(None, help="Write the 28x28 images the model saw here."),
    engine: Literal["torch", "onnx"] = typer.Option(
        "torch", help="torch, or onnx (ONNX Runtime; needs the onnx extra)."
    ),
    trust_code: bool = trust_code_option(),
    as_is: bool = as_is_option(),
):
    """Predict the digit in each image (photos, scans, drawings: any size, any background).

    Results stream out in order as each batch of 256 images is done; memory stays bounded for any
    number of files. A progress bar goes to stderr when it is a terminal."""
    if as_json + as_jsonl + as_csv > 1:
        raise typer.BadParameter("choose one of --json, --jsonl and --csv", param_hint="--json")
    form = "json" if as_json else "jsonl" if as_jsonl else "csv" if as_csv else "text"
    errors = 0
    with contextlib.ExitStack() as stack:
        predictor, prepared = _started(stack, model, paths, engine, trust_code, as_is)
        from digitlab.inference.predictor import SavedInputs, sharing_cores

        saved = SavedInputs(save_inputs) if save_inputs is not None else None
        stack.enter_context(sharing_cores())
        output = stack.enter_context(_Output(form, len(predictor.info.classes), predictor.info.named))
        advance = stack.enter_context(_progress())
        for answers in predictor.answer_batches(prepared):
            for result in answers:
                if saved is not None:
                    saved.add(output.count, result)  # its number in the output
                if result.error:
                    errors += 1
                    print(f"error: {plain(result.error)}", file=sys.stderr)
                output.write(result)
                advance()
            sys.stdout.flush()  # a pipe sees each batch as it is done
    if saved is not None:
        saved.flush()
    if errors:
        sys.exit(1)


def _started(
    stack: contextlib.ExitStack, model: Path, paths: list[Path], engine: str, trust_code: bool, as_is: bool
):
    """The predictor, and its files being prepared: by processes forked before torch is imported where
    model.json says what the model reads, so the files are decoded while torch loads (BENCHMARKS.md
    "Predicting a folder of 5,000 files"); else, or if the model loaded reads otherwise, by threads."""
    from digitlab.inference.preparing import Preparing, expected_kind

    kind = expected_kind(model, as_is)
    early = stack.enter_context(Preparing(paths, kind, fork=True)) if kind else None
    from digitlab.inference.predictor import BATCH, Predictor

    predictor = Predictor.load(model, engine, trust_code, as_is)
    if early is not None and early.kind == predictor.input_kind:
        return predictor, early
    if early is not None:  # model.json changed under us: start again
        early.close()
    return predictor, stack.enter_context(Preparing(paths, predictor.input_kind, ahead=BATCH))


class _Output:
    """Each prediction written as it comes: a line of text, a JSON array element, a JSON line or a
    CSV row (the caller flushes after each batch)."""

    def __init__(self, form: str, n_classes: int, named: bool = False):
        self.form, self.count, self.n_classes, self.named = form, 0, n_classes, named

    def __enter__(self) -> "_Output":
        if self.form == "json":
            sys.stdout.write("[")
        elif self.form == "csv":  # a digit model's columns as before names; named classes: label, index
            guess = "label,index" if self.named else "digit"
            print(f"path,{guess},confidence," + ",".join(f"p{d}" for d in range(self.n_classes)))
        return self

    def write(self, r) -> None:
        import json

        if self.form == "text":
            if not r.error:
                blank = "blank" if r.named else "no digit"
                guess = blank if r.digit is None else f"{r.label} ({r.confidence:.3f})"
                say(f"{r.path}: {guess}")
        elif self.form == "csv":
            if not r.error:
                import csv
                import io

                row = io.StringIO()
                probs = r.probs or [""] * self.n_classes
                guess = [r.label, r.digit] if r.named else [r.digit]
                guess, confidence = ([""] * len(guess), "") if r.digit is None else (guess, r.confidence)
                csv.writer(row, lineterminator="\n").writerow([r.path, *guess, confidence, *probs])
                sys.stdout.write(row.getvalue())
        else:
            text = json.dumps(r.to_json(), allow_nan=False)
            sys.stdout.write(("," if self.form == "json" and self.count else "") + text)
            if self.form == "jsonl":
                sys.stdout.write("\n")
        self.count += 1

    def __exit__(self, *exc) -> None:
        if self.form == "json":
            sys.stdout.write("]\n")
            sys.stdout.flush()


@contextlib.contextmanager
def _progress():
    """A spinner with a count on stderr when it is a terminal (the total is not known while folders
    are still being walked); nothing otherwise."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if not console.is_terminal or Verbosity.quiet:
        yield lambda: None
        return
    with Progress(SpinnerColumn(), TextColumn("{task.completed:,} images"), TimeElapsedColumn(),
                  console=console, transient=True) as bar:  # fmt: skip
        task = bar.add_task("predict")
        yield lambda: bar.advance(task)


def submit(
    model: Path = typer.Argument(None, help="The folder `train` wrote, or its model file."),
    test: Path = typer.Option(..., "--test", help="Kaggle test.csv (pixel0..pixel783)."),
    out_path: Path = typer.Option(None, "--out", help="Submission CSV to write."),
    check: Path = typer.Option(None, "--check", help="Verify this submission file instead."),
    trust_code: bool = trust_code_option(),
):
    """Write a Kaggle digit-recognizer submission, or check one with --check."""
    from digitlab.inference.predictor import Predictor
    from digitlab.inference.submission import check_submission, write_submission

    if check is not None:
        rows = check_submission(check, test)
        say(f"ok: {check} has {rows:,} valid rows for {test}")
        return
    if model is None or out_path is None:
        raise DigitlabError("submit needs MODEL and --out (or --check FILE)")
    rows = write_submission(Predictor.load(model, trust_code=trust_code), test, out_path)
    say(f"wrote {out_path} ({rows:,} rows)")


def export(
    model: Path = typer.Argument(..., help="The folder `train` wrote, or its model file."),
    out_path: Path = typer.Option(..., "--out", help="The ONNX file to write (FILE.onnx)."),
    data: str = typer.Option(
        None, help=SRC_HELP + ": the images it is checked on" + OWN_DATA_HELP, show_default=False
    ),
    trust_code: bool = trust_code_option(),
):
    """Export to ONNX (image [N,C,H,W] in [0,1], [N,1,28,28] for digits -> probs [N,K], [N,10] for
    digits), checked against PyTorch on the model's own held-out images (or --data's)."""
    from rich.console import Console

    from digitlab.inference.held_out import held_out
    from digitlab.inference.onnx_engine import MAX_PROB_DIFF, export_model
    from digitlab.modelfiles.model_file import load_model
    from digitlab.models import check_fits

    net, info = load_model(model, trust_code)
    try:
        checked = held_out(info, data)  # image folders read as the model reads
        test = checked.data
        check_fits(net, test, checked.source)
    except DigitlabError as e:
        raise DigitlabError(
            f"{e}: check the export on images of the model's own kind (without --data: its training data's)"
        ) from None
    console = Console(stderr=True)
    working = f"exporting to ONNX, then checking it against PyTorch on {len(test):,} images ..."
    with console.status(working) if console.is_terminal and not Verbosity.quiet else contextlib.nullcontext():
        check = export_model(net, info, out_path, test.floats(), test.labels)
    say(f"wrote {out_path} ({out_path.stat().st_size:,} bytes)")
    say(checked.line())
    say(
        f"checked on these {check.n:,} images with ONNX Runtime: largest probability difference "
        f"{check.max_prob_diff:.1e} (limit {MAX_PROB_DIFF:.0e}), predicted classes agree on "
        f"{check.class_agreement:.2%}; accuracy PyTorch {check.torch_accuracy:.4f}, "
        f"ONNX {check.onnx_accuracy:.4f}"
    )
