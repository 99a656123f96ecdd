"""Counts and sizes in words, one way for every layer: ``3 examples``, ``1 example uses``,
``1.5 MB``.

Top-level and dependency-free (like ``fttui.paths``), so the dataset core, the server, the
API client, the CLI and the TUI all import it without crossing a layer.
"""

from __future__ import annotations


def plural(n: int, word: str, *, grouped: bool = True) -> str:
    """``1 file`` / ``3 files`` / ``1,200 files``; ``grouped=False``: ``1200 files``."""
    count = f"{n:,}" if grouped else str(n)
    return f"{count} {word}{'' if n == 1 else 's'}"


def verb_s(n: int) -> str:
    """The verb's ending after :func:`plural`: ``1 example uses``, ``3 examples use``."""
    return "s" if n == 1 else ""


def has_have(n: int) -> str:
    """``1 example has``, ``3 examples have``."""
    return "has" if n == 1 else "have"


def human_size(n: float) -> str:
    """A size in decimal units, as file managers show it: ``512 B``, ``1.5 kB``, ``2.0 GB``."""
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"  # pragma: no cover


def binary_size(n: int) -> str:
    """A size in binary units without a space, for narrow CLI columns: ``512B``, ``1.5KB``."""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f}{unit}" if unit == "B" else f"{size:.1f}{unit}"
        size /= 1024
    return f"{n}B"  # pragma: no cover


#: The escapes a typed stop sequence (``--stop '\\n'``, the Evals pane's Stop field) may use.
STOP_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}


def unescape(s: str) -> str:
    """Let people type a stop sequence: ``\\n``, ``\\t``, ``\\r`` and ``\\\\`` are escapes;
    any other backslash is itself (``C:\\Users`` stays, ``é`` is never mangled)."""
    out: list[str] = []
    i = 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s) and s[i + 1] in STOP_ESCAPES:
            out.append(STOP_ESCAPES[s[i + 1]])
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)
