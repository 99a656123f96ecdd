"""``?``: the keys that work where you are, searchable."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Input, Static

from fttui.tui.widgets.measured_table import MeasuredTable


@dataclass(frozen=True)
class KeyHelp:
    keys: str
    description: str
    where: str
    binding_id: str
    enabled: bool


def collect_key_help(screen) -> list[KeyHelp]:
    """The bindings active on ``screen`` (focused widget → screen → app), merged by action."""
    app = screen.app
    merged: dict[tuple[int, str], dict] = {}
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if binding.system or not (binding.description or binding.id):
            continue
        slot = merged.setdefault(
            (id(active.node), binding.id or binding.action),
            {"keys": [], "binding": binding, "node": active.node, "enabled": active.enabled},
        )
        display = app.get_key_display(binding.__class__(key, binding.action)) if key else key
        if display not in slot["keys"]:
            slot["keys"].append(display)
    rows = []
    for slot in merged.values():
        binding = slot["binding"]
        node = slot["node"]
        if node is app:
            where = "app"
        elif isinstance(node, Screen):  # the default screen's id is "_default": say what it is
            where = "screen"
        else:
            where = getattr(node, "id", None) or type(node).__name__
        rows.append(
            KeyHelp(
                keys=" ".join(slot["keys"]),
                description=binding.description or binding.action,
                where=str(where),
                binding_id=binding.id or "",
                enabled=bool(slot["enabled"]),
            )
        )
    # Ours first (they have ids), then the widgets' own navigation keys.
    rows.sort(key=lambda r: (r.binding_id == "", r.where == "app", r.where))
    return rows


class HelpScreen(ModalScreen[None]):
    """The keys that work here; type to search; remap them in ``[keymap]`` of the config."""

    BINDINGS = [
        Binding("escape", "close", "Close", id="help.close"),
        Binding("f1", "close", "Close", show=False, id="help.close_f1"),
    ]

    def __init__(self, rows: list[KeyHelp], context: str = "") -> None:
        super().__init__()
        self.rows = rows
        self.context = context

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            yield Static(
                f"Keys that work here{' — ' + self.context if self.context else ''}",
                id="help-title",
                markup=False,
            )
            yield Input(placeholder="search keys…", id="help-search")
            yield MeasuredTable(id="help-table", cursor_type="row", zebra_stripes=True)
            yield Static(
                "esc closes · remap any key by its id in the [keymap] table of config.toml",
                markup=False,
                id="help-foot",
            )

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Key", "Does", "Where", "Binding id")
        self._fill("")
        self.query_one(Input).focus()

    def _fill(self, needle: str) -> None:
        table = self.query_one(DataTable)
        table.clear()
        needle = needle.lower().strip()
        for row in self.rows:
            hay = f"{row.keys} {row.description} {row.where} {row.binding_id}".lower()
            if needle and needle not in hay:
                continue
            style = "" if row.enabled else "dim"
            from rich.text import Text

            table.add_row(
                Text(row.keys, style=f"bold {style}"),
                Text(row.description + ("" if row.enabled else " (disabled)"), style=style),
                Text(row.where, style="dim"),
                Text(row.binding_id, style="dim"),
            )

    def on_input_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def action_close(self) -> None:
        self.dismiss(None)
