"""Where the whole `digitlab train --preset fast` command's seconds go, phase by phase.

The command runs in a fresh interpreter under cProfile with a CPU-time clock (`time.process_time`:
every thread of the process, torch's included, charged to the phase the main thread is in), so a
busy machine stretches its wall time but hardly its shares. A phase's figure is the CPU time of the
function that does it, what it calls included; imports are those of the whole run, torch's too
(nothing imports it before the profile starts; a lazy import inside a phase counts in both rows).
Start-up and exit are the process's CPU time (from the operating system) outside the profile.
cProfile adds a few microseconds to each Python call it sees; the figures include them.
"""

import atexit
import cProfile
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# phase: (the end of the file that holds the function, its name)
PHASES = {
    "imports (all of the run's)": ("<frozen importlib._bootstrap>", "_find_and_load"),
    "data: read or cached MNIST": ("digitlab/data/sources.py", "load_source"),
    "holdout split": ("digitlab/data/holdout.py", "hold_out"),
    "splits checked: no valid image in train, pixel statistics": (
        "digitlab/data/dataset.py",
        "__post_init__",
    ),
    "model, loaders and learner": (
        "digitlab/run/learner_parts.py",
        "build_learner",
    ),
    "training (fit_one_cycle)": ("digitlab/learning/learner.py", "fit_one_cycle"),
    "test evaluation": ("digitlab/inference/evaluation.py", "evaluate"),
    "report.html": ("digitlab/report/model_report.py", "training_report"),
    "saving the model folder": ("digitlab/modelfiles/publishing.py", "publish_run"),
}
# the profile's time outside every phase: the imports made outside them are in it too (the rows overlap)
OTHER = (
    "other profiled work (the command line, settings, data fingerprint, messages; "
    "the imports no row above made)"
)


def run(seed: int = 0) -> dict:
    """One profiled `train --preset fast` in a fresh process: wall seconds, the process's CPU seconds,
    the profiled CPU seconds and each phase's."""
    with tempfile.TemporaryDirectory() as tmp:
        stats_file = Path(tmp) / "train.prof"
        argv = ["train", "--preset", "fast", "--seed", str(seed), "--out", str(Path(tmp) / "model")]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "bench.phases", str(stats_file), *argv], capture_output=True, text=True
        )
        wall = time.perf_counter() - start
        if done.returncode:
            raise RuntimeError(f"the profiled command failed: {done.stderr[-2000:]}")
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        stats = pstats.Stats(str(stats_file))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    profiled = stats.total_tt  # type: ignore[attr-defined]  # pstats keeps it, undocumented
    return {"seed": seed, "wall": wall, "cpu": cpu, "profiled": profiled, "phases": _phases(stats)}


def _phases(stats: pstats.Stats) -> dict[str, float]:
    """Each phase's cumulative CPU seconds (0 where the run never called it)."""
    found = dict.fromkeys(PHASES, 0.0)
    for (filename, _, name), (_, _, _, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        for phase, (ending, function) in PHASES.items():
            if name == function and filename.endswith(ending):
                found[phase] += cumulative
    return found


def section(r: dict, command: str = "") -> str:
    """The phases as shares of the process's CPU time, the rest named for what it is."""
    # imported here: the profiled process (this module as __main__) must not import torch before its profile
    from bench.timing import command_line

    cpu, phases = r["cpu"], r["phases"]
    work = sum(v for k, v in phases.items() if not k.startswith("imports"))
    rows = [(name, seconds) for name, seconds in phases.items()]
    rows.append(
        (
            OTHER,
            r["profiled"] - work,
        )
    )
    rows.append(("start-up and exit (outside the profile)", cpu - r["profiled"]))
    table = "".join(f"| {name} | {seconds:.2f} | {seconds / cpu:.1%} |\n" for name, seconds in rows)
    return (
        "## Where the fast command's seconds go\n\n"
        + command_line(command)
        + f"`digitlab train --preset fast --seed {r['seed']}` in a fresh process under cProfile with a "
        "CPU-time clock (`bench/phases.py` says how each row is counted; imports made inside a phase "
        "count in its row too, so the rows overlap by them). The process took "
        f"{r['wall']:.1f} s of wall time and {cpu:.1f} s of CPU time.\n\n"
        "| phase | CPU s | share of the process's CPU time |\n| --- | --- | --- |\n" + table
    )


def _profiled_command(stats_file: str, argv: list[str]) -> None:
    """Run `digitlab ARGV` in this process as the program runs it (its `main`, which ends the process)
    under a CPU-time cProfile; its stats are written to `stats_file` by an exit function, which `main`
    runs as it ends."""
    profile = cProfile.Profile(time.process_time)
    sys.argv = ["digitlab", *argv]

    def dump() -> None:
        profile.disable()
        profile.dump_stats(stats_file)

    atexit.register(dump)
    profile.enable()
    from digitlab.cli import main

    main()


if __name__ == "__main__":
    _profiled_command(sys.argv[1], sys.argv[2:])
