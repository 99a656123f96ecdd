"""What ``prepare`` changed: the list of changes, the files written, the stop to use.

A ``ModalScreen[str | None]``: ``o``/``enter`` dismisses with the prepared file's path
(the Data pane opens it), ``esc`` with None.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


def describe_result(src: str, result: Any) -> Text:
    text = Text()
    outputs = list(getattr(result, "outputs", []) or [])
    text.append("Prepared ", style="bold")
    text.append(os.path.basename(src), style="bold")
    written = getattr(result, "examples_written", None)
    if written is not None:
        text.append(f" — {written:,} examples written\n", style="")
    else:
        text.append("\n")
    for out in outputs:
        text.append("  → ", style="dim")
        text.append(f"{out}\n", style="cyan")
    text.append("\n")
    changes = list(getattr(result, "changes", []) or [])
    if changes:
        text.append(f"{len(changes)} change{'s' if len(changes) != 1 else ''}:\n", style="bold")
        for change in changes:
            text.append("  • ", style="green")
            text.append(f"{change}\n")
    else:
        text.append(
            "Nothing needed changing: the examples were copied as they are.\n", style="green"
        )
    separator = getattr(result, "separator", None)
    stop = getattr(result, "stop", None)
    if separator is not None or stop is not None:
        text.append("\n")
    if separator is not None:
        text.append("prompt separator  ", style="bold")
        text.append(repr(separator), style="yellow")
        text.append("  (end every prompt with it at inference)\n", style="dim")
    if stop is not None:
        text.append("stop sequence     ", style="bold")
        text.append(repr(stop), style="yellow")
        text.append("  (pass it as stop at inference)\n", style="dim")
    return text


class PrepareResultScreen(ModalScreen[str | None]):
    """The changes ``prepare`` made; offers to open the prepared file."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "open_prepared", "Open prepared file", id="prepare_result.open"),
        Binding("escape", "close", "Close", id="prepare_result.close"),
    ]

    def __init__(self, src: str, result: Any) -> None:
        super().__init__()
        self.src = src
        self.result = result

    def compose(self) -> ComposeResult:
        with Vertical(id="prepare-box"):
            yield Label("Prepare — what changed", id="prepare-title")
            with VerticalScroll(id="prepare-scroll"):
                yield Static(describe_result(self.src, self.result), id="prepare-changes")
            with Horizontal(id="prepare-buttons"):
                yield Button("Open prepared file (o)", id="prepare-open", variant="primary")
                yield Button("Close (esc)", id="prepare-close")

    def on_mount(self) -> None:
        self.query_one("#prepare-open", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "prepare-open":
            self.action_open_prepared()
        else:
            self.action_close()

    def action_open_prepared(self) -> None:
        outputs = list(getattr(self.result, "outputs", []) or [])
        self.dismiss(outputs[0] if outputs else None)

    def action_close(self) -> None:
        self.dismiss(None)
