import json

import numpy as np
import pytest

from digitlab.errors import DigitlabError
from digitlab.inference.evaluation import score
from digitlab.inference.predictor import Predictor
from digitlab.inference.submission import check_submission
from tests.helpers import PageParts, cli, csv_text


def test_score_on_a_hand_made_case():
    import torch

    probs = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    targets = torch.tensor([0, 1, 1, 1])
    result = score(probs, targets, "test")
    assert result.accuracy == 0.75 and result.confusion == [[1, 0], [1, 2]]
    assert result.recall == [1.0, pytest.approx(2 / 3)] and result.precision == [0.5, 1.0]
    assert result.top_losses == [
        {"index": 2, "label": 1, "predicted": 0, "probability": 0.6, "loss": round(float(-np.log(0.4)), 4)}
    ]


def test_evaluate_json_and_report_agree(trained_model, mini_mnist_dir, tmp_path):
    report = tmp_path / "eval.html"
    result = cli(
        "evaluate", str(trained_model), "--data", str(mini_mnist_dir), "--json", "--report", str(report)
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["split"] == "test" and data["n"] == 2000 and 0.9 < data["accuracy"] <= 1
    assert set(data["per_class"]) == {str(d) for d in range(10)}
    assert sum(map(sum, data["confusion"])) == 2000
    page = PageParts(report.read_text())
    text = page.text
    assert f"accuracy {data['accuracy']:.4f} on 2,000 test images" in text
    for d in range(10):
        assert f"{data['per_class'][str(d)]:.4f}" in text and f"{data['precision'][str(d)]:.4f}" in text
    assert page.images
    for image in page.images:
        image.load()
    pairs = data["most_confused"]
    assert pairs and all(p["actual"] != p["predicted"] for p in pairs)
    assert [p["count"] for p in pairs] == sorted((p["count"] for p in pairs), reverse=True)
    assert pairs[0]["count"] == max(
        n for a, row in enumerate(data["confusion"]) for p, n in enumerate(row) if a != p
    )
    assert "the most confused pairs" in text and "Why the top losses went wrong" in text
    reasons = min(6, len(data["top_losses"]))
    first = data["top_losses"][0]
    assert f"image {first['index']}: labelled {first['label']}, predicted {first['predicted']}" in text
    assert len(page.images) == len(data["top_losses"]) + reasons  # the gallery, then a figure per reason


def test_evaluate_prints_the_confusion_matrix_and_the_most_confused_pairs(trained_model, mini_mnist_dir):
    as_json = json.loads(cli("evaluate", trained_model, "--data", mini_mnist_dir, "--json").stdout)
    text = cli("evaluate", trained_model, "--data", mini_mnist_dir).stdout
    rows = text[text.index("confusion matrix") :].splitlines()[2:12]
    assert [[int(n) for n in row.split()[1:]] for row in rows] == as_json["confusion"]
    a, p, n = (as_json["most_confused"][0][k] for k in ("actual", "predicted", "count"))
    assert f"most confused: {a} taken for {p}: {n}" in text


def test_training_report_numbers_match_the_model_json(trained_model):
    info = json.loads((trained_model / "model.json").read_text())
    page = PageParts((trained_model / "report.html").read_text())
    text = page.text
    assert f"accuracy {info['metrics']['test_accuracy']:.4f}" in text
    assert info["data_fingerprint"] in text
    for row in info["history"]:
        assert f"{row['valid_loss']:.4f}" in text and f"{row['accuracy']:.4f}" in text
    assert len(page.images) >= 5


def test_submission_round_trip(trained_model, mnist, tmp_path):
    images = mnist.test.images[:50].numpy()
    test_csv = tmp_path / "test.csv"
    test_csv.write_text(csv_text(images, None))
    out = tmp_path / "submission.csv"
    result = cli("submit", str(trained_model), "--test", str(test_csv), "--out", str(out))
    assert result.returncode == 0, result.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "ImageId,Label" and len(lines) == 51
    expected = Predictor.load(trained_model).probs(images).argmax(1).tolist()
    assert [int(line.split(",")[1]) for line in lines[1:]] == expected
    assert [line.split(",")[0] for line in lines[1:]] == [str(i) for i in range(1, 51)]
    check = cli("submit", "--check", str(out), "--test", str(test_csv))
    assert check.returncode == 0 and "50 valid rows" in check.stdout


@pytest.mark.parametrize(
    "content, message",
    [
        ("Id,Label\n", "header must be"),
        ("ImageId,Label\n1,3\n", "1 rows, but"),
        ("ImageId,Label\n1,3\n3,4\n", "should be 2"),
        ("ImageId,Label\n1,3\n2,x\n", "'x' is not an integer 0..9"),
        ("ImageId,Label\n1,3\n2,10\n", "'10' is not an integer 0..9"),
    ],
)
def test_check_rejects_bad_submissions(mnist, tmp_path, content, message):
    test_csv = tmp_path / "test.csv"
    test_csv.write_text(csv_text(mnist.test.images[:2].numpy(), None))
    sub = tmp_path / "sub.csv"
    sub.write_text(content)
    with pytest.raises(DigitlabError, match=message):
        check_submission(sub, test_csv)
    result = cli("submit", "--check", str(sub), "--test", str(test_csv))
    assert result.returncode == 1 and result.stderr.count("\n") == 1


def test_submit_validates_the_test_csv(trained_model, tmp_path):
    bad = tmp_path / "test.csv"
    bad.write_text(",".join(f"pixel{i}" for i in range(784)) + "\n" + ",".join(["300"] * 784) + "\n")
    result = cli("submit", str(trained_model), "--test", str(bad), "--out", str(tmp_path / "s.csv"))
    assert result.returncode == 1 and "row 1 (line 2), column pixel0: 300" in result.stderr
    assert not (tmp_path / "s.csv").exists()


def test_check_refuses_pipes_devices_and_oversized_files_without_reading(tmp_path, mnist):
    import os

    test_csv = tmp_path / "test.csv"
    test_csv.write_text(csv_text(mnist.test.images[:3].numpy(), None))
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    huge = tmp_path / "huge.csv"
    with open(huge, "wb") as f:
        f.truncate(1 << 30)  # sparse: 1 GB declared
    for path, message in ((fifo, "is not a regular file"), ("/dev/zero", "is not a regular file"),
                          (huge, "more than a submission needs")):  # fmt: skip
        result = cli("submit", "--check", path, "--test", test_csv)
        assert result.returncode == 1 and message in result.stderr and result.stderr.count("\n") == 1
