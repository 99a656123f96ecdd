"""How an API key is shown: never whole (``mask_key``)."""

from __future__ import annotations


def mask_key(key: str | None) -> str:
    """A key safe to show: its prefix and last 4 characters, never the whole key."""
    if not key:
        return "(none)"
    key = key.strip()
    if len(key) <= 8:
        return "…" + key[-2:] if len(key) > 4 else "****"
    prefix = key[:3] if key.startswith("sk-") else key[:2]
    return f"{prefix}…{key[-4:]}"
