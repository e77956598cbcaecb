"""Named classes: folder names (any, Unicode too, sorted), train/valid/test layouts, classes.txt and
--classes for data whose labels are indices."""

import pytest
import torch

from digitlab.data import load_source
from digitlab.data.class_names import parse_classes, safe_folder_name
from digitlab.errors import DigitlabError
from tests.helpers import cli, csv_text, write_named_folders

NAMES = {1: "chat", 7: "größer", 0: "Zebra"}  # sorted: Zebra, chat, größer (code point order)


def test_folders_of_any_names_are_sorted_classes(mnist, tmp_path):
    write_named_folders(tmp_path, mnist.test.select(torch.arange(60)), NAMES)
    source = load_source(tmp_path)
    assert source.train.classes == ("Zebra", "chat", "größer") and source.train.n_classes() == 3
    labels = source.train.labels
    expected = [sum(mnist.test.labels[:60] == d).item() for d in (0, 1, 7)]
    assert torch.bincount(labels).tolist() == expected  # each folder's images under its index
    shown = cli("data", "info", tmp_path)
    assert shown.returncode == 0 and "(3 classes)" in shown.stdout
    assert [line.split()[1:3] for line in shown.stdout.splitlines() if "│ 2 " in line] == [["2", "│"]]
    assert "größer" in shown.stdout and "Zebra" in shown.stdout


def test_a_train_valid_test_layout_gives_each_split(mnist, tmp_path):
    for split, rows in (("train", range(0, 80)), ("valid", range(80, 100)), ("test", range(100, 130))):
        write_named_folders(tmp_path / split, mnist.test.select(torch.tensor(list(rows))), NAMES)
    source = load_source(tmp_path)
    assert [len(d) for d in (source.train, source.valid, source.test)] == [
        sum(mnist.test.labels[r.start : r.stop].unsqueeze(1) == torch.tensor([0, 1, 7])).sum().item()
        for r in (range(0, 80), range(80, 100), range(100, 130))
    ]
    assert source.valid.classes == source.test.classes == source.train.classes
    info = cli("data", "info", tmp_path)
    assert (
        f"split: train {len(source.train)} / valid {len(source.valid)} (the source's own valid/"
        in info.stdout
    )
    (tmp_path / "test" / "wolf").mkdir()
    moved = sorted((tmp_path / "test" / "chat").glob("*.png"))[0]
    moved.rename(tmp_path / "test" / "wolf" / moved.name)
    with pytest.raises(DigitlabError, match="wolf.*not among the classes"):
        load_source(tmp_path)


def test_classes_txt_beside_a_csv_or_classes_flag_names_the_labels(mnist, tmp_path):
    data = mnist.test.select(torch.arange(40))
    csv = tmp_path / "train.csv"
    csv.write_text(csv_text(data.images.numpy(), data.labels.numpy()))
    assert load_source(csv).train.classes is None and load_source(csv).train.n_classes() == 10
    names = [f"c{i}" for i in range(10)]
    (tmp_path / "classes.txt").write_text("\n".join(names) + "\n")
    assert load_source(csv).train.classes == tuple(names)
    assert (
        load_source(csv, parse_classes(",".join(reversed(names)))).train.classes[0] == "c9"
    )  # the flag wins
    (tmp_path / "classes.txt").write_text("a\nb\n")
    with pytest.raises(DigitlabError, match=r"classes.*labels up to 9, and 2 class names"):
        load_source(csv)
    (tmp_path / "classes.txt").write_text("a\na\n")
    with pytest.raises(DigitlabError, match=r"classes.txt: class name 'a' appears twice"):
        load_source(csv)
    result = cli("data", "info", csv, "--classes", "x,y")
    assert result.returncode == 1 and "2 class names" in result.stderr and result.stderr.count("\n") == 1


def test_classes_flag_orders_named_folders_but_cannot_rename_them(mnist, tmp_path):
    write_named_folders(tmp_path, mnist.test.select(torch.arange(40)), NAMES)
    assert load_source(tmp_path, ("größer", "chat", "Zebra")).train.classes == ("größer", "chat", "Zebra")
    with pytest.raises(DigitlabError, match="must list the class folders"):
        load_source(tmp_path, ("cat", "dog", "Zebra"))


def test_names_are_text_and_only_some_are_folder_names():
    assert parse_classes(" cat , dog") == ("cat", "dog")
    for bad in ("cat,", "a," + "x" * 101):
        with pytest.raises(DigitlabError, match="--classes"):
            parse_classes(bad)
    assert safe_folder_name("größer") and safe_folder_name("pets 2")
    assert not any(
        map(safe_folder_name, ["..", ".hidden", "a/b", "a\\b", "CON", "nul.txt", "x\n", "a:b", "end."])
    )


def test_data_show_titles_images_and_means_by_name(mnist, tmp_path, monkeypatch):
    from digitlab.report import figures

    write_named_folders(tmp_path / "data", mnist.test.select(torch.arange(40)), {**NAMES, 0: "$x$\x1b"})
    drawn = []
    real = figures.image_grid
    monkeypatch.setattr(
        figures,
        "image_grid",
        lambda images, titles=None, **kw: drawn.append(titles) or real(images, titles, **kw),
    )
    assert (
        cli("data", "show", tmp_path / "data", "--out", tmp_path / "g.png", "--count", "40").returncode == 0
    )
    assert cli("data", "show", tmp_path / "data", "--out", tmp_path / "m.png", "--means").returncode == 0
    assert set(drawn[0]) == {"$x$\x1b", "chat", "größer"}
    assert drawn[1] == ["mean $x$\x1b", "mean chat", "mean größer"]  # the grid shows them as text
