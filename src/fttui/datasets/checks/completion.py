"""The checks of legacy prompt/completion examples."""

from __future__ import annotations

from typing import Any

from fttui.datasets.checks.common import CheckerBase, Tokens, _kind, _names
from fttui.datasets.legacy import LONG_EXAMPLE_CHARS


class CompletionChecks(CheckerBase):
    """Prompt/completion examples."""

    def _prompt_completion(self, line: int, example: dict[str, Any]) -> Tokens | None:
        prompt = example.get("prompt")
        completion = example.get("completion")
        bad = [
            k for k, v in (("prompt", prompt), ("completion", completion)) if not isinstance(v, str)
        ]
        if not isinstance(prompt, str) or not isinstance(completion, str):
            self._err(
                "prompt_completion_invalid",
                line,
                " and ".join(
                    f"`{k}` is {_kind(example.get(k)) if k in example else 'missing'}" for k in bad
                ),
            )
            return None
        if len(example) > 2:
            extra = [k for k in example if k not in ("prompt", "completion")]
            self._aggregate("extra_columns", line, _names(extra[:5]))
        tokens = Tokens()
        tokens.base = 0
        if not completion or completion.isspace():
            self._err("empty_completion", line, "the completion is empty")
        if len(prompt) + len(completion) > LONG_EXAMPLE_CHARS:
            self._err(
                "long_example",
                line,
                f"{len(prompt) + len(completion):,} characters (prompt + completion)",
            )
        self.legacy.add(line, prompt, completion)
        self._text(tokens, prompt, assistant=False, line=line, where="the prompt")
        self._text(tokens, completion, assistant=True, line=line, where="the completion")
        return tokens
