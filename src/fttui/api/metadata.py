"""A job's metadata as the user types it (``key=value, key2=value2``) and OpenAI's limits
on it: at most 16 pairs, a key at most 64 characters, a value at most 512. Checked before
the request, so the create form can say which pair is wrong where it was typed."""

from __future__ import annotations

MAX_PAIRS = 16
MAX_KEY = 64
MAX_VALUE = 512


class MetadataError(ValueError):
    """The metadata cannot be sent; the message names the pair."""


def split_pairs(text: str) -> list[str]:
    """``a=1, b=x\\,y`` → ``["a=1", "b=x,y"]``: pairs are comma-separated, ``\\,`` is a comma
    inside a value (as the app's stop sequences), ``\\\\`` a backslash."""
    out: list[str] = []
    cur: list[str] = []
    chars = iter(text)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            cur.append(nxt if nxt in (",", "\\") else ch + nxt)
        elif ch == ",":
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return [p.strip() for p in out if p.strip()]


def parse_metadata_text(text: str) -> dict[str, str]:
    """The metadata in ``text`` (empty: ``{}``); raises ``MetadataError`` on the first pair
    without ``=``, an empty or repeated key, or a limit passed."""
    out: dict[str, str] = {}
    for pair in split_pairs(text):
        if "=" not in pair:
            raise MetadataError(f"{pair!r} is not key=value")
        key, value = (part.strip() for part in pair.split("=", 1))
        if not key:
            raise MetadataError(f"{pair!r} has no key")
        if key in out:
            raise MetadataError(f"the key {key!r} is given twice")
        out[key] = value
    check_metadata(out)
    return out


def check_metadata(metadata: dict[str, str]) -> None:
    """Raise ``MetadataError`` where OpenAI would refuse ``metadata``."""
    if len(metadata) > MAX_PAIRS:
        raise MetadataError(f"at most {MAX_PAIRS} key=value pairs ({len(metadata)} given)")
    for key, value in metadata.items():
        if len(key) > MAX_KEY:
            raise MetadataError(
                f"the key {key[:20]!r}… is {len(key)} characters (at most {MAX_KEY})"
            )
        if len(value) > MAX_VALUE:
            raise MetadataError(
                f"the value of {key!r} is {len(value)} characters (at most {MAX_VALUE})"
            )


def format_metadata(metadata: dict[str, str] | None) -> str:
    """The inverse of ``parse_metadata_text``: what the form shows for a cloned job."""
    if not metadata:
        return ""

    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace(",", "\\,")

    return ", ".join(f"{esc(k)}={esc(v)}" for k, v in metadata.items())
