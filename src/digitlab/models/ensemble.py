"""Several trained networks as one model: the average of their probabilities.

Models that err on different images outvote each other's mistakes, so the average is more
accurate than any member, at the members' summed cost. The forward pass returns the log of the
mean probability: a softmax of it gives that mean back, so every caller treats an ensemble
like any other model (scores in, `to_probs` out).

With test-time augmentation (`tta`) every member also sees each image moved one pixel each way:
a digit a pixel off from where the net expects it is voted on five times, for 5x the cost.
"""

from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

MAX_MEMBERS = 16
MEMBER_KINDS = ("linear", "mlp", "cnn")  # trained networks with ten-class softmax outputs
SHIFTS = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))  # test-time augmentation's moves: (dx, dy) in pixels


class Ensemble(nn.Module):
    """`members`: [{"architecture": name, "config": {...}}, ...] as in model.json (the weights load later).

    `tta`: average over SHIFTS of each image too; then one member is enough.
    """

    def __init__(self, members: list[dict[str, Any]], tta: bool = False):
        from digitlab.models import build_model  # the registry lists Ensemble itself

        if not isinstance(tta, bool):
            raise ValueError(f"tta must be true or false, got {tta!r:.40}")
        fewest = fewest_members(tta)
        if not isinstance(members, list) or not fewest <= len(members) <= MAX_MEMBERS:
            raise ValueError(
                f"members must be a list of {fewest} to {MAX_MEMBERS} models, got {members!r:.60}"
            )
        for m in members:
            if not isinstance(m, dict) or m.get("architecture") not in MEMBER_KINDS:
                raise ValueError(f"every member must be one of {', '.join(MEMBER_KINDS)}, got {m!r:.60}")
            if not isinstance(m.get("config"), dict):
                raise ValueError(f"member config must be an object, got {m.get('config')!r:.60}")
        super().__init__()
        self.members = nn.ModuleList(build_model(m["architecture"], **m["config"]) for m in members)
        self.tta = tta
        self.config = {
            "members": [{"architecture": m["architecture"], "config": m["config"]} for m in members],
            **({"tta": True} if tta else {}),  # model.json without it: no shifts, as before there were any
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        views = [shift(x, dx, dy) for dx, dy in SHIFTS] if self.tta else [x]
        probs = torch.stack([m(v).float().softmax(-1) for m in self.members for v in views]).mean(0)
        return probs.clamp_min(1e-30).log()

    @classmethod
    def of(cls, models: list[nn.Module], tta: bool = False) -> "Ensemble":
        """An ensemble holding copies of these trained models' weights."""
        from digitlab.models import model_name

        ensemble = cls([{"architecture": model_name(m), "config": m.config} for m in models], tta)
        for member, model in zip(ensemble.members, models, strict=True):
            member.load_state_dict(model.state_dict())
        return ensemble.eval()

    @property
    def first_layer(self) -> nn.Module:
        return cast(nn.Module, self.members[0].first_layer)


def fewest_members(tta: bool) -> int:
    """Two models to average, or one when test-time shifts give it several views to average."""
    return 1 if tta else 2


def shift(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Images (B,C,H,W) moved right by `dx` and down by `dy` pixels (-1, 0 or 1); the pixels moved
    in are 0, the background of a raw image (a model normalises its input itself)."""
    return torch.roll(F.pad(x, (1, 1, 1, 1)), (dy, dx), (2, 3))[..., 1:-1, 1:-1]
