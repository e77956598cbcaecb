"""`lesson`, `train` and `lr-find`: the commands that train."""

import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from digitlab.cli.common import (
    SRC_HELP,
    Verbosity,
    detail,
    number_option,
    out,
    say,
    trust_code_option,
    with_settings,
)
from digitlab.run.settings import TrainConfig, as_text

if TYPE_CHECKING:  # imported when a command runs (the CLI starts without torch)
    from digitlab.run.training_run import RunResult


def lesson(
    pair: tuple[int, int] = number_option(
        "pair", (0, 1), "--pair", help="The two digits of the binary part."
    ),
    out_dir: Path = typer.Option(Path("runs/lesson"), "--out", help="Folder for lesson.html and the model."),
    data: str = typer.Option("mnist", help=SRC_HELP + " (20% held out, seed 1337)"),
    notebook: Path = typer.Option(None, help="Write the lesson as a Jupyter notebook here instead."),
    open_notebook: bool = typer.Option(
        False, "--open", help="With --notebook: start JupyterLab on it (pip install 'digitlab[notebook]')."
    ),
    subset: int = number_option(
        "subset", None, "--subset", help="Use only the first N training images (quick runs)."
    ),
):
    """The MNIST-basics lesson, every step explained and measured; writes DIR/lesson.html."""
    from digitlab.lesson import jupyter, run_lesson, write_notebook

    if pair[0] == pair[1]:  # each digit within its range (the flag's check); the two must differ too
        raise typer.BadParameter(f"needs two different digits, got {pair[0]} twice", param_hint="'--pair'")
    if open_notebook and notebook is None:
        raise typer.BadParameter("needs --notebook FILE.ipynb", param_hint="--open")
    if notebook is not None:
        if open_notebook and not jupyter.has_jupyterlab():  # before writing: nothing to open it with
            jupyter.open_in_jupyterlab(notebook)
        write_notebook(notebook, pair=tuple(pair), data=data, subset=subset)
        if open_notebook:
            say(f"wrote {notebook}; starting JupyterLab on it (Ctrl-C stops it)")
            jupyter.open_in_jupyterlab(notebook)
        else:
            say(jupyter.hint(notebook))
        return
    run_lesson(pair=tuple(pair), out=out_dir, data=data, subset=subset, console=out)


@with_settings(*(f.name for f in dataclasses.fields(TrainConfig)), config_file=True)
def train_cmd(
    settings: TrainConfig,
    resume: Path = typer.Option(
        None,
        help="Continue the run stored in this OUT folder with its settings; --data, --tensorboard and "
        "--nproc still come from this command line.",
    ),
    nnodes: int = number_option(
        "nnodes", 1, "--nnodes", help="Machines taking part (each runs this command)."
    ),
    node_rank: int = number_option("node_rank", 0, "--node-rank", help="This machine's number, 0..nnodes-1."),
    rdzv_endpoint: str = typer.Option(None, help="HOST:PORT where the machines meet (with --nnodes)."),
    trust_code: bool = trust_code_option(),
):
    """Train a model; prints the epoch table and ends with its accuracy ('test accuracy: 0.99xx')."""
    import time

    from digitlab.run import processes
    from digitlab.run.training_run import TrainingRun, resumed

    start, nproc = time.perf_counter(), settings.nproc
    if (nproc > 1 or nnodes > 1) and not processes.launched():  # start the processes, each runs this
        if resume is None:  # bad settings: one line here, not one from every process
            dataclasses.replace(settings, nproc=nproc * nnodes).resolve()
        processes.launch(
            processes.without_launcher_flags(sys.argv[1:]), nproc, nnodes, node_rank, rdzv_endpoint
        )
        return
    if resume is not None:
        config, checkpoint = resumed(resume, settings.data, settings.tensorboard)
        run = TrainingRun(config, quiet=Verbosity.quiet, resume=checkpoint, trust_code=trust_code)
    else:
        config = dataclasses.replace(settings, nproc=processes.world_size())
        run = TrainingRun(config, quiet=Verbosity.quiet, trust_code=trust_code)
        for key, value in run.config.to_json().items():
            detail(f"  {key} = {as_text(value)}")
    result = run.run()
    if result is None:  # not rank 0: rank 0 reports
        return
    _report(result, resume, time.perf_counter() - start)


def _report(result: "RunResult", resume: Path | None, seconds: float) -> None:
    """The run's last lines: where the model went, how long it took, its accuracy."""
    if resume is not None:
        say(f"resumed and finished {resume}/ in {seconds:.1f} s")
    else:
        detail("seconds: " + ", ".join(f"{stage} {s:.2f}" for stage, s in result.seconds.items()))
        if stopped := result.stopped_early():
            kept = result.history[result.kept_epoch or 0]["accuracy"]
            say(f"{stopped} (valid accuracy {kept:.4f}): its weights are the ones saved")
        files = ["model.json", "weights"] + (["history.csv"] if result.history else []) + ["report.html"]
        say(f"wrote {result.config.out}/ ({', '.join(files)}) in {seconds:.1f} s")
    say(f"{result.evaluation.split} accuracy: {result.evaluation.accuracy:.4f}")


@with_settings("data", "model", "model_args", "preset", "batch_size", "seed")
def lr_find(
    settings: TrainConfig,
    plot: Path = typer.Option(Path("runs/lr-find.png"), help="PNG of loss against learning rate."),
):
    """Sweep the learning rate over 100 batches and suggest one as fastai does (then train with --lr)."""
    from digitlab.report.figures import lr_finder, save_png
    from digitlab.run.learner_parts import find_lr

    sweep = find_lr(settings)
    save_png(lr_finder(sweep.lrs, sweep.losses, sweep.suggestions.valley), plot)
    say(f"wrote {plot}")
    others = ", ".join(
        f"{name} {lr:.3g}" for name, lr in sweep.suggestions._asdict().items() if name != "valley"
    )
    say(f"fastai's other suggestions: {others}")
    say(f"suggested learning rate (fastai's valley): {sweep.suggestions.valley:.3g}")
