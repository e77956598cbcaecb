"""Runs every benchmark in one process, side by side, and writes BENCHMARKS.md; or measures one
section again (`python -m bench --only NAME`) and replaces it in place.

Each topic module measures and writes its own section; this one only orders them. A full run
replaces the file but keeps the sections it does not measure that name their own command (a lent
GPU's, a sweep run by hand): those were measured apart and cannot be measured again here.
"""

import datetime
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from rich.console import Console

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
    presets_margin,
    reference,
    robustness,
    scaling,
    serving,
    startup,
    training,
)
from bench.timing import commit, kernels, machine
from digitlab.errors import DigitlabError
from digitlab.fileio import write_text_atomic
from digitlab.run.settings import TrainConfig
from digitlab.run.training_run import train_and_save

QUICK_OUT = Path("runs/bench/BENCHMARKS.md")  # a smoke run's figures stay out of the project's records


def kernel_sets() -> dict[str, dict[str, str]]:
    """The CPU kernel sets to time on: this CPU's best, the portable one, and AVX-512 where offered."""
    sets = {f"{kernels()} (this CPU's best)": {}}
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    if "avx512f" in flags and kernels() != "AVX512":
        sets["AVX512"] = {"ATEN_CPU_CAPABILITY": "avx512", "ONEDNN_MAX_CPU_ISA": "AVX512_CORE"}
    sets["DEFAULT (oneDNN up to SSE41)"] = {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41"}
    return sets


def run_bench(
    quick: bool = False,
    out: str | Path = "BENCHMARKS.md",
    presets: tuple[str, ...] = ("default",),
    console: Console | None = None,
) -> str:
    """Every figure, measured in this one run on this machine; returns the markdown it wrote.

    Each section names the command, commit, date, machine and kernel set. Sections measured on a
    lent GPU (their own command) are kept from the file this replaces; every other one is new.
    """
    console = console or Console(highlight=False, soft_wrap=True)
    say = console.print
    command = "python -m bench" + (" --quick" if quick else "") + "".join(f" --preset {p}" for p in presets)
    md = [
        f"# Benchmarks\n\n- command: `{command}` (`make bench`)\n- commit: {commit()}\n"
        f"- date: {datetime.date.today()}\n- machine: {machine()}\n"
        f"- mode: {'quick (small repeats; indicative only)' if quick else 'full'}\n"
    ]
    say("csv: digitlab parser and cache against pandas.read_csv ...")
    md.append(csv_speed.section(csv_speed.run(repeats=2 if quick else 5), command))
    if quick:
        say("fast preset: 1 seed; reference recipe: 1 epoch on 6,000 images ...")
        fast = training.preset_runs("fast", [0])
        ref = reference.time_to_accuracy(train_limit=6000, max_epochs=1)
        md.append(training.time_to_99_section(fast, ref, quick))
    else:
        by_kernels = {}
        for name, env in kernel_sets().items():
            say(f"speed with {name} kernels: 10 fast commands, then the reference to 99.0% for 3 seeds ...")
            by_kernels[name] = training.speed_runs_under(env) if env else training.speed_runs()
        md.append(training.speed_section(by_kernels, command))
        fast = next(iter(by_kernels.values()))["fast"]
    say("start-up: digitlab --version against import torch ...")
    md.append(startup.section(startup.run(repeats=3 if quick else 5), command))
    say("learner overhead ...")
    cnn = overhead.learner_overhead(1, 1 if quick else 3, 8000 if quick else None)
    md.append(overhead.section(cnn, overhead.host_time_per_step(repeats=1 if quick else 5), command))
    preset_results = [fast]
    for preset in presets if not quick else ():
        say(f"preset {preset}: 3 seeds ...")
        preset_results.append(training.preset_runs(preset, [0, 1, 2]))
    md.append(training.presets_section(preset_results, command))
    if not quick:
        for name in (
            "kaggle",
            "notes",
            "fastai",
            "notes-run",
            "distributed",
            "robustness",
            "ensemble",
            "budget",
        ):
            say(ONLY[name][0])
            md.append(ONLY[name][1](command, quick, out))
    with tempfile.TemporaryDirectory() as model_dir:
        say("inference and web load test ...")
        _train_fast_model(model_dir)
        md.append(serving.section(serving.inference(model_dir), serving.web_load(model_dir), command))
        say("engines: PyTorch against ONNX Runtime ...")
        md.append(engines.section(model_dir, quick, command))
        say("bulk: 5,000 files, whole processes ...")
        md.append(bulk_predict.section(model_dir, command))
        say("explain: per image, and the evidence against random ink ...")
        md.append(explaining.section(model_dir, command))
        if not quick:
            say("web: with and without request batching at 8 and 50 clients ...")
            md.append(serving.batching_section(model_dir, command))
            say("web: 200 clients, with and without load shedding ...")
            md.append(serving.many_clients_section(model_dir, command))
            say("web: 1 and 2 worker processes ...")
            md.append(serving.workers_section(model_dir, command))
    if torch.cuda.is_available():
        say("GPU: issue #15's targets (fast, the reference, default, best, an ensemble) ...")
        md.append(gpu.section(gpu.run(parts=("fast", "reference") if quick else gpu.PARTS), command))
    text = with_gpu_sections_kept("\n".join(md), out)
    write_text_atomic(out, text)
    say(f"wrote {out}")
    return text


def with_gpu_sections_kept(text: str, old_path: str | Path) -> str:
    """`text`, then the sections of the file at `old_path` measured on a lent GPU (their headings say
    "GPU") that `text` lacks: they cannot be measured again here. Every other old section goes."""
    old = Path(old_path).read_text() if Path(old_path).exists() else ""
    measured = {section.splitlines()[0] for section in text.split("\n## ")[1:]}
    kept = [
        "## " + section.rstrip("\n")
        for section in old.split("\n## ")[1:]
        if section.splitlines()[0] not in measured and "GPU" in section.splitlines()[0]
    ]
    if not kept:
        return text
    header, rest = text.split("\n## ", 1)
    note = (
        "- kept from the file this run replaced: the sections measured on a lent GPU, each with its own "
        "command, commit and machine (compare figures only within a section)\n"
    )
    return header.rstrip("\n") + "\n" + note + "\n## " + rest.rstrip("\n") + "\n\n" + "\n\n".join(kept) + "\n"


def update_only(name: str, out: str | Path, quick: bool = False, console: Console | None = None) -> None:
    """`python -m bench --only NAME`: measure that section again and replace it in `out`."""
    if name not in ONLY:
        raise DigitlabError(f"bench section {name!r} is unknown: choose {', '.join(ONLY)}")
    if name == "gpu" and not torch.cuda.is_available():
        raise DigitlabError("bench --only gpu needs a CUDA device, and torch sees none")
    console = console or Console(highlight=False, soft_wrap=True)
    message, measure = ONLY[name]
    console.print(message)
    command = f"python -m bench --only {name}" + (" --quick" if quick and name == "engines" else "")
    update_section(out, measure(command, quick, out))
    console.print(f"updated {out}")


def _with_fast_model(write: Callable[[str], str]) -> str:
    """A section measured on a fast-preset model trained for it in a temporary folder."""
    with tempfile.TemporaryDirectory() as model_dir:
        _train_fast_model(model_dir)
        return write(model_dir)


def _train_fast_model(model_dir: str) -> None:
    train_and_save(TrainConfig(preset="fast", epochs=1, out=model_dir), quiet=True)


def _gpu_section(command: str, out: str | Path) -> str:
    """Issue #15's targets on this machine's GPU; each run is also logged, as it ends, to
    gpu-runs.jsonl beside `out`."""
    log = Path(out).parent / "gpu-runs.jsonl"
    log.unlink(missing_ok=True)  # a fresh measurement (bench/gpu_check.sh continues one over calls)
    return gpu.section(gpu.run(log=log), command)


# name: (what it says it does, section(command, quick, out)), in the order `--only`'s help lists them
def _on_a_fast_model(message: str, section: Callable[[str, str], str]) -> tuple:
    """An ONLY entry whose section is measured on a fast model trained for it."""
    return message, lambda command, quick, out: _with_fast_model(lambda model: section(model, command))


ONLY: dict[str, tuple[str, Callable[[str, bool, Path], str]]] = {
    "csv": (
        "csv: digitlab parser and cache against pandas.read_csv ...",
        lambda command, quick, out: csv_speed.section(csv_speed.run(repeats=5), command),
    ),
    "engines": (
        "engines: a 1-epoch fast model, then PyTorch against ONNX Runtime ...",
        lambda command, quick, out: _with_fast_model(lambda model: engines.section(model, quick, command)),
    ),
    "startup": (
        "startup: digitlab --version against python -c 'import torch', 5 runs each ...",
        lambda command, quick, out: startup.section(startup.run(), command),
    ),
    "overhead": (
        "overhead: the Learner against a plain loop, with the CNN and per step with a tiny model ...",
        lambda command, quick, out: overhead.section(
            overhead.learner_overhead(), overhead.host_time_per_step(), command
        ),
    ),
    "notes": (
        "notes: the notes' loop in batches of 5, digitlab against fastai (interleaved, 3 rounds) ...",
        lambda command, quick, out: fastai_oracle.speed_section(fastai_oracle.speed(), command),
    ),
    "fastai": (
        "fastai: the notes' cells and the book's methods by digitlab and by fastai 2.8.12 ...",
        lambda command, quick, out: fastai_oracle.figures_section(fastai_oracle.compare(), command),
    ),
    "notes-run": (
        "notes-run: the notes' code as written on 42,000 rows (about 10 minutes) ...",
        lambda command, quick, out: notes_loop.notes_section(notes_loop.notes_as_written(), command),
    ),
    "distributed": (
        "distributed: fast preset, 1 and 2 processes, 3 seeds ...",
        lambda command, quick, out: scaling.section(command=command),
    ),
    "speed": (
        "speed: per kernel set, 10 fast-preset commands, then the reference recipe to 99.0% for 3 seeds ...",
        lambda command, quick, out: training.speed_section(
            {
                k: training.speed_runs_under(env) if env else training.speed_runs()
                for k, env in kernel_sets().items()
            },
            command,
        ),
    ),
    "kaggle": (
        "kaggle: fast (10 seeds) and default (3 seeds) on MNIST and on a 42,000-row Kaggle CSV ...",
        lambda command, quick, out: (
            kaggle_data.section(kaggle_data.run(("fast", "default")), command)
            + "\n"
            + kaggle_data.cost_section(kaggle_data.cost_of_the_promise(), command)
        ),
    ),
    "margin": (
        "margin: fast (10 seeds), default (1) on MNIST and a 42,000-row CSV, Fashion-MNIST, shapes ...",
        lambda command, quick, out: presets_margin.section(presets_margin.run(), command),
    ),
    "robustness": (
        "robustness: default and 3 fast models on re-rendered test digits ...",
        lambda command, quick, out: robustness.section(command=command),
    ),
    "bulk": _on_a_fast_model(
        "bulk: a fast model, then 5,000 files: the whole predict command and plain loops, interleaved ...",
        bulk_predict.section,
    ),
    "workers": _on_a_fast_model(
        "workers: a fast model, then serve with 1 and 2 worker processes under the same load ...",
        serving.workers_section,
    ),
    "explain": _on_a_fast_model(
        "explain: a fast model, then explain() per image and the evidence against random ink ...",
        explaining.section,
    ),
    "web": _on_a_fast_model(
        "web: a fast model, then the server with and without batching at 8 and 50 clients ...",
        serving.batching_section,
    ),
    "clients": _on_a_fast_model(
        "clients: a fast model, then 200 clients for 30 s with and without load shedding (4 minutes) ...",
        serving.many_clients_section,
    ),
    "ensemble": (
        "ensembles: 5 fast models, then ensembles of 3 and 5, and of 1, 3 and 5 with test-time shifts ...",
        lambda command, quick, out: ensembles.section(command=command),
    ),
    "budget": (
        "budget: a 24-48-96 CNN for 16 epochs, three 16-32-64 CNNs for 10 (about 20 minutes) ...",
        lambda command, quick, out: budget.section(command),
    ),
    "gpu": (
        "GPU: fast, the reference, default, best and an ensemble of 5 best ...",
        lambda command, quick, out: _gpu_section(command, out),
    ),
}


def update_section(path: str | Path, section: str) -> None:
    """Replace the section with the same `## ` heading in the markdown file, where it stands (or
    append it)."""
    path = Path(path)
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    heading = section.splitlines()[0]
    parts = text.split("\n## ")
    new = section.removeprefix("## ").rstrip("\n") + "\n"
    replaced = [new if "## " + p.splitlines()[0] == heading else p for p in parts]
    if replaced == parts:  # not there yet: at the end
        replaced.append(new)
    write_text_atomic(path, "\n## ".join(replaced).rstrip("\n") + "\n")
