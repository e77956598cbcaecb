"""Every section `python -m bench` can measure, in the order `make bench` measures them, each with
its budget on an idle 2-core machine and, where `make bench` leaves it out, the reason."""

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bench import (
    budget,
    bulk_predict,
    csv_speed,
    engines,
    ensembles,
    explaining,
    fastai_oracle,
    gpu,
    kaggle_data,
    notes_loop,
    overhead,
    phases,
    presets_margin,
    reference,
    robustness,
    scaling,
    serving,
    startup,
    training,
)
from bench.timing import kernel_sets
from digitlab.run.api import train as train_model
from digitlab.run.settings import TrainConfig


@dataclass(frozen=True)
class Run:
    """What a section's measurement gets: its rerun command, smoke mode, the output file, and the one
    1-epoch fast-preset model the sections measured on a model share (trained when first asked)."""

    command: str
    quick: bool
    out: Path
    fast_model: Callable[[], str]


@dataclass(frozen=True)
class Section:
    name: str
    message: str  # what it does, printed as it starts
    budget_min: int  # minutes on an idle 2-core machine (a full run's, not --quick's)
    measure: Callable[[Run], str]
    left_out: str = ""  # why `make bench` leaves it out: it runs alone with `python -m bench --only NAME`
    smoke: bool = True  # whether --quick has a smoke size for it
    gpu: bool = False  # measured only where torch sees a CUDA device
    widens: str = ""  # the section of make bench this one measures wider (its heading and figures)


def _speed(run: Run, all_kernels: bool) -> str:
    if run.quick:  # one fast seed; the reference 1 epoch on 6,000 images (a lower bound on its time)
        fast = training.preset_runs("fast", [0])
        return training.time_to_99_section(
            fast, reference.time_to_accuracy(train_limit=6000, max_epochs=1), True
        )
    if all_kernels:  # bench/training.py's budget: the other kernel sets 1 seed each side, estimated
        return training.speed_section(training.kernel_runs(kernel_sets()), run.command)
    best, env = next(iter(kernel_sets().items()))
    return training.speed_section({best: training.speed_runs_under(env)}, run.command)


def _presets(run: Run, presets: tuple[str, ...]) -> str:
    seeds = {"fast": [0], "default": [0]} if run.quick else None
    text = kaggle_data.section(kaggle_data.run(presets, seeds), run.command)
    if "default" in presets:  # the promise's cost: the fast preset now against before its budget in images
        text += "\n" + kaggle_data.cost_section(
            kaggle_data.cost_of_the_promise(1 if run.quick else 5), run.command
        )
    return text


def _gpu(run: Run) -> str:
    """Issue #15's targets on this machine's GPU; each run also logged, as it ends, beside `out`."""
    log = run.out.parent / "gpu-runs.jsonl"
    log.unlink(missing_ok=True)  # a fresh measurement (bench/gpu_check.sh continues one over calls)
    return gpu.section(gpu.run(parts=("fast", "reference") if run.quick else gpu.PARTS, log=log), run.command)


SECTIONS: dict[str, Section] = {
    s.name: s
    for s in [
        Section(
            "csv",
            "csv: digitlab parser and cache against pandas.read_csv",
            1,
            lambda r: csv_speed.section(csv_speed.run(repeats=2 if r.quick else 5), r.command),
        ),
        Section(
            "startup",
            "startup: digitlab --version against python -c 'import torch', interleaved",
            1,
            lambda r: startup.section(startup.run(repeats=2 if r.quick else 5), r.command),
        ),
        Section(
            "overhead",
            "overhead: the Learner against a plain loop, with the CNN and per step with a tiny model",
            2,
            lambda r: overhead.section(
                overhead.learner_overhead(1, 1, 8000) if r.quick else overhead.learner_overhead(),
                overhead.host_time_per_step(100, 1) if r.quick else overhead.host_time_per_step(),
                r.command,
            ),
        ),
        Section(
            "notes",
            "notes: the notes' loop in batches of 5, digitlab against fastai (interleaved)",
            3,
            lambda r: fastai_oracle.speed_section(
                fastai_oracle.speed(1000, 1) if r.quick else fastai_oracle.speed(), r.command
            ),
        ),
        Section(
            "fastai",
            "fastai: the notes' cells and the book's methods by digitlab and by fastai 2.8.12",
            2,
            lambda r: fastai_oracle.figures_section(
                fastai_oracle.compare(200 if r.quick else 1000), r.command
            ),
        ),
        Section(
            "notes-run",
            "notes-run: the notes' code as written on 42,000 rows (the lesson quotes it)",
            7,
            lambda r: notes_loop.notes_section(
                notes_loop.notes_as_written(2000 if r.quick else 42_000), r.command
            ),
        ),
        Section(
            "speed",
            "speed: the whole fast command (3 seeds) against PyTorch's example to 99.0% (3 seeds)",
            22,
            lambda r: _speed(r, all_kernels=False),
        ),
        Section(
            "phases",
            "phases: where the fast command's seconds go, one run under a CPU-time cProfile",
            1,
            lambda r: phases.section(phases.run(), r.command),
            smoke=False,
        ),
        Section(
            "presets",
            "presets: fast, 10 seeds, on MNIST and on a 42,000-row Kaggle CSV",
            7,
            lambda r: _presets(r, ("fast",)),
        ),
        Section(
            "engines",
            "engines: a 1-epoch fast model, then PyTorch against ONNX Runtime",
            2,
            lambda r: engines.section(r.fast_model(), r.quick, r.command),
        ),
        Section(
            "explain",
            "explain: explain() per image and the evidence against random ink",
            1,
            lambda r: explaining.section(r.fast_model(), r.command),
        ),
        Section(
            "bulk",
            "bulk: 5,000 files: the whole predict command and plain loops, interleaved",
            4,
            lambda r: bulk_predict.section(r.fast_model(), r.command),
            smoke=False,
        ),
        Section(
            "serving",
            "serving: 1 and 2 workers at 8 and 32 clients, then clients ramped until the server sheds load",
            4,
            lambda r: serving.capacity_section(r.fast_model(), r.command, r.quick),
        ),
        Section(
            "speed-kernels",
            "speed-kernels: the speed section under every kernel set this CPU offers",
            30,
            lambda r: _speed(r, all_kernels=True),
            "it repeats the speed section's 22 minutes, then each other kernel set 1 seed each side",
            widens="speed",
        ),
        Section(
            "presets-default",
            "presets-default: fast (10 seeds) and default (3 seeds) on MNIST and the CSV",
            60,
            lambda r: _presets(r, ("fast", "default")),
            "default takes about 8 minutes a seed and data set",
            widens="presets",
        ),
        Section(
            "margin",
            "margin: fast (10 seeds), default (1) on MNIST and the CSV, Fashion-MNIST, colour shapes",
            75,
            lambda r: presets_margin.section(presets_margin.run(), r.command),
            "it repeats presets' fast runs beside a default seed on each digit set (about 75 minutes)",
            smoke=False,
        ),
        Section(
            "margin-other",
            "margin-other: fast and default on Fashion-MNIST, digits against mild on colour shapes",
            46,
            lambda r: presets_margin.section(presets_margin.run(fast_seeds=0, default_seeds=0), r.command),
            "about 46 minutes, default's larger CNN for clothes most of it",
            smoke=False,
        ),
        Section(
            "robustness",
            "robustness: default and 3 fast models on re-rendered test digits",
            15,
            lambda r: robustness.section(command=r.command),
            "it trains the default preset (about 10 minutes)",
            smoke=False,
        ),
        Section(
            "ensemble",
            "ensemble: 5 fast models, then ensembles of 3 and 5, with and without test-time shifts",
            3,
            lambda r: ensembles.section(seeds=3 if r.quick else 5, command=r.command),
            "no page quotes it, and the 60 minutes go to the figures they do",
        ),
        Section(
            "distributed",
            "distributed: fast preset, 1 and 2 processes",
            3,
            lambda r: scaling.section(repeats=1 if r.quick else 3, command=r.command),
            "no page quotes it, and the 60 minutes go to the figures they do",
        ),
        Section(
            "budget",
            "budget: a 24-48-96 CNN for 16 epochs, three 16-32-64 CNNs for 10",
            25,
            lambda r: budget.section(r.command),
            "it trains for about 25 minutes",
            smoke=False,
        ),
        Section(
            "gpu", "GPU: fast, the reference, default, best and an ensemble of 5 best", 10, _gpu, gpu=True
        ),
    ]
}


@contextlib.contextmanager
def measuring(quick: bool, out: Path) -> Iterator[Callable[[str], Run]]:
    """Runs for the sections of one bench, by name; the model they share is removed when it ends."""
    with tempfile.TemporaryDirectory() as folder:
        trained: list[str] = []

        def fast_model() -> str:
            if not trained:
                train_model(TrainConfig(preset="fast", epochs=1, out=folder), quiet=True)
                trained.append(folder)
            return folder

        yield lambda name: Run(
            f"python -m bench --only {name}" + (" --quick" if quick else ""), quick, out, fast_model
        )
