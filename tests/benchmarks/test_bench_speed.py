"""The time-to-99 plan: both sides interleaved seed by seed, and the other kernel sets' reference
estimated from one epoch, on made-up processes (the real ones take half an hour)."""

from bench import training


def test_sides_interleave_and_other_kernel_sets_extrapolate_one_epoch(monkeypatch):
    calls = []

    def fast(preset, seed, *flags, env=None):
        calls.append(("fast", seed, tuple(env.items())))
        return 20.0, {"metrics": {"test_accuracy": 0.991}, "seconds": {"train": 15.0}}

    def reference(seed, max_epochs, env):
        calls.append(("reference", seed, tuple(env.items())))
        epochs = {1: 4, 2: 3, 3: 5}[seed] if max_epochs > 1 else 1
        return {"seconds": 30.0 + 100.0 * epochs, "epochs": epochs, "epoch_seconds": [100.0] * epochs,
                "reached": max_epochs > 1}  # fmt: skip

    monkeypatch.setattr(training, "train_command", fast)
    monkeypatch.setattr(training, "reference_command", reference)
    sets = {"AVX2": {}, "DEFAULT": {"ATEN_CPU_CAPABILITY": "default"}}
    runs = training.kernel_runs(sets)
    best = ()
    portable = (("ATEN_CPU_CAPABILITY", "default"),)
    assert calls == [
        ("fast", 0, best), ("reference", 1, best), ("fast", 1, best), ("reference", 2, best),
        ("fast", 2, best), ("reference", 3, best), ("fast", 0, portable), ("reference", 1, portable),
    ]  # fmt: skip
    (estimate,) = runs["DEFAULT"]["reference"]
    # the median seed needed 4 epochs: the 1-epoch process (130 s) and 3 more epochs of 100 s
    assert estimate["epochs"] == 4 and estimate["seconds"] == 430.0 and estimate["estimated"]
    text = training.speed_section(runs)
    assert "| AVX2 | 20.0 | 15.0 | 0.9910 | 3/3 | 430.0 | 4, 3, 5 | **21.5x** |" in text
    assert "| DEFAULT | 20.0 | 15.0 | 0.9910 | 1/1 | 430.0 | 4 (estimated from 1 epoch) | **21.5x** |" in text
