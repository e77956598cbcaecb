"""The report's SVG charts: well-formed, every finite point placed, nothing from outside as markup."""

import math
import xml.etree.ElementTree as ET

from digitlab.report.charts import line_chart, loss_charts

SVG = "{http://www.w3.org/2000/svg}"


def test_a_chart_is_well_formed_svg_with_a_line_per_series():
    svg = line_chart({"a": ([1, 2, 3], [3.0, 2.0, 1.0]), "<b>": ([1, 2], [0.5, math.nan])}, "x", "y")
    root = ET.fromstring(svg)
    lines = root.findall(f"{SVG}polyline")
    assert len(lines) == 2 and len(lines[0].get("points").split()) == 3
    assert len(lines[1].get("points").split()) == 1  # NaN is left out, not drawn at 0
    assert "&lt;b&gt;" in svg and "<b>" not in svg


def test_a_log_scale_drops_what_it_cannot_place_and_labels_in_the_data_units():
    svg = line_chart({"loss": ([1, 2, 3], [1.0, 0.0, 0.01])}, "batch", "loss", log_y=True)
    root = ET.fromstring(svg)
    assert len(root.find(f"{SVG}polyline").get("points").split()) == 2  # 0 has no logarithm
    assert ">0.01<" in svg and ">1<" in svg


def test_the_report_charts_show_every_batch_and_epoch():
    history = {"batch_loss": [2.0, 1.0, 0.5, 0.4], "valid_loss": [0.9, 0.45], "accuracy": [0.8, 0.9],
               "train_loss": [1.5, 0.45], "lr": [0.1] * 4}  # fmt: skip
    (losses, _), (metrics, _) = loss_charts(history)
    assert [len(p.get("points").split()) for p in ET.fromstring(losses).findall(f"{SVG}polyline")] == [4, 2]
    assert [len(p.get("points").split()) for p in ET.fromstring(metrics).findall(f"{SVG}polyline")] == [2]
