"""The checks of preference (DPO) examples: a chat ``input`` and one preferred and one
non-preferred assistant reply."""

from __future__ import annotations

from typing import Any

from fttui.datasets.checks.chat import ChatChecks
from fttui.datasets.checks.common import (
    PREFERENCE_INPUT_KEYS,
    PREFERENCE_KEYS,
    TOKENS_PER_MESSAGE,
    Tokens,
    _kind,
    _names,
)
from fttui.datasets.detect import NON_PREFERRED_KEYS, PREFERRED_KEYS


class PreferenceChecks(ChatChecks):
    """Preference examples (their ``input`` is checked as chat)."""

    def _preference(self, line: int, example: dict[str, Any]) -> Tokens:
        tokens = Tokens()
        extra = [k for k in example if k not in PREFERENCE_KEYS]
        if extra:
            self._aggregate("example_unrecognized_key", line, _names(extra[:3]))
        inp = example.get("input")
        if not isinstance(inp, dict):
            self._err(
                "preference_invalid",
                line,
                f"`input` is {_kind(inp)}, not an object with `messages`",
            )
        else:
            tool_names = self._tools(line, inp, tokens)
            extra_in = [k for k in inp if k not in PREFERENCE_INPUT_KEYS]
            if extra_in:
                self._err(
                    "preference_invalid",
                    line,
                    f"`input` has unexpected keys: {_names(extra_in[:3])}",
                )
            messages = inp.get("messages")
            if not isinstance(messages, list) or not messages:
                self._err("preference_invalid", line, "`input.messages` must be a non-empty list")
            else:
                images_before = self.images
                roles = self._messages(line, messages, tokens, tool_names, context="input ")
                self.messages_per_example.append(len(messages))
                if self.images > images_before:
                    self._err(
                        "preference_invalid",
                        line,
                        "`input` holds images; preference (DPO) examples are text only",
                    )
                if "user" not in roles:
                    self._err("missing_user_message", line, "no user message in `input`")
        old = False
        for keys in (PREFERRED_KEYS, NON_PREFERRED_KEYS):
            key = next((k for k in keys if k in example), None)
            if key is None:
                self._err("preference_invalid", line, f"`{keys[0]}` is missing")
                continue
            if key.endswith("_completion"):
                old = True
            self._output(line, key, example[key], tokens)
        if old:
            self._aggregate("preference_old_field_names", line)
        return tokens

    def _output(self, line: int, key: str, value: Any, tokens: Tokens) -> None:
        if not isinstance(value, list) or len(value) != 1:
            n = len(value) if isinstance(value, list) else None
            what = f"a list of {n} messages" if n is not None else _kind(value)
            self._err(
                "preference_invalid",
                line,
                f"`{key}` is {what}; it must be a list of one assistant message",
            )
            return
        msg = value[0]
        if not isinstance(msg, dict) or msg.get("role") != "assistant":
            self._err(
                "preference_invalid", line, f"`{key}` must hold one message with role assistant"
            )
            return
        content = msg.get("content")
        if not isinstance(content, str) or not content or content.isspace():
            self._err(
                "preference_invalid", line, f"`{key}`: the assistant content must be non-empty text"
            )
            return
        tokens.base += TOKENS_PER_MESSAGE + 1
        self._text(tokens, content, assistant=True, line=line, where=key)
