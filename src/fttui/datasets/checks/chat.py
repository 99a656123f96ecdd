"""The checks of chat examples (``messages``, ``tools`` / ``functions``, tool calls), and
the RFT shape of a chat prompt."""

from __future__ import annotations

from typing import Any

import orjson

from fttui.datasets.checks.common import (
    BIG_TEXT,
    CHAT_KEYS,
    MAX_IMAGES,
    MESSAGE_KEYS,
    TOKENS_PER_MESSAGE,
    TOKENS_PER_NAME,
    Tokens,
    _kind,
    _names,
)
from fttui.datasets.checks.images import ImageChecks
from fttui.datasets.rft import has_field


class ChatChecks(ImageChecks):
    """Chat examples: their messages, tools and tool calls (images: ``ImageChecks``)."""

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
