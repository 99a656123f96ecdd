"""What every format's checks share: the limits, the token accounting of one example
(:class:`Tokens`), the wording helpers, and :class:`CheckerBase`, the running state and
finding helpers the per-format checks (``chat``, ``images``, ``preference``,
``completion``) build on.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence
from typing import Any

from fttui.datasets.detect import NON_PREFERRED_KEYS, PREFERRED_KEYS
from fttui.datasets.findings import Finding, make_finding
from fttui.datasets.legacy import PromptCompletionStats
from fttui.datasets.rft import RFT_ROLES
from fttui.datasets.tokens import find_special_tokens

ROLES = frozenset({"system", "user", "assistant", "tool", "function"})
MESSAGE_KEYS = frozenset(
    {"role", "content", "name", "tool_calls", "tool_call_id", "function_call", "weight"}
)
CHAT_KEYS = frozenset({"messages", "tools", "parallel_tool_calls", "functions"})
PREFERENCE_KEYS = frozenset({"input", *PREFERRED_KEYS, *NON_PREFERRED_KEYS})
PREFERENCE_INPUT_KEYS = frozenset({"messages", "tools", "parallel_tool_calls", "functions"})

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
TOKENS_PER_EXAMPLE = 3
TOKENS_PER_IMAGE = 85
MAX_IMAGES = 10
MAX_IMAGE_EXAMPLES = 50_000  #: examples with images one file may hold
MAX_IMAGE_BYTES = 10 * 1024 * 1024
IMAGE_MIME = {"image/jpeg", "image/jpg", "image/png", "image/webp"}
IMAGE_DETAIL = {"auto", "low", "high"}
#: how much of a JPEG data URL is decoded to find its colour mode (EXIF/ICC come first)
JPEG_HEADER_CHARS = 256 * 1024
IMAGE_MODE_NAMES = {
    "L": "grayscale",
    "LA": "grayscale with alpha",
    "P": "palette-based",
    "CMYK": "CMYK",
}
#: strings longer than this are counted on the spot in chunks, not sent to the workers
BIG_TEXT = 1 << 20


class Tokens:
    """What one example contributes to the token counts (see the module docstring)."""

    __slots__ = ("assistant", "base", "cacheable", "other")

    def __init__(self) -> None:
        self.base = TOKENS_PER_EXAMPLE
        self.other: list[str] = []  #: non-assistant strings to encode
        self.assistant: list[str] = []  #: trained assistant strings to encode
        self.cacheable: list[str] = []  #: non-assistant strings that repeat (system, tools)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _names(keys: list[Any]) -> str:
    """Key names for a message; an empty name shows as '' so the list is never blank."""
    return ", ".join(k if k.strip() else repr(k) for k in map(str, keys))


class CheckerBase:
    """The running state of a check of one file, and how findings are made."""

    def __init__(
        self,
        add: Callable[[Finding], None],
        big_count: Callable[[str], int],
        *,
        method: str | None = None,
        grader_fields: Sequence[str] = (),
    ) -> None:
        self.add = add
        self.big_count = big_count
        self.rft = method == "reinforcement"
        self.grader_fields = tuple(grader_fields)
        # RFT prompts are what reasoning models are sent, where `developer` is the system role
        self.roles = RFT_ROLES if self.rft else ROLES
        self.format_counts: dict[str, int] = {}
        self.format_first: dict[str, int] = {}
        self.kind_counts: dict[str, int] = {"tools": 0, "vision": 0, "weight": 0}
        self.messages_per_example = array("I")
        self.images = 0
        self.legacy = PromptCompletionStats()
        # aggregated (file-level) findings: code -> [count, first line, detail]
        self._agg: dict[str, list[Any]] = {}
        self._examples_with_system = 0
        self._chat_examples = 0
        self._features: set[str] = set()
        self._rft_like = 0  #: chat examples with no reply that end with the user's turn

    # -- helpers -----------------------------------------------------------------------

    def _aggregate(self, code: str, line: int, detail: str = "") -> None:
        entry = self._agg.get(code)
        if entry is None:
            self._agg[code] = [1, line, detail]
        else:
            entry[0] += 1

    def _err(self, code: str, line: int, message: str, **kw: Any) -> None:
        self.add(make_finding(code, line, f"line {line}: {message}", **kw))

    def _text(self, tokens: Tokens, text: str, *, assistant: bool, line: int, where: str) -> None:
        if "<|" in text:
            found = find_special_tokens(text)
            if found:
                self._err(
                    "special_token_in_content",
                    line,
                    f"{where} contains the special token{'s' if len(found) > 1 else ''} "
                    + ", ".join(found),
                )
        if len(text) > BIG_TEXT:
            n = self.big_count(text)
            tokens.base += n
            return
        (tokens.assistant if assistant else tokens.other).append(text)
