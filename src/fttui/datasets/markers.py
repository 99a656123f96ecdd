"""The prompt separator and stop sequence a prompt/completion dataset already uses.

``prepare`` decides with :func:`markers_of` whether the examples' common endings can be
kept as the separator / stop; :func:`detect_markers` gives the same answer for examples
already in memory (the head of an uploaded training file), so the playground can fill in
what a fine-tuned model was trained with. Chat data has neither: both are None.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from fttui.datasets.legacy import (
    SEPARATOR_CANDIDATES,
    SEPARATOR_FALLBACK,
    STOP_CANDIDATES,
    STOP_FALLBACK,
    PromptCompletionStats,
)

#: How much of a training file's head :func:`markers_from_jsonl` reads by default.
HEAD_BYTES = 256 * 1024


@dataclass(frozen=True)
class Markers:
    """The separator every prompt ends with and the stop every completion ends with."""

    separator: str | None = None
    stop: str | None = None

    def __bool__(self) -> bool:
        return self.separator is not None or self.stop is not None


def markers_of(stats: PromptCompletionStats) -> Markers:
    """The common endings that can serve as separator / stop, once every example has
    been added and (when ``stats.needs_second_pass()``) ``check_repeats`` has run: an
    ending that also occurs inside a prompt / completion is none (``'.'`` would stop the
    answer after its first sentence)."""
    has_sep = bool(stats.separator) and not stats.all_prompts_empty and not stats.separator_repeated
    has_stop = bool(stats.stop) and not stats.stop_repeated
    return Markers(stats.separator if has_sep else None, stats.stop if has_stop else None)


def _known_tail(suffix: str | None, candidates: Iterable[str]) -> str | None:
    """The longest of ``candidates`` (what ``prepare`` appends) that ``suffix`` ends with:
    in a file prepare wrote, ``'. END'`` ends every completion, and ``' END'`` is the stop
    it appended (the model may leave the period out)."""
    found = [c for c in candidates if suffix and suffix.endswith(c)]
    return max(found, key=len) if found else None


def _inside(marker: str, texts: Iterable[str]) -> bool:
    return any(marker in t[: len(t) - len(marker)] for t in texts)


def detect_markers(pairs: Iterable[tuple[str, str]]) -> Markers:
    """The separator and stop of ``(prompt, completion)`` examples, as ``prepare`` finds
    them, preferring the marker prepare itself appends when the common ending ends with one."""
    examples = list(pairs)
    stats = PromptCompletionStats()
    for i, (prompt, completion) in enumerate(examples, 1):
        stats.add(i, prompt, completion)
    if not stats.n:
        return Markers()
    if stats.needs_second_pass():
        for i, (prompt, completion) in enumerate(examples, 1):
            stats.check_repeats(0, i, prompt, completion)
    found = markers_of(stats)
    separator, stop = found.separator, found.stop
    sep = _known_tail(stats.prompt_suffix, (*SEPARATOR_CANDIDATES, SEPARATOR_FALLBACK))
    if sep and not stats.all_prompts_empty and not _inside(sep, (p for p, _ in examples)):
        separator = sep
    end = _known_tail(stats.completion_suffix, (*STOP_CANDIDATES, STOP_FALLBACK))
    if end and not _inside(end, (c for _, c in examples)):
        stop = end
    return Markers(separator, stop)


def markers_from_jsonl(data: bytes, *, complete: bool = False) -> Markers:
    """The markers of the prompt/completion examples in JSONL ``data`` (a file's head: its
    last line is taken as cut short unless ``complete``). Lines that are not
    prompt/completion objects are skipped; chat data gives ``Markers()``."""
    lines = data.split(b"\n")
    if not complete and len(lines) > 1:
        lines = lines[:-1]
    pairs: list[tuple[str, str]] = []
    others = 0
    for raw in lines:
        if not raw.strip():
            continue
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if (
            isinstance(value, dict)
            and isinstance(value.get("prompt"), str)
            and isinstance(value.get("completion"), str)
        ):
            pairs.append((value["prompt"], value["completion"]))
        else:
            others += 1
    if not pairs or others > len(pairs):  # chat (or mostly not prompt/completion) data
        return Markers()
    return detect_markers(pairs)


def markers_from_file(path: str, *, limit: int = HEAD_BYTES) -> Markers:
    """:func:`markers_from_jsonl` over the first ``limit`` bytes of the file at ``path``
    (an unreadable file has none)."""
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError:
        return Markers()
    return markers_from_jsonl(data[:limit], complete=len(data) <= limit)


__all__ = [
    "Markers",
    "detect_markers",
    "markers_from_file",
    "markers_from_jsonl",
    "markers_of",
]
