"""What the dataset core needs to know about a target model: its tokenizer and token limit.

Figures from OpenAI's fine-tuning docs (see FORMATS.md): tokens per training example; longer
examples are truncated. Fine-tuned model ids (``ft:BASE:org:suffix:id``, and their
``...:ckpt-step-N`` checkpoints) resolve to their base model.
"""

from __future__ import annotations

import difflib

DEFAULT_MODEL = "gpt-4o-mini-2024-07-18"

#: Exact model ids first, then prefixes (first match wins): (encoding, tokens per example).
_EXACT: dict[str, tuple[str, int]] = {
    "gpt-4o-2024-08-06": ("o200k_base", 65_536),
    "gpt-4o-mini-2024-07-18": ("o200k_base", 65_536),
    "gpt-3.5-turbo-0125": ("cl100k_base", 16_385),
    "gpt-3.5-turbo-1106": ("cl100k_base", 16_385),
    "gpt-3.5-turbo-0613": ("cl100k_base", 4_096),
    "gpt-4-0613": ("cl100k_base", 8_192),
    "babbage-002": ("cl100k_base", 2_048),
    "davinci-002": ("cl100k_base", 2_048),
}
_PREFIXES: tuple[tuple[str, tuple[str, int]], ...] = (
    ("gpt-4o", ("o200k_base", 65_536)),
    ("gpt-4.1", ("o200k_base", 65_536)),
    ("gpt-4.5", ("o200k_base", 65_536)),
    ("gpt-5", ("o200k_base", 65_536)),
    ("o1", ("o200k_base", 65_536)),
    ("o3", ("o200k_base", 65_536)),
    ("o4", ("o200k_base", 65_536)),
    ("gpt-3.5-turbo", ("cl100k_base", 16_385)),
    ("gpt-35-turbo", ("cl100k_base", 16_385)),
    ("gpt-4", ("cl100k_base", 8_192)),
)
#: Models that are not OpenAI's: counted with o200k_base as an estimate unless their own
#: tokenizer is available (see ``fttui.datasets.tokens``).
UNKNOWN_MODEL_LIMIT = 65_536
LEGACY_COMPLETION_MODELS = ("babbage-002", "davinci-002")


def base_model(model: str) -> str:
    """``ft:gpt-4o-mini-2024-07-18:org:suffix:id`` → ``gpt-4o-mini-2024-07-18``."""
    if model.startswith("ft:"):
        parts = model.split(":")
        if len(parts) > 1 and parts[1]:
            return parts[1]
    return model


def is_openai_model(model: str) -> bool:
    """True when the model's tokenizer is one of tiktoken's (its token counts are exact)."""
    name = base_model(model).lower()
    return name in _EXACT or any(name.startswith(p) for p, _ in _PREFIXES)


def model_limits(model: str) -> tuple[str, int]:
    """``(tiktoken encoding name, tokens per training example)`` for ``model``.

    Unknown (e.g. local) models get ``("o200k_base", 65536)``; their counts are estimates.
    """
    name = base_model(model).lower()
    if name in _EXACT:
        return _EXACT[name]
    for prefix, limits in _PREFIXES:
        if name.startswith(prefix):
            return limits
    return ("o200k_base", UNKNOWN_MODEL_LIMIT)


def is_legacy_completion_model(model: str) -> bool:
    """babbage-002 / davinci-002: the models that train on prompt/completion data."""
    return base_model(model).lower().startswith(LEGACY_COMPLETION_MODELS)


#: names a typo is matched against (the exact ids, and the current snapshots the prefixes cover)
KNOWN_MODELS: tuple[str, ...] = (
    *_EXACT,
    "gpt-4.1-2025-04-14",
    "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano-2025-04-14",
)


def model_typo(model: str) -> list[str]:
    """The known models ``model`` looks like a typo of (``davinci-0023`` → ``davinci-002``),
    or ``[]``: a known model, one a known prefix covers, or a name close to none of them
    (a local or another provider's model, counted with o200k_base as an estimate)."""
    name = base_model(model).lower()
    if is_openai_model(name):
        return []
    return difflib.get_close_matches(name, KNOWN_MODELS, n=3, cutoff=0.8)
