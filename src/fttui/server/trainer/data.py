"""Training data → token ids and loss masks, and batches of them.

Chat examples are rendered with the model's own chat template; the loss covers only the
tokens of assistant messages (content and end-of-turn token) whose ``weight`` is not 0.
Spans are found on the rendered text — the template rendered up to each assistant turn
gives where the turn starts and ends — and mapped to tokens through the tokenizer's
offsets, so any prefix-stable template works. Preference examples (DPO) give a prompt and
two completions; legacy prompt/completion examples train on the completion.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IGNORE = -100
_MESSAGE_KEYS = ("role", "content", "name", "tool_calls", "tool_call_id", "function_call")


class DataError(ValueError):
    """The training or validation file cannot be used for this job."""


@dataclass
class Encoded:
    """One supervised example: token ids and labels (``IGNORE`` where not trained)."""

    input_ids: list[int]
    labels: list[int]

    @property
    def n_tokens(self) -> int:
        return len(self.input_ids)


@dataclass
class EncodedPair:
    """One preference example: the chosen and the rejected sequence."""

    chosen: Encoded
    rejected: Encoded

    @property
    def n_tokens(self) -> int:
        return self.chosen.n_tokens + self.rejected.n_tokens


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    records = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"line {lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise DataError(f"line {lineno}: not a JSON object")
            records.append(record)
    if not records:
        raise DataError(f"{Path(path).name} has no examples")
    return records


def example_kind(record: dict[str, Any]) -> str:
    """``chat``, ``preference`` or ``completion``."""
    if "preferred_output" in record or "preferred_completion" in record:
        return "preference"
    if "messages" in record:
        return "chat"
    if "prompt" in record and "completion" in record:
        return "completion"
    raise DataError(
        f"example with keys {sorted(record)} is not chat, preference or prompt/completion"
    )


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: keep the text ones
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content)


def clean_messages(messages: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages as chat templates expect them: known keys only, content always a string."""
    out = []
    for m in messages:
        msg = {k: m[k] for k in _MESSAGE_KEYS if k in m and m[k] is not None}
        msg["content"] = _text(m.get("content"))
        out.append(msg)
    return out


def render(
    tokenizer,
    messages: list[dict[str, Any]],
    *,
    generation_prompt: bool,
    tools: list[Any] | None = None,
) -> str:
    kwargs: dict[str, Any] = {"tokenize": False, "add_generation_prompt": generation_prompt}
    if tools:
        kwargs["tools"] = tools
    return tokenizer.apply_chat_template(messages, **kwargs)


class Encoder:
    """Turns records into :class:`Encoded` / :class:`EncodedPair` for one tokenizer."""

    def __init__(self, tokenizer, max_length: int):
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.eos_text = tokenizer.eos_token or ""

    # -- helpers --------------------------------------------------------------------------
    def _tokens(self, text: str, spans: list[tuple[int, int]], *, special: bool = False) -> Encoded:
        try:
            enc = self.tokenizer(text, add_special_tokens=special, return_offsets_mapping=True)
        except NotImplementedError:  # only "fast" (Rust) tokenizers report offsets
            raise DataError(
                "this model's tokenizer has no tokenizer.json (a fast tokenizer is "
                "needed to find the assistant tokens)"
            ) from None
        ids = list(enc["input_ids"])
        labels = [IGNORE] * len(ids)
        for i, (start, end) in enumerate(enc["offset_mapping"]):
            if end <= start:  # tokens with no text (e.g. an added BOS): never trained
                continue
            if any(s <= start < e for s, e in spans):
                labels[i] = ids[i]
        return Encoded(ids[: self.max_length], labels[: self.max_length])

    def _assistant_span(self, messages, i, full, tools, cursor) -> tuple[int, int]:
        """Character span of assistant message ``i`` (with its end-of-turn text) in ``full``."""
        try:
            before = render(self.tokenizer, messages[:i], generation_prompt=True, tools=tools)
            through = render(
                self.tokenizer, messages[: i + 1], generation_prompt=False, tools=tools
            )
        except Exception:  # templates that refuse partial conversations
            before = through = ""
        if before and full.startswith(through) and through.startswith(before):
            start, end = len(before), len(through)
        else:  # template not prefix-stable: find the content itself
            content = messages[i]["content"]
            start = full.find(content, cursor) if content else -1
            if start < 0:
                raise DataError("could not locate an assistant message in the rendered chat")
            end = start + len(content)
            if self.eos_text and full.startswith(self.eos_text, end):
                end += len(self.eos_text)
        while end > start and full[end - 1].isspace():  # the newline after end-of-turn
            end -= 1
        return start, end

    # -- formats --------------------------------------------------------------------------
    def chat(self, record: dict[str, Any]) -> Encoded:
        raw = record.get("messages")
        if not isinstance(raw, list) or not raw:
            raise DataError("a chat example has no messages")
        messages = clean_messages(raw)
        tools = record.get("tools") or None
        full = render(self.tokenizer, messages, generation_prompt=False, tools=tools)
        spans, cursor = [], 0
        for i, (m, original) in enumerate(zip(messages, raw, strict=True)):
            if m["role"] != "assistant" or original.get("weight", 1) == 0:
                continue
            span = self._assistant_span(messages, i, full, tools, cursor)
            spans.append(span)
            cursor = span[1]
        return self._tokens(full, spans)

    def _prompt_and_completion(self, prompt_msgs, output, tools) -> Encoded:
        if isinstance(output, dict):
            output = [output]
        if not isinstance(output, list) or not output:
            raise DataError("a preference example needs one assistant message per output")
        messages = clean_messages([*prompt_msgs, *output])
        full = render(self.tokenizer, messages, generation_prompt=False, tools=tools)
        prompt = render(
            self.tokenizer, messages[: len(prompt_msgs)], generation_prompt=True, tools=tools
        )
        if not full.startswith(prompt):
            raise DataError("the chat template does not render the prompt as a prefix")
        end = len(full)
        while end > len(prompt) and full[end - 1].isspace():
            end -= 1
        return self._tokens(full, [(len(prompt), end)])

    def preference(self, record: dict[str, Any]) -> EncodedPair:
        inp = record.get("input") or {}
        prompt = inp.get("messages") if isinstance(inp, dict) else None
        if not isinstance(prompt, list) or not prompt:
            raise DataError("a preference example has no input.messages")
        tools = inp.get("tools") or None
        chosen = record.get("preferred_output", record.get("preferred_completion"))
        rejected = record.get("non_preferred_output", record.get("non_preferred_completion"))
        return EncodedPair(
            self._prompt_and_completion(prompt, chosen, tools),
            self._prompt_and_completion(prompt, rejected, tools),
        )

    def completion(self, record: dict[str, Any]) -> Encoded:
        prompt, completion = _text(record.get("prompt")), _text(record.get("completion"))
        text = prompt + completion + self.eos_text
        return self._tokens(text, [(len(prompt), len(text))], special=True)


def encode_file(path: str | Path, tokenizer, *, method: str, max_length: int) -> list[Any]:
    """Every example of ``path`` encoded for ``method`` (``supervised`` or ``dpo``).

    Preference data is never trained as supervised, nor chat data as DPO: a mismatch is a
    ``DataError``. Examples left with no trained token (all weights 0) are dropped.
    """
    encoder = Encoder(tokenizer, max_length)
    out: list[Any] = []
    for n, record in enumerate(read_jsonl(path), 1):
        kind = example_kind(record)
        try:
            if method == "dpo":
                if kind != "preference":
                    raise DataError(
                        "DPO needs preference examples (input, preferred_output, non_preferred_output)"
                    )
                out.append(encoder.preference(record))
            elif kind == "preference":
                raise DataError("preference examples need the DPO method (method.type = 'dpo')")
            else:
                enc = encoder.chat(record) if kind == "chat" else encoder.completion(record)
                if any(label != IGNORE for label in enc.labels):
                    out.append(enc)
        except DataError as exc:
            raise DataError(f"example {n}: {exc}") from None
    if not out:
        raise DataError(f"{Path(path).name}: no example has a trained assistant token")
    return out


# -- batches ----------------------------------------------------------------------------------


def epoch_order(n_examples: int, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """The batches (lists of example indices) of one epoch: a seeded shuffle, cut in order."""
    order = list(range(n_examples))
    random.Random(seed * 1_000_003 + epoch).shuffle(order)
    return [order[i : i + batch_size] for i in range(0, n_examples, batch_size)]


def steps_per_epoch(n_examples: int, batch_size: int) -> int:
    return -(-n_examples // batch_size)


def micro_batches(lengths: dict[int, int], batch: list[int], max_tokens: int) -> list[list[int]]:
    """Split a batch into micro-batches of at most ``max_tokens`` padded tokens each.

    Sorting by length first keeps padding small; the gradient is accumulated over them.
    """
    out: list[list[int]] = []
    current: list[int] = []
    for idx in sorted(batch, key=lambda i: lengths[i]):
        longest = lengths[idx]  # sorted ascending: the newcomer is the longest
        if current and longest * (len(current) + 1) > max_tokens:
            out.append(current)
            current = []
        current.append(idx)
    if current:
        out.append(current)
    return out


def collate(examples: list[Encoded], pad_id: int, device: str = "cpu"):
    """Right-padded ``input_ids``, ``attention_mask`` and ``labels`` tensors."""
    import torch

    width = max(e.n_tokens for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, e in enumerate(examples):
        n = e.n_tokens
        ids[row, :n] = torch.tensor(e.input_ids)
        labels[row, :n] = torch.tensor(e.labels)
        mask[row, :n] = 1
    return ids.to(device), mask.to(device), labels.to(device)
