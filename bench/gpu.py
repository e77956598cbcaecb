"""The GPU section: each preset trained on the card as `digitlab train --device cuda` trains it,
with warm-up (kernel choice, compilation, recording) timed apart from training: `fast` seed 0 eager,
compiled and replayed from CUDA graphs, its other seeds and `default` in the fastest of those (and eager),
`best` in the mode fastest for `default`; the PyTorch examples/mnist recipe on the same card; and
the checks a GPU run owes: the same seed gives the same weights, and a model trained there scores
the same when reloaded on the CPU.

Every run is appended to a JSON-lines log as it ends, so a run stopped by a time limit keeps
what it measured, and the parts can be measured in several calls that continue one log.
The targets are issue #15's, for one H100.
"""

import hashlib
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from bench import reference
from bench.timing import command_line
from digitlab.data import load_source
from digitlab.inference.evaluation import evaluate
from digitlab.modelfiles.model_file import load_model
from digitlab.models import Ensemble
from digitlab.run.api import train as train_model
from digitlab.run.settings import TrainConfig, legacy_widths

# preset: (test accuracy at least, training seconds at most)
TARGETS = {"fast": (0.99, 1.0), "default": (0.995, 5.0), "best": (0.9975, 30.0)}
ENSEMBLE_TARGET = (0.998, 180.0)  # 5 `best` models and test-time shifts, all seconds together
PARTS = ("fast", "reference", "default", "best", "ensemble")
# eager PyTorch; torch.compile (`train --compile`); each whole training step recorded once as a CUDA
# graph and replayed, one launch a step (`train --cuda-graphs`)
MODES = ("eager", "compiled", "graphs")
# Settings a GPU may want instead of a preset's own, trained beside it: `default` with 4x fewer, larger
# steps; `best` for longer, in an optional part of its own.
VARIANTS = {"default": {"batch_size": 512, "lr": 0.4}, "best": {"epochs": 40}}
# What `best-sweep` tries, 3 seeds each in the graphs mode (what they scored: BENCHMARKS.md, "GPU:
# variants of best"); a variant added here costs one more call, not the whole sweep again.
SWEEP = (
    {"valid_fraction": 0.02, "epochs": 40},
    {"dropout": 0.25, "epochs": 40},
    {"valid_fraction": 0.02, "dropout": 0.25, "epochs": 40},
    {"channels": (48, 96, 192)},
    {"channels": (48, 96, 192), "epochs": 40},
    {"channels": (48, 96, 192), "epochs": 40, "dropout": 0.25},
    {"channels": (64, 128, 256)},
)
# Parts run only when asked for by name (bench/gpu_check.sh): `best-longer`; `graphs`, every preset's
# runs and checks again in the graphs mode alone; `graphs-longer`, `best-longer` in that mode;
# `best-sweep`, the SWEEP; `ensemble-sweep`, 5 `best` models of the most accurate recipe measured so far.
OPTIONAL = ("best-longer", "graphs", "graphs-longer", "best-sweep", "ensemble-sweep")
# parts that run again when the log says done: they measure only what it lacks
EXTENDABLE = ("best-sweep", "ensemble-sweep")


def run(
    device: str = "cuda",
    parts: tuple[str, ...] = PARTS,
    log: str | Path | None = None,
    data: str = "mnist",
    epochs: int | None = None,
    seeds: int = 3,
) -> list[dict]:
    """Measure `parts` in order; returns every row measured, the log's included.

    A log that exists is continued: the parts it finished are kept and skipped, the rows of a part
    it did not finish (a call stopped by a time limit) are dropped and that part runs again.
    `data`, `epochs` and `seeds` shrink the runs for a smoke test on a CPU.
    """
    if unknown := [p for p in parts if p not in PARTS + OPTIONAL]:
        raise ValueError(f"unknown parts {unknown}: choose from {', '.join(PARTS + OPTIONAL)}")
    with tempfile.TemporaryDirectory(prefix="digitlab-gpu-") as work:
        session = Session(device, log, data, epochs, seeds, work, parts)
        for part in parts:
            if part in session.done and part not in EXTENDABLE:
                continue
            session.part = part  # keep() tags each row with its part
            PART_RUNS[part](session)
            session.keep({"done": part})
    return session.rows


class Session:
    """One call's runs: the rows so far (the log's included), and how each run trains and is kept."""

    def __init__(self, device, log, data, epochs, seeds, work, parts):
        self.device, self.log, self.data, self.epochs, self.seeds = device, log, data, epochs, seeds
        self.work, self.parts, self.part = work, parts, ""
        self.rows = _finished_rows(log)
        self.done = {r["done"] for r in self.rows if "done" in r}

    def keep(self, row: dict) -> dict:
        """Add a row, tagged with its part, and append it to the log at once (a time limit keeps it)."""
        self.rows.append({**row, "part": self.part})
        if "done" in row:
            self.done.add(row["done"])
        if self.log:
            with open(self.log, "a") as f:
                f.write(json.dumps(self.rows[-1]) + "\n")
        return self.rows[-1]

    def train(
        self, preset: str, seed: int, mode: str, again: bool = False, variant: dict | None = None
    ) -> dict:
        # a folder of its own for each run: an ensemble loads its members from theirs
        tail = ("-again" if again else "") + ("-" + _label(variant).replace(" ", "") if variant else "")
        settings = {**(variant or {}), **({"epochs": self.epochs} if self.epochs else {})}  # smoke: all short
        config = TrainConfig(
            data=self.data, preset=preset, seed=seed, device=self.device,
            out=f"{self.work}/{preset}-{seed}-{mode}{tail}",
            compile=mode == "compiled", cuda_graphs=mode == "graphs", **legacy_widths(settings),
        )  # fmt: skip
        tags = {"mode": mode, "again": again, **({"variant": _label(variant)} if variant else {})}
        if mode == "eager":
            return self.keep({**_train_run(config), **tags})
        torch._dynamo.reset()  # each run compiles its own model (Inductor's kernels stay cached on disk)
        try:  # compiling and recording are the experiment here: a failure is a finding, not the end
            return self.keep({**_train_run(config), **tags})
        except Exception as e:  # noqa: BLE001
            return self.keep(
                {"preset": preset, "seed": seed, "error": f"{type(e).__name__}: {e}"[:300], **tags}
            )

    def fast_checks(self, mode: str, first: dict) -> None:
        """`fast`'s other seeds in `mode`, seed 0 again (the same weights?), and its model on the CPU."""
        for seed in range(1, self.seeds):
            self.train("fast", seed, mode)
        if "digest" not in first[mode]:
            return  # seed 0 failed in this mode: its error row says why
        same = self.train("fast", 0, mode, again=True).get("digest") == first[mode]["digest"]
        self.keep({"check": "same seed, same weights", "preset": "fast", "mode": mode, "same": same})
        self.keep(_cpu_reload(first[mode], self.data))

    def join(self, best: list[dict]) -> None:
        """The ensemble of the `best` runs that trained (none: their error rows say why)."""
        if members := [r for r in best if "digest" in r]:
            self.keep(_ensemble(members, self.data, self.device))


def _part_fast(s: Session) -> None:
    """Seed 0 in every mode picks the mode; the other seeds run in that one only."""
    first = {mode: s.train("fast", 0, mode) for mode in MODES}
    s.fast_checks(_fastest_mode(s.rows, "fast"), first)


def _part_graphs(s: Session) -> None:
    """The presets' parts again, every run in the graphs mode."""
    s.fast_checks("graphs", {"graphs": s.train("fast", 0, "graphs")})
    s.train("default", 0, "graphs")
    s.train("default", 0, "graphs", variant=VARIANTS["default"])
    s.join([s.train("best", seed, "graphs") for seed in range(max(s.seeds, 5))])


def _part_graphs_longer(s: Session) -> None:
    for seed in range(s.seeds):
        s.train("best", seed, "graphs", variant=VARIANTS["best"])


def _part_best_sweep(s: Session) -> None:
    """The sweep's runs the log lacks (a variant added to SWEEP since)."""
    measured = {(r.get("variant"), r["seed"]) for r in _sweep_runs(s.rows)}
    for variant in SWEEP:
        for seed in range(s.seeds):
            if (_label(variant), seed) not in measured:
                s.train("best", seed, "graphs", variant=variant)


def _part_ensemble_sweep(s: Session) -> None:
    """Five models of the most accurate recipe, unless the log has their ensemble; seeds trained in this
    call are members as they are, the others train now."""
    variant = _most_accurate(s.rows)
    if any("ensemble" in r and r.get("variant") == _label(variant) for r in s.rows):
        return
    here = {r["seed"]: r for r in _sweep_runs(s.rows)
            if r.get("variant") == _label(variant) and Path(r["out"]).exists()}  # fmt: skip
    s.join([here.get(seed) or s.train("best", seed, "graphs", variant=variant) for seed in range(5)])


def _part_reference(s: Session) -> None:
    ref = reference.time_to_accuracy(device=s.device, max_epochs=1 if s.epochs else 14)
    s.keep({"reference": True, **{k: ref[k] for k in ("seconds", "epochs", "accuracy", "history")}})


def _part_default(s: Session) -> None:
    """Eager, and the mode that trained `fast` fastest (device time is scarce), and the variant."""
    for mode in dict.fromkeys(("eager", _fastest_mode(s.rows, "fast"))):
        s.train("default", 0, mode)
    s.train("default", 0, _fastest_mode(s.rows, "default"), variant=VARIANTS["default"])


def _part_best_longer(s: Session) -> None:
    """Seeds 0-2 of `best` for longer, in the mode `best` ran in."""
    for seed in range(s.seeds):
        s.train("best", seed, _fastest_mode(s.rows, "default"), variant=VARIANTS["best"])


def _part_best(s: Session) -> None:
    """`best`'s seeds; asked for with `ensemble`, five of them, which the ensemble then joins."""
    ensemble = "ensemble" in s.parts and "ensemble" not in s.done
    mode = _fastest_mode(s.rows, "default")
    best = [s.train("best", seed, mode) for seed in range(max(s.seeds, 5) if ensemble else s.seeds)]
    if ensemble:
        s.join(best)
        if s.part == "best":
            s.keep({"done": "ensemble"})


# Each part of the GPU check and what it runs (in the order asked for; bench/gpu_check.sh names them)
PART_RUNS = {
    "fast": _part_fast, "reference": _part_reference, "default": _part_default, "best": _part_best,
    "ensemble": _part_best, "best-longer": _part_best_longer, "graphs": _part_graphs,
    "graphs-longer": _part_graphs_longer, "best-sweep": _part_best_sweep,
    "ensemble-sweep": _part_ensemble_sweep,
}  # fmt: skip


def _finished_rows(log: str | Path | None) -> list[dict]:
    """The rows of the parts `log` finished, rewritten as the whole log (an unfinished part's go)."""
    if not log or not Path(log).exists():
        return []
    rows = [json.loads(line) for line in Path(log).read_text().splitlines()]
    done = {r["done"] for r in rows if "done" in r}
    rows = [r for r in rows if r.get("part") in done]
    Path(log).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


def _train_run(config: TrainConfig) -> dict:
    start = time.perf_counter()
    result = train_model(config, quiet=True)
    wall = time.perf_counter() - start
    digest = hashlib.sha256()
    for tensor in result.model.module.state_dict().values():
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    row = {
        "preset": config.preset,
        "seed": config.seed,
        "wall": wall,
        **{k: round(v, 3) for k, v in result.seconds.items()},
        "accuracy": result.evaluation.accuracy,
        "digest": digest.hexdigest()[:16],
        "out": config.out,
    }
    if config.preset == "best":  # its accuracy is what is short: how much test-time shifts add to it
        row["shifted"] = _shifted_accuracy([config.out], config.data, config.device)
    return row


def _cpu_reload(row: dict, data: str) -> dict:
    """The saved model loaded on the CPU and scored again on the same test images."""
    model, _ = load_model(row["out"])
    test = load_source(data).test
    evaluation, _ = evaluate(model, test, "test")
    return {
        "check": "reloaded on the CPU",
        "preset": row["preset"],
        "gpu": row["accuracy"],
        "cpu": evaluation.accuracy,
    }


def _fastest_mode(rows: list[dict], preset: str) -> str:
    """The mode that trained `preset` with its own settings fastest (eager when nothing else was measured)."""
    times = {
        r["mode"]: r["train"]
        for r in rows
        if r.get("preset") == preset and "train" in r and "variant" not in r
    }
    return min(times, key=times.get) if times else "eager"


def _sweep_runs(rows: list[dict]) -> list[dict]:
    """The `best` runs that trained in the graphs mode: the sweep's and its ensembles' kind."""
    return [r for r in rows if "digest" in r and r["preset"] == "best" and r["mode"] == "graphs"]


def _most_accurate(rows: list[dict]) -> dict:
    """Of 40 epochs and the SWEEP's variants, the one whose seeds 0-2 scored the highest mean in the
    graphs mode (40 epochs when none has three)."""
    variants = {_label(v): v for v in (VARIANTS["best"], *SWEEP)}
    scores = {}
    for r in _sweep_runs(rows):
        if r["seed"] < 3 and r.get("variant") in variants:
            scores.setdefault(r["variant"], {})[r["seed"]] = r["accuracy"]  # a rerun replaces its seed
    means = {label: statistics.mean(s.values()) for label, s in scores.items() if len(s) == 3}
    return variants[max(means, key=means.get)] if means else VARIANTS["best"]


def _label(variant: dict) -> str:
    """ "batch size 512, lr 0.4", "channels 48-96-192" """
    return ", ".join(f"{k.replace('_', ' ')} {_value(v)}" for k, v in variant.items())


def _value(v) -> str:
    return "-".join(map(str, v)) if isinstance(v, tuple) else f"{v:g}"


def _ensemble(members: list[dict], data: str, device: str) -> dict:
    """The members' mean probabilities with test-time shifts: seconds are their training plus this."""
    start = time.perf_counter()
    accuracy = _shifted_accuracy([row["out"] for row in members], data, device)
    predict = time.perf_counter() - start
    whole_runs = sum(r["wall"] for r in members)  # loading, warm-up, training, evaluating, saving
    return {
        "ensemble": len(members),
        **({"variant": members[0]["variant"]} if "variant" in members[0] else {}),
        "accuracy": accuracy,
        "predict": predict,
        "seconds": whole_runs + predict,
    }


def _shifted_accuracy(models: list[str], data: str, device: str) -> float:
    """The test accuracy of `digitlab ensemble MODELS --tta`: the saved models' mean probabilities
    over each test image and its one-pixel shifts (one model: test-time shifts alone)."""
    ensemble = Ensemble.of([load_model(out)[0] for out in models], tta=True).to(device)
    return evaluate(ensemble, load_source(data).test, "test")[0].accuracy


TITLE = "GPU: the presets against issue #15's targets"


def section(rows: list[dict], command: str = "", title: str = TITLE) -> str:
    """The markdown section for BENCHMARKS.md, each target checked."""
    trained = [r for r in rows if "digest" in r]
    table = "\n".join(
        f"| {_name(r)} | {r['mode']} | {r['seed']} | {r.get('warmup', 0):.2f} | "
        f"{r['train']:.2f} | {r['wall']:.1f} | {r['accuracy']:.4f} |"
        for r in trained
    )
    names = dict.fromkeys((r["preset"], _name(r)) for r in trained)  # in the order they ran
    lines = [
        line for preset, name in names for mode in MODES if (line := _target(trained, preset, name, mode))
    ]
    lines += [_finding(r) for r in rows if "digest" not in r and "done" not in r]
    return (
        f"## {title}\n\n{command_line(command)}"
        "Each run is `digitlab train --device cuda --preset P --seed S` and a mode's flag, in one process "
        "(graphs: `--cuda-graphs`, the default on a GPU; eager: `--no-cuda-graphs`; compiled: `--compile`; "
        "a variant in brackets adds its flags, such as "
        "`--batch-size 512 --lr 0.4`); "
        "warm-up is each batch shape run 3 times before training (kernel choice, compilation), and in the "
        "graphs mode recording each shape's step; train is the training stage alone, wall the whole call "
        "(loading, warm-up, training, the test evaluation, saving the model and its report).\n\n"
        "| preset | mode | seed | warm-up s | train s | wall s | test accuracy |\n"
        f"|---|---|---|---|---|---|---|\n{table}\n\n" + "\n".join(lines) + "\n"
    )


def _name(r: dict) -> str:
    """`default`, or `default (batch size 512, lr 0.4)` for a variant's run."""
    return f"{r['preset']} ({r['variant']})" if "variant" in r else r["preset"]


def _target(trained: list[dict], preset: str, name: str, mode: str) -> str:
    runs = [r for r in trained if _name(r) == name and r["mode"] == mode and not r["again"]]
    # the targets speak of 3 seeds: seeds 0-2, each once, its first run (not an ensemble's extra
    # members, nor its second copy of seeds 0-2 when its part trained them again)
    runs = list({r["seed"]: r for r in reversed(runs) if r["seed"] < 3}.values())
    if not runs:
        return ""
    level, limit = TARGETS[preset]
    mean, slowest = statistics.mean(r["accuracy"] for r in runs), max(r["train"] for r in runs)
    met = "met" if mean >= level and slowest <= limit else "not met"
    shifted = ""
    if all("shifted" in r for r in runs):  # beside the verdict, which is the models' own accuracy
        shifted = f"; with test-time shifts, mean {statistics.mean(r['shifted'] for r in runs):.4f}"
    return (
        f"- `{name}` {mode}: mean {mean:.4f} over {len(runs)} seed(s), slowest training "
        f"{slowest:.2f} s (target >= {level:.4f} in <= {limit:.0f} s): **{met}**{shifted}"
    )


def _finding(r: dict) -> str:
    if "error" in r:
        return f"- `{_name(r)}` {r['mode']}, seed {r['seed']}, failed: {r['error']}"
    if "ensemble" in r:
        level, limit = ENSEMBLE_TARGET
        met = "met" if r["accuracy"] >= level and r["seconds"] <= limit else "not met"
        return (
            f"- an ensemble of {r['ensemble']} `{_name({'preset': 'best', **r})}` models with test-time "
            f"shifts: {r['accuracy']:.4f}, "
            f"{r['seconds']:.0f} s in all (target >= {level:.4f} in <= {limit:.0f} s): **{met}**"
        )
    if r.get("check") == "same seed, same weights":
        return (
            f"- the same seed twice (fast, {r['mode']}): {'identical' if r['same'] else 'different'} weights"
        )
    if r.get("check") == "reloaded on the CPU":
        return f"- a GPU-trained fast model reloaded on the CPU: {r['cpu']:.4f} (on the GPU {r['gpu']:.4f})"
    return (
        f"- PyTorch's examples/mnist recipe on the same card: {r['accuracy']:.4f} after {r['epochs']} "
        f"epoch(s), {r['seconds']:.1f} s in all"
    )
