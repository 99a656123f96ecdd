"""A yes/no confirmation that starts on the safe choice.

Used before destructive actions (cancelling a job): the dialog names the target, focus
starts on the safe button (**Keep**), ``y`` confirms and ``n``/``esc`` back out.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmScreen(ModalScreen[bool]):
    """Dismisses with True (confirmed) or False (kept)."""

    BINDINGS = [
        Binding("y", "confirm", "Yes", id="confirm.yes"),
        Binding("n", "keep", "No", id="confirm.no"),
        Binding("escape", "keep", "Back", id="confirm.back"),
        Binding("left,h", "app.focus_previous", "Previous", show=False, id="confirm.left"),
        Binding("right,l", "app.focus_next", "Next", show=False, id="confirm.right"),
    ]

    def __init__(
        self,
        title: str,
        message: str,
        *,
        confirm_label: str = "Yes",
        keep_label: str = "Keep",
    ) -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.confirm_label = confirm_label
        self.keep_label = keep_label

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static(self.title_text, id="confirm-title", markup=False)
            yield Static(self.message, id="confirm-message", markup=False)
            with Horizontal(id="confirm-buttons"):
                yield Button(self.keep_label, id="keep", variant="primary")
                yield Button(self.confirm_label, id="confirm", variant="error")
            yield Static("y confirms · n or esc keeps it", id="confirm-keys")

    def on_mount(self) -> None:
        self.query_one("#keep", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm")

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_keep(self) -> None:
        self.dismiss(False)
