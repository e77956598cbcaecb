"""Ensembles: one model averaging its members' probabilities, accepted by every command."""

import json

import pytest
import torch

from digitlab.errors import DigitlabError
from digitlab.inference.predictor import Predictor
from digitlab.modelfiles.model_file import ModelInfo, load_model, save_model
from digitlab.models import Ensemble, build_model, predict_probs
from digitlab.models.ensemble import shift
from tests.helpers import cli, csv_text

pytestmark = pytest.mark.numeric  # float results compared with bounds: rerun under other kernels


@pytest.fixture(scope="module")
def linear_model(tmp_path_factory, mini_mnist_dir):
    out = tmp_path_factory.mktemp("linear")  # the data trained_model was trained on: the ensemble's default
    result = cli("train", "--data", mini_mnist_dir, "--model", "linear", "--epochs", "1", "--out", out)
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def ensemble_dir(trained_model, linear_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("ensemble")
    result = cli("ensemble", trained_model, linear_model, "--out", out)
    assert result.returncode == 0, result.stderr
    return out, result.stdout


def test_the_ensemble_averages_its_members_probabilities():
    members = [build_model("cnn", strided_stem=True), build_model("mlp"), build_model("linear")]
    ensemble = Ensemble.of(members)
    x = torch.rand(7, 1, 28, 28)
    mean = torch.stack([predict_probs(m, x) for m in members]).mean(0)
    torch.testing.assert_close(predict_probs(ensemble, x), mean, atol=1e-6, rtol=1e-5)
    copies = Ensemble.of([members[0], members[0]])
    torch.testing.assert_close(predict_probs(copies, x), predict_probs(members[0], x), atol=1e-6, rtol=1e-5)


def test_shift_moves_images_one_pixel_and_fills_in_background():
    x = torch.rand(2, 1, 28, 28) + 1  # no pixel is 0: only what moves in is
    right, left, down, up = (torch.zeros_like(x) for _ in range(4))
    right[..., :, 1:], left[..., :, :-1] = x[..., :, :-1], x[..., :, 1:]
    down[..., 1:, :], up[..., :-1, :] = x[..., :-1, :], x[..., 1:, :]
    moves = {(1, 0): right, (-1, 0): left, (0, 1): down, (0, -1): up, (0, 0): x}
    for (dx, dy), expected in moves.items():
        assert torch.equal(shift(x, dx, dy), expected), (dx, dy)


def test_test_time_shifts_average_every_member_over_every_shift():
    members = [build_model("cnn", strided_stem=True), build_model("mlp")]
    x = torch.rand(5, 1, 28, 28)
    moves = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))
    mean = torch.stack([predict_probs(m, shift(x, dx, dy)) for m in members for dx, dy in moves]).mean(0)
    torch.testing.assert_close(predict_probs(Ensemble.of(members, tta=True), x), mean, atol=1e-6, rtol=1e-5)
    one = Ensemble.of(members[:1], tta=True)  # one model is enough with shifts
    assert one.config["tta"] is True and not predict_probs(one, x).equal(predict_probs(members[0], x))
    with pytest.raises(ValueError, match="tta must be true or false"):
        Ensemble(one.config["members"], tta="yes")


@pytest.mark.parametrize(
    "members, match",
    [
        ([{"architecture": "cnn", "config": {}}], "2 to 16"),
        ([{"architecture": "cnn", "config": {}}] * 17, "2 to 16"),
        ([{"architecture": "baseline", "config": {}}] * 2, "linear, mlp, cnn"),
        ([{"architecture": "ensemble", "config": {}}] * 2, "linear, mlp, cnn"),
        ([{"architecture": "cnn", "config": []}] * 2, "config"),
        ("cnn", "2 to 16"),
    ],
)
def test_bad_member_lists_are_refused(members, match):
    with pytest.raises(ValueError, match=match):
        Ensemble(members)


def test_ensemble_command_writes_a_model_folder_scored_on_the_test_set(
    ensemble_dir, trained_model, linear_model
):
    out, stdout = ensemble_dir
    model, info = load_model(out)
    assert info.architecture == "ensemble" and len(model.members) == 2
    assert str(trained_model) in stdout and "test accuracy:" in stdout.splitlines()[-1]
    members = info.metrics["member_accuracies"]
    assert info.metrics["test_accuracy"] >= min(members) and len(members) == 2
    assert (out / "report.html").is_file()
    for member, path in zip(model.members, (trained_model, linear_model), strict=True):
        alone, _ = load_model(path)
        for a, b in zip(member.state_dict().values(), alone.state_dict().values(), strict=True):
            assert torch.equal(a, b)


def test_every_command_accepts_an_ensemble(ensemble_dir, mnist, tmp_path):
    out, _ = ensemble_dir
    evaluated = cli("evaluate", out, "--json")
    assert evaluated.returncode == 0 and json.loads(evaluated.stdout)["accuracy"] == pytest.approx(
        load_model(out)[1].metrics["test_accuracy"]
    )
    from PIL import Image

    Image.fromarray(mnist.test.images[0].numpy()).save(tmp_path / "seven.png")
    predicted = cli("predict", out, tmp_path / "seven.png", "--json")
    assert predicted.returncode == 0 and json.loads(predicted.stdout)[0]["digit"] == 7
    assert Predictor.load(out).predict_image(Image.open(tmp_path / "seven.png")).digit == 7


def test_ensemble_errors_are_one_line(trained_model, tmp_path):
    alone = cli("ensemble", trained_model, "--out", tmp_path / "e")
    assert alone.returncode != 0 and "2 to 16 models (1 with --tta)" in alone.stderr
    assert len(alone.stderr.strip().splitlines()) == 1
    missing = cli("ensemble", trained_model, tmp_path / "nothing", "--out", tmp_path / "e")
    assert missing.returncode != 0 and "nothing" in missing.stderr and "Traceback" not in missing.stderr
    assert not (tmp_path / "e").exists()


@pytest.mark.slow  # 5 s of tracing two members; `make slow` runs it
def test_an_ensemble_exports_to_onnx(ensemble_dir, tmp_path):
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    out, _ = ensemble_dir
    result = cli("export", out, "--out", tmp_path / "ensemble.onnx")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "ensemble.onnx").stat().st_size > 0


def test_one_model_with_test_time_shifts_is_a_model_folder_every_command_accepts(
    trained_model, tiny_mnist_dir, tmp_path
):
    result = cli("ensemble", trained_model, "--tta", "--data", tiny_mnist_dir, "--out", tmp_path / "tta")
    assert result.returncode == 0, result.stderr
    model, info = load_model(tmp_path / "tta")
    assert model.tta and info.settings["tta"] is True
    assert "with test-time shifts" in (tmp_path / "tta/report.html").read_text()
    x = torch.rand(4, 1, 28, 28)
    again = Ensemble.of([load_model(trained_model)[0]], tta=True)
    torch.testing.assert_close(predict_probs(model, x), predict_probs(again, x))
    evaluated = cli("evaluate", tmp_path / "tta", "--data", tiny_mnist_dir, "--json")
    assert json.loads(evaluated.stdout)["accuracy"] == pytest.approx(info.metrics["test_accuracy"])


@pytest.mark.parametrize("tta", ["yes", 1, None])
def test_a_damaged_tta_field_is_one_clear_error(tmp_path, tta):
    model = Ensemble.of([build_model("linear")], tta=True)
    save_model(model, tmp_path, ModelInfo.describe(model))
    info = json.loads((tmp_path / "model.json").read_text())
    assert load_model(tmp_path)[0].tta  # as saved, it loads
    (tmp_path / "model.json").write_text(json.dumps({**info, "config": {**info["config"], "tta": tta}}))
    with pytest.raises(DigitlabError, match="model.json: field 'config' .*tta must be true or false"):
        load_model(tmp_path)


@pytest.mark.slow  # 10-20 s: the exporter traces five views of each member; `make slow` runs it
def test_test_time_shifts_export_to_onnx(trained_model, tiny_mnist_dir, tmp_path):
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    made = cli("ensemble", trained_model, "--tta", "--data", tiny_mnist_dir, "--out", tmp_path / "tta")
    assert made.returncode == 0, made.stderr
    exported = cli("export", tmp_path / "tta", "--out", tmp_path / "tta.onnx")
    assert exported.returncode == 0, exported.stderr  # export checks ONNX against PyTorch itself
    assert (tmp_path / "tta.onnx").stat().st_size > 0


def test_an_ensemble_is_not_fine_tuned(ensemble_dir, tmp_path):
    out, _ = ensemble_dir
    result = cli("train", "--init", out, "--out", tmp_path / "t")
    assert result.returncode != 0 and "train its members" in result.stderr


def test_the_ensemble_bench_scores_one_three_and_five_models_with_shifts_too(monkeypatch):
    from types import SimpleNamespace

    from bench import ensembles

    joined = []

    def make(paths, out, tta=False):
        joined.append((len(paths), tta))
        members = [(str(p), 0.99, 1.0) for p in paths]
        return SimpleNamespace(members=members, evaluation=SimpleNamespace(accuracy=0.995 if tta else 0.993),
                               seconds=5.0 * len(paths) * (5 if tta else 1))  # fmt: skip

    monkeypatch.setattr(ensembles, "timed", lambda f, config, quiet: (10.0, None))  # no training
    monkeypatch.setattr(ensembles, "make_ensemble", make)
    text = ensembles.section()
    assert joined == [(3, False), (5, False), (1, True), (3, True), (5, True)]
    assert "| 1 + shifts | 0.9900 (0.9900-0.9900) | **0.9950** | 10 | 25.00 (25.0x one member) |" in text
    assert "| 5 | 0.9900 (0.9900-0.9900) | **0.9930** | 50 |" in text


def test_an_ensemble_is_explained_like_any_model(ensemble_dir, mnist, tmp_path):
    from PIL import Image

    path = tmp_path / "seven.png"
    Image.fromarray(mnist.test.images[0].numpy()).save(path)
    result = cli("explain", ensemble_dir[0], path, "--json")
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert row["digit"] == row["top"][0]["digit"] and "integrated gradients" in row["method"]
    assert len(row["attribution"]) == 2 and row["completeness_gap"]


def test_a_linear_model_folder_is_explained_exactly(linear_model, mnist, tmp_path):
    from PIL import Image

    path = tmp_path / "two.png"
    Image.fromarray(mnist.test.images[1].numpy()).save(path)
    (row,) = json.loads(cli("explain", linear_model, path, "--json").stdout)
    assert row["method"].startswith("exact") and set(row["completeness_gap"].values()) == {0.0}


def test_an_ensemble_is_scored_on_its_members_data_unless_told(ensemble_dir, mini_mnist_dir):
    _, stdout = ensemble_dir
    assert stdout.splitlines()[0].startswith(f"data: {mini_mnist_dir}, test split (")


def test_members_of_a_csv_with_different_valid_splits_need_data(mnist, tmp_path):
    csv = tmp_path / "train.csv"
    csv.write_text(csv_text(mnist.train.images[:600].numpy(), mnist.train.labels[:600].numpy()))
    for seed in (1, 2):
        args = ("--model", "linear", "--epochs", "1", "--seed", str(seed), "--out", tmp_path / f"m{seed}")
        assert cli("train", "--data", csv, *args).returncode == 0
    refused = cli("ensemble", tmp_path / "m1", tmp_path / "m2", "--out", tmp_path / "e")
    assert refused.returncode != 0 and "held out different valid splits" in refused.stderr
    assert "Traceback" not in refused.stderr and not (tmp_path / "e").exists()
    told = cli("ensemble", tmp_path / "m1", tmp_path / "m2", "--out", tmp_path / "e", "--data", "mnist")
    assert told.returncode == 0, told.stderr
    assert told.stdout.splitlines()[0].startswith("data: mnist, test split (10,000 images)")
