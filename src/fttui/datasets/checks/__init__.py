"""Per-example checks, and the texts each example contributes to its token count.

:class:`ExampleChecker` looks at one parsed example at a time (it keeps only small running
state), appends findings, and returns a :class:`Tokens` job: the strings to encode (split
into assistant and other text) plus a constant for everything it could count without
encoding (the cookbook's per-message overheads, role names, images). The token counting
itself happens elsewhere, in worker threads.

Token accounting follows OpenAI's cookbook: per message 3 + the tokens of every string
value (+1 for ``name``), per example + 3. Tool calls count their id, name and arguments;
an example's ``tools`` count as their JSON; an image counts 85 tokens (its low-detail base
cost). Prompt/completion examples count prompt + completion. "Assistant tokens" are those
of assistant messages the model trains on (``weight`` 0 excluded).
"""

from __future__ import annotations

from typing import Any

from fttui.datasets.checks.common import (
    BIG_TEXT,
    CHAT_KEYS,
    IMAGE_DETAIL,
    IMAGE_MIME,
    IMAGE_MODE_NAMES,
    JPEG_HEADER_CHARS,
    MAX_IMAGE_BYTES,
    MAX_IMAGE_EXAMPLES,
    MAX_IMAGES,
    MESSAGE_KEYS,
    PREFERENCE_INPUT_KEYS,
    PREFERENCE_KEYS,
    ROLES,
    TOKENS_PER_EXAMPLE,
    TOKENS_PER_IMAGE,
    TOKENS_PER_MESSAGE,
    TOKENS_PER_NAME,
    Tokens,
    _kind,
    _names,
)
from fttui.datasets.checks.completion import CompletionChecks
from fttui.datasets.checks.preference import PreferenceChecks
from fttui.datasets.findings import Finding, make_finding
from fttui.text import has_have, plural, verb_s


class ExampleChecker(PreferenceChecks, CompletionChecks):
    """Checks examples one at a time; see :meth:`check`.

    ``add(finding)`` receives every per-example finding. File-level summaries (counts of
    examples without a system message, deprecated fields, ...) come from :meth:`summary`.
    ``big_count(text) -> int`` counts one very long string on the spot. ``method`` is the
    fine-tuning method the file is for, when known: ``reinforcement`` checks the RFT shape
    (a chat prompt ending with the user's turn, every ``grader_fields`` path present).
    """

    # -- entry point -------------------------------------------------------------------

    def check(self, line: int, example: Any) -> Tokens | None:
        """Check one parsed example; None when it is not an object (``data_type``)."""
        if not isinstance(example, dict):
            self._err("data_type", line, f"the value is {_kind(example)}, not a JSON object")
            return None
        if "messages" in example:
            fmt = "chat"
        elif "input" in example or any(
            k in example
            for k in (
                "preferred_output",
                "non_preferred_output",
                "preferred_completion",
                "non_preferred_completion",
            )
        ):
            fmt = "preference"
        elif "prompt" in example or "completion" in example:
            fmt = "prompt_completion"
        else:
            keys = _names(list(example)[:5]) or "no keys"
            self._err(
                "missing_messages_list",
                line,
                f"no `messages` list (the object has {keys}); not a chat, preference or "
                "prompt/completion example",
            )
            return None
        count = self.format_counts.get(fmt)
        if count is None:
            self.format_counts[fmt] = 1
            self.format_first[fmt] = line
        else:
            self.format_counts[fmt] = count + 1
        if self.rft and fmt != "chat":
            self._err(
                "rft_example_invalid",
                line,
                f"a {fmt.replace('_', '/')} example; reinforcement fine-tuning takes chat "
                "`messages` that end with the user's turn",
            )
        if fmt == "prompt_completion":
            return self._prompt_completion(line, example)
        features = self._features
        features.clear()
        tokens = self._chat(line, example) if fmt == "chat" else self._preference(line, example)
        if features:
            for feature in features:
                self.kind_counts[feature] += 1
        return tokens

    # -- summaries ---------------------------------------------------------------------

    def summary(self) -> list[Finding]:
        """The aggregated findings (one per code, with counts and the first line)."""
        out: list[Finding] = []
        vision = self.kind_counts["vision"]
        if vision > MAX_IMAGE_EXAMPLES:
            out.append(
                make_finding(
                    "image_invalid",
                    None,
                    f"{vision:,} examples hold images; a file may have at most "
                    f"{MAX_IMAGE_EXAMPLES:,}",
                    hint="Split the image examples over several jobs, or drop some.",
                )
            )
        for code, (count, first, detail) in self._agg.items():
            if code == "missing_system_message":
                if self._examples_with_system == 0:
                    message = f"no example has a system message ({plural(count, 'example')})"
                else:
                    message = (
                        f"{count} of {self._chat_examples} examples {has_have(count)} no system message "
                        f"(first on line {first})"
                    )
            elif code == "functions_deprecated":
                message = f"{plural(count, 'example')} use{verb_s(count)} `functions` / `function_call` (first on line {first})"
            elif code == "preference_old_field_names":
                message = (
                    f"{plural(count, 'example')} use{verb_s(count)} `preferred_completion` / `non_preferred_completion` "
                    f"(first on line {first})"
                )
            elif code == "extra_columns":
                message = f"{plural(count, 'example')} {has_have(count)} fields besides prompt and completion ({detail}), first on line {first}"
            else:  # example_unrecognized_key
                message = f"{plural(count, 'example')} {has_have(count)} unexpected top-level keys ({detail}), first on line {first}"
            out.append(make_finding(code, first, message))
        if self._chat_examples and self._rft_like == self._chat_examples:
            out.append(
                make_finding(
                    "rft_data_suspected",
                    None,
                    "no example has an assistant reply and every one ends with the user's turn: "
                    "this looks like reinforcement fine-tuning data",
                )
            )
        return out


#: the limits and key sets are public too (they live in ``common``)
__all__ = [
    "BIG_TEXT",
    "CHAT_KEYS",
    "IMAGE_DETAIL",
    "IMAGE_MIME",
    "IMAGE_MODE_NAMES",
    "JPEG_HEADER_CHARS",
    "MAX_IMAGES",
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_EXAMPLES",
    "MESSAGE_KEYS",
    "PREFERENCE_INPUT_KEYS",
    "PREFERENCE_KEYS",
    "ROLES",
    "TOKENS_PER_EXAMPLE",
    "TOKENS_PER_IMAGE",
    "TOKENS_PER_MESSAGE",
    "TOKENS_PER_NAME",
    "ExampleChecker",
    "Tokens",
]
