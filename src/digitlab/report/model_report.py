"""The HTML reports: what a trained model is, how it trained, and where it goes wrong."""

import numpy as np
import torch

from digitlab.data import Dataset
from digitlab.data.decode import png_bytes
from digitlab.inference.evaluation import Evaluation
from digitlab.inference.predictor import Predictor
from digitlab.modelfiles.model_file import ModelInfo
from digitlab.models.layers import unit_images
from digitlab.report import charts
from digitlab.report.attribution import centred_colours
from digitlab.report.html import Page


def add_evaluation(page: Page, evaluation: Evaluation, data: Dataset, title: str) -> None:
    """Accuracy, per-class precision/recall, the confusion matrix and the top losses."""
    page.heading(title)
    page.text(f"accuracy {evaluation.accuracy:.4f} on {evaluation.n:,} {evaluation.split} images")
    page.table(
        [
            {"class": evaluation.name(c), "precision": p, "recall": r}
            for c, (p, r) in enumerate(zip(evaluation.precision, evaluation.recall, strict=True))
        ],
        "per-class precision and recall",
    )
    page.matrix(
        evaluation.confusion,
        "confusion matrix: counts (shaded on a log scale)",
        "actual",
        "predicted",
        [evaluation.name(c) for c in range(len(evaluation.confusion))],
    )
    page.table(
        [
            {"actual": evaluation.name(a), "predicted": evaluation.name(p), "images": c}
            for a, p, c in evaluation.most_confused()
        ],
        "the most confused pairs: how many images of the actual class were taken for the other",
    )
    if evaluation.top_losses:
        top, name = evaluation.top_losses, evaluation.name
        images = data.pictures(torch.tensor([t["index"] for t in top]))
        page.gallery(
            [
                (png_bytes(img), f"{name(t['label'])}→{name(t['predicted'])} {t['probability']:.2f}")
                for img, t in zip(images, top, strict=True)
            ],
            "top losses: label→prediction and the probability given to the prediction",
        )


def add_top_loss_reasons(
    page: Page, predictor: Predictor, evaluation: Evaluation, data: Dataset, n: int = 6
) -> None:
    """For the first `n` top losses: why the model said what it said, and what spoke for the truth."""
    from digitlab.inference.explanation import explain
    from digitlab.report.attribution import explanation_png

    top = evaluation.top_losses[:n]
    if not top:
        return
    page.heading("Why the top losses went wrong", 3)
    page.text(
        "Each row: the image, the attribution maps for the model's answer and its runner-up "
        "(red pushed towards that digit, blue away; each with its colour bar), and the image with the "
        "evidence for the answer erased, with what the model then says."
    )
    for t in top:
        image = data.pictures(torch.tensor([t["index"]]))[0]
        explanation = explain(predictor, image)
        actual, predicted = evaluation.name(t["label"]), evaluation.name(t["predicted"])
        title = f"image {t['index']}: labelled {actual}, predicted {predicted}"
        page.image(explanation_png(explanation, image, title), f"{title}; {explanation.method}")


def weight_images(
    weight: torch.Tensor, count: int = 30, shape: tuple[int, int] | None = None
) -> list[tuple[bytes, str]]:
    """The first `count` units of a first layer (out, 784) or (out,1,k,k) as red/white/blue PNGs.

    Each unit gets its own symmetric scale (red positive, blue negative, white zero), so a unit
    with small weights is as readable as one with large weights; its caption gives the scale.
    """
    scaled, peak = unit_images(weight, count, shape)  # each unit already in -1..1 on its own scale
    pixels = (centred_colours(scaled.numpy(), limit=1.0) * 255).round().astype(np.uint8)
    return [
        (png_bytes(p), f"unit {i} |w|max {float(m):.2g}")
        for i, (p, m) in enumerate(zip(pixels, peak, strict=True))
    ]


def training_report(
    model: torch.nn.Module, info: ModelInfo, history: dict | None, evaluation: Evaluation, data: Dataset
) -> str:
    """One self-contained page for `digitlab train`'s output folder."""
    page = Page(f"digitlab training report: {info.architecture}")
    page.heading("Settings")
    page.table([{"setting": k, "value": str(v)} for k, v in info.settings.items()])
    page.text(f"training data fingerprint (SHA-256): {info.data_fingerprint}")
    page.table([{"stage": k, "seconds": v} for k, v in info.seconds.items()], "timings")
    if history and history.get("batch_loss"):
        rows = [
            {"epoch": i, **{k: v[i] for k, v in history.items() if k not in ("batch_loss", "lr")}}
            for i in range(len(history["valid_loss"]))
        ]
        page.heading("Training")
        page.table(rows, "epoch table")
        for svg, caption in charts.loss_charts(history):
            page.svg(svg, caption)
        page.svg(charts.lr_chart(history["lr"]), "learning-rate schedule (one cycle)")
    add_evaluation(page, evaluation, data, f"Results on the {evaluation.split} set")
    layer = getattr(model, "first_layer", None)
    if layer is not None:
        weight = layer.weight
        page.heading("What the first layer learnt")
        page.gallery(
            weight_images(weight, shape=(info.input_size[0], info.input_size[1])),
            "first-layer weights or filters: red positive, blue negative, white zero, scaled per unit",
        )
    return page.render()


def evaluation_report(
    evaluation: Evaluation, data: Dataset, model_info: ModelInfo, predictor: Predictor | None = None
) -> str:
    """`evaluate --report`: the scores, and with a predictor the reasons behind the top losses."""
    page = Page(f"digitlab evaluation: {model_info.architecture}")
    add_evaluation(page, evaluation, data, f"Results on {evaluation.split}")
    if predictor is not None:
        add_top_loss_reasons(page, predictor, evaluation, data)
    return page.render()
