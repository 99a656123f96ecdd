"""Which training format one example is in.

Chat, tool-calling and vision examples are all the one supervised chat format (they mix
freely in one file); preference (DPO) and legacy prompt/completion are formats of their own.
"""

from __future__ import annotations

from typing import Any

FORMATS = ("chat", "preference", "prompt_completion", "unknown")

PREFERRED_KEYS = ("preferred_output", "preferred_completion")
NON_PREFERRED_KEYS = ("non_preferred_output", "non_preferred_completion")


def detect_format(example: Any) -> str:
    """``chat``, ``preference``, ``prompt_completion`` or ``unknown`` for one example."""
    if not isinstance(example, dict):
        return "unknown"
    if "messages" in example:
        return "chat"
    if "input" in example or any(k in example for k in PREFERRED_KEYS + NON_PREFERRED_KEYS):
        return "preference"
    if "prompt" in example or "completion" in example:
        return "prompt_completion"
    return "unknown"


def chat_features(example: dict[str, Any]) -> set[str]:
    """Sub-kinds of a chat example: ``tools`` (tool or function calls/definitions),
    ``vision`` (image parts), ``weight`` (per-message weights)."""
    found: set[str] = set()
    if example.get("tools") or example.get("functions"):
        found.add("tools")
    messages = example.get("messages")
    if isinstance(messages, list):
        for msg in messages:
            if not isinstance(msg, dict):
                continue
            if msg.get("tool_calls") or msg.get("function_call"):
                found.add("tools")
            if "weight" in msg:
                found.add("weight")
            content = msg.get("content")
            if isinstance(content, list) and any(
                isinstance(p, dict) and p.get("type") == "image_url" for p in content
            ):
                found.add("vision")
    return found


__all__ = ["FORMATS", "chat_features", "detect_format"]
