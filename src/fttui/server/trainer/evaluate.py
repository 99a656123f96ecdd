"""Losses and metrics: the supervised objective, and evaluation over a whole data set.

An *objective* turns a list of example indices into ``(loss_sum, count, correct)``:
for supervised training the summed cross-entropy over trained tokens, the number of trained
tokens and how many of them the model predicted (argmax) right — so the mean loss and the
mean token accuracy are ``loss_sum / count`` and ``correct / count`` over any set of
micro-batches, and the loop can weight gradient accumulation exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from fttui.server.trainer.data import IGNORE, Encoded, collate, micro_batches

#: architectures whose causal-LM head is a plain linear layer over the decoder's last hidden
#: state, so the head can run on the trained positions only (no logit soft-capping/scaling)
PLAIN_HEADS = frozenset({"llama", "mistral", "qwen2", "qwen3", "phi3", "smollm3", "olmo2", "gemma"})


def _unwrap(model):
    """The transformers model inside a peft wrapper."""
    get_base = getattr(model, "get_base_model", None)  # peft's PeftModel
    return get_base() if callable(get_base) else model


def trained_logits(model, ids, mask, labels):
    """Logits at the positions that predict a trained token, their targets and row numbers.

    Running the LM head on those positions only saves a large share of the work on
    big-vocabulary models, where most tokens are prompt.
    """
    targets = labels[:, 1:]
    selected = targets != IGNORE
    inner = _unwrap(model)
    if getattr(inner.config, "model_type", None) in PLAIN_HEADS:
        hidden = inner.get_decoder()(input_ids=ids, attention_mask=mask).last_hidden_state
        logits = inner.get_output_embeddings()(hidden[:, :-1][selected])
    else:
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1][selected]
    return logits.float(), targets[selected], selected.nonzero()[:, 0]


class Supervised:
    """Next-token cross-entropy on the trained (assistant) tokens."""

    def __init__(self, examples: Sequence[Encoded], pad_id: int, device: str):
        self.examples = examples
        self.pad_id = pad_id
        self.device = device
        self.lengths = {i: e.n_tokens for i, e in enumerate(examples)}
        self._weights = [sum(1 for t in e.labels[1:] if t != IGNORE) for e in examples]

    def __len__(self) -> int:
        return len(self.examples)

    def weight(self, indices: Sequence[int]) -> float:
        """The normaliser of a batch's loss: its number of trained tokens."""
        return float(sum(self._weights[i] for i in indices))

    def forward(self, model, indices: Sequence[int]) -> tuple[torch.Tensor, int, int]:
        ids, mask, labels = collate([self.examples[i] for i in indices], self.pad_id, self.device)
        logits, targets, _ = trained_logits(model, ids, mask, labels)
        loss_sum = F.cross_entropy(logits, targets, reduction="sum")
        correct = int((logits.detach().argmax(-1) == targets).sum())
        return loss_sum, int(targets.numel()), correct


@torch.no_grad()
def evaluate(
    objective: Any, model, indices: Sequence[int] | None = None, max_tokens: int = 4096
) -> tuple[float, float]:
    """Mean loss and mean accuracy of ``model`` over ``indices`` (default: every example)."""
    indices = list(range(len(objective))) if indices is None else list(indices)
    was_training = model.training
    model.eval()
    loss_sum, count, correct = 0.0, 0, 0
    try:
        for micro in micro_batches(objective.lengths, indices, max_tokens):
            loss, n, right = objective.forward(model, micro)
            loss_sum += float(loss)
            count += n
            correct += right
    finally:
        model.train(was_training)
    return loss_sum / max(count, 1), correct / max(count, 1)
