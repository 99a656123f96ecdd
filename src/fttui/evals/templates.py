"""``{{item.…}}`` / ``{{sample.…}}`` templates, as OpenAI's graders write them.

``item`` is the dataset item (for ``fttui eval``: the example's fields plus ``reference``,
the expected answer); ``sample`` is the model's answer: ``output_text`` and, when that
text is valid JSON, ``output_json``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

TEMPLATE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
NAMESPACES = ("item", "sample")
SAMPLE_FIELDS = ("output_text", "output_json", "output_tools", "choices")


class TemplateError(ValueError):
    """A template that names a namespace or field that does not exist."""


def references(text: str) -> list[str]:
    """The expressions inside ``{{…}}`` in ``text``."""
    return TEMPLATE.findall(text) if isinstance(text, str) else []


def check(text: str) -> list[str]:
    """Problems with the templates in ``text`` that can be seen without data."""
    problems = []
    for expr in references(text):
        head = re.split(r"[.\[]", expr, maxsplit=1)[0]
        if head not in NAMESPACES:
            problems.append(
                f"the template {{{{{expr}}}}} names {head!r}: use item.<field> or "
                "sample.output_text"
            )
        elif head == "sample":
            parts = _path(expr)
            if len(parts) < 2 or parts[1] not in SAMPLE_FIELDS:
                problems.append(
                    f"the template {{{{{expr}}}}}: sample has {', '.join(SAMPLE_FIELDS)}"
                )
    return problems


def _path(expr: str) -> list[str | int]:
    parts: list[str | int] = []
    for piece in re.finditer(r"([^.\[\]]+)|\[(\d+)\]", expr):
        parts.append(int(piece.group(2)) if piece.group(2) is not None else piece.group(1))
    return parts


def sample_namespace(output_text: str) -> dict[str, Any]:
    sample: dict[str, Any] = {"output_text": output_text}
    try:
        sample["output_json"] = json.loads(output_text)
    except (ValueError, TypeError):
        sample["output_json"] = None
    return sample


def lookup(expr: str, context: Mapping[str, Any]) -> Any:
    value: Any = context
    for part in _path(expr):
        if isinstance(part, int) and isinstance(value, list) and -len(value) <= part < len(value):
            value = value[part]
        elif isinstance(value, Mapping) and str(part) in value:
            value = value[str(part)]
        else:
            raise TemplateError(f"{{{{{expr}}}}}: no {part!r} in the {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    return "item" if isinstance(value, Mapping) else type(value).__name__


def render(text: str, context: Mapping[str, Any]) -> str:
    """``text`` with each ``{{…}}`` replaced by its value (non-strings as JSON)."""

    def one(m: re.Match[str]) -> str:
        value = lookup(m.group(1), context)
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

    return TEMPLATE.sub(one, text)
