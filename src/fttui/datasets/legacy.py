"""The legacy ``prepare_data`` analysis of prompt/completion data, streamed.

A prompt/completion model (babbage-002, davinci-002) learns best when every prompt ends with
one fixed separator found nowhere else in it, and every completion starts with a space and
ends with one fixed stop sequence (passed as ``stop`` at inference). :class:`PromptCompletionStats`
gathers what it takes to check that in one pass over the examples (common prefixes and
suffixes, which candidate separators / stops occur anywhere), plus a second, optional pass
that counts prompts where the separator repeats.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from fttui.datasets.findings import Finding, make_finding

SEPARATOR_CANDIDATES = (
    " ->",
    "\n\n###\n\n",
    "\n\n===\n\n",
    "\n\n---\n\n",
    "\n\n===>\n\n",
    "\n\n--->\n\n",
)
SEPARATOR_FALLBACK = "\n\n### =>\n\n"
#: appended when no existing ending can be the stop; " END" first (the tutorial's choice),
#: never "." or another mark the model writes inside its answers anyway
STOP_CANDIDATES = (" END", " ###END", " <|END|>", "\n", "***", "+++", "&&&", "$$$", "@@@", "%%%")
STOP_FALLBACK = " [END]"
LONG_EXAMPLE_CHARS = 10_000
PROMPT_PREFIX_WARN = 12  #: a common prompt prefix longer than this is reported
COMPLETION_PREFIX_WARN = 5  #: a common completion prefix at least this long is reported


def show(text: str) -> str:
    """A separator or stop as a person reads it: ``' ->'``, ``'\\n\\n###\\n\\n'``."""
    return repr(text)


def usable_xfix(text: str) -> str:
    """``text`` when a common suffix can serve as separator / stop sequence, else ``""``.

    It must start with a space or a punctuation mark: a common ``"s"`` or ``"ing."`` is just
    the tail of words, not a separator.
    """
    return text if text and not text[0].isalnum() else ""


#: words that mark an end rather than say something (`` END``, ``<|end|>``, ``</s>``, ``[EOS]``)
_MARKER_TOKENS = re.compile(r"<\|[A-Za-z0-9_]+\|>|</?s>|\[?(?:END|EOS|STOP)\]?")


def marker_like(text: str) -> bool:
    """Whether ``text`` reads as an end marker (``'\\n'``, ``' END'``, ``'###'``, ``'<|end|>'``):
    no letters or digits once known marker words are taken out. ``' arrives.'`` is content."""
    return bool(text) and not any(ch.isalnum() for ch in _MARKER_TOKENS.sub("", text))


def stop_candidate(suffix: str) -> str:
    """The part of the completions' common ending that can be a stop sequence, or ``""``.

    The whole ending when it is marker-like; else its longest tail that starts with a
    non-alphanumeric character, holds a marker word and is marker-like (``'day END'`` →
    ``' END'``); never content such as ``' arrives.'``.
    """
    if usable_xfix(suffix) and marker_like(suffix):
        return suffix
    for i in range(1, len(suffix)):
        tail = suffix[i:]
        if not tail[0].isalnum() and _MARKER_TOKENS.search(tail) and marker_like(tail):
            return tail
    return ""


def _prefix_len(a: str, b: str) -> int:
    """Length of the longest common prefix of two strings (character by character)."""
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    lo, hi = 0, n - 1  # a[:lo] == b[:lo] holds; a[:hi + 1] != b[:hi + 1] holds
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: str, b: str) -> str:
    if b.endswith(a):
        return a
    n = _prefix_len(a[::-1], b[::-1])
    return a[len(a) - n :] if n else ""


def _common_prefix(a: str, b: str) -> str:
    if b.startswith(a):
        return a
    return a[: _prefix_len(a, b)]


def _case_counts(text: str) -> tuple[int, int]:
    """(upper-case letters, lower-case letters) in ``text``."""
    return sum(map(str.isupper, text)), sum(map(str.islower, text))


@dataclass
class PromptCompletionStats:
    """Accumulates the legacy checks over ``(line, prompt, completion)`` examples."""

    n: int = 0
    prompt_suffix: str | None = None
    prompt_prefix: str | None = None
    completion_suffix: str | None = None
    completion_prefix: str | None = None
    all_prompts_empty: bool = True
    separators_seen: set[str] = field(default_factory=set)
    stops_seen: set[str] = field(default_factory=set)
    no_space_count: int = 0
    no_space_first: int | None = None
    #: upper / lower-case letters in all prompts and in all completions (the legacy rule
    #: flags a column where upper * 2 > lower, not counting its common suffix)
    case_counts: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    #: index of the last example that changed the common suffixes (pass 2 stops there)
    last_change: int = 0
    separator_repeated: list[int] = field(default_factory=list)
    stop_repeated: list[int] = field(default_factory=list)

    def add(self, line: int, prompt: str, completion: str) -> None:
        self.n += 1
        if prompt:
            self.all_prompts_empty = False
        if self.prompt_suffix is None:
            self.prompt_suffix = self.prompt_prefix = prompt
            self.completion_suffix = self.completion_prefix = completion
            self.last_change = self.n
        else:
            before = (self.prompt_suffix, self.completion_suffix)
            self.prompt_suffix = _common_suffix(self.prompt_suffix, prompt)
            self.completion_suffix = _common_suffix(self.completion_suffix or "", completion)
            self.prompt_prefix = _common_prefix(self.prompt_prefix or "", prompt)
            self.completion_prefix = _common_prefix(self.completion_prefix or "", completion)
            if (self.prompt_suffix, self.completion_suffix) != before:
                self.last_change = self.n
        for cand in SEPARATOR_CANDIDATES:
            if cand not in self.separators_seen and cand in prompt:
                self.separators_seen.add(cand)
        for cand in STOP_CANDIDATES:
            if cand not in self.stops_seen and cand in completion:
                self.stops_seen.add(cand)
        if completion and not completion[0].isspace():
            self.no_space_count += 1
            if self.no_space_first is None:
                self.no_space_first = line
        counts = self.case_counts
        up, low = _case_counts(prompt)
        counts[0] += up
        counts[1] += low
        up, low = _case_counts(completion)
        counts[2] += up
        counts[3] += low

    @property
    def separator(self) -> str:
        """The prompts' common suffix when it can serve as the separator, else ``""``."""
        return usable_xfix(self.prompt_suffix or "")

    @property
    def stop(self) -> str:
        """The part of the completions' common ending that could be the stop sequence (see
        :func:`stop_candidate`), else ``""``; pass 2 tells whether it also occurs inside one."""
        return stop_candidate(self.completion_suffix or "")

    @property
    def content_ending(self) -> str:
        """The completions' common ending when it is content, not a stop (``' arrives.'``)."""
        ending = usable_xfix(self.completion_suffix or "")
        return ending if ending and not self.stop else ""

    def suggest_separator(self) -> str:
        for cand in SEPARATOR_CANDIDATES:
            if cand not in self.separators_seen:
                return cand
        return SEPARATOR_FALLBACK

    def suggest_stop(self) -> str:
        for cand in STOP_CANDIDATES:
            if cand not in self.stops_seen:
                return cand
        return STOP_FALLBACK

    def needs_second_pass(self) -> bool:
        return bool(self.separator or self.stop)

    def check_repeats(self, index: int, line: int, prompt: str, completion: str) -> None:
        """Pass 2 (examples numbered from 1 as in pass 1): does the separator / stop repeat?"""
        sep, stop = self.separator, self.stop
        if sep and sep in prompt[: len(prompt) - len(sep)]:
            self.separator_repeated.append(line)
        if stop and stop in completion[: len(completion) - len(stop)]:
            self.stop_repeated.append(line)

    def findings(self) -> list[Finding]:
        """The legacy findings, once every example has been added (and pass 2 run)."""
        out: list[Finding] = []
        if self.n == 0:
            return out
        if not self.all_prompts_empty:
            if not self.separator:
                sep = self.suggest_separator()
                out.append(
                    make_finding(
                        "no_common_separator",
                        None,
                        "the prompts do not end with a common separator; the model cannot tell "
                        f"where the prompt ends (suggested: {show(sep)})",
                        hint=f"End every prompt with {show(sep)}, found in none of them "
                        "(`fttui prepare` appends it).",
                    )
                )
            elif self.separator_repeated:
                out.append(
                    make_finding(
                        "separator_repeated",
                        self.separator_repeated[0],
                        f"the separator {show(self.separator)} also occurs inside "
                        f"{len(self.separator_repeated)} prompt(s) (first on line "
                        f"{self.separator_repeated[0]})",
                    )
                )
        if self.no_space_count:
            out.append(
                make_finding(
                    "completion_no_leading_space",
                    self.no_space_first,
                    f"{self.no_space_count} of {self.n} completions do not start with a space "
                    f"(first on line {self.no_space_first})",
                )
            )
        if not self.stop:
            stop = self.suggest_stop()
            ending = self.content_ending
            why = (
                f"the completions' common ending {show(ending)} is text, not a stop sequence"
                if ending
                else "the completions do not end with a common stop sequence"
            )
            out.append(
                make_finding(
                    "no_common_stop_sequence",
                    None,
                    f"{why}; the model will not know when to stop (suggested: {show(stop)})",
                    hint=f"End every completion with {show(stop)}, found in none of them, and pass "
                    "it as `stop` at inference (`fttui prepare` appends it).",
                )
            )
        elif self.stop_repeated:
            out.append(
                make_finding(
                    "stop_sequence_repeated",
                    self.stop_repeated[0],
                    f"the stop sequence {show(self.stop)} also occurs inside "
                    f"{len(self.stop_repeated)} completion(s) (first on line {self.stop_repeated[0]}); "
                    "generation would stop early there",
                )
            )
        prefix = self.prompt_prefix or ""
        if len(prefix) > PROMPT_PREFIX_WARN and self.n > 1:
            out.append(
                make_finding(
                    "common_prefix",
                    None,
                    f"every prompt starts with the same {len(prefix)} characters: {show(prefix[:40])}",
                )
            )
        cprefix = (self.completion_prefix or "").lstrip(" ")
        if len(cprefix) >= COMPLETION_PREFIX_WARN and self.n > 1:
            out.append(
                make_finding(
                    "common_prefix",
                    None,
                    f"every completion starts with the same text: {show(cprefix[:40])}",
                )
            )
        shouting = []
        for name, suffix, (up, low) in (
            ("prompts", self.separator, self.case_counts[0:2]),
            ("completions", self.stop, self.case_counts[2:4]),
        ):
            s_up, s_low = _case_counts(suffix)
            up -= s_up * self.n
            low -= s_low * self.n
            if up > 0 and up * 2 > low:
                shouting.append(name)
        if shouting:
            out.append(
                make_finding(
                    "uppercase_text",
                    None,
                    f"the {' and '.join(shouting)} are mostly upper case",
                )
            )
        return out


__all__ = [
    "LONG_EXAMPLE_CHARS",
    "SEPARATOR_CANDIDATES",
    "STOP_CANDIDATES",
    "PromptCompletionStats",
    "show",
]
