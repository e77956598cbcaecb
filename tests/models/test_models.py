import pytest
import torch

from digitlab.models import MODELS, PixelSimilarity, build_model, model_name

pytestmark = pytest.mark.numeric  # float results compared with bounds: rerun under other kernels

EXAMPLE_CONFIGS = {
    "ensemble": {"members": [{"architecture": "cnn", "config": {}}] * 2},
    "imported": {"target": "tests.helpers.custom_models:TinyNet"},
}


@pytest.mark.parametrize("name", list(MODELS))
def test_model_contract(name):
    model = build_model(name, trust_code=True, **EXAMPLE_CONFIGS.get(name, {}))
    assert model(torch.rand(3, 1, 28, 28)).shape == (3, 10)
    assert model_name(model) == name
    assert type(build_model(name, trust_code=True, **model.config)) is type(model)


@pytest.mark.parametrize("name", ["baseline", "linear", "mlp", "cnn"])
@pytest.mark.parametrize("size", [(32, 32), (8, 8), (20, 36)])
def test_models_take_other_sizes_and_class_counts(name, size):
    classes = {"n_classes": 47} if name == "baseline" else {"n_out": 47}
    model = build_model(name, input_size=size, **classes)
    assert model(torch.rand(3, 1, *size)).shape == (3, 47)
    assert build_model(name, **model.config).config["input_size"] == list(size)


def test_mlp_without_relu_is_a_linear_function():
    net = build_model("mlp", relu=False)
    x, y = torch.rand(2, 1, 28, 28), torch.rand(2, 1, 28, 28)
    zero = torch.zeros(1, 1, 28, 28)
    # f(x + y) = f(x) + f(y) - f(0) holds for affine maps only
    torch.testing.assert_close(net(x + y), net(x) + net(y) - net(zero), atol=1e-4, rtol=1e-4)
    relu_net = build_model("mlp")
    assert not torch.allclose(relu_net(x + y), relu_net(x) + relu_net(y) - relu_net(zero), atol=1e-3)


def test_baseline_predicts_the_nearest_mean():
    images = torch.zeros(4, 1, 28, 28)
    images[2:] = 1.0
    model = PixelSimilarity(2).fit(images, torch.tensor([0, 0, 1, 1]))
    scores = model(torch.full((1, 1, 28, 28), 0.9))
    assert scores.argmax(1).item() == 1
    assert PixelSimilarity(2, "l2").fit(images, torch.tensor([0, 0, 1, 1]))(images).argmax(1).tolist() == [
        0,
        0,
        1,
        1,
    ]


def test_probabilities_for_ten_classes_and_for_one_binary_output():
    from digitlab.models import predict_probs, to_classes

    x = torch.rand(7, 1, 28, 28)
    probs = predict_probs(build_model("linear"), x, batch_size=3)
    assert probs.shape == (7, 10)
    torch.testing.assert_close(probs.sum(1), torch.ones(7))
    binary = predict_probs(build_model("linear", n_out=1), x)
    assert binary.shape == (7, 1) and ((0 < binary) & (binary < 1)).all()
    assert to_classes(torch.tensor([[0.2], [0.7]])).tolist() == [0, 1]
    assert to_classes(torch.tensor([[0.2, 0.5, 0.3]])).tolist() == [1]


def test_strided_stem_gives_the_same_shapes_with_fewer_activations():
    pooled, strided = build_model("cnn"), build_model("cnn", strided_stem=True)
    x = torch.rand(2, 1, 28, 28)
    assert strided(x).shape == pooled(x).shape == (2, 10)
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in list(strided)[:3])  # stage 1 steps instead
    assert strided.first_layer.stride == (2, 2) and pooled.first_layer.stride == (1, 1)
    assert build_model("cnn", **strided.config).config["strided_stem"] is True
    with pytest.raises(ValueError, match="strided_stem"):
        build_model("cnn", strided_stem="yes")
    assert not any(isinstance(m, torch.nn.Dropout) for m in build_model("cnn", dropout=0.0).modules())


def test_unit_images_scale_each_unit_by_its_own_largest_weight():
    from digitlab.models.layers import unit_images

    weight = torch.randn(5, 784) * torch.tensor([1.0, 10.0, 0.1, 3.0, 0.5])[:, None]
    scaled, peak = unit_images(weight, count=4)
    assert scaled.shape == (4, 28, 28)
    torch.testing.assert_close(peak, weight[:4].abs().amax(1))
    torch.testing.assert_close(scaled.abs().amax((1, 2)), torch.ones(4))
    assert unit_images(torch.randn(16, 1, 3, 3))[0].shape == (16, 3, 3)
