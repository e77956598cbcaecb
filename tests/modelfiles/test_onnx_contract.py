"""The ONNX file is enough to reproduce digitlab's answers: inputs made from its metadata's `input_spec`
alone, by the small implementation below (PIL and numpy, nothing of digitlab's preprocessing), give
ONNX Runtime the pixels digitlab's own predict gives PyTorch, and the same probabilities."""

import json

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image, ImageDraw

from tests.helpers import cli, make_block_classes, write_named_folders

ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")

# ONNX Runtime and PyTorch run the same float32 graph with other kernels: export refuses a file whose
# probabilities differ by more than 1e-4 (onnx_engine.MAX_PROB_DIFF), and predict rounds to 6 places.
PROB_TOLERANCE = 1e-4 + 5e-7


def border(x: np.ndarray) -> np.ndarray:
    return np.concatenate([x[0], x[-1], x[:, 0], x[:, -1]])


def resized(x: np.ndarray, height: int, width: int, resample: Image.Resampling) -> np.ndarray:
    return np.asarray(Image.fromarray(x, mode="F").resize((width, height), resample), np.float32)


def scaled_sides(x: np.ndarray, longest: int) -> tuple[int, int]:
    scale = longest / max(x.shape)
    return max(1, round(x.shape[0] * scale)), max(1, round(x.shape[1] * scale))


def opened(path, modes: tuple[str, ...]) -> Image.Image:
    """A file made here: under 1024 px a side and without EXIF, so decode and reduce leave it as it is."""
    image = Image.open(path)
    assert max(image.size) < 1024 and image.mode in modes, (image.size, image.mode)
    return image


def grey(path) -> np.ndarray:
    """The grey step for the opaque RGB or grey (L) files made here."""
    return np.asarray(opened(path, ("RGB", "L")).convert("L"), np.float32) / 255


def rgb(path, spec: dict) -> np.ndarray:
    """The rgb step (H,W,3) for the files made here: grey (L), transparent (RGBA) and opaque RGB ones."""
    image, (step,) = opened(path, ("RGB", "L", "RGBA")), [s for s in spec["steps"] if s["step"] == "rgb"]
    if image.mode in step["grey_modes"]:
        return np.repeat(grey(path)[..., None], 3, axis=-1)
    if image.mode != "RGBA":
        return np.asarray(image.convert("RGB"), np.float32) / 255
    rgba = np.asarray(image, np.float32) / 255
    alpha, opaque = rgba[..., 3:], rgba[..., 3] > 0.5
    luma = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)
    paper = 1.0 if opaque.any() and luma[opaque].mean() < 0.5 else 0.0
    return np.asarray(rgba[..., :3] * alpha + paper * (1 - alpha), np.float32)


def mnist_style(x: np.ndarray, spec: dict) -> np.ndarray | None:
    """The spec's MNIST-style steps, in its order, with its numbers; None when the image is blank."""
    step = {s["step"]: s for s in spec["steps"]}
    if max(x.shape) > step["shrink"]["max_side"]:
        x = resized(x, *scaled_sides(x, step["shrink"]["max_side"]), Image.Resampling.BOX)
    noise = np.abs(np.diff(border(x))).mean()
    if min(x.shape) >= step["denoise"]["min_side"] and noise > step["denoise"]["border_noise"]:
        windows = sliding_window_view(np.pad(x, 1, mode="edge"), (3, 3))
        x = np.median(windows, axis=(-2, -1)).astype(np.float32)
    if np.median(border(x)) > 0.5:
        x = 1 - x
    ink = step["ink"]
    paper, top = np.median(border(x)), np.quantile(x, ink["top_quantile"])
    if top - paper < ink["min_contrast"]:
        return None
    x = np.clip((x - paper) / (top - paper), 0, 1).astype(np.float32)
    x[x < ink["floor"]] = 0
    if np.count_nonzero(x) < max(2, ink["min_ink_fraction"] * x.size):
        return None
    rows, cols = np.flatnonzero(x.any(1)), np.flatnonzero(x.any(0))
    x = x[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    x = np.clip(resized(x, *scaled_sides(x, step["fit"]["box"]), Image.Resampling.LANCZOS), 0, None)
    (height, width), (h, w) = step["centre"]["frame"], x.shape
    cy, cx = (x.sum(1) @ np.arange(h)) / x.sum(), (x.sum(0) @ np.arange(w)) / x.sum()
    top_row = int(np.clip(round(height / 2 - cy), 0, height - h))
    left = int(np.clip(round(width / 2 - cx), 0, width - w))
    frame = np.zeros((height, width), np.float32)
    frame[top_row : top_row + h, left : left + w] = x
    return np.round(frame / frame.max() * 255).astype(np.uint8)


def as_is(x: np.ndarray, spec: dict) -> np.ndarray:
    """A colour (H,W,3) image's resize and uint8 steps, channel by channel on floats."""
    height, width = spec["size"]
    planes = [
        resized(np.ascontiguousarray(p), height, width, Image.Resampling.BILINEAR)
        for p in x.transpose(2, 0, 1)
    ]
    return np.round(np.clip(np.stack(planes, -1), 0, 1) * 255).astype(np.uint8)


def as_is_grey(path, spec: dict) -> np.ndarray:
    """A grey model's uint8 and resize steps: the opaque RGB or L files made here in Pillow's 8 bits."""
    image, (step,) = opened(path, ("RGB", "L")), [s for s in spec["steps"] if s["step"] == "uint8"]
    assert image.mode in step["eight_bit_modes"]
    height, width = spec["size"]
    return np.asarray(image.convert("L").resize((width, height), Image.Resampling.BILINEAR))


STEPS = {  # the steps this implementation follows, in order, by (preprocessing, channels)
    ("mnist", 1): [
        "decode",
        "reduce",
        "grey",
        "shrink",
        "denoise",
        "polarity",
        "ink",
        "crop",
        "fit",
        "centre",
        "uint8",
    ],
    ("as-is", 1): ["decode", "reduce", "grey", "uint8", "resize"],
    ("as-is", 3): ["decode", "reduce", "rgb", "resize", "uint8"],
}


def inputs_from_spec(path, spec: dict) -> np.ndarray | None:
    """The uint8 (H,W) or (H,W,3) image the spec makes of the file, or None for a blank one."""
    assert spec["version"] == 1  # the description this implementation follows
    assert [s["step"] for s in spec["steps"]] == STEPS[spec["preprocessing"], spec["channels"]]
    if spec["channels"] == 3:
        return as_is(rgb(path, spec), spec)
    return mnist_style(grey(path), spec) if spec["preprocessing"] == "mnist" else as_is_grey(path, spec)


def model_input(ours: np.ndarray, spec: dict) -> np.ndarray:
    """The spec's layout: (H,W) is image[0, 0]; (H,W,3) channels last is transposed to image[0, c]."""
    planes = ours[None] if spec["channels"] == 1 else ours.transpose(2, 0, 1)
    return planes[None].astype(np.float32) * np.float32(spec["pixel_scale"])


def drawings(folder) -> list:
    """Digit-like pictures as people hand them over: dark ink on paper, a photo too large for the
    working size, a noisy scan (the median step), white on black, and a blank page."""
    rng = np.random.default_rng(0)
    folder.mkdir()
    pictures = {"paper": (90, 60, 255, 20), "large": (700, 520, 235, 40), "black": (40, 40, 0, 250)}
    for name, (h, w, paper, ink) in pictures.items():
        image = Image.new("RGB", (w, h), (paper, paper, paper))
        ImageDraw.Draw(image).line([(w * 0.2, h * 0.15), (w * 0.8, h * 0.15), (w * 0.45, h * 0.85)],
                                   fill=(ink, ink // 2, ink), width=max(2, w // 9))  # fmt: skip
        image.save(folder / f"{name}.png")
    scan = np.full((120, 100), 200.0) + rng.normal(0, 20, (120, 100))
    scan[20:100, 45:58] = 40
    Image.fromarray(np.clip(scan, 0, 255).astype(np.uint8)).convert("RGB").save(folder / "scan.png")
    Image.new("RGB", (50, 50), (128, 128, 128)).save(folder / "blank.png")
    return sorted(folder.iterdir())


def tinted(block: np.ndarray) -> np.ndarray:
    """A grey (H,W) block picture in colour (H,W,3): each channel another function of the grey."""
    return np.stack([block, block // 2, 255 - block], axis=-1)


def photos(folder) -> list:
    """Block-class pictures of other sizes, in colour: the as-is model resizes them."""
    folder.mkdir()
    blocks = make_block_classes(2, classes=4, seed=9).images.numpy()
    for i, (block, size) in enumerate(zip(blocks, [(50, 37), (28, 28), (90, 120), (33, 61)], strict=False)):
        Image.fromarray(tinted(block)).resize(size, Image.Resampling.NEAREST).save(folder / f"{i}.png")
    return sorted(folder.iterdir())


def colour_photos(folder) -> list:
    """The photos, and two of the rgb step's other cases: a grey picture (L) and a half-transparent one."""
    files = photos(folder)
    block = make_block_classes(1, classes=4, seed=5).images.numpy()[0]
    Image.fromarray(block).resize((40, 30)).save(folder / "grey.png")
    alpha = np.where(np.arange(28) < 14, 255, 60).astype(np.uint8)[None].repeat(28, 0)
    Image.fromarray(np.dstack([tinted(block), alpha]), mode="RGBA").save(folder / "clear.png")
    return [*files, folder / "grey.png", folder / "clear.png"]


@pytest.fixture(scope="module")
def as_is_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("as-is")
    write_named_folders(root / "blocks", make_block_classes(40, classes=4), {0: "a", 1: "b", 2: "c", 3: "d"})
    flags = ["--model", "linear", "--epochs", "2", "--valid-fraction", "0.25"]
    result = cli("train", "--data", root / "blocks", *flags, "--out", root / "model")
    assert result.returncode == 0, result.stderr
    return root / "model"


@pytest.fixture(scope="module")
def colour_model(tmp_path_factory):
    """A colour (3-channel, as-is) model of the block classes in colour."""
    root = tmp_path_factory.mktemp("colour")
    blocks = make_block_classes(40, classes=4, seed=3)
    for i, (block, label) in enumerate(zip(blocks.images.numpy(), blocks.labels.tolist(), strict=True)):
        (root / "blocks" / "abcd"[label]).mkdir(parents=True, exist_ok=True)
        Image.fromarray(tinted(block)).save(root / "blocks" / "abcd"[label] / f"{i}.png")
    flags = ["--model", "linear", "--epochs", "2", "--valid-fraction", "0.25"]
    result = cli("train", "--data", root / "blocks", *flags, "--out", root / "model")
    assert result.returncode == 0, result.stderr
    return root / "model"


@pytest.mark.numeric
@pytest.mark.parametrize("kind", ["mnist", "as-is", "colour"])
def test_inputs_made_from_the_metadata_alone_give_pytorch_s_answers(
    kind, trained_model, as_is_model, colour_model, tmp_path
):
    import digitlab

    models = {"mnist": (trained_model, drawings), "as-is": (as_is_model, photos)}
    model, files = models[kind] if kind in models else (colour_model, colour_photos)
    result = cli("export", model, "--out", tmp_path / "m.onnx")
    assert result.returncode == 0, result.stderr
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    spec = json.loads(meta["input_spec"])
    loaded = digitlab.load(model)
    assert (
        spec["preprocessing"]
        == loaded.predictor.info.preprocessing
        == ("mnist" if kind == "mnist" else "as-is")
    )
    assert spec["channels"] == loaded.predictor.channels == (3 if kind == "colour" else 1)
    assert ("MNIST style" in meta["input"]) == (kind == "mnist")  # said only of a model trained so
    assert spec["classes"] == loaded.predictor.info.classes
    assert spec["in_graph"]["normalize"]["mean"] == loaded.predictor.info.normalization["mean"]
    blanks = 0
    for path in files(tmp_path / "images"):
        ours, theirs = inputs_from_spec(path, spec), loaded.predict(path)[0]
        if ours is None:
            blanks += 1
            assert theirs.digit is None, path
            continue
        np.testing.assert_array_equal(ours, theirs.input, err_msg=str(path))
        (probs,) = session.run(["probs"], {"image": model_input(ours, spec)})
        assert np.abs(probs[0] - np.array(theirs.probs)).max() <= PROB_TOLERANCE, path
    assert blanks == (1 if kind == "mnist" else 0)  # the blank page, and only it
