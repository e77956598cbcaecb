"""Why the model said 7: how much each pixel of the input pushed towards a class, or away from it.

Three methods, one per kind of model, each against the same reference, a black (blank) image:
- a linear model: the exact contribution of each pixel to the class's score (logit), its
  weight times its value (`w / std * x`, the input normalisation folded in). No approximation;
  the map sums to the score minus the score of a blank image.
- any other PyTorch model (an MLP, a CNN, an ensemble): Integrated Gradients (Captum) on the
  class's score (logit; an ensemble's log mean probability): the gradient averaged along the
  straight path from the blank image to the input, times the input. Its maps also sum to
  score(x) - score(blank), up to the quadrature's error; `gap` reports that error.
- the ONNX engine, where no gradient is available: occlusion (Captum). Each 4x4 patch (stride 2)
  is blanked in turn and the drop in the class's probability spread over its pixels.

"Erase the evidence": the pixels with the largest positive attribution for the predicted class,
the fewest that carry EVIDENCE_SHARE (70%) of its positive total, are blanked and the model asked
again. If the map is right, that changes its mind far more often than blanking as many random
inked pixels.
"""

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from digitlab.data import Dataset
from digitlab.inference.evaluation import evaluate
from digitlab.inference.predictor import Prediction, Predictor
from digitlab.models import Linear

STEPS = 64  # Integrated Gradients' steps, midpoint rule: the gap is at most (slope variation) / STEPS
# (Captum's "riemann_trapezoid" weights sum to (n-1)/n, not 1, so its maps come out 1/n short of
# complete; its midpoint rule's weights sum to 1.)
PATCH, STRIDE = 4, 2  # occlusion's window and stride, in pixels
EVIDENCE_SHARE = 0.7  # erase the fewest top pixels carrying this share of the positive attribution


@dataclass
class Explanation:
    top: list[tuple[int, float]]  # the three most likely digits and their probabilities
    maps: dict[int, np.ndarray]  # 28x28 attributions for the predicted digit and the runner-up
    method: str
    erased: np.ndarray  # the input with the evidence blanked (uint8 28x28)
    erased_top: tuple[int, float]  # the model's answer for it: digit, probability
    gap: dict[int, float] = field(default_factory=dict)  # sum(map) - (score(x) - score(blank)), per digit
    classes: list = field(default_factory=list)  # the model's classes: names, or numbers (the digits)

    @property
    def named(self) -> bool:
        return any(isinstance(c, str) for c in self.classes)

    def name(self, index: int) -> str:
        """Class `index` as the answers call it: its name ('cat'), or its number ('7')."""
        return str(self.classes[index]) if index < len(self.classes) else str(index)

    def guess(self, index: int) -> dict:
        """A class in the JSON: `label` and `index` for named classes, `digit` for the digits."""
        return {"label": self.name(index), "index": index} if self.named else {"digit": index}

    @property
    def erased_pixels(self) -> int:
        """How many pixels the evidence held."""
        return int(evidence_mask(self.maps[self.top[0][0]]).sum())

    def to_json(self) -> dict:
        """The fields `explain --json` adds to a prediction (see docs/cli.md)."""
        digit, runner_up = self.top[0][0], self.top[1][0]
        return {
            "top": [{**self.guess(d), "probability": round(p, 6)} for d, p in self.top],
            "method": self.method,
            "attribution": {self.name(d): _rows(self.maps[d]) for d in (digit, runner_up)},
            **(
                {"completeness_gap": {self.name(d): round(g, 6) for d, g in self.gap.items()}}
                if self.gap
                else {}
            ),
            "erased": {
                "pixels": self.erased_pixels,
                **self.guess(self.erased_top[0]),
                "probability": round(self.erased_top[1], 6),
            },
        }


def _rows(attribution: np.ndarray) -> list[list[float]]:
    return [[round(float(v), 6) + 0.0 for v in row] for row in attribution]  # + 0.0: no "-0.0"


# What each word of a method's sentence means, for a reader who meets it there first (`explain` says it once)
TERMS = {
    "integrated gradients": "integrated gradients: each pixel's ink times the class score's slope, averaged "
    "along a straight path from a blank image to this one; the pixels' shares add up to the score's change",
    "Captum": "Captum: PyTorch's library of ways to explain a model's answer; digitlab asks it for the maps",
    "midpoint rule": f"midpoint rule: the path is cut into {STEPS} equal steps and the slope is taken at the "
    "middle of each (not at an end); the shares then add up to the score's change but for a gap that "
    "shrinks as the steps do",
    "occlusion": "occlusion: blank out one patch of the image at a time and see how much the class's "
    "probability drops",
    "logit": "logit: a class's raw score, the number the model gives each digit before softmax turns the "
    "ten of them into probabilities that sum to 1",
}


def terms_in(sentence: str) -> list[str]:
    """The definitions of the TERMS the sentence uses, in the order it uses them."""
    found = [(sentence.find(term), term) for term in TERMS if term in sentence]
    return [TERMS[term] for _, term in sorted(found)]


def method_name(predictor: Predictor) -> str:
    """What the maps of this predictor mean, in a sentence."""
    if predictor.onnx is not None:
        return (
            f"occlusion (Captum): {PATCH}x{PATCH} patches, stride {STRIDE}, blanked one at a time; "
            "the drop in the class's probability (ONNX engine: no gradients)"
        )
    if isinstance(predictor.model, Linear):
        return "exact: weight x pixel, the pixel's share of the class's score (logit) against a blank image"
    return (
        f"integrated gradients (Captum): from a blank image, {STEPS} steps (midpoint rule); "
        "attributions to the class's score (logit)"
    )


def explain(predictor: Predictor, digit_image: np.ndarray) -> Explanation:
    """The top three digits, attribution maps for the first two, and the evidence erased.

    `digit_image`: the MNIST-style uint8 28x28 input (`Predictor.prepare` makes it from a photo;
    the model's input size, for one trained on other images).
    """
    x = predictor.inputs(np.asarray(digit_image)[None])  # (1,C,H,W)
    probs = predictor.probs(digit_image[None])[0]
    ranked = probs.argsort(descending=True)[:3].tolist()
    top = [(int(d), float(probs[d])) for d in ranked]
    maps, gap = {}, {}
    for digit in ranked[:2]:
        maps[digit], gap_d = attribution(predictor, x, digit)
        if gap_d is not None:
            gap[digit] = gap_d
    erased = erase_evidence(np.asarray(digit_image), maps[ranked[0]])
    again = predictor.probs(erased[None])[0]
    answer = (int(again.argmax()), float(again.max()))
    return Explanation(top, maps, method_name(predictor), erased, answer, gap, predictor.info.classes)


def attribution(predictor: Predictor, x: torch.Tensor, digit: int) -> tuple[np.ndarray, float | None]:
    """One 28x28 map (the input's size) for `digit`, and the completeness gap where the method has one;
    a colour image's three channels are summed into one map."""
    if predictor.onnx is not None:
        return _occlusion(predictor, x, digit), None
    model = predictor.model.eval()
    if isinstance(model, Linear):
        return exact_linear(model, x, digit), 0.0
    return integrated_gradients(model, x, digit)


def exact_linear(model: Linear, x: torch.Tensor, digit: int) -> np.ndarray:
    """weight x pixel: score(x) - score(blank) split exactly over the pixels."""
    std = float(model.config["std"])
    weight = model.first_layer.weight.detach()[digit].reshape(x.shape[1:]) / std
    return (weight * x[0]).sum(0).numpy()


def integrated_gradients(model: nn.Module, x: torch.Tensor, digit: int) -> tuple[np.ndarray, float]:
    from captum.attr import IntegratedGradients

    ig = IntegratedGradients(model)
    with torch.enable_grad():
        maps, delta = ig.attribute(
            x,
            baselines=torch.zeros_like(x),
            target=digit,
            n_steps=STEPS,
            method="riemann_middle",
            return_convergence_delta=True,
        )
    found = maps[0].detach()  # (C,H,W) for an image, or (784,) for the lesson's flat rows
    return (found.sum(0) if found.dim() == 3 else found).numpy(), float(delta[0])


def _occlusion(predictor: Predictor, x: torch.Tensor, digit: int) -> np.ndarray:
    from captum.attr import Occlusion

    def probabilities(batch: torch.Tensor) -> torch.Tensor:
        pictures = batch.permute(0, 2, 3, 1) if batch.shape[1] == 3 else batch[:, 0]  # as prepare makes them
        return predictor.probs((pictures * 255).round().clamp(0, 255).to(torch.uint8).numpy())

    channels = x.shape[1]
    maps = Occlusion(probabilities).attribute(
        x, target=digit, sliding_window_shapes=(channels, PATCH, PATCH), strides=(channels, STRIDE, STRIDE),
        baselines=0.0,
    )  # fmt: skip
    return maps[0].sum(0).detach().numpy()


def evidence_mask(attribution: np.ndarray, share: float = EVIDENCE_SHARE) -> np.ndarray:
    """The fewest pixels, largest positive attribution first, that carry `share` of the positive total."""
    flat = attribution.reshape(-1)
    positive = np.clip(flat, 0, None)
    total = positive.sum()
    mask = np.zeros(flat.shape, bool)
    if total <= 0:
        return mask.reshape(attribution.shape)
    order = np.argsort(-positive, kind="stable")
    count = int(np.searchsorted(np.cumsum(positive[order]), share * total) + 1)
    mask[order[:count]] = True
    return mask.reshape(attribution.shape)


def erase_evidence(digit_image: np.ndarray, attribution: np.ndarray) -> np.ndarray:
    """The input with the evidence for the prediction blanked (set to background, 0)."""
    erased = np.array(digit_image, np.uint8, copy=True)
    erased[evidence_mask(attribution)] = 0
    return erased


def explain_top_losses(
    predictor: Predictor, data: Dataset, split: str, count: int
) -> list[tuple[int, Prediction, Explanation]]:
    """The `count` images of `data` the model gets most confidently wrong: each one's index, prediction
    (named by the data, the index and the label) and explanation."""
    result, _ = evaluate(predictor.model, data, split, n_top=count)
    explained = []
    for t in result.top_losses:
        image = data.pictures(torch.tensor([t["index"]]))[0]  # (H,W), or colour's (H,W,3) as predict makes
        name = f"{data.name} image {t['index']}, labelled {result.name(t['label'])}"
        prediction = predictor.prediction(name, predictor.probs(image[None])[0], image)
        explained.append((t["index"], prediction, explain(predictor, image)))
    return explained


def explain_file(predictor: Predictor, path: str) -> tuple[Prediction, Explanation | None]:
    """The prediction for one image file and its explanation (None for a blank image or an error)."""
    prediction = predictor.predict_file(path)
    if prediction.error or prediction.digit is None or prediction.input is None:
        return prediction, None
    return prediction, explain(predictor, prediction.input)
