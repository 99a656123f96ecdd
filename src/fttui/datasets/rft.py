"""Reinforcement fine-tuning (RFT) data: what a grader reads from each example.

An RFT example is a chat ``messages`` list that ends with the turn the model answers (a
user message; a developer or system message may lead), plus any reference fields the grader
reads through ``{{item.…}}`` templates (``{"messages": [...], "reference_answer": "Paris"}``).
The grader is OpenAI's JSON shape (``string_check``, ``text_similarity``, ``score_model``,
``label_model``, ``python``, ``multi``); this module only finds the item fields it names, so
that ``lint`` can say, at the line, which example lacks one before anything is uploaded.
Checking the grader itself is the evaluation package's job.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

#: ``{{ item.reference_answer }}``, ``{{item.labels[0]}}``, ``{{item.meta.gold}}``
_ITEM_REF = re.compile(r"\{\{\s*item\.([A-Za-z_][\w]*(?:\.[A-Za-z_]\w*|\[\d+\])*)\s*\}\}")
_PART = re.compile(r"\.?([A-Za-z_]\w*)|\[(\d+)\]")

#: roles an RFT example's prompt may use (``developer`` is the reasoning models' system role)
RFT_ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def grader_item_fields(grader: Any) -> list[str]:
    """The ``item.…`` paths a grader's templates read, in first-seen order, without repeats.

    Every string of the grader is searched (``input``, ``reference``, a score model's
    messages, a multi grader's sub-graders), since any of them may be a template.
    """
    seen: dict[str, None] = {}
    for text in _strings(grader):
        if "{{" in text:
            for match in _ITEM_REF.finditer(text):
                seen.setdefault(match.group(1), None)
    return list(seen)


def has_field(example: Any, path: str) -> bool:
    """Whether ``item.<path>`` resolves in one example (keys and list indices)."""
    value = example
    for match in _PART.finditer(path):
        key, index = match.group(1), match.group(2)
        if key is not None:
            if not isinstance(value, dict) or key not in value:
                return False
            value = value[key]
        else:
            i = int(index)
            if not isinstance(value, list) or i >= len(value):
                return False
            value = value[i]
    return True


__all__ = ["RFT_ROLES", "grader_item_fields", "has_field"]
