"""One training example, made readable: roles, content, tool calls, images, weights.

``summarize()`` gives the one-line summary the preview list shows; ``render_example()`` the
full view the ``ExampleView`` widget shows for the example under the preview's cursor.
Both take the parsed JSON value of a line (``fttui.datasets.lineindex.Row``) and never
raise on odd data: whatever is not the expected shape is shown as JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from fttui.datasets.lineindex import Row

ROLE_STYLES = {
    "system": "bold magenta",
    "developer": "bold magenta",
    "user": "bold cyan",
    "assistant": "bold green",
    "tool": "bold yellow",
    "function": "bold yellow",
}
SEVERITY_STYLES = {"error": "bold red", "warning": "bold yellow", "info": "bold blue"}
SEVERITY_ICONS = {"error": "✗", "warning": "!", "info": "i"}

#: characters of one message shown in the full view before it is cut
MAX_CONTENT_CHARS = 20_000

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def one_line(text: str, limit: int = 200) -> str:
    """``text`` on one line (newlines as ⏎, other control characters as spaces), cut."""
    text = text[: limit * 2].replace("\r\n", "\n").replace("\n", "⏎ ")
    text = _CONTROL.sub(" ", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_LINE_PREFIX = re.compile(r"^line \d+:\s*")


def without_line(message: str) -> str:
    """A finding's message without its leading ``line N:`` (where the line is shown anyway)."""
    return _LINE_PREFIX.sub("", message, count=1)


def example_kind(value: Any) -> str:
    """``chat``, ``preference``, ``prompt_completion`` or ``unknown`` — for display only."""
    if not isinstance(value, dict):
        return "unknown"
    if "messages" in value:
        return "chat"
    if "input" in value and any(
        k in value for k in ("preferred_output", "preferred_completion", "non_preferred_output")
    ):
        return "preference"
    if "prompt" in value or "completion" in value:
        return "prompt_completion"
    return "unknown"


def content_text(content: Any) -> str:
    """The text of a message ``content`` (a string or a list of parts), images as tags."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict):
                kind = part.get("type")
                if kind == "text" or "text" in part:
                    parts.append(str(part.get("text", "")))
                elif kind == "image_url":
                    parts.append("[image]")
                else:
                    parts.append(f"[{kind or 'part'}]")
            else:
                parts.append(str(part))
        return " ".join(parts)
    return json.dumps(content, ensure_ascii=False)


def _messages(value: dict[str, Any]) -> list[Any]:
    msgs = value.get("messages")
    return msgs if isinstance(msgs, list) else []


KIND_LABELS = {"chat": "chat", "preference": "pref", "prompt_completion": "p/c", "unknown": "?"}


def _fit(text: str, cells: int, style: str = "") -> Text:
    """``text`` on one line, cut to ``cells`` terminal cells (wide characters count 2)."""
    out = Text(one_line(text, cells + 1), style=style)
    out.truncate(max(1, cells), overflow="ellipsis")
    return out


def summarize(row: Row, width: int = 120) -> Text:
    """One line describing ``row``: kind, message count and the gist of the exchange.

    ``width`` is the room in cells: the question gets about half of what is left after
    the kind and count columns, the answer the rest, so both show.
    """
    text = Text(no_wrap=True, overflow="ellipsis")
    if row.truncated:  # a big example (images as data URLs): fine, just not read for a list row
        text.append("     ", style="dim")
        text.append(f"a {row.size / 2**20:,.1f} MB example", style="dim italic")
        text.append("  ")
        text.append_text(_fit(row.raw, max(10, width - 30), "dim"))
        return text
    if row.error is not None:
        text.append("error ", style="bold red")
        text.append_text(_fit(row.error, max(10, width // 2), "red"))
        text.append("  ")
        text.append_text(_fit(row.raw, max(10, width - width // 2 - 8), "dim"))
        return text
    value = row.value
    if value is None and not row.raw.strip():
        text.append("(blank line)", style="dim italic")
        return text
    kind = example_kind(value)
    text.append(f"{KIND_LABELS[kind]:<5}", style="bold")
    room = max(20, width - 9)
    if kind == "chat":
        msgs = _messages(value)
        flags = []
        if (
            value.get("tools")
            or value.get("functions")
            or any(
                isinstance(m, dict) and (m.get("tool_calls") or m.get("function_call"))
                for m in msgs
            )
        ):
            flags.append("tools")
        if any(
            isinstance(m, dict)
            and isinstance(m.get("content"), list)
            and any(isinstance(p, dict) and p.get("type") == "image_url" for p in m["content"])
            for m in msgs
        ):
            flags.append("vision")
        text.append(f"{len(msgs):>2}  ", style="dim")
        if flags:
            label = " ".join(flags) + " "
            text.append(label, style="italic magenta")
            room -= len(label)
        user = next((m for m in msgs if isinstance(m, dict) and m.get("role") == "user"), None)
        reply = next(
            (m for m in reversed(msgs) if isinstance(m, dict) and m.get("role") == "assistant"),
            None,
        )
        ask = room * 11 // 20
        if user is not None:
            text.append_text(_fit(content_text(user.get("content")), ask))
        if reply is not None:
            text.append(" → ", style="dim")
            rest = max(8, width - text.cell_len)
            calls = reply.get("tool_calls")
            if calls and not reply.get("content"):
                # any JSON can be here (the linter flags it): never assume the shape
                calls = calls if isinstance(calls, list) else [calls]
                names = [
                    str(fn.get("name", "?")) if isinstance(fn := c.get("function"), dict) else "?"
                    for c in calls
                    if isinstance(c, dict)
                ] or ["?"]
                text.append_text(_fit("⚙ " + ", ".join(names), rest, "yellow"))
            else:
                text.append_text(_fit(content_text(reply.get("content")), rest, "green"))
    elif kind == "preference":
        inp = value.get("input") if isinstance(value.get("input"), dict) else {}
        msgs = _messages(inp)
        user = next(
            (m for m in reversed(msgs) if isinstance(m, dict) and m.get("role") == "user"),
            None,
        )
        text.append(f"{len(msgs):>2}  ", style="dim")
        if user is not None:
            text.append_text(_fit(content_text(user.get("content")), room * 11 // 20))
        pref = value.get("preferred_output", value.get("preferred_completion"))
        if isinstance(pref, list) and pref and isinstance(pref[0], dict):
            text.append(" ✓ ", style="green")
            rest = max(8, width - text.cell_len)
            text.append_text(_fit(content_text(pref[0].get("content")), rest, "green"))
    elif kind == "prompt_completion":
        text.append("    ")
        text.append_text(_fit(str(value.get("prompt", "")), room * 11 // 20, "cyan"))
        text.append(" → ", style="dim")
        rest = max(8, width - text.cell_len)
        text.append_text(_fit(str(value.get("completion", "")), rest, "green"))
    else:
        text.append("    ")
        text.append_text(_fit(row.raw, room, "dim"))
    return text


# -- the full view --------------------------------------------------------------------


def _cut(text: str, limit: int = MAX_CONTENT_CHARS) -> Text:
    if len(text) <= limit:
        return Text(text)
    out = Text(text[:limit])
    out.append(f"\n… {len(text) - limit:,} more characters", style="dim italic")
    return out


def _json(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, indent=2)
    except (TypeError, ValueError):
        return repr(value)


def _literal(value: Any) -> str:
    """A prompt or completion with its separators visible (newlines as \\n)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)[1:-1]
    return _json(value)


def _arguments(args: Any) -> str:
    if isinstance(args, str):
        try:
            return json.dumps(json.loads(args), ensure_ascii=False)
        except ValueError:
            return args
    return _json(args)


def _content(content: Any) -> list[RenderableType]:
    if content is None:
        return []
    if isinstance(content, str):
        return [_cut(content)]
    if isinstance(content, list):
        out: list[RenderableType] = []
        for part in content:
            if not isinstance(part, dict):
                out.append(Text(_json(part), style="dim"))
                continue
            kind = part.get("type")
            if kind == "text":
                out.append(_cut(str(part.get("text", ""))))
            elif kind == "image_url":
                image = part.get("image_url")
                url = image.get("url") if isinstance(image, dict) else image
                detail = image.get("detail") if isinstance(image, dict) else None
                url = str(url or "")
                if url.startswith("data:"):
                    head = url.split(",", 1)[0]
                    url = f"{head},… ({len(url):,} characters)"
                tag = Text("🖼 image ", style="bold blue")
                tag.append(one_line(url, 120), style="blue underline")
                if detail:
                    tag.append(f"  detail={detail}", style="dim")
                out.append(tag)
            else:
                out.append(Text(f"[{kind}] {one_line(_json(part), 200)}", style="dim"))
        return out
    return [Text(_json(content), style="dim")]


def _tool_calls(calls: Any) -> list[RenderableType]:
    out: list[RenderableType] = []
    if not isinstance(calls, list):
        return [Text(f"tool_calls: {one_line(_json(calls), 200)}", style="red")]
    for call in calls:
        if not isinstance(call, dict):
            out.append(Text(f"⚙ {one_line(_json(call), 200)}", style="red"))
            continue
        fn = given if isinstance(given := call.get("function"), dict) else {}
        line = Text("⚙ call ", style=ROLE_STYLES["tool"])
        line.append(str(fn.get("name", "?")), style="bold")
        line.append("(")
        line.append(_arguments(fn.get("arguments", "")), style="yellow")
        line.append(")")
        if call.get("id"):
            line.append(f"  id={call['id']}", style="dim")
        out.append(line)
    return out


def _message(msg: Any, index: int) -> RenderableType:
    if not isinstance(msg, dict):
        return Text(f"[{index}] not a message: {one_line(_json(msg), 200)}", style="red")
    role = str(msg.get("role", "?"))
    head = Text(role, style=ROLE_STYLES.get(role, "bold red"))
    if msg.get("name"):
        head.append(f"  name={msg['name']}", style="dim")
    if msg.get("tool_call_id"):
        head.append(f"  for {msg['tool_call_id']}", style="dim")
    if "weight" in msg:
        weight = msg["weight"]
        head.append(
            f"  weight {weight}",
            style="bold red" if weight not in (0, 1) else ("dim strike" if weight == 0 else "dim"),
        )
    extra = sorted(
        set(msg)
        - {"role", "content", "name", "tool_calls", "tool_call_id", "function_call", "weight"}
    )
    if extra:
        head.append(f"  other keys: {', '.join(extra)}", style="red")
    body: list[RenderableType] = _content(msg.get("content"))
    if msg.get("tool_calls") is not None:
        body += _tool_calls(msg["tool_calls"])
    if isinstance(msg.get("function_call"), dict):
        fc = msg["function_call"]
        line = Text("⚙ function_call ", style=ROLE_STYLES["function"])
        line.append(f"{fc.get('name', '?')}({_arguments(fc.get('arguments', ''))})")
        body.append(line)
    if not body:
        body.append(Text("(no content)", style="dim italic"))
    return Group(head, Padding(Group(*body), (0, 0, 0, 2)))


def _conversation(messages: Any) -> list[RenderableType]:
    if not isinstance(messages, list):
        return [Text(f"messages: {one_line(_json(messages), 200)}", style="red")]
    return [_message(m, i) for i, m in enumerate(messages)]


def _tools(tools: Any) -> RenderableType:
    names = []
    if isinstance(tools, list):
        for tool in tools:
            fn = tool.get("function", tool) if isinstance(tool, dict) else {}
            names.append(str(fn.get("name", "?")) if isinstance(fn, dict) else "?")
    return Text(f"tools: {', '.join(names) or one_line(_json(tools), 100)}", style="yellow")


def render_example(row: Row, findings: Iterable[Any] = ()) -> RenderableType:
    """The whole example of ``row``, with the findings on its line listed first."""
    parts: list[RenderableType] = []
    value = row.value
    kind = example_kind(value) if row.error is None else "unreadable"
    # Separators' spaces end a span rather than start one: SVG renderers (screenshots)
    # drop a span's leading spaces.
    title = Text(f"line {row.line}  ", style="bold")
    title.append("·  ", style="dim")
    title.append(f"{kind}  ", style="italic")
    title.append(f"·  {row.size:,} bytes", style="dim")
    parts.append(title)
    for f in findings:
        sev = getattr(f, "severity", "info")
        line = Text(
            f"{SEVERITY_ICONS.get(sev, '?')} {getattr(f, 'code', '?')}: ",
            style=SEVERITY_STYLES.get(sev, ""),
        )
        line.append(without_line(str(getattr(f, "message", ""))))
        hint = getattr(f, "hint", "")
        if hint:
            line.append(f"  — {hint}", style="dim")
        parts.append(line)
    parts.append(Text(""))
    if row.error is not None:
        parts.append(Text(row.error, style="bold red"))
        parts.append(_cut(row.raw))
        return Group(*parts)
    if value is None and not row.raw.strip():
        parts.append(Text("(blank line)", style="dim italic"))
        return Group(*parts)
    if kind == "chat":
        if value.get("tools") is not None:
            parts.append(_tools(value.get("tools")))
        if value.get("functions") is not None:
            parts.append(_tools(value.get("functions")))
        if "parallel_tool_calls" in value:
            parts.append(Text(f"parallel_tool_calls: {value['parallel_tool_calls']}", style="dim"))
        parts += _conversation(value.get("messages"))
    elif kind == "preference":
        inp = value.get("input") if isinstance(value.get("input"), dict) else {}
        if inp.get("tools") is not None:
            parts.append(_tools(inp.get("tools")))
        parts.append(Text("input", style="bold underline"))
        parts += _conversation(inp.get("messages"))
        for key, label, style in (
            ("preferred_output", "preferred ✓", "bold green"),
            ("preferred_completion", "preferred ✓", "bold green"),
            ("non_preferred_output", "non-preferred ✗", "bold red"),
            ("non_preferred_completion", "non-preferred ✗", "bold red"),
        ):
            if key in value:
                parts.append(Text(label, style=style + " underline"))
                parts += _conversation(value[key])
    elif kind == "prompt_completion":
        for key, role in (("prompt", "user"), ("completion", "assistant")):
            parts.append(Text(key, style=ROLE_STYLES[role]))
            parts.append(Padding(_cut(_literal(value.get(key))), (0, 0, 0, 2)))
    else:
        parts.append(_cut(_json(value)))
    if isinstance(value, dict):
        known = {
            "messages",
            "tools",
            "functions",
            "parallel_tool_calls",
            "input",
            "preferred_output",
            "non_preferred_output",
            "preferred_completion",
            "non_preferred_completion",
            "prompt",
            "completion",
        }
        extra = sorted(set(value) - known)
        if extra and kind != "unknown":
            parts.append(Text(f"other keys: {', '.join(extra)}", style="dim"))
    return Group(*parts)


class ExampleView(ScrollView, can_focus=True):
    """The example under the preview's cursor, in full (scrolls when long).

    Line API: the example is rendered to lines once per change (and per width), and only
    the visible lines are painted, so moving through the list never re-lays-out the
    screen.
    """

    DEFAULT_CSS = """
    ExampleView {
        height: 1fr;
        padding: 0 1;
        overflow-x: hidden;
        overflow-y: auto;
        background: $surface;
        &:focus { background-tint: $foreground 5%; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "line(-1)", "Scroll up", show=False, id="data.example.up"),
        Binding("down,j", "line(1)", "Scroll down", show=False, id="data.example.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="data.example.page_up"),
        Binding("pagedown,space", "page(1)", "Page down", show=False, id="data.example.page_down"),
        Binding("home,g", "top", "Top", show=False, id="data.example.top"),
        Binding("end,G", "bottom", "Bottom", show=False, id="data.example.bottom"),
    ]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._renderable: RenderableType = Text("No example selected.", style="dim")
        self._strips: list[Strip] = []
        self._width = 0

    def show(self, row: Row | None, findings: Iterable[Any] = ()) -> None:
        """Show ``row`` (None: nothing open)."""
        if row is None:
            self._renderable = Text("No example selected.", style="dim")
        else:
            try:
                self._renderable = render_example(row, findings)
            except Exception as exc:  # an example shaped like nothing expected: say so
                self._renderable = Text(
                    f"line {row.line}: cannot show this example ({type(exc).__name__}: {exc})\n\n"
                    + row.raw[:MAX_CONTENT_CHARS],
                    style="red",
                )
        self._width = 0  # render again
        self.scroll_to(0, 0, animate=False, immediate=True)
        self._layout_lines()
        self.refresh()

    @property
    def text(self) -> str:
        """What the view holds, as plain text (all lines, not only the visible ones)."""
        self._layout_lines()
        return "\n".join(strip.text for strip in self._strips)

    def _layout_lines(self) -> None:
        width = self.scrollable_content_region.width
        if width <= 0 or width == self._width:
            return
        self._width = width
        console = self.app.console
        options = console.options.update(width=width, height=None, no_wrap=False, highlight=False)
        lines = console.render_lines(self._renderable, options, pad=False)
        self._strips = [Strip(line) for line in lines]
        self.virtual_size = Size(width, len(self._strips))

    def on_resize(self) -> None:
        self._layout_lines()

    def render_line(self, y: int) -> Strip:
        self._layout_lines()
        width = self.scrollable_content_region.width
        style = self.rich_style
        index = int(self.scroll_y) + y
        if index >= len(self._strips):
            return Strip.blank(width, style)
        return self._strips[index].crop_extend(0, width, style).apply_style(style)

    def action_line(self, step: int) -> None:
        self.scroll_to(y=self.scroll_y + step, animate=False, immediate=True)

    def action_page(self, step: int) -> None:
        height = max(1, self.scrollable_content_region.height - 1)
        self.scroll_to(y=self.scroll_y + step * height, animate=False, immediate=True)

    def action_top(self) -> None:
        self.scroll_to(y=0, animate=False, immediate=True)

    def action_bottom(self) -> None:
        self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)
