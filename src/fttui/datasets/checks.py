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

import base64
import binascii
from array import array
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from fttui.datasets.detect import NON_PREFERRED_KEYS, PREFERRED_KEYS
from fttui.datasets.findings import Finding, make_finding
from fttui.datasets.images import RGB_MODES, image_format, image_mode
from fttui.datasets.legacy import LONG_EXAMPLE_CHARS, PromptCompletionStats
from fttui.datasets.rft import RFT_ROLES, has_field
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


def _n(count: int) -> str:
    """``1 example`` / ``3 examples``."""
    return f"{count:,} example{'' if count == 1 else 's'}"


def _s(count: int) -> str:
    """The verb ending for :func:`_n`: ``1 example uses``, ``3 examples use``."""
    return "s" if count == 1 else ""


def _have(count: int) -> str:
    return "has" if count == 1 else "have"


class ExampleChecker:
    """Checks examples one at a time; see :meth:`check`.

    ``add(finding)`` receives every per-example finding. File-level summaries (counts of
    examples without a system message, deprecated fields, ...) come from :meth:`summary`.
    ``big_count(text) -> int`` counts one very long string on the spot. ``method`` is the
    fine-tuning method the file is for, when known: ``reinforcement`` checks the RFT shape
    (a chat prompt ending with the user's turn, every ``grader_fields`` path present).
    """

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

    # -- chat --------------------------------------------------------------------------

    def _chat(self, line: int, example: dict[str, Any]) -> Tokens:
        tokens = Tokens()
        self._chat_examples += 1
        if len(example) > 1:
            # in RFT data the other keys are the reference fields the grader reads
            extra = [] if self.rft else [k for k in example if k not in CHAT_KEYS]
            if extra:
                self._aggregate("example_unrecognized_key", line, _names(extra[:3]))
            tool_names = self._tools(line, example, tokens)
        else:
            tool_names = None
        messages = example.get("messages")
        if not isinstance(messages, list) or not messages:
            what = "empty" if isinstance(messages, list) else _kind(messages)
            self._err("missing_messages_list", line, f"`messages` is {what}, not a non-empty list")
            return tokens
        roles = self._messages(line, messages, tokens, tool_names, context="")
        self.messages_per_example.append(len(messages))
        if self.rft:
            self._rft(line, example, messages)
        elif "assistant" not in roles:
            last = messages[-1]
            if isinstance(last, dict) and last.get("role") == "user":
                self._rft_like += 1
            self._err(
                "example_missing_assistant_message",
                line,
                "no assistant message: there is nothing for the model to learn",
            )
        if "user" not in roles:
            self._err("missing_user_message", line, "no user message")
        if "system" in roles or "developer" in roles:
            self._examples_with_system += 1
        else:
            self._aggregate("missing_system_message", line)
        return tokens

    def _rft(self, line: int, example: dict[str, Any], messages: list[Any]) -> None:
        """The RFT shape: the model writes the last turn, so the prompt ends with the user's."""
        last = messages[-1]
        role = last.get("role") if isinstance(last, dict) else None
        if role != "user":
            self._err(
                "rft_last_message_not_user",
                line,
                f"the last message is {'an ' if role == 'assistant' else ''}"
                f"{role if isinstance(role, str) else _kind(last)} message; in RFT data the "
                "model writes the answer, so the messages end with the user's turn",
            )
        for path in self.grader_fields:
            if not has_field(example, path):
                self._err(
                    "rft_grader_field_missing",
                    line,
                    f"the grader reads {{{{item.{path}}}}}, which this example does not have",
                )

    def _tools(self, line: int, example: dict[str, Any], tokens: Tokens) -> set[str] | None:
        """Validate ``tools`` / ``functions`` / ``parallel_tool_calls``; the declared names."""
        names: set[str] | None = None
        tools = example.get("tools")
        if tools is not None:
            names = set()
            if not isinstance(tools, list):
                self._err("tools_invalid", line, f"`tools` is {_kind(tools)}, not a list")
            else:
                if tools:
                    self._features.add("tools")
                for i, tool in enumerate(tools, 1):
                    fn = tool.get("function") if isinstance(tool, dict) else None
                    if (
                        not isinstance(tool, dict)
                        or tool.get("type") != "function"
                        or not isinstance(fn, dict)
                    ):
                        self._err(
                            "tools_invalid",
                            line,
                            f'tools[{i}] must be {{"type": "function", "function": {{...}}}}',
                        )
                        continue
                    self._function_def(line, f"tools[{i}].function", fn, names)
                self._cache_json(tokens, line, "tools", tools)
        functions = example.get("functions")
        if functions is not None:
            names = names if names is not None else set()
            self._aggregate("functions_deprecated", line)
            if not isinstance(functions, list):
                self._err("tools_invalid", line, f"`functions` is {_kind(functions)}, not a list")
            else:
                for i, fn in enumerate(functions, 1):
                    if not isinstance(fn, dict):
                        self._err(
                            "tools_invalid", line, f"functions[{i}] is {_kind(fn)}, not an object"
                        )
                        continue
                    self._function_def(line, f"functions[{i}]", fn, names)
                self._cache_json(tokens, line, "functions", functions)
        ptc = example.get("parallel_tool_calls")
        if ptc is not None and not isinstance(ptc, bool):
            self._err(
                "tools_invalid", line, f"`parallel_tool_calls` is {_kind(ptc)}, not true/false"
            )
        return names

    def _cache_json(self, tokens: Tokens, line: int, key: str, value: list[Any]) -> None:
        """Count ``value`` as its JSON text; too deep to write is a finding, not a crash."""
        try:
            text = orjson.dumps(value).decode()
        except orjson.JSONEncodeError:  # nested deeper than orjson writes (255 levels)
            self._err("tools_invalid", line, f"`{key}` is nested too deeply (over 255 levels)")
            return
        tokens.cacheable.append(text)

    def _function_def(self, line: int, where: str, fn: dict[str, Any], names: set[str]) -> None:
        name = fn.get("name")
        if not isinstance(name, str) or not name:
            self._err("tools_invalid", line, f"{where} has no `name`")
        else:
            names.add(name)
        desc = fn.get("description")
        if desc is not None and not isinstance(desc, str):
            self._err("tools_invalid", line, f"{where}.description is {_kind(desc)}, not a string")
        params = fn.get("parameters")
        if params is not None and not isinstance(params, dict):
            self._err(
                "tools_invalid",
                line,
                f"{where}.parameters is {_kind(params)}, not a JSON schema object",
            )

    def _messages(
        self,
        line: int,
        messages: list[Any],
        tokens: Tokens,
        tool_names: set[str] | None,
        *,
        context: str,
    ) -> set[str]:
        """Check a messages list; returns the roles seen. ``context`` prefixes locations."""
        roles: set[str] = set()
        call_ids: set[str] = set()
        images = 0
        other = tokens.other
        assistant = tokens.assistant
        cacheable = tokens.cacheable
        i = 0
        for msg in messages:
            i += 1
            # Fast path: the common {"role", "content": "non-empty text"} message.
            if type(msg) is dict and len(msg) == 2:
                content = msg.get("content")
                role = msg.get("role")
                if (
                    type(content) is str
                    and (role == "user" or role == "assistant" or role == "system")
                    and content
                    and not content.isspace()
                    and "<|" not in content
                    and len(content) <= BIG_TEXT
                ):
                    tokens.base += TOKENS_PER_MESSAGE + 1
                    roles.add(role)
                    if role == "user":
                        other.append(content)
                    elif role == "assistant":
                        assistant.append(content)
                    else:
                        cacheable.append(content)
                    continue
            images += self._message(line, i, msg, tokens, tool_names, roles, call_ids, context)
        if images:
            self.images += images
            self._features.add("vision")
            if images > MAX_IMAGES:
                self._err(
                    "image_invalid",
                    line,
                    f"{images} images; an example may hold at most {MAX_IMAGES}",
                )
        return roles

    def _message(
        self,
        line: int,
        i: int,
        msg: Any,
        tokens: Tokens,
        tool_names: set[str] | None,
        roles: set[str],
        call_ids: set[str],
        context: str,
    ) -> int:
        """One message, every check (the slow path); returns its number of images."""
        where = f"{context}message {i}"
        if not isinstance(msg, dict):
            self._err(
                "message_missing_key",
                line,
                f"{where} is {_kind(msg)}, not an object with `role` and `content`",
            )
            return 0
        tokens.base += TOKENS_PER_MESSAGE
        for key in msg:
            if key not in MESSAGE_KEYS:
                self._err(
                    "message_unrecognized_key",
                    line,
                    f"{where} has the key {key!r}, which the API does not accept",
                )
        role = msg.get("role")
        if role is None:
            self._err("message_missing_key", line, f"{where} has no `role`")
        elif not isinstance(role, str) or role not in self.roles:
            self._err(
                "unrecognized_role",
                line,
                f"{where} has the role {role!r}; allowed: "
                + (
                    "system, developer, user, assistant, tool"
                    if self.rft
                    else "system, user, assistant, tool, function"
                ),
            )
        else:
            roles.add(role)
            tokens.base += 1  # every allowed role is one token in both encodings
        is_assistant = role == "assistant"
        weight = msg.get("weight", 1)
        if "weight" in msg:
            self._features.add("weight")
            if not is_assistant:
                self._err(
                    "weight_invalid",
                    line,
                    f"{where}: `weight` is only allowed on assistant messages",
                )
            elif isinstance(weight, bool) or weight not in (0, 1):
                self._err(
                    "weight_invalid", line, f"{where}: `weight` is {weight!r}; it must be 0 or 1"
                )
                weight = 1
        trained = is_assistant and weight != 0
        tool_calls = msg.get("tool_calls")
        function_call = msg.get("function_call")
        has_call = bool(tool_calls) or bool(function_call)
        if tool_calls is not None:
            self._tool_calls(line, where, role, tool_calls, tokens, trained, call_ids, tool_names)
        if function_call is not None:
            self._aggregate("functions_deprecated", line)
            self._function_call(line, where, role, function_call, tokens, trained)
        if role == "tool":
            tcid = msg.get("tool_call_id")
            if not isinstance(tcid, str) or not tcid:
                self._err(
                    "tool_call_invalid", line, f"{where}: a tool message needs a `tool_call_id`"
                )
            else:
                tokens.other.append(tcid)
                if tcid not in call_ids:
                    self._err(
                        "tool_call_invalid",
                        line,
                        f"{where}: tool_call_id {tcid!r} answers no earlier tool call",
                    )
        elif "tool_call_id" in msg:
            self._err(
                "tool_call_invalid", line, f"{where}: `tool_call_id` belongs on tool messages only"
            )
        name = msg.get("name")
        if isinstance(name, str):
            tokens.base += TOKENS_PER_NAME
            tokens.other.append(name)
        if "content" not in msg:
            if not has_call:
                self._err("message_missing_key", line, f"{where} ({role}) has no `content`")
            return 0
        content = msg["content"]
        if type(content) is str:
            if (not content or content.isspace()) and not has_call:
                self._err("missing_content", line, f"{where} ({role}) has empty content")
            if role == "system":
                if "<|" in content:
                    self._text(tokens, content, assistant=False, line=line, where=where)
                elif len(content) > BIG_TEXT:
                    tokens.base += self.big_count(content)
                else:
                    tokens.cacheable.append(content)
            else:
                self._text(tokens, content, assistant=trained, line=line, where=where)
        elif content is None:
            if not has_call:
                self._err(
                    "missing_content", line, f"{where} ({role}) has null content and no tool call"
                )
        elif isinstance(content, list):
            return self._parts(line, where, role, content, tokens, trained, has_call)
        else:
            self._err(
                "missing_content",
                line,
                f"{where} ({role}): content is {_kind(content)}; it must be a string or a list of parts",
            )
        return 0

    def _parts(
        self,
        line: int,
        where: str,
        role: Any,
        parts: list[Any],
        tokens: Tokens,
        trained: bool,
        has_call: bool,
    ) -> int:
        """Content parts (text / image_url); returns the number of images."""
        if not parts and not has_call:
            self._err(
                "missing_content", line, f"{where} ({role}) has an empty list of content parts"
            )
        images = 0
        for j, part in enumerate(parts, 1):
            pwhere = f"{where} part {j}"
            ptype = part.get("type") if isinstance(part, dict) else None
            if ptype == "text":
                text = part.get("text")
                if not isinstance(text, str) or not text or text.isspace():
                    self._err("missing_content", line, f"{pwhere} is a text part without text")
                else:
                    self._text(tokens, text, assistant=trained, line=line, where=pwhere)
            elif ptype == "image_url":
                images += 1
                tokens.base += TOKENS_PER_IMAGE
                if role != "user":
                    self._err(
                        "image_invalid", line, f"{pwhere}: images are only allowed in user messages"
                    )
                self._image(line, pwhere, part.get("image_url"))
            else:
                self._err(
                    "missing_content" if ptype is None or ptype != "image" else "image_invalid",
                    line,
                    f'{pwhere} has type {ptype!r}; parts are {{"type": "text"}} or {{"type": "image_url"}}',
                )
        return images

    def _image(self, line: int, where: str, image: Any) -> None:
        url = image.get("url") if isinstance(image, dict) else None
        if not isinstance(url, str) or not url:
            self._err("image_invalid", line, f"{where}: image_url needs a `url`")
            return
        detail = image.get("detail")
        if detail is not None and detail not in IMAGE_DETAIL:
            self._err("image_invalid", line, f"{where}: detail {detail!r} is not auto, low or high")
        if url.startswith("https://"):
            return
        if not url.startswith("data:"):
            scheme = url.split(":", 1)[0] if ":" in url else url[:20]
            self._err(
                "image_invalid",
                line,
                f"{where}: the url must be https:// or a data: URL, not {scheme!r}",
            )
            return
        prefix, _, payload = url.partition(",")
        mime = prefix[5:].split(";", 1)[0].lower()
        if mime not in IMAGE_MIME or ";base64" not in prefix:
            self._err(
                "image_invalid",
                line,
                f"{where}: data URL of type {mime or '?'!r}; use base64 JPEG, PNG or WEBP",
            )
            return
        size = len(payload) * 3 // 4
        if size > MAX_IMAGE_BYTES:
            self._err(
                "image_invalid", line, f"{where}: the image is {size / 2**20:.1f} MB, over 10 MB"
            )
        try:
            head = base64.b64decode(payload[:64] + "=" * (-len(payload[:64]) % 4), validate=True)
        except (binascii.Error, ValueError):
            self._err("image_invalid", line, f"{where}: the data URL is not valid base64")
            return
        kind = image_format(head)
        if kind is None:
            self._err("image_invalid", line, f"{where}: the data is not a JPEG, PNG or WEBP image")
            return
        if kind == "jpeg":  # its frame header may follow EXIF/ICC segments: read further
            cut = min(len(payload), JPEG_HEADER_CHARS) // 4 * 4
            try:
                head = base64.b64decode(payload[:cut], validate=True)
            except (binascii.Error, ValueError):
                return  # a cut or odd payload: the provider decides
        mode = image_mode(head)
        if mode is not None and mode not in RGB_MODES:
            name = IMAGE_MODE_NAMES.get(mode, mode)
            what = name if name == mode else f"{name} (mode {mode})"
            self._err(
                "image_invalid",
                line,
                f"{where}: the {kind.upper()} image is {what}; images must be RGB or RGBA",
                hint='Convert it to RGB, e.g. with Pillow: Image.open(f).convert("RGB").save(...).',
            )

    def _tool_calls(
        self,
        line: int,
        where: str,
        role: Any,
        tool_calls: Any,
        tokens: Tokens,
        trained: bool,
        call_ids: set[str],
        tool_names: set[str] | None,
    ) -> None:
        if role != "assistant":
            self._err(
                "tool_call_invalid", line, f"{where}: only assistant messages make tool calls"
            )
        if not isinstance(tool_calls, list) or not tool_calls:
            self._err("tool_call_invalid", line, f"{where}: `tool_calls` must be a non-empty list")
            return
        self._features.add("tools")
        for k, call in enumerate(tool_calls, 1):
            cwhere = f"{where} tool_calls[{k}]"
            if not isinstance(call, dict):
                self._err("tool_call_invalid", line, f"{cwhere} is {_kind(call)}, not an object")
                continue
            cid = call.get("id")
            if not isinstance(cid, str) or not cid:
                self._err("tool_call_invalid", line, f"{cwhere} has no `id`")
            else:
                call_ids.add(cid)
                tokens.other.append(cid)
            if call.get("type", "function") != "function":
                self._err(
                    "tool_call_invalid",
                    line,
                    f'{cwhere}: type {call.get("type")!r} is not "function"',
                )
            tokens.base += 1
            fn = call.get("function")
            if not isinstance(fn, dict):
                self._err("tool_call_invalid", line, f"{cwhere} has no `function` object")
                continue
            self._call_body(line, cwhere, fn, tokens, trained, tool_names)

    def _function_call(
        self, line: int, where: str, role: Any, fc: Any, tokens: Tokens, trained: bool
    ) -> None:
        if role != "assistant":
            self._err(
                "tool_call_invalid", line, f"{where}: only assistant messages make function calls"
            )
        if not isinstance(fc, dict):
            self._err(
                "tool_call_invalid", line, f"{where}: `function_call` is {_kind(fc)}, not an object"
            )
            return
        self._features.add("tools")
        self._call_body(line, f"{where} function_call", fc, tokens, trained, None)

    def _call_body(
        self,
        line: int,
        where: str,
        fn: dict[str, Any],
        tokens: Tokens,
        trained: bool,
        tool_names: set[str] | None,
    ) -> None:
        name = fn.get("name")
        if not isinstance(name, str) or not name:
            self._err("tool_call_invalid", line, f"{where} has no function `name`")
        else:
            (tokens.assistant if trained else tokens.other).append(name)
            if tool_names and name not in tool_names:
                self._err(
                    "tool_call_invalid",
                    line,
                    f"{where} calls {name!r}, which the example's tools do not declare",
                )
        args = fn.get("arguments")
        if not isinstance(args, str):
            self._err(
                "tool_call_invalid",
                line,
                f"{where}: `arguments` is {_kind(args)}; it must be a JSON string "
                '(e.g. "{\\"city\\": \\"Paris\\"}")',
            )
            return
        try:
            orjson.loads(args)
        except orjson.JSONDecodeError:
            self._err(
                "tool_call_invalid", line, f"{where}: `arguments` is not valid JSON: {args[:60]!r}"
            )
        self._text(tokens, args, assistant=trained, line=line, where=f"{where} arguments")

    # -- preference --------------------------------------------------------------------

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

    # -- prompt / completion -----------------------------------------------------------

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
                    message = f"no example has a system message ({_n(count)})"
                else:
                    message = (
                        f"{count} of {self._chat_examples} examples {_have(count)} no system message "
                        f"(first on line {first})"
                    )
            elif code == "functions_deprecated":
                message = f"{_n(count)} use{_s(count)} `functions` / `function_call` (first on line {first})"
            elif code == "preference_old_field_names":
                message = (
                    f"{_n(count)} use{_s(count)} `preferred_completion` / `non_preferred_completion` "
                    f"(first on line {first})"
                )
            elif code == "extra_columns":
                message = f"{_n(count)} {_have(count)} fields besides prompt and completion ({detail}), first on line {first}"
            else:  # example_unrecognized_key
                message = f"{_n(count)} {_have(count)} unexpected top-level keys ({detail}), first on line {first}"
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


__all__ = ["ExampleChecker", "Tokens"]
