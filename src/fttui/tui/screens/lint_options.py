"""The target model and price the Data pane lints and estimates for (``m``).

``LintOptionsScreen(model, price)`` is a ``ModalScreen[tuple[str, float | None] | None]``:
the model sets the tokenizer, the token limit per example and the default epochs; the
optional price per 1M training tokens turns billed tokens into a cost.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Static

KNOWN_MODELS = (
    "gpt-4o-mini-2024-07-18",
    "gpt-4o-2024-08-06",
    "gpt-4.1-2025-04-14",
    "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano-2025-04-14",
    "gpt-3.5-turbo-0125",
    "babbage-002",
    "davinci-002",
)


class LintOptionsScreen(ModalScreen[tuple[str, float | None] | None]):
    """Choose the model (and optional price) to lint and estimate for."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="lint_options.cancel"),
        Binding("ctrl+s", "apply", "Apply", id="lint_options.apply"),
    ]

    def __init__(self, model: str, price: float | None = None) -> None:
        super().__init__()
        self.model = model
        self.price = price

    def compose(self) -> ComposeResult:
        with Vertical(id="lint-options"):
            # titled as the key that opens it (m Model & price): a whole phrase, not "… for"
            yield Label("Model & price for the lint and the estimate", id="lint-options-title")
            yield Label("Target model (tokenizer, token limit, default epochs)")
            yield Input(
                self.model,
                id="lint-model",
                suggester=SuggestFromList(KNOWN_MODELS, case_sensitive=False),
            )
            yield Label("Price per 1M training tokens, in $ (optional: gives a cost)")
            yield Input(
                "" if self.price is None else f"{self.price:g}",
                id="lint-price",
                placeholder="e.g. 3.00",
            )
            yield Static("", id="lint-options-error")
            with Horizontal(id="lint-options-buttons"):
                yield Button("Lint again ^s", id="lint-options-ok", variant="primary")
                yield Button("Cancel esc", id="lint-options-cancel")

    def on_mount(self) -> None:
        self.query_one("#lint-model", Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "lint-model":
            self.query_one("#lint-price", Input).focus()
        else:
            self.action_apply()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "lint-options-ok":
            self.action_apply()
        else:
            self.action_cancel()

    def action_apply(self) -> None:
        model = self.query_one("#lint-model", Input).value.strip()
        price_text = self.query_one("#lint-price", Input).value.strip().lstrip("$")
        error = self.query_one("#lint-options-error", Static)
        if not model:
            error.update("Name a model.")
            return
        price: float | None = None
        if price_text:
            try:
                price = float(price_text)
            except ValueError:
                price = -1.0
            if price < 0:
                error.update("The price is a number of dollars, e.g. 3 or 0.30.")
                self.query_one("#lint-price", Input).focus()
                return
        self.dismiss((model, price))

    def action_cancel(self) -> None:
        self.dismiss(None)
