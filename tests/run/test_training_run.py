"""The training run's lifecycle: its events in order, one result for the CLI and the API, set up once."""

import pytest

import digitlab
from digitlab.errors import DigitlabError
from digitlab.run import processes, training_run
from digitlab.run.settings import TrainConfig
from digitlab.run.training_run import RUN_EVENTS, Resume, RunResult, TrainingRun
from tests.helpers import cli

# A linear model on 1,200 images, one short epoch: a run whose figures are not the point
LINEAR = {"model": "linear", "epochs": 1, "epoch_size": 600, "seed": 3}
FLAGS = [part for k, v in LINEAR.items() for part in (f"--{k.replace('_', '-')}", str(v))]


class Recorder:
    """A callback of the run: every run event it hears, in order, and the model it fitted."""

    def __init__(self) -> None:
        self.heard: list[str] = []

    def __getattr__(self, event: str):  # a method for each of the run's events
        if event not in RUN_EVENTS:
            raise AttributeError(event)
        return lambda run: self.heard.append(event)

    def after_fit(self, run: TrainingRun) -> None:
        self.heard.append("after_fit")
        self.fitted = run.model


@pytest.mark.parametrize("model", ["linear", "baseline"])  # the baseline goes through the same stages
def test_a_callback_hears_the_lifecycle_in_order(tiny_mnist_dir, tmp_path, model):
    recorder = Recorder()
    config = TrainConfig(data=str(tiny_mnist_dir), out=str(tmp_path), **{**LINEAR, "model": model})
    run = TrainingRun(config, quiet=True, cbs=[recorder])
    result = run.run()
    assert recorder.heard == [
        "before_build", "after_build", "before_fit", "after_fit",
        "before_evaluate", "after_evaluate", "before_publish", "after_publish",
    ]  # fmt: skip
    assert result is run.result and (tmp_path / "model.json").exists()
    trained = model != "baseline"  # the baseline is fitted in one pass: no Learner, no epochs
    assert (run.learner is not None) == trained and len(result.history) == (1 if trained else 0)


def test_the_cli_and_the_api_get_the_same_run_result(tiny_mnist_dir, tmp_path, monkeypatch):
    seen: list[RunResult] = []
    run = TrainingRun.run

    def kept(self):
        seen.append(run(self))
        return seen[-1]

    monkeypatch.setattr(TrainingRun, "run", kept)
    assert cli("train", "--data", tiny_mnist_dir, *FLAGS, "--out", tmp_path).returncode == 0
    from_api = digitlab.train(data=str(tiny_mnist_dir), out=str(tmp_path), **LINEAR, quiet=True)
    from_cli = seen[0]
    assert type(from_cli) is type(from_api) is RunResult and len(seen) == 2
    same = ("folder", "config", "kept_epoch", "metrics")
    assert {f: getattr(from_cli, f) for f in same} == {f: getattr(from_api, f) for f in same}
    untimed = [[{**row, "time": 0} for row in r.history] for r in (from_cli, from_api)]
    assert untimed[0] == untimed[1] and len(from_api.history) == 1
    assert from_cli.evaluation.accuracy == from_api.evaluation.accuracy
    assert set(from_cli.seconds) == set(from_api.seconds) == {"load", "train", "evaluate"}


def test_digitlab_train_returns_the_module_it_trained_without_reading_it_back(
    tiny_mnist_dir, tmp_path, monkeypatch
):
    from digitlab.inference import predictor
    from digitlab.modelfiles import model_file

    def no_reading(*args, **kwargs):
        raise AssertionError("the model was read back from disk")

    for module, name in ((model_file, "load_model"), (model_file, "read_info"), (predictor, "load_model")):
        monkeypatch.setattr(module, name, no_reading)
    monkeypatch.setattr(predictor.Predictor, "load", no_reading)
    recorder = Recorder()
    monkeypatch.setattr(training_run, "_loggers", lambda config: [recorder])  # heard as --tensorboard is
    result = digitlab.train(data=str(tiny_mnist_dir), out=str(tmp_path), **LINEAR, quiet=True)
    assert result.model.module is recorder.fitted  # the very module trained, not a copy from the files
    assert result.model.info.metrics == result.metrics and result.model.path == tmp_path


def test_settings_are_resolved_and_processes_set_up_once_per_run(tiny_mnist_dir, tmp_path, monkeypatch):
    calls = {"resolve": 0, "setup": 0}
    resolve, setup = TrainConfig.resolve, processes.setup

    def counted_resolve(self, *args, **kwargs):
        calls["resolve"] += 1
        return resolve(self, *args, **kwargs)

    def counted_setup():
        calls["setup"] += 1
        return setup()

    monkeypatch.setattr(TrainConfig, "resolve", counted_resolve)
    monkeypatch.setattr(processes, "setup", counted_setup)
    result = cli("--verbose", "train", "--data", tiny_mnist_dir, *FLAGS, "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "  model = linear" in result.stdout  # the resolved settings, printed: not resolved again
    assert calls == {"resolve": 1, "setup": 1}


def test_a_finished_run_has_no_checkpoint_to_resume(tiny_mnist_dir, tmp_path):
    assert cli("train", "--data", tiny_mnist_dir, *FLAGS, "--out", tmp_path).returncode == 0
    with pytest.raises(DigitlabError, match="its run has finished"):
        Resume.load(tmp_path)
