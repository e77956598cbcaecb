import json

import numpy as np
import pytest
import torch
from bench.robustness import rendered_sets
from PIL import Image, ImageFilter

from digitlab.data.images import median3, to_mnist
from digitlab.inference.predictor import Predictor
from tests.helpers import cli

N_RENDERED = 100


def test_preprocessing_gives_back_the_mnist_digit_from_photos_and_canvases(mnist):
    """Large, off-centre, on noisy paper or a transparent canvas: `to_mnist` undoes all of it.

    A property of the preprocessing alone (Pillow and numpy, no model, no kernel-dependent rounding):
    the 28x28 image it makes correlates with the MNIST digit it was rendered from. Measured on these
    100 digits: median 0.982 (photo) and 0.985 (canvas), 97-99% above 0.8; what differs is
    resampling twice and JPEG noise. A broken step (no centring, wrong scale, inverted ink) gives
    medians near 0. Another pen cannot be undone: its stroke is measured against MNIST's instead.
    How models cope with other pens is measured in BENCHMARKS.md ("Handwriting unlike MNIST's").
    """
    images = mnist.test.images[-N_RENDERED:].numpy()
    sets = rendered_sets(images)
    for kind, rendered in sets.items():
        prepared = np.stack([to_mnist(image, kind) for image in rendered]).astype(np.float32)
        original = images.astype(np.float32)
        if kind in ("photo", "canvas"):
            corr = np.array(
                [np.corrcoef(p.ravel(), o.ravel())[0, 1] for p, o in zip(prepared, original, strict=True)]
            )
            assert np.median(corr) > 0.95 and (corr > 0.8).mean() > 0.9, (kind, np.median(corr))
        else:  # a marker or a fine pen: ink area against MNIST's (measured medians 1.45 and 0.36, least 0.11)
            ink = (prepared > 127).sum((1, 2)) / np.maximum(1, (original > 127).sum((1, 2)))
            low, high = (1.2, 2.0) if kind == "thick" else (0.1, 0.7)
            assert low < np.median(ink) < high and (ink > 0.05).all(), (kind, np.median(ink))


@pytest.mark.parametrize("shape", [(1, 1), (2, 7), (31, 17), (64, 64)])
def test_median3_is_pils_median_filter(shape):
    gray = np.random.default_rng(sum(shape)).random(shape, dtype=np.float32)
    gray[: shape[0] // 2] = 0.5  # ties too
    pil = np.asarray(Image.fromarray(gray, mode="F").filter(ImageFilter.MedianFilter(3)), np.float32)
    np.testing.assert_array_equal(median3(gray), pil)


def test_rendered_sets_are_reproducible_and_change_the_pen():
    digit = np.zeros((28, 28), np.uint8)
    digit[6:22, 12:16] = 255
    a, b = rendered_sets(digit[None], seed=4), rendered_sets(digit[None], seed=4)
    assert all(np.array_equal(np.asarray(a[k][0]), np.asarray(b[k][0])) for k in a)

    def ink_width(image):  # the stroke's width relative to the digit's height, whatever size it was drawn at
        ink = np.asarray(image)[..., 3] > 127
        rows = np.flatnonzero(ink.any(1))
        return ink.sum() / (rows[-1] - rows[0] + 1) ** 2

    width = {k: ink_width(v[0]) / ink_width(a["canvas"][0]) for k, v in a.items() if k != "photo"}
    assert width["thick"] > 1.2 and width["thin"] < 0.8, width


@pytest.mark.numeric
@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P", "I;16"])
def test_image_modes(trained_model, mnist, tmp_path, mode):
    digit = 255 - mnist.test.images[0].numpy()  # a 7, dark on light
    image = Image.fromarray(digit).resize((84, 84))
    if mode == "I;16":
        image = Image.fromarray(np.asarray(image, np.uint16) * 257)
    else:
        image = image.convert(mode)
    path = tmp_path / "seven.png"
    image.save(path)
    assert Predictor.load(trained_model).predict_file(path).digit == 7


def test_blank_images_give_no_digit(trained_model):
    predictor = Predictor.load(trained_model)
    for image in (
        Image.new("L", (200, 200), 255),
        Image.new("RGBA", (64, 64), (0, 0, 0, 0)),
        Image.fromarray(np.random.default_rng(0).normal(240, 3, (100, 100)).astype(np.uint8)),
    ):
        result = predictor.predict_image(image)
        assert result.digit is None and result.confidence is None


def test_exif_orientation_is_applied(trained_model, mnist, tmp_path):
    digit = Image.fromarray(255 - mnist.test.images[0].numpy()).resize((112, 112)).rotate(-90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 8  # "rotate 90 CW to view": undoes the -90 above
    path = tmp_path / "photo.jpg"
    digit.convert("RGB").save(path, exif=exif, quality=95)
    assert Predictor.load(trained_model).predict_file(path).digit == 7


def test_predict_cli_json_order_bad_files_and_saved_inputs(trained_model, mnist, tmp_path):
    folder = tmp_path / "digits"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(mnist.test.images[i].numpy()).save(folder / f"{i}.png")
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.png").write_text("not an image")
    (tmp_path / "cut.png").write_bytes((folder / "0.png").read_bytes()[:60])
    Image.new("L", (50, 50), 255).save(tmp_path / "blank.png")
    (tmp_path / "nothing").mkdir()
    args = [
        str(tmp_path / "blank.png"),
        str(folder),
        str(tmp_path / "empty.png"),
        str(tmp_path / "notes.png"),
        str(tmp_path / "cut.png"),
        str(tmp_path / "nothing"),
    ]
    result = cli("predict", str(trained_model), *args, "--json", "--save-inputs", str(tmp_path / "seen"))
    assert result.returncode == 1
    items = json.loads(result.stdout)
    assert [i["path"] for i in items[:4]] == [args[0]] + [str(folder / f"{i}.png") for i in range(3)]
    assert items[0]["digit"] is None
    assert [i["digit"] for i in items[1:4]] == mnist.test.labels[:3].tolist()
    assert all(len(i["probs"]) == 10 and abs(sum(i["probs"]) - 1) < 1e-4 for i in items[1:4])
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 4 and all(e.startswith("error: ") for e in errors)
    assert (
        "empty file" in errors[0] and "not an image digitlab reads" in errors[1] and "no images" in errors[3]
    )
    assert len(list((tmp_path / "seen").glob("*.png"))) == 4
    again = cli("predict", str(trained_model), *args, "--json", "--save-inputs", str(tmp_path / "seen"))
    assert again.stdout == result.stdout  # its own earlier files are replaced
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "0001-1.png").write_bytes(b"the user's own file")
    refused = cli("predict", str(trained_model), str(folder), "--save-inputs", str(tmp_path / "mine"))
    assert refused.returncode == 1 and "did not write it" in refused.stderr
    assert (tmp_path / "mine" / "0001-1.png").read_bytes() == b"the user's own file"
    assert not (tmp_path / "mine" / "0000-0.png").exists()  # refused before writing the batch


def test_predict_cli_text_output(trained_model, mnist, tmp_path):
    Image.fromarray(mnist.test.images[1].numpy()).save(tmp_path / "two.png")
    result = cli("predict", trained_model, tmp_path / "two.png")
    assert result.returncode == 0 and result.stdout.startswith(f"{tmp_path / 'two.png'}: 2 (")


def test_folders_nested_past_the_recursion_limit_are_walked(trained_model, mnist, tmp_path):
    """predict and explain walk folders with a list of their own, not Python's stack (os.walk's in 3.11)."""
    import sys

    levels = [tmp_path.joinpath(*["d"] * n) for n in range(1, sys.getrecursionlimit() + 100)]
    for level in levels:  # (os.makedirs and shutil.rmtree recurse too)
        level.mkdir()
    deep = levels[-1]
    Image.fromarray(mnist.test.images[1].numpy()).save(deep / "two.png")
    (tmp_path / "d" / "loop").symlink_to(tmp_path)  # a link to a folder is not followed: no loop
    try:
        result = cli("predict", trained_model, tmp_path, "--jsonl")
        assert result.returncode == 0, result.stderr
        assert [json.loads(line)["path"] for line in result.stdout.splitlines()] == [str(deep / "two.png")]
        result = cli("explain", trained_model, tmp_path, "--json")
        assert result.returncode == 0 and json.loads(result.stdout)[0]["digit"] == 2
    finally:  # pytest's clean-up of old temp folders would meet the recursion limit
        (deep / "two.png").unlink()
        (tmp_path / "d" / "loop").unlink()
        for level in reversed(levels):
            level.rmdir()


def test_huge_images_are_refused_before_decoding(tmp_path, trained_model):
    path = tmp_path / "huge.png"
    Image.new("1", (9000, 9000)).save(path)  # tiny file, 81 megapixels
    result = Predictor.load(trained_model).predict_file(path)
    assert "over the limits (40,000,000 pixels" in result.error
    tall = tmp_path / "tall.png"
    Image.new("L", (1, 400_000), 255).save(tall)  # few pixels, but 400,000 rows to point at
    assert "16,384 a side" in Predictor.load(trained_model).predict_file(tall).error


def _float_tiff(path, values):
    Image.fromarray(values.astype(np.float32), mode="F").save(path)


def test_nan_pixels_fail_that_file_only_and_float_images_in_0_1_work(trained_model, mnist, tmp_path):
    digit = mnist.test.images[0].numpy().astype(np.float32) / 255  # a 7, as floats in [0, 1]
    _float_tiff(tmp_path / "a-unit.tiff", digit)
    _float_tiff(tmp_path / "b-bytes.tiff", digit * 255)
    nan = digit.copy()
    nan[3, 3] = np.nan
    _float_tiff(tmp_path / "c-nan.tiff", nan)
    result = cli("predict", trained_model, tmp_path / "a-unit.tiff", tmp_path / "b-bytes.tiff",
                 tmp_path / "c-nan.tiff", "--json")  # fmt: skip
    assert result.returncode == 1
    items = json.loads(result.stdout)  # strict JSON: no NaN anywhere
    assert [i.get("digit") for i in items[:2]] == [7, 7]
    assert "NaN or infinite" in items[2]["error"] and "c-nan.tiff" in items[2]["error"]
    assert result.stderr.count("\n") == 1 and "c-nan.tiff" in result.stderr


def test_predictor_probs_match_the_model(trained_model, mnist):
    predictor = Predictor.load(trained_model)
    images = mnist.test.images[:5]
    expected = predictor.model(images.unsqueeze(1).float() / 255).softmax(1)
    torch.testing.assert_close(predictor.probs(images), expected)


def test_channels_last_gives_the_same_answers(trained_model, mnist):
    """A loaded predictor's model runs channels last (faster on the CPU); against the model as built,
    the same classes, and probabilities apart by float32 rounding only."""
    from digitlab.modelfiles.model_file import load_model

    predictor = Predictor.load(trained_model)
    assert next(predictor.model.parameters()).is_contiguous(memory_format=torch.channels_last)
    as_built, _ = load_model(trained_model)
    images = mnist.test.images[:1000]
    with torch.no_grad():
        expected = as_built(images.unsqueeze(1).float() / 255).softmax(1)
    probs = predictor.probs(images)
    # the largest difference measured was 4.2e-7 (fast preset, 10,000 test digits, AVX-512 and
    # ATEN_CPU_CAPABILITY=default): a few float32 roundings of sums of at most 432 products
    torch.testing.assert_close(probs, expected, atol=2e-6, rtol=0)
    # the same answer wherever the two likeliest classes are further apart than that rounding allows
    first, second = expected.topk(2, dim=1).values.T
    clear = first - second > 4e-6
    assert clear.any() and torch.equal(probs.argmax(1)[clear], expected.argmax(1)[clear])


@pytest.mark.parametrize("mode, suffix", [("RGB", "jpg"), ("RGBA", "png"), ("P", "png")])
def test_large_images_keep_their_exif_orientation(tmp_path, mode, suffix):
    """Big images are reduced before the EXIF rotation: every reduction path must carry it along."""
    from digitlab.data.decode import open_image, to_grayscale

    image = Image.new(mode, (3000, 1000))
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90 degrees": a phone held upright
    path = tmp_path / f"photo.{suffix}"
    image.save(path, exif=exif.tobytes())
    height, width = to_grayscale(open_image(path)).shape
    assert height > width  # portrait after the rotation, as the photo was taken


def test_many_files_stream_in_batches_and_every_output_form_agrees(
    trained_model, mnist, tmp_path, monkeypatch
):
    """300 files: two model calls of at most 256 images, and the answers of one file at a time."""
    import csv
    import io

    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(300):
        Image.fromarray(mnist.test.images[i].numpy()).save(folder / f"{i:03d}.png")
    (folder / "broken.png").write_bytes(b"not a png")
    calls, probs = [], Predictor.probs

    def counted(self, images):
        calls.append(len(images))
        return probs(self, images)

    monkeypatch.setattr(Predictor, "probs", counted)
    lines = cli("predict", trained_model, folder, "--jsonl")
    assert lines.returncode == 1 and "broken.png" in lines.stderr  # the bad file fails alone
    assert calls == [256, 44]
    rows = [json.loads(line) for line in lines.stdout.splitlines()]
    as_json = json.loads(cli("predict", trained_model, folder, "--json").stdout)
    assert rows == as_json and len(rows) == 301 and "error" in rows[-1]
    table = list(csv.DictReader(io.StringIO(cli("predict", trained_model, folder, "--csv").stdout)))
    assert [r["path"] for r in table] == [r["path"] for r in rows[:300]]
    assert [int(r["digit"]) for r in table] == [r["digit"] for r in rows[:300]]
    alone = Predictor.load(trained_model)
    for row in rows[:5]:  # batched or alone, the same answer
        assert alone.predict_file(row["path"]).digit == row["digit"]
    assert cli("predict", trained_model, folder, "--json", "--csv").returncode == 2


@pytest.mark.parametrize("q", [0.0, 0.5, 0.999, 1.0])
@pytest.mark.parametrize("n", [1, 2, 220, 3136])
def test_quantile_is_numpys(q, n):
    """The partial-sort quantile `to_mnist` uses against numpy's (its default, linear rule): the same
    value up to float32 rounding of numpy's result (values in [0,1]: 6e-8)."""
    from digitlab.data.images import quantile

    values = np.random.default_rng(n).random(n, dtype=np.float32)
    assert quantile(values, q) == pytest.approx(float(np.quantile(values, q)), abs=1e-7)
