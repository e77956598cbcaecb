"""torch.compile for training, and the warm-up that keeps compiling out of the training time."""

import functools

import pytest
import torch

from digitlab.learning.learner import Learner
from digitlab.modelfiles.model_file import load_model
from digitlab.run.learner_parts import quiet_learner
from digitlab.run.settings import TrainConfig
from digitlab.run.training_run import TrainingRun
from digitlab.run.warmup import warm_up
from tests.helpers import cli

pytestmark = pytest.mark.numeric  # float results compared with bounds: rerun under other kernels


def _weights(learn) -> list[torch.Tensor]:
    return [t.detach().clone() for t in learn.model.state_dict().values()]


def test_training_asks_cudnn_for_deterministic_algorithms_and_puts_the_flag_back(
    monkeypatch, tiny_mnist_dir, tmp_path
):
    seen, fit_one_cycle = [], Learner.fit_one_cycle

    def watched(self, *args, **kwargs):
        seen.append(torch.backends.cudnn.deterministic)
        fit_one_cycle(self, *args, **kwargs)

    monkeypatch.setattr(Learner, "fit_one_cycle", watched)
    run = TrainingRun(TrainConfig(data=str(tiny_mnist_dir), model="linear", epochs=1, out=str(tmp_path)))
    run.build()
    run.fit()
    assert seen == [True] and torch.backends.cudnn.deterministic is False


def test_warm_up_leaves_nothing_the_run_depends_on(tiny_mnist_dir, tmp_path):
    """Weights, BatchNorm statistics and the dropout generator are put back: the same run follows."""
    config = TrainConfig(
        data=str(tiny_mnist_dir), preset="default", epochs=1, valid_fraction=0.1, out=str(tmp_path)
    )
    warmed, _ = quiet_learner(config)
    before = _weights(warmed)
    sizes = []
    warmed.model.register_forward_pre_hook(lambda module, args: sizes.append((module.training, len(args[0]))))
    warm_up(warmed)
    assert sizes == [(True, 56)] * 3 + [(True, 128)] * 3 + [(False, 120)] * 3  # each shape 3 times in a row
    assert all(torch.equal(a, b) for a, b in zip(before, _weights(warmed), strict=True))
    assert all(p.grad is None for p in warmed.model.parameters())
    warmed.fit(1)
    plain, _ = quiet_learner(config)
    plain.fit(1)
    assert all(torch.equal(a, b) for a, b in zip(_weights(plain), _weights(warmed), strict=True))


@pytest.fixture
def eager_compile(monkeypatch):
    """torch.compile with its 'eager' backend: Dynamo traces the model (the wrapper, its guards and
    recompiles are real) but nothing is code-generated, so a test takes seconds, not a minute."""
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="eager"))


def test_a_compiled_run_saves_the_plain_model(eager_compile, tiny_mnist_dir, tmp_path):
    config = dict(data=str(tiny_mnist_dir), preset="fast", epochs=1)
    compiled = TrainingRun(TrainConfig(**config, compile=True, out=str(tmp_path / "c")), quiet=True)
    compiled.run()
    plain = TrainingRun(TrainConfig(**config, out=str(tmp_path / "p")), quiet=True).run()
    assert compiled.learner is not None and plain is not None
    assert type(compiled.learner.model).__name__ == "OptimizedModule"  # trained through the wrapper
    assert compiled.seconds["warmup"] > 0 and "warmup" not in plain.seconds  # CPU, eager: no warm-up
    model, info = load_model(tmp_path / "c")
    assert info.settings["compile"] is True
    plain_weights = plain.model.module.state_dict()
    assert list(model.state_dict()) == list(plain_weights)  # no "_orig_mod." in the keys
    for a, b in zip(model.state_dict().values(), plain_weights.values(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)  # the eager backend runs the same ops


@pytest.mark.slow  # about 25 s: Inductor generates and compiles C++ on a CPU; `make slow` runs it
def test_inductor_trains_what_eager_pytorch_trains(tiny_mnist_dir, tmp_path):
    try:  # Inductor needs a C++ compiler that handles this CPU and kernel set; without one there is
        torch.compile(torch.nn.Linear(4, 2))(torch.ones(3, 4))  # nothing of digitlab's to test here
    except torch._dynamo.exc.BackendCompilerFailed as error:
        pytest.skip(f"Inductor cannot build C++ here: {str(error).splitlines()[0][:120]}")
    finally:
        torch._dynamo.reset()
    config = dict(data=str(tiny_mnist_dir), model="linear", epochs=2)
    compiled = TrainingRun(TrainConfig(**config, compile=True, out=str(tmp_path / "c")), quiet=True).run()
    plain = TrainingRun(TrainConfig(**config, out=str(tmp_path / "p")), quiet=True).run()
    assert compiled is not None and plain is not None
    weights = compiled.model.module.state_dict().values(), plain.model.module.state_dict().values()
    for a, b in zip(*weights, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    assert compiled.seconds["train"] < compiled.seconds["warmup"]  # the compiling happened in the warm-up


def test_a_model_torch_compile_cannot_build_is_a_one_line_error(monkeypatch, tiny_mnist_dir, tmp_path):
    """Inductor's C++ fails on some machines and kernel sets (seen with ATEN_CPU_CAPABILITY=default):
    the user reads what to do, not the compiler's output, and no model folder is left behind."""

    def failing_backend(graph, inputs):
        raise RuntimeError("C++ compile error\nwith a page of compiler output")

    compile_ = torch.compile
    monkeypatch.setattr(torch, "compile", lambda model, **kw: compile_(model, backend=failing_backend))
    torch._dynamo.reset()
    out = tmp_path / "run"
    try:
        result = cli("train", "--data", tiny_mnist_dir, "--model", "linear", "--compile", "--out", out)
    finally:
        torch._dynamo.reset()
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert "--compile" in result.stderr and "C++ compile error" in result.stderr
    assert not (out / "model.safetensors").exists()
