"""Several trained networks as one model: the average of their probabilities.

Models that err on different images outvote each other's mistakes, so the average is more
accurate than any member, at the members' summed cost. The forward pass returns the log of the
mean probability: a softmax of it gives that mean back, so every caller treats an ensemble
like any other model (scores in, `to_probs` out).
"""

import torch
from torch import nn

MAX_MEMBERS = 16
MEMBER_KINDS = ("linear", "mlp", "cnn")  # trained networks with ten-class softmax outputs


class Ensemble(nn.Module):
    """`members`: [{"architecture": name, "config": {...}}, ...] as in model.json (the weights load later)."""

    def __init__(self, members: list[dict]):
        from digitlab.models import build_model  # the registry lists Ensemble itself

        if not isinstance(members, list) or not 2 <= len(members) <= MAX_MEMBERS:
            raise ValueError(f"members must be a list of 2 to {MAX_MEMBERS} models, got {members!r:.60}")
        for m in members:
            if not isinstance(m, dict) or m.get("architecture") not in MEMBER_KINDS:
                raise ValueError(f"every member must be one of {', '.join(MEMBER_KINDS)}, got {m!r:.60}")
            if not isinstance(m.get("config"), dict):
                raise ValueError(f"member config must be an object, got {m.get('config')!r:.60}")
        super().__init__()
        self.members = nn.ModuleList(build_model(m["architecture"], **m["config"]) for m in members)
        self.config = {
            "members": [{"architecture": m["architecture"], "config": m["config"]} for m in members]
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = torch.stack([member(x).float().softmax(-1) for member in self.members]).mean(0)
        return probs.clamp_min(1e-30).log()

    @classmethod
    def of(cls, models: list[nn.Module]) -> "Ensemble":
        """An ensemble holding copies of these trained models' weights."""
        from digitlab.models import model_name

        ensemble = cls([{"architecture": model_name(m), "config": m.config} for m in models])
        for member, model in zip(ensemble.members, models, strict=True):
            member.load_state_dict(model.state_dict())
        return ensemble.eval()

    @property
    def first_layer(self) -> nn.Module:
        return self.members[0].first_layer
