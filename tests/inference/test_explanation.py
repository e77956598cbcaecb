"""`explain`: the maps are true to the model, by the methods' own guarantees, and the evidence matters."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from digitlab.inference import explanation as ex
from digitlab.inference.predictor import Predictor
from digitlab.modelfiles.model_file import ModelInfo
from digitlab.models import Linear
from tests.helpers import TEST_SEED, cli

pytestmark = pytest.mark.numeric  # float results compared with bounds: rerun under other kernels


@pytest.fixture(scope="module")
def predictor(trained_model):
    return Predictor.load(trained_model)


def _score(model: nn.Module, x: torch.Tensor, digit: int) -> float:
    with torch.no_grad():
        return float(model.eval()(x)[0, digit])


def test_a_linear_models_map_is_exactly_weight_times_pixel(mnist):
    torch.manual_seed(TEST_SEED)
    model = Linear(mean=0.13, std=0.31).eval()
    image = mnist.test.images[0].numpy()
    x = torch.tensor(image).reshape(1, 1, 28, 28).float() / 255
    for digit in (0, 7):
        ours = ex.exact_linear(model, x, digit)
        expected = (model.first_layer.weight[digit].detach().reshape(28, 28) / 0.31 * x[0, 0]).numpy()
        np.testing.assert_array_equal(ours, expected)
        # complete: score(x) - score(blank); float32 sums of 784 terms of |w x| < 1 round by < 1e-4
        gap = ours.sum() - (_score(model, x, digit) - _score(model, torch.zeros_like(x), digit))
        assert abs(gap) < 1e-4
        library, _ = ex.integrated_gradients(model, x, digit)  # Captum's IG is exact for a linear model
        np.testing.assert_allclose(ours, library, atol=1e-6)  # 64 equal float32 gradients averaged: ~1e-7


def test_integrated_gradients_are_complete_within_the_quadratures_bound(predictor, mnist):
    """The midpoint rule with STEPS points integrates g(a) = grad f(a x) . x over [0, 1]. On each
    step of width h = 1/STEPS the exact mean and the midpoint's value both lie between g's least and
    largest value there, so the gap is at most h times g's total variation V along the path, which
    a fine grid of 1,025 points measures."""
    model = predictor.model.eval()
    for index in range(3):
        x = mnist.test.images[index].reshape(1, 1, 28, 28).float() / 255
        digit = int(predictor.probs(mnist.test.images[index][None].numpy())[0].argmax())
        attribution, gap = ex.integrated_gradients(model, x, digit)
        change = _score(model, x, digit) - _score(model, torch.zeros_like(x), digit)
        assert gap == pytest.approx(attribution.sum() - change, abs=1e-3)  # float32 sums of 784 terms ~5
        alphas = torch.linspace(0, 1, 1025)[:, None, None, None]
        path = (alphas * x).requires_grad_(True)
        model(path)[:, digit].sum().backward()
        slopes = (path.grad * x).flatten(1).sum(1)
        variation = float(slopes.diff().abs().sum())
        assert abs(gap) <= variation / ex.STEPS + 1e-4, (gap, variation)
        assert abs(gap) < 0.05 * abs(change)  # measured at most 1.0% (seeds 0-2 x AVX2, SSE4.1): 5x that


def test_a_model_that_ignores_the_left_half_gets_no_attribution_there(mnist):
    class RightHalfOnly(nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(TEST_SEED)
            self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))

        def forward(self, x):
            mask = torch.zeros_like(x)
            mask[..., 14:] = 1
            return self.net(x * mask)

    x = mnist.test.images[3].reshape(1, 1, 28, 28).float() / 255
    attribution, _ = ex.integrated_gradients(RightHalfOnly().eval(), x, 5)
    assert np.all(attribution[:, :14] == 0) and np.abs(attribution[:, 14:]).sum() > 0


def test_erasing_the_evidence_changes_the_answer_far_more_often_than_erasing_random_ink(predictor, mnist):
    """Measured on this fixture's model (fast recipe, 12,000 images; 100 test digits): erasing the
    evidence changed 66, 74 and 74 answers (seeds 0-2, AVX2) and 60 (SSE4.1), random ink 2-3. "Most"
    is the issue's own threshold; the margin over random ink, 30, is half the smallest gap measured
    (57). BENCHMARKS.md: the fast model on 200 digits, 59.0% against 2.0%."""
    rng = np.random.default_rng(TEST_SEED)
    model = predictor.model.eval()
    changed = randomly_changed = 0
    images = mnist.test.images[:100].numpy()
    for image in images:
        x = torch.tensor(image).reshape(1, 1, 28, 28).float() / 255
        digit = int(predictor.probs(image[None])[0].argmax())
        attribution, _ = ex.integrated_gradients(model, x, digit)
        mask = ex.evidence_mask(attribution)
        changed += int(predictor.probs(ex.erase_evidence(image, attribution)[None])[0].argmax()) != digit
        ink = np.flatnonzero(image.reshape(-1) > 0)
        random = image.copy().reshape(-1)
        random[rng.choice(ink, size=min(int(mask.sum()), len(ink)), replace=False)] = 0
        randomly_changed += int(predictor.probs(random.reshape(1, 28, 28))[0].argmax()) != digit
    assert changed > len(images) / 2  # most digits
    assert changed >= randomly_changed + 0.3 * len(images)  # the stated margin: 30 points


def test_explain_on_the_command_line_json_and_figures(trained_model, mnist, tmp_path):
    from PIL import Image

    paths = []
    for i in range(2):
        path = tmp_path / f"digit{i}.png"
        Image.fromarray(255 - mnist.test.images[i].numpy()).resize((112, 112)).save(path)
        paths.append(path)
    result = cli("explain", trained_model, *paths, "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["path"] for r in rows] == [str(p) for p in paths]
    for row in rows:
        assert len(row["top"]) == 3 and row["top"][0]["digit"] == row["digit"]
        assert set(row["attribution"]) == {str(row["top"][0]["digit"]), str(row["top"][1]["digit"])}
        assert all(len(m) == 28 and all(len(r) == 28 for r in m) for m in row["attribution"].values())
        assert "integrated gradients" in row["method"] and "64 steps" in row["method"]
        assert row["erased"]["pixels"] > 0 and 0 <= row["erased"]["digit"] <= 9
    out = tmp_path / "figures"
    text = cli("explain", trained_model, *paths, "--out", out)
    assert text.returncode == 0 and "why" in text.stdout and "the evidence erased" in text.stdout
    said = " ".join(text.stdout.split())  # each term of the method defined once, where first used
    for term in ("integrated gradients: ", "Captum: ", "midpoint rule: ", "logit: "):
        assert said.count(term) == 1 and said.index("method: ") < said.index(term) < said.index("why"), term
    assert sorted(p.name for p in out.glob("*.png")) == ["0000-digit0.png", "0001-digit1.png"]
    assert cli("explain", trained_model, *paths, "--out", out).returncode == 0  # its own figures: replaced
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "0000-digit0.png").write_bytes(b"the user's own file")
    refused = cli("explain", trained_model, *paths, "--out", mine)
    assert refused.returncode == 1 and "did not write it" in refused.stderr
    assert (mine / "0000-digit0.png").read_bytes() == b"the user's own file"
    assert not (mine / "0001-digit1.png").exists()  # refused before writing anything


def test_explain_json_says_why_a_file_is_refused_on_stderr(trained_model, mnist, tmp_path):
    from PIL import Image

    Image.fromarray(mnist.test.images[0].numpy()).save(tmp_path / "seven.png")
    (tmp_path / "notes.png").write_bytes(b"not an image")
    paths = [tmp_path / "seven.png", tmp_path / "notes.png", tmp_path / "gone.png"]
    result = cli("explain", trained_model, *paths, "--json")
    rows = json.loads(result.stdout)
    assert result.returncode == 1 and [r["path"] for r in rows] == [str(p) for p in paths]
    assert "error" not in rows[0] and rows[1]["error"] and rows[2]["error"]
    assert result.stderr == f"error: {rows[1]['error']}\nerror: {rows[2]['error']}\n"
    assert "not an image" in rows[1]["error"] and "no such file" in rows[2]["error"]


def test_onnx_engine_explains_by_occlusion(trained_model, mnist):
    pytest.importorskip("onnxruntime")
    onnx = Predictor.load(trained_model, engine="onnx")
    explanation = ex.explain(onnx, mnist.test.images[0].numpy())
    assert explanation.method.startswith("occlusion") and not explanation.gap
    torch_top = Predictor.load(trained_model).probs(mnist.test.images[:1].numpy())[0].argmax()
    assert explanation.top[0][0] == int(torch_top)
    assert explanation.maps[explanation.top[0][0]].shape == (28, 28)


def test_a_linear_model_folder_is_explained_exactly(tmp_path, mnist):
    torch.manual_seed(TEST_SEED)
    model = Linear().eval()
    predictor = Predictor(model, ModelInfo.describe(model))
    explanation = ex.explain(predictor, mnist.test.images[0].numpy())
    assert explanation.method.startswith("exact") and explanation.gap == {
        explanation.top[0][0]: 0.0,
        explanation.top[1][0]: 0.0,
    }
