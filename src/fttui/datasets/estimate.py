"""Default hyperparameters and billed tokens, by OpenAI's published rules.

The local server resolves "auto" hyperparameters with these same functions, so a job on
``fttui serve`` trains for the epochs a user would be billed for on the real service.
"""

from __future__ import annotations

from collections.abc import Iterable

TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25


def default_n_epochs(n_examples: int) -> int:
    """OpenAI's default epoch count for a file of ``n_examples`` examples."""
    n_epochs = TARGET_EPOCHS
    if n_examples <= 0:
        return n_epochs
    if n_examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        n_epochs = min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // n_examples)
    elif n_examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        n_epochs = max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n_examples)
    return n_epochs


def default_batch_size(n_examples: int) -> int:
    """Legacy default: about 0.2% of the examples, at least 1, capped at 256."""
    return max(1, min(256, round(n_examples * 0.002)))


def default_learning_rate_multiplier(batch_size: int) -> float:
    """Legacy default: 0.05 / 0.1 / 0.2 as the batch grows."""
    if batch_size >= 16:
        return 0.2
    if batch_size >= 4:
        return 0.1
    return 0.05


def billed_tokens(example_tokens: Iterable[int], n_epochs: int, limit: int) -> int:
    """Tokens billed for training: every example capped at ``limit``, times the epochs."""
    return n_epochs * sum(min(limit, t) for t in example_tokens)
