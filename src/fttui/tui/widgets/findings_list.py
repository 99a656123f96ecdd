"""The linter's findings grouped by code; selecting one jumps to its example.

A ``Tree``: one collapsed node per code (worst first, with its count), its findings added
only when the node is expanded (and at most ``MAX_CHILDREN`` of them), so a file with
100,000 duplicate examples costs nothing until you look.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from fttui.tui.widgets.example_view import (
    SEVERITY_ICONS,
    SEVERITY_STYLES,
    one_line,
    without_line,
)

MAX_CHILDREN = 500
SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}


class FindingsList(Tree[Any]):
    """Findings grouped by code. ``enter`` on a finding posts ``FindingSelected``."""

    DEFAULT_CSS = """
    FindingsList {
        height: 1fr;
        overflow-x: hidden;
        background: $surface;
        &:focus { background-tint: $foreground 5%; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Go to example", id="data.findings.select"),
        Binding("space", "toggle_node", "Expand", show=False, id="data.findings.toggle"),
        Binding("j,down", "cursor_down", "Down", show=False, id="data.findings.down"),
        Binding("k,up", "cursor_up", "Up", show=False, id="data.findings.up"),
        Binding("E", "edit", "Edit in $EDITOR", id="data.findings.edit"),
    ]

    class EditRequested(Message):
        """``E``: open the file in the user's editor at ``finding``'s line (None: the
        cursor is on no finding with a line)."""

        def __init__(self, findings: FindingsList, finding: Any) -> None:
            super().__init__()
            self.findings = findings
            self.finding = finding

        @property
        def control(self) -> FindingsList:
            return self.findings

    class FindingSelected(Message):
        """A finding was chosen: show its example (``finding.line`` is 1-based or None)."""

        def __init__(self, findings: FindingsList, finding: Any) -> None:
            super().__init__()
            self.findings = findings
            self.finding = finding

        @property
        def control(self) -> FindingsList:
            return self.findings

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("Findings", id=id, classes=classes)
        self.show_root = False
        self.guide_depth = 2
        self._groups: dict[str, list[Any]] = {}
        self._filled: set[str] = set()
        self.by_line: dict[int, list[Any]] = {}
        self.truncated = 0

    def set_findings(
        self, findings: Iterable[Any], *, truncated: int = 0, note: str | None = None
    ) -> None:
        """Replace the list. ``truncated``: findings the linter left out."""
        groups: dict[str, list[Any]] = defaultdict(list)
        by_line: dict[int, list[Any]] = defaultdict(list)
        for f in findings:
            groups[f.code].append(f)
            if f.line is not None:
                by_line[f.line].append(f)
        self._groups = dict(groups)
        self.by_line = dict(by_line)
        self._filled = set()
        self.truncated = truncated
        self.clear()
        root = self.root
        if note:
            root.add_leaf(Text(note, style="dim italic"))
        if not self._groups:
            if not note:
                root.add_leaf(Text("✓ no findings", style="bold green"))
            return

        def worst(code: str) -> tuple[int, int, str]:
            items = self._groups[code]
            rank = min(SEVERITY_RANK.get(f.severity, 3) for f in items)
            return rank, -len(items), code

        for code in sorted(self._groups, key=worst):
            items = self._groups[code]
            severity = min((f.severity for f in items), key=lambda s: SEVERITY_RANK.get(s, 3))
            label = Text(
                f"{SEVERITY_ICONS.get(severity, '?')} ", style=SEVERITY_STYLES.get(severity, "")
            )
            label.append(f"{code}  ", style="bold")  # spaces trail: see example_view
            label.append(f"{len(items):,}", style="dim")
            node = root.add(label, data=code, expand=False, allow_expand=True)
            # a placeholder so the node can be expanded; real children come on expand
            node.add_leaf(Text("…", style="dim"))
        if truncated:
            root.add_leaf(Text(f"… {truncated:,} more findings not listed", style="dim"))
        self.cursor_line = 0

    def markers(self) -> dict[int, str]:
        """The worst severity of each line that has a finding."""
        out: dict[int, str] = {}
        for line, items in self.by_line.items():
            out[line] = min((f.severity for f in items), key=lambda s: SEVERITY_RANK.get(s, 3))
        return out

    def findings_on(self, line: int) -> list[Any]:
        return self.by_line.get(line, [])

    def _fill(self, node: TreeNode[Any]) -> None:
        code = node.data
        if not isinstance(code, str) or code in self._filled:
            return
        self._filled.add(code)
        node.remove_children()
        items = self._groups.get(code, [])
        for f in items[:MAX_CHILDREN]:
            where = f"line {f.line}" if f.line is not None else "file"
            if getattr(f, "file", None):
                where = f"{f.file}:{where}"
            label = Text(f"{where}: ", style="bold" if f.line is not None else "italic")
            label.append(one_line(without_line(f.message), 160))
            node.add_leaf(label, data=f)
        if len(items) > MAX_CHILDREN:
            node.add_leaf(
                Text(
                    f"… {len(items) - MAX_CHILDREN:,} more — ] steps through marked lines",
                    style="dim",
                )
            )

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[Any]) -> None:
        event.stop()
        self._fill(event.node)

    def on_tree_node_selected(self, event: Tree.NodeSelected[Any]) -> None:
        event.stop()
        data = event.node.data
        if data is not None and not isinstance(data, str):
            self.post_message(self.FindingSelected(self, data))

    def finding_at_cursor(self) -> Any:
        """The finding under the cursor; on a code's node, its first finding with a line."""
        node = self.cursor_node
        data = node.data if node is not None else None
        if isinstance(data, str):
            return next((f for f in self._groups.get(data, []) if f.line is not None), None)
        return data

    def action_edit(self) -> None:
        self.post_message(self.EditRequested(self, self.finding_at_cursor()))

    def action_toggle_node(self) -> None:
        node = self.cursor_node
        if node is not None and node.allow_expand:
            self._fill(node)
            node.toggle()
