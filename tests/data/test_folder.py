import numpy as np
import pytest
from PIL import Image

from digitlab.data import load_source
from digitlab.data.folder import SkippedFileWarning, read_image_folder
from digitlab.errors import DigitlabError


def test_reads_formats_sizes_and_modes(mnist, tmp_path):
    digits = mnist.test.images[:6].numpy()
    labels = mnist.test.labels[:6].tolist()
    formats = ["png", "jpg", "bmp", "gif", "webp", "png"]
    for i, (img, label, fmt) in enumerate(zip(digits, labels, formats, strict=True)):
        folder = tmp_path / str(label)
        folder.mkdir(exist_ok=True)
        big = Image.fromarray(255 - img).resize((112, 140))  # dark ink on paper, another size
        image = big.convert("RGB") if i % 2 else big
        image.save(folder / f"{i}.{fmt}")
    images, got_labels = read_image_folder(tmp_path)
    assert images.shape == (6, 28, 28) and images.dtype == np.uint8
    assert sorted(got_labels.tolist()) == sorted(labels)
    assert all(im.max() == 255 and im[0, 0] == 0 for im in images)  # white ink on black, as MNIST


def test_skips_non_images_with_a_warning(mnist, tmp_path):
    (tmp_path / "3").mkdir()
    Image.fromarray(mnist.test.images[0].numpy()).save(tmp_path / "3" / "a.png")
    (tmp_path / "3" / "notes.txt").write_text("hello")
    (tmp_path / "3" / "broken.png").write_bytes(b"not really a png")
    with pytest.warns(SkippedFileWarning) as record:
        images, labels = read_image_folder(tmp_path)
    assert len(images) == 1 and labels.tolist() == [3]
    messages = " ".join(str(w.message) for w in record)
    assert "notes.txt" in messages and "broken.png" in messages


def test_folder_without_images_is_an_error(tmp_path):
    (tmp_path / "0").mkdir()
    with pytest.raises(DigitlabError, match="no images"):
        read_image_folder(tmp_path)


def test_load_source_detects_a_class_folder(mnist, tmp_path):
    (tmp_path / "7").mkdir()
    Image.fromarray(mnist.test.images[0].numpy()).save(tmp_path / "7" / "x.png")
    source = load_source(tmp_path)
    assert len(source.train) == 1 and source.test is None


def test_class_folders_beyond_nine_are_more_classes(mnist, tmp_path):
    """Subfolders named by class numbers (0..999) are those classes; with any other name among them
    (07, x) every folder is a named class, in sorted order."""
    for name in ("0", "12", "46"):
        (tmp_path / name).mkdir()
        Image.fromarray(mnist.test.images[0].numpy()).save(tmp_path / name / "a.png")
    source = load_source(tmp_path)
    assert sorted(source.train.labels.tolist()) == [0, 12, 46] and source.train.classes is None
    assert source.train.n_classes() == 47 and len(source.train.class_counts()) == 47
    for name in ("07", "x"):
        (tmp_path / name).mkdir()
        Image.fromarray(mnist.test.images[0].numpy()).save(tmp_path / name / "a.png")
    source = load_source(tmp_path)
    assert source.train.classes == ("0", "07", "12", "46", "x") and source.train.n_classes() == 5
    assert source.train.labels.tolist() == [0, 1, 2, 3, 4]


def test_a_folder_is_colour_when_an_image_is_and_grey_photos_saved_as_rgb_stay_grey(tmp_path):
    import os

    grey = np.full((28, 28, 3), 90, np.uint8)
    grey[..., 0] += 2  # JPEG-like rounding of a grey picture: channels two levels apart
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        Image.fromarray(grey).save(tmp_path / name / "rgb-but-grey.png")
        Image.fromarray(grey[..., 1]).save(tmp_path / name / "grey.png")
    os.mkfifo(tmp_path / "a" / "pipe.png")  # not a file: passed over, never waited on
    source = load_source(tmp_path)
    assert source.channels == 1 and source.train.images.shape == (4, 28, 28)
    red = np.zeros((28, 28, 3), np.uint8)
    red[4:10, 4:10, 0] = 255  # 36 of 784 pixels (4.6%) in colour: over the 1% that makes an image colour
    Image.fromarray(red).save(tmp_path / "b" / "red.png")
    source = load_source(tmp_path)
    assert source.channels == 3 and source.preprocessing == "as-is"
    assert source.train.images.shape == (5, 3, 28, 28) and (source.train.images[0] == 90).any()
    pictures = source.train.pictures()
    red_one = pictures[3]  # class a: grey.png, rgb-but-grey.png; class b: grey.png, red.png, ...
    assert pictures.shape == (5, 28, 28, 3) and (red_one[4:10, 4:10] == (255, 0, 0)).all()
