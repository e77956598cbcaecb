"""A model of the user's own class: the import path's form, its arguments, and where it is found."""

import sys

import pytest
import torch

from digitlab.models import UntrustedCode, build_model
from digitlab.models.imported import import_class, is_import_path, parse_model_args


@pytest.mark.parametrize(
    "name, ok",
    [
        ("mymodels:Net", True),
        ("pkg.sub.mod:Outer.Inner", True),
        ("_private:_Net", True),
        ("cnn", False),
        ("mymodels.Net", False),  # no colon: a module, not a class in it
        ("../mymodels.py:Net", False),  # a path is never followed
        ("/abs/mod:Net", False),
        ("mod:Net()", False),
        ("mod:Net;import os", False),
        ("mód:Net", False),  # ASCII names only: what is printed is what is imported
        ("mod:Net\x1b[2J", False),
        (":Net", False),
        ("mod:", False),
        ("a" * 300 + ":Net", False),
    ],
)
def test_an_import_path_is_a_dotted_name_and_a_class(name, ok):
    assert is_import_path(name) is ok


@pytest.mark.parametrize(
    "text, message",
    [
        ("[1]", "must be a JSON object"),
        ('{"a": 1', "is not JSON"),
        ('{"not a name": 1}', "is not a keyword argument's name"),
        ('{"x": "' + "y" * 70_000 + '"}', "is over 65,536 bytes"),
    ],
)
def test_model_args_are_a_json_object_of_keyword_arguments(text, message):
    with pytest.raises(ValueError, match=message):
        parse_model_args(text)
    assert parse_model_args('{"n_classes": 47, "width": 4}') == {"n_classes": 47, "width": 4}
    assert parse_model_args(None) == {}


def test_building_one_needs_trust(tmp_path):
    with pytest.raises(UntrustedCode, match="a class from outside digitlab"):
        build_model("imported", target="tests.helpers.custom_models:TinyNet")
    model = build_model("imported", trust_code=True, target="tests.helpers.custom_models:TinyNet",
                        args={"n_classes": 47}, input_size=(32, 32))  # fmt: skip
    assert model(torch.rand(2, 1, 32, 32)).shape == (2, 47)
    assert model.config["input_size"] == [32, 32]


def test_a_class_that_cannot_be_built_on_the_meta_device_still_builds():
    target = "tests.helpers.custom_models:ReadsANumberAtBuild"
    assert build_model("imported", trust_code=True, target=target).net.scale == 1.0


def test_the_current_folder_is_searched_first_and_left_as_it_was(tmp_path, monkeypatch):
    (tmp_path / "here_only.py").write_text("import torch\nclass Net(torch.nn.Linear):\n    pass\n")
    monkeypatch.chdir(tmp_path)
    path_before = list(sys.path)
    try:
        assert import_class("here_only:Net").__name__ == "Net"
    finally:
        sys.modules.pop("here_only", None)
    assert sys.path == path_before


def test_a_module_that_fails_to_import_is_one_line(tmp_path, monkeypatch):
    (tmp_path / "broken_mod.py").write_text("raise RuntimeError('no GPU here')\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"cannot import broken_mod \(RuntimeError: no GPU here\)"):
        import_class("broken_mod:Net")
