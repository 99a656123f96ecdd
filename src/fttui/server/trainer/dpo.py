"""Direct Preference Optimization (Rafailov et al., 2023).

``loss = -log σ(β · [(log π(chosen) − log π_ref(chosen)) − (log π(rejected) − log π_ref(rejected))])``
with log-probabilities summed over the completion tokens. The reference model is the model
as the job starts (base model, or base + ``init_adapter``): its log-probabilities are
computed once before the first step and saved in the job folder, so a resumed job keeps
the same reference. "Accuracy" for DPO is the share of pairs whose implicit reward prefers
the chosen completion.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

from fttui.server.trainer.data import EncodedPair, collate, micro_batches
from fttui.server.trainer.evaluate import trained_logits

DEFAULT_BETA = 0.1


def sequence_logps(model, ids, mask, labels) -> torch.Tensor:
    """Summed log-probability of the trained tokens of each row."""
    logits, targets, rows = trained_logits(model, ids, mask, labels)
    token_logps = -F.cross_entropy(logits, targets, reduction="none")
    return torch.zeros(ids.shape[0], device=logits.device).index_add(0, rows, token_logps)


class Dpo:
    """The DPO objective over a list of preference pairs."""

    def __init__(self, pairs: Sequence[EncodedPair], pad_id: int, device: str, beta: float | None):
        self.pairs = pairs
        self.pad_id = pad_id
        self.device = device
        self.beta = DEFAULT_BETA if beta is None else beta
        self.lengths = {i: p.n_tokens for i, p in enumerate(pairs)}
        self.reference: torch.Tensor | None = None  #: (n_pairs, 2): chosen, rejected

    def __len__(self) -> int:
        return len(self.pairs)

    def weight(self, indices: Sequence[int]) -> float:
        return float(len(indices))

    def _logps(self, model, indices: Sequence[int]) -> torch.Tensor:
        rows = [self.pairs[i].chosen for i in indices] + [self.pairs[i].rejected for i in indices]
        ids, mask, labels = collate(rows, self.pad_id, self.device)
        logps = sequence_logps(model, ids, mask, labels)
        return logps.view(2, len(indices)).T  # (k, 2)

    @torch.no_grad()
    def compute_reference(self, model, cache: Path, max_tokens: int) -> None:
        """Reference log-probabilities from ``model`` as it is now, or from ``cache``."""
        if cache.is_file():
            self.reference = torch.load(cache)
            return
        ref = torch.zeros(len(self.pairs), 2)
        was_training = model.training
        model.eval()
        for micro in micro_batches(self.lengths, list(range(len(self.pairs))), max_tokens):
            ref[micro] = self._logps(model, micro).float().cpu()
        model.train(was_training)
        self.reference = ref
        torch.save(ref, cache)

    def forward(self, model, indices: Sequence[int]) -> tuple[torch.Tensor, int, int]:
        assert self.reference is not None, "compute_reference first"
        policy = self._logps(model, indices)
        ref = self.reference[list(indices)].to(policy.device)
        margins = self.beta * ((policy[:, 0] - ref[:, 0]) - (policy[:, 1] - ref[:, 1]))
        loss_sum = -F.logsigmoid(margins).sum()
        return loss_sum, len(indices), int((margins.detach() > 0).sum())
