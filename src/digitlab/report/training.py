"""The HTML reports: what a trained model is, how it trained, and where it goes wrong."""

import torch

from digitlab.checkpoint import ModelInfo
from digitlab.data import Dataset
from digitlab.evaluation import Evaluation
from digitlab.report import figures
from digitlab.report.html import Page


def add_evaluation(page: Page, evaluation: Evaluation, data: Dataset, title: str) -> None:
    """Accuracy, per-class precision/recall, the confusion matrix and the top losses."""
    page.heading(title)
    page.text(f"accuracy {evaluation.accuracy:.4f} on {evaluation.n:,} {evaluation.split} images")
    page.table(
        [
            {"class": c, "precision": p, "recall": r}
            for c, (p, r) in enumerate(zip(evaluation.precision, evaluation.recall, strict=True))
        ],
        "per-class precision and recall",
    )
    page.image(figures.confusion_matrix(torch.tensor(evaluation.confusion).numpy()), "confusion matrix")
    if evaluation.top_losses:
        top = evaluation.top_losses
        titles = [f"{t['label']}→{t['predicted']} {t['probability']:.2f}" for t in top]
        images = data.images[torch.tensor([t["index"] for t in top])]
        page.image(
            figures.image_grid(images, titles, cols=8),
            "top losses: label→prediction and the probability given to the prediction",
        )


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
        page.image(figures.loss_curves(history), "loss and accuracy curves")
        page.image(figures.lr_schedule(history["lr"]), "learning-rate schedule (one cycle)")
    add_evaluation(page, evaluation, data, f"Results on the {evaluation.split} set")
    layer = getattr(model, "first_layer", None)
    if layer is not None:
        weight = layer.weight
        page.heading("What the first layer learnt")
        page.image(figures.first_layer_weights(weight.float().cpu()), "first-layer weights or filters")
    return page.render()


def evaluation_report(evaluation: Evaluation, data: Dataset, model_info: ModelInfo) -> str:
    page = Page(f"digitlab evaluation: {model_info.architecture}")
    add_evaluation(page, evaluation, data, f"Results on {evaluation.split}")
    return page.render()
