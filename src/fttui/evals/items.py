"""Evaluation items from a training-format file: what to send, and the reference answer.

Chat: the reference is the example's last assistant message, and the messages before it
are sent. Chat that ends on the user's turn (RFT data: ``{"messages": [..., user],
"answer": "Paris"}``) is sent as it is, with no reference: a grader reads the expected
answer from the example's own fields (``{{item.answer}}``); a built-in metric, which
compares with a reference, lists it as one it cannot score. Prompt/completion: the prompt is sent as it is (it ends with the separator the
data used) and the completion is the reference, without the stop sequence the data ends
with — that stop is passed to the model instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from fttui.datasets.detect import detect_format
from fttui.datasets.legacy import STOP_CANDIDATES
from fttui.datasets.read import iter_records

#: Why a built-in metric cannot score an example that ends on the user's turn.
OPEN_ENDED_PROBLEM = (
    "ends on the user's turn (RFT data): no reference to compare with; "
    "grade its fields with --grader (e.g. {{item.answer}})"
)
#: How many completions are looked at to find the stop sequence the data uses.
STOP_SAMPLE = 200


@dataclass
class Item:
    index: int
    line: int
    kind: str  # "chat" or "completion"
    reference: str | None
    messages: list[dict[str, Any]] | None = None
    prompt: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None  # why there is no reference
    #: ends on the user's turn (RFT data): sent whole, graded on its fields by a grader
    open_ended: bool = False

    def gradable(self, *, by_grader: bool) -> bool:
        """Whether the item can be scored: it has a reference, or it is an open-ended
        (RFT) prompt and a grader, which reads the example's fields, scores it."""
        return self.reference is not None or (by_grader and self.open_ended)

    def namespace(self) -> dict[str, Any]:
        """The grader's ``item``: the example's fields, plus ``reference`` and ``prompt``
        (an open-ended item's ``reference`` is its own field of that name, if any: a
        grader reading ``{{item.reference}}`` of RFT data is told the field is missing,
        not handed ``null``)."""
        ns = dict(self.fields)
        if not self.open_ended:
            ns["reference"] = self.reference
        ns["prompt"] = self.prompt if self.prompt is not None else _last_user(self.messages)
        return ns


def _text(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict)]
        if any(isinstance(p, str) for p in parts):
            return "".join(p for p in parts if isinstance(p, str))
    return None


def _last_user(messages: list[dict[str, Any]] | None) -> str | None:
    for m in reversed(messages or []):
        if m.get("role") == "user":
            return _text(m.get("content"))
    return None


def to_item(index: int, line: int, value: Any, stop: str | None) -> Item:
    fmt = detect_format(value)
    fields = value if isinstance(value, dict) else {}
    if fmt == "chat" and isinstance(value.get("messages"), list):
        msgs = [m for m in value["messages"] if isinstance(m, dict)]
        if msgs and msgs[-1].get("role") == "user":
            # RFT data: the model writes the answer; the reference is in the fields
            sent = [{k: v for k, v in m.items() if k != "weight"} for m in msgs]
            return Item(
                index,
                line,
                "chat",
                None,
                messages=sent,
                fields=fields,
                problem=OPEN_ENDED_PROBLEM,
                open_ended=True,
            )
        last = max((i for i, m in enumerate(msgs) if m.get("role") == "assistant"), default=None)
        if last is None:
            return Item(
                index,
                line,
                "chat",
                None,
                fields=fields,
                problem="no assistant message to compare with",
            )
        ref = _text(msgs[last].get("content"))
        sent = [{k: v for k, v in m.items() if k != "weight"} for m in msgs[:last]]
        if ref is None or not sent:
            problem = "the last assistant message has no text" if ref is None else "nothing to send"
            return Item(index, line, "chat", None, fields=fields, problem=problem)
        return Item(index, line, "chat", ref, messages=sent, fields=fields)
    if fmt == "prompt_completion":
        prompt, completion = value.get("prompt"), value.get("completion")
        if not isinstance(prompt, str):
            return Item(index, line, "completion", None, fields=fields, problem="no prompt")
        if not isinstance(completion, str) or not completion.strip():
            return Item(
                index,
                line,
                "completion",
                None,
                prompt=prompt,
                fields=fields,
                problem="no completion to compare with",
            )
        if stop and completion.endswith(stop):
            completion = completion[: -len(stop)]
        return Item(index, line, "completion", completion, prompt=prompt, fields=fields)
    what = {"preference": "a preference example", "unknown": "not an example"}.get(fmt, fmt)
    return Item(index, line, "unknown", None, fields=fields, problem=f"{what}: no reference")


def detect_stop(path: str | os.PathLike[str]) -> str | None:
    """The stop sequence every completion of a prompt/completion file ends with, if any
    (one of the legacy ``prepare_data`` candidates, as ``fttui prepare`` appends them)."""
    endings: list[str] = []
    for _, value, _ in iter_records(path):
        if detect_format(value) != "prompt_completion":
            return None
        c = value.get("completion")
        if isinstance(c, str) and c.strip():
            endings.append(c)
        if len(endings) >= STOP_SAMPLE:
            break
    for cand in STOP_CANDIDATES:
        if endings and all(c.endswith(cand) for c in endings):
            return cand
    return None


def iter_items(
    path: str | os.PathLike[str], *, stop: str | None = None, limit: int | None = None
) -> Iterator[Item]:
    """Stream the file's items (constant memory); ``stop`` is cut from completions."""
    index = 0
    for line, value, finding in iter_records(path):
        if value is None and (
            finding is None or finding.line is None or finding.severity != "error"
        ):
            # a note on the whole file (a TXT or CSV read as a table; no final newline,
            # CRLF endings), not an example: it is not listed as one without a reference
            continue
        if limit is not None and index >= limit:
            return
        if value is None:
            msg = getattr(finding, "message", None) or "unreadable"
            yield Item(index, line, "unknown", None, problem=msg)
        else:
            yield to_item(index, line, value, stop)
        index += 1


def nothing_to_score(
    path: str | os.PathLike[str],
    *,
    stop: str | None = None,
    limit: int | None = None,
    by_grader: bool = False,
) -> str | None:
    """Why no item of the file can be scored (it holds no example, or none with a
    reference), or None as soon as one can: streamed, it stops at the first."""
    seen = 0
    first: list[Item] = []
    for item in iter_items(path, stop=stop, limit=limit):
        if item.gradable(by_grader=by_grader):
            return None
        seen += 1
        if len(first) < 3:
            first.append(item)
    name = os.fspath(path)
    if not seen:
        return f"{name} holds no examples: nothing to evaluate"
    reasons = [(it.line, it.problem or "no reference") for it in first]
    # an unreadable line's reason names its line already ("line 3: byte 0xd0 …")
    why = "; ".join(p if p.startswith(f"line {n}") else f"line {n}: {p}" for n, p in reasons)
    if seen == 1:
        return f"the only example in {name} cannot be scored ({why})"
    more = "; …" if seen > len(first) else ""
    scope = "" if limit is None else f" (the first {limit})"
    return f"none of the {seen} examples in {name}{scope} can be scored ({why}{more})"
