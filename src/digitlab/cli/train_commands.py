"""`lesson`, `train` and `lr-find`: the commands that train."""

import sys
from pathlib import Path

import typer

from digitlab.cli.common import BATCH_SIZE, DATA, DEFAULT, MODEL, PRESET, SEED, SRC_HELP, out, say
from digitlab.run.settings import TrainConfig


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
        say(f"wrote {notebook} (open it in Jupyter, or run: jupyter nbconvert --execute)")
        return
    run_lesson(pair=tuple(pair), out=out_dir, data=data, subset=subset, console=out)


def train_cmd(
    data: str = DATA,
    model: str = MODEL,
    preset: str = PRESET,
    epochs: int = typer.Option(
        DEFAULT.epochs, help="Epochs: passes over the training images (default: the preset's budget)."
    ),
    epoch_size: int = typer.Option(
        DEFAULT.epoch_size,
        help="Images in an epoch (default: one pass; with the preset's epochs, 54,000 on any data).",
    ),
    lr: float = typer.Option(DEFAULT.lr, help="Peak learning rate (default: the preset's)."),
    batch_size: int = BATCH_SIZE,
    seed: int = SEED,
    valid_fraction: float = typer.Option(
        DEFAULT.valid_fraction,
        help="Training data held out for validation (default: the preset's, 2% for fast).",
    ),
    label_smoothing: float = typer.Option(
        DEFAULT.label_smoothing, help="Label smoothing of the loss (default 0)."
    ),
    patience: int = typer.Option(DEFAULT.patience, help="Stop after N epochs without a better valid loss."),
    rotate: float = typer.Option(DEFAULT.rotate, help="Augmentation: largest turn in degrees (default 10)."),
    shift: float = typer.Option(
        DEFAULT.shift, help="Augmentation: largest shift, a fraction of the image's size (default 0.05)."
    ),
    zoom: float = typer.Option(DEFAULT.zoom, help="Augmentation: largest change of size (default 0.1: 10%)."),
    device: str = typer.Option(DEFAULT.device, help="auto, cpu or cuda."),
    out_dir: Path = typer.Option(Path(DEFAULT.out), "--out", help="Folder for the model and report."),
    init: Path = typer.Option(DEFAULT.init, help="Start from this trained model (fine-tune it on --data)."),
    tensorboard: Path = typer.Option(DEFAULT.tensorboard, help="Log to TensorBoard in this folder."),
    checkpoint_every: int = typer.Option(
        DEFAULT.checkpoint_every, help="Batches between checkpoints in OUT/checkpoint (default: each epoch)."
    ),
    resume: Path = typer.Option(
        None,
        help="Continue the run stored in this OUT folder with its settings; --data, --tensorboard and "
        "--nproc still come from this command line.",
    ),
    nproc: int = typer.Option(DEFAULT.nproc, min=1, help="Processes sharing each batch (torch.distributed)."),
    compile_model: bool = typer.Option(
        DEFAULT.compile, "--compile", help="torch.compile the model (compilation timed apart from training)."
    ),
    cuda_graphs: bool | None = typer.Option(
        DEFAULT.cuda_graphs,
        "--cuda-graphs/--no-cuda-graphs",
        help="Replay each training step from a CUDA graph (default: on a GPU, one process, no --compile).",
        show_default=False,
    ),
    nnodes: int = typer.Option(1, min=1, help="Machines taking part (each runs this command)."),
    node_rank: int = typer.Option(0, min=0, help="This machine's number, 0..nnodes-1."),
    rdzv_endpoint: str = typer.Option(None, help="HOST:PORT where the machines meet (with --nnodes)."),
):
    """Train a model; prints the epoch table and ends with 'test accuracy: 0.9951'."""
    import time

    from digitlab.run import processes
    from digitlab.run.training_run import resume_and_save, train_and_save

    def settings(world: int) -> TrainConfig:
        return TrainConfig(
            data=data, model=model, preset=preset, epochs=epochs, epoch_size=epoch_size, lr=lr,
            batch_size=batch_size, seed=seed,
            valid_fraction=valid_fraction, label_smoothing=label_smoothing, patience=patience,
            rotate=rotate, shift=shift, zoom=zoom,
            device=device, out=str(out_dir),
            init=str(init) if init else None, tensorboard=str(tensorboard) if tensorboard else None,
            checkpoint_every=checkpoint_every, nproc=world, compile=compile_model, cuda_graphs=cuda_graphs,
        )  # fmt: skip

    start = time.perf_counter()
    if (nproc > 1 or nnodes > 1) and not processes.launched():  # start the processes, each runs this
        if resume is None:  # bad settings: one line here, not one from every process
            settings(nproc * nnodes).resolve()
        processes.launch(
            processes.without_launcher_flags(sys.argv[1:]), nproc, nnodes, node_rank, rdzv_endpoint
        )
        return
    nproc = processes.world_size()
    if resume is not None:
        done = resume_and_save(resume, data, str(tensorboard) if tensorboard else None)
        if done is not None:  # rank 0
            say(f"resumed and finished {resume}/ in {time.perf_counter() - start:.1f} s")
            say(f"{done[1].split} accuracy: {done[1].accuracy:.4f}")
        return
    done = train_and_save(settings(nproc))
    if done is None:  # not rank 0: rank 0 reports
        return
    evaluation = done[1]
    say(
        f"wrote {out_dir}/ (model.json, weights, history.csv, report.html) "
        f"in {time.perf_counter() - start:.1f} s"
    )
    say(f"{evaluation.split} accuracy: {evaluation.accuracy:.4f}")


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
    from digitlab.run.training_run import find_lr

    config = TrainConfig(data=data, model=model, preset=preset, batch_size=batch_size, seed=seed)
    result = find_lr(config)
    save_png(lr_finder(result.lrs, result.losses, result.suggestion), plot)
    say(f"wrote {plot}")
    say(f"suggested learning rate: {result.suggestion:.3g}")
