"""The GPU benchmark's logic, run on a CPU with tiny data: which runs, which checks, which verdicts."""

import json
from pathlib import Path

import pytest
import torch
from bench import gpu

from digitlab.models import ensemble


def test_the_fast_part_trains_checks_and_logs_each_run(monkeypatch, tiny_mnist_dir, tmp_path):
    monkeypatch.setattr(torch, "compile", lambda model, **kwargs: model)  # test_compile.py's subject
    log = tmp_path / "gpu-runs.jsonl"
    rows = gpu.run(device="cpu", parts=("fast",), log=log, data=str(tiny_mnist_dir), epochs=1, seeds=2)
    runs = [(r["seed"], r["mode"], "digest" in r) for r in rows if "mode" in r and "check" not in r]
    assert runs[:3] == [(0, "eager", True), (0, "compiled", True), (0, "graphs", False)]  # and it went on
    fastest = min(rows[:2], key=lambda r: r["train"])["mode"]  # graphs failed: eager or compiled
    assert runs[3:] == [(1, fastest, True), (0, fastest, True)]  # the other seed, then seed 0 again
    trained = [r for r in rows if "digest" in r]
    assert all(r["train"] > 0 and 0 <= r["accuracy"] <= 1 for r in trained) and trained[-1]["again"]
    same, reload, done = rows[-3:]
    assert done == {"done": "fast", "part": "fast"}
    assert same["same"] is True and same["mode"] == fastest  # the seed fixes everything, augmentation too
    assert reload["cpu"] == reload["gpu"]
    assert [json.loads(line) for line in log.read_text().splitlines()] == rows  # kept as each ended
    text = gpu.section(rows)
    assert text.count("| fast |") == 4 and f"(fast, {fastest}): identical weights" in text
    assert "`fast` graphs, seed 0, failed: DigitlabError: cuda_graphs needs a CUDA GPU" in text
    with log.open("a") as f:  # a part that a time limit stopped: its rows go, and it would run again
        f.write(json.dumps({"part": "default", "preset": "default", "seed": 0, "mode": "eager"}) + "\n")
    assert gpu.run(device="cpu", parts=("fast",), log=log) == rows  # finished: kept, not run again
    assert [json.loads(line) for line in log.read_text().splitlines()] == rows


def _row(preset: str, accuracy: float, train: float, seed: int = 0) -> dict:
    return dict(preset=preset, seed=seed, mode="eager", again=False, train=train, wall=train + 1,
                accuracy=accuracy, digest="0")  # fmt: skip


def test_a_target_is_met_only_by_the_mean_accuracy_within_the_slowest_time():
    met = gpu.section([_row("fast", 0.991, 0.9), _row("fast", 0.990, 0.95, seed=1)])
    assert "mean 0.9905 over 2 seed(s), slowest training 0.95 s" in met and "**met**" in met
    assert "**not met**" in gpu.section([_row("fast", 0.995, 0.9), _row("fast", 0.995, 1.1, seed=1)])
    assert "**not met**" in gpu.section([_row("default", 0.9949, 1.0)])
    best = [_row("best", 0.9976, 20.0, seed) for seed in range(3)] + [_row("best", 0.99, 40.0, seed=4)]
    assert "mean 0.9976 over 3 seed(s), slowest training 20.00 s" in gpu.section(best)  # seeds 0-2
    ensemble = {"ensemble": 5, "accuracy": 0.9981, "predict": 1.0, "seconds": 181.0}
    assert "181 s in all (target >= 0.9980 in <= 180 s): **not met**" in gpu.section([ensemble])


def test_the_other_seeds_and_default_run_in_the_mode_that_trained_fast_fastest(monkeypatch, tmp_path):
    """Device time is scarce: seed 0 tries every mode; the rest follow the fastest (default: and eager)."""
    seconds = {"eager": 3.0, "compiled": 2.0, "graphs": 1.0}

    def trained(config) -> dict:
        mode = "graphs" if config.cuda_graphs else "compiled" if config.compile else "eager"
        return dict(preset=config.preset, seed=config.seed, train=seconds[mode], wall=9.0, accuracy=0.99,
                    digest="0", out=config.out, batch_size=config.batch_size)  # fmt: skip

    monkeypatch.setattr(gpu, "_train_run", trained)
    reload = {"check": "reloaded on the CPU", "gpu": 0.99, "cpu": 0.99}
    monkeypatch.setattr(gpu, "_cpu_reload", lambda row, data: reload)
    rows = gpu.run(device="cpu", parts=("fast", "default"), seeds=3)
    runs = [(r["preset"], r["seed"], r["mode"], r["batch_size"]) for r in rows if "digest" in r]
    assert runs == [
        ("fast", 0, "eager", None), ("fast", 0, "compiled", None), ("fast", 0, "graphs", None),
        ("fast", 1, "graphs", None), ("fast", 2, "graphs", None), ("fast", 0, "graphs", None),
        ("default", 0, "eager", None), ("default", 0, "graphs", None),
        ("default", 0, "graphs", 512),  # the larger-batch variant, in default's fastest mode
    ]  # fmt: skip
    assert rows[-2]["variant"] == "batch size 512, lr 0.4"
    text = gpu.section(rows)
    assert "| default (batch size 512, lr 0.4) | graphs | 0 |" in text
    assert "- `default` graphs: mean 0.9900 over 1 seed(s)" in text  # the preset's own runs only
    assert "- `default (batch size 512, lr 0.4)` graphs: mean 0.9900 over 1 seed(s)" in text


def test_the_graphs_part_runs_every_preset_and_check_in_that_mode_alone(monkeypatch):
    """For a call after one that measured the other modes."""

    def trained(config) -> dict:
        assert config.cuda_graphs and not config.compile
        return dict(preset=config.preset, seed=config.seed, train=1.0, wall=2.0, accuracy=0.998,
                    digest="0", out=config.out, epochs=config.epochs)  # fmt: skip

    monkeypatch.setattr(gpu, "_train_run", trained)
    reload = {"check": "reloaded on the CPU", "gpu": 1.0, "cpu": 1.0}
    monkeypatch.setattr(gpu, "_cpu_reload", lambda row, data: reload)
    monkeypatch.setattr(gpu, "_ensemble", lambda members, data, device: {"ensemble": len(members)})
    rows = gpu.run(device="cpu", parts=("graphs", "graphs-longer"), seeds=3)
    runs = [(r["preset"], r["seed"], r["epochs"], r.get("again", False)) for r in rows if "digest" in r]
    assert runs == [
        ("fast", 0, None, False), ("fast", 1, None, False), ("fast", 2, None, False), ("fast", 0, None, True),
        ("default", 0, None, False), ("default", 0, None, False),  # the preset, then batch 512
        *[("best", s, None, False) for s in range(5)], *[("best", s, 40, False) for s in range(3)],
    ]  # fmt: skip
    assert {r["mode"] for r in rows if "digest" in r} == {"graphs"}
    checks = [r.get("check") or r.get("ensemble") for r in rows if "digest" not in r and "done" not in r]
    assert checks == ["same seed, same weights", "reloaded on the CPU", 5]


def test_best_and_ensemble_share_their_models_in_one_call_and_not_across_calls(monkeypatch, tmp_path):
    """The order of parts and calls only (each training replaced by a row of numbers)."""

    def trained(config) -> dict:
        return dict(preset=config.preset, seed=config.seed, train=1.0, wall=2.0, accuracy=0.998, digest="0",
                    out=config.out)  # fmt: skip

    monkeypatch.setattr(gpu, "_train_run", trained)

    def ensemble(members, data, device) -> dict:
        return {"ensemble": len(members), "accuracy": 0.998, "predict": 1.0, "seconds": 100.0}

    monkeypatch.setattr(gpu, "_ensemble", ensemble)

    def trainings(rows) -> list[tuple]:
        return [(r["part"], r["seed"]) for r in rows if "digest" in r and r["preset"] == "best"]

    together = gpu.run(device="cpu", parts=("best", "ensemble"), log=tmp_path / "one.jsonl")
    assert trainings(together) == [("best", s) for s in range(5)]
    assert [r["ensemble"] for r in together if "ensemble" in r] == [5]
    log = tmp_path / "two.jsonl"
    gpu.run(device="cpu", parts=("best",), log=log)
    apart = gpu.run(device="cpu", parts=("best", "ensemble"), log=log)  # best is done: not again
    assert trainings(apart) == [("best", s) for s in range(3)] + [("ensemble", s) for s in range(5)]
    assert [r["ensemble"] for r in apart if "ensemble" in r] == [5]
    assert "mean 0.9980 over 3 seed(s)" in gpu.section(apart)  # the ensemble's members are not counted


def test_best_longer_trains_three_seeds_for_40_epochs_in_the_mode_default_ran_fastest(monkeypatch):
    def trained(config) -> dict:
        mode = "compiled" if config.compile else "eager"
        return dict(preset=config.preset, seed=config.seed, train={"eager": 3.0, "compiled": 2.0}[mode],
                    wall=9.0, accuracy=0.9976, digest="0", out=config.out, epochs=config.epochs)  # fmt: skip

    monkeypatch.setattr(gpu, "_train_run", trained)
    monkeypatch.setattr(gpu, "MODES", ("eager", "compiled"))
    monkeypatch.setattr(
        gpu, "_cpu_reload", lambda row, data: {"check": "reloaded on the CPU", "gpu": 1, "cpu": 1}
    )
    rows = gpu.run(device="cpu", parts=("fast", "default", "best-longer"), seeds=3)
    longer = [
        (r["seed"], r["mode"], r["epochs"]) for r in rows if r.get("part") == "best-longer" and "digest" in r
    ]
    assert longer == [(0, "compiled", 40), (1, "compiled", 40), (2, "compiled", 40)]
    assert "- `best (epochs 40)` compiled: mean 0.9976 over 3 seed(s)" in gpu.section(rows)
    assert "best (epochs 40) | compiled | 2 |" in gpu.section(rows)
    with pytest.raises(ValueError, match="unknown parts \\['bset'\\]"):
        gpu.run(device="cpu", parts=("bset",))


def test_the_sweep_trains_three_seeds_of_each_variant_of_best(monkeypatch):
    def trained(config) -> dict:
        assert config.preset == "best" and config.cuda_graphs
        return dict(preset="best", seed=config.seed, train=1.0, wall=2.0, accuracy=0.9976, digest="0",
                    out=config.out, channels=config.widths)  # fmt: skip

    monkeypatch.setattr(gpu, "_train_run", trained)
    rows = gpu.run(device="cpu", parts=("best-sweep",), seeds=3)
    trainings = [r for r in rows if "digest" in r]
    assert len(trainings) == 3 * len(gpu.SWEEP) and [r["seed"] for r in trainings[:4]] == [0, 1, 2, 0]
    assert trainings[9]["channels"] == (48, 96, 192) and trainings[9]["variant"] == "channels 48-96-192"
    text = gpu.section(rows, title="GPU: variants of best (issue #15)")
    assert text.startswith("## GPU: variants of best (issue #15)")
    combined = "- `best (valid fraction 0.02, dropout 0.25, epochs 40)` graphs: mean 0.9976 over 3 seed(s)"
    assert combined in text


def test_the_sweep_ensemble_joins_five_models_of_the_most_accurate_variant(monkeypatch, tmp_path):
    def trained(config) -> dict:
        accuracy = 0.9978 if config.dropout == 0.25 and config.valid_fraction is None else 0.9974
        return dict(preset=config.preset, seed=config.seed, train=1.0, wall=2.0, accuracy=accuracy,
                    digest="0", out=config.out, epochs=config.epochs, dropout=config.dropout,
                    graphs=config.cuda_graphs)  # fmt: skip

    monkeypatch.setattr(gpu, "_train_run", trained)
    joined = []

    def ensemble(members, data, device) -> dict:
        joined.append(members)
        return {"ensemble": len(members)}

    monkeypatch.setattr(gpu, "_ensemble", ensemble)
    alone = gpu.run(device="cpu", parts=("ensemble-sweep",))  # nothing measured yet: 40 epochs
    assert [(r["seed"], r["epochs"], r["graphs"]) for r in alone if "digest" in r] == [
        (s, 40, True) for s in range(5)
    ]
    assert joined[-1][0]["variant"] == "epochs 40"
    log = tmp_path / "gpu-runs.jsonl"
    gpu.run(device="cpu", parts=("best-sweep",), log=log)  # one call, then the next
    rows = gpu.run(device="cpu", parts=("ensemble-sweep",), log=log)
    members = [r for r in rows if r.get("part") == "ensemble-sweep" and "digest" in r]
    assert [(r["seed"], r["epochs"], r["dropout"]) for r in members] == [(s, 40, 0.25) for s in range(5)]
    assert [len(m) for m in joined] == [5, 5] and joined[-1][0]["variant"] == "dropout 0.25, epochs 40"
    wide = [
        dict(preset="best", mode="graphs", seed=s, accuracy=0.999, digest="0", variant="channels 48-96-192")
        for s in (0, 1)
    ]
    failed = dict(
        preset="best", mode="graphs", seed=2, error="OutOfMemoryError", variant="channels 48-96-192"
    )
    assert gpu._most_accurate(alone + wide + [failed]) == {"epochs": 40}  # two seeds are not three


def test_test_time_shifts_score_saved_models_as_evaluate_does(monkeypatch, trained_model, mini_mnist_dir):
    from digitlab.data import load_source
    from digitlab.inference.evaluation import evaluate
    from digitlab.modelfiles.model_file import load_model

    plain = evaluate(load_model(trained_model)[0], load_source(str(mini_mnist_dir)).test, "test")[0].accuracy
    shifted = gpu._shifted_accuracy([trained_model], str(mini_mnist_dir), "cpu")
    assert gpu._shifted_accuracy([trained_model] * 2, str(mini_mnist_dir), "cpu") == shifted  # a mean
    monkeypatch.setattr(ensemble, "SHIFTS", ((0, 0),))
    assert gpu._shifted_accuracy([trained_model], str(mini_mnist_dir), "cpu") == plain != shifted


def test_each_best_run_is_scored_with_test_time_shifts_beside_its_own_accuracy(monkeypatch):
    class Scored:
        accuracy = 0.9970

    class Model:
        module = torch.nn.Linear(1, 1)

    class Trained:
        model, seconds, evaluation = Model, {"train": 1.0}, Scored

    monkeypatch.setattr(gpu, "train_model", lambda config, quiet: Trained)
    monkeypatch.setattr(gpu, "_shifted_accuracy", lambda models, data, device: 0.9980)
    best = [gpu._train_run(gpu.TrainConfig(preset="best", seed=s, device="cpu")) for s in range(3)]
    assert [r["shifted"] for r in best] == [0.9980] * 3
    assert "shifted" not in gpu._train_run(gpu.TrainConfig(preset="fast", device="cpu"))
    text = gpu.section([{**r, "mode": "graphs", "again": False} for r in best])
    assert "mean 0.9970 over 3 seed(s), slowest training 1.00 s" in text
    assert "**not met**; with test-time shifts, mean 0.9980" in text


def test_the_sweep_trains_only_what_the_log_lacks_and_its_ensemble_reuses_this_calls_models(
    monkeypatch, tmp_path
):
    def trained(config) -> dict:
        Path(config.out).mkdir(parents=True)  # the model folder a member is loaded from
        accuracy = 0.9979 if config.widths == (64, 128, 256) else 0.9970
        return dict(preset="best", seed=config.seed, train=1.0, wall=2.0, accuracy=accuracy, digest="0",
                    out=config.out)  # fmt: skip

    monkeypatch.setattr(gpu, "_train_run", trained)
    monkeypatch.setattr(gpu, "_ensemble", lambda members, data, device: {"ensemble": len(members),
                        "variant": members[0]["variant"], "seeds": [m["seed"] for m in members],
                        "accuracy": 0.998, "seconds": 10.0})  # fmt: skip
    log = tmp_path / "gpu-runs.jsonl"
    first = [v for v in gpu.SWEEP if v != {"channels": (64, 128, 256)}]
    monkeypatch.setattr(gpu, "SWEEP", tuple(first))
    gpu.run(device="cpu", parts=("best-sweep", "ensemble-sweep"), log=log)  # the first call
    monkeypatch.setattr(gpu, "SWEEP", (*first, {"channels": (64, 128, 256)}))  # a variant added since
    rows = gpu.run(device="cpu", parts=("best-sweep", "ensemble-sweep"), log=log)
    trainings = [r for r in rows if "digest" in r]
    # the first call's ensemble took seeds 0-2 of its first variant as they were and trained 3 and 4
    assert [(r["part"], r["seed"]) for r in trainings[3 * len(first) :][:2]] == [
        ("ensemble-sweep", 3),
        ("ensemble-sweep", 4),
    ]
    again = trainings[3 * len(first) + 2 :]  # the second call's runs
    assert [(r["part"], r["variant"], r["seed"]) for r in again] == [
        ("best-sweep", "channels 64-128-256", 0),
        ("best-sweep", "channels 64-128-256", 1),
        ("best-sweep", "channels 64-128-256", 2),
        ("ensemble-sweep", "channels 64-128-256", 3),
        ("ensemble-sweep", "channels 64-128-256", 4),
    ]
    ensembles = [r for r in rows if "ensemble" in r]
    assert [e["variant"] for e in ensembles] == ["valid fraction 0.02, epochs 40", "channels 64-128-256"]
    assert [e["seeds"] for e in ensembles] == [[0, 1, 2, 3, 4]] * 2
    text = gpu.section(rows)
    assert "- `best (channels 64-128-256)` graphs: mean 0.9979 over 3 seed(s)" in text
    rows = gpu.run(device="cpu", parts=("best-sweep", "ensemble-sweep"), log=log)  # nothing left to do
    assert len([r for r in rows if "digest" in r]) == len(trainings)


def test_a_target_counts_each_seed_once_when_an_ensemble_trained_it_again():
    def run(part: str, seed: int, accuracy: float) -> dict:
        return dict(preset="best", mode="graphs", again=False, seed=seed, train=1.0, wall=2.0,
                    accuracy=accuracy, digest="0", variant="channels 48-96-192", part=part)  # fmt: skip

    first = [run("best-sweep", s, a) for s, a in enumerate((0.9970, 0.9972, 0.9974))]
    again = [run("ensemble-sweep", s, 0.9990) for s in range(5)]  # as if the rerun had scored otherwise
    text = gpu.section(first + again)
    assert "- `best (channels 48-96-192)` graphs: mean 0.9972 over 3 seed(s)" in text
