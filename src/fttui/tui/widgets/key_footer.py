"""``KeyFooter``: Textual's ``Footer`` without the redundant recomposes.

The stock footer rebuilds all its key widgets (~30 ms on a busy 2-core box) on every
bindings signal: each focus change, each pane switch, several times during start-up.
This one rebuilds only when the keys it would show have changed, coalesces the signals
that arrive before the next refresh, and can compose itself before the first frame
(``refresh_keys``) so the app's first frame already lists its keys.
"""

from __future__ import annotations

from collections.abc import Hashable

from textual._context import active_message_pump
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer


class KeyFooter(Footer):
    """A footer that recomposes only when its keys change."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._shown: Hashable | None = None
        self._pending = False

    def _signature(self) -> Hashable:
        """What the footer would show now (keys, labels, enabled states)."""
        palette = self.app.COMMAND_PALETTE_BINDING
        return tuple(
            (key, binding.key, binding.action, binding.description, enabled, tooltip, binding.group)
            for key, (_node, binding, enabled, tooltip) in self.screen.active_bindings.items()
            if binding.show or key == palette
        )

    def compose(self) -> ComposeResult:
        self._shown = self._signature() if self._bindings_ready else None
        yield from super().compose()

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._pending:
            self._pending = True
            self.call_after_refresh(self.refresh_keys)

    async def refresh_keys(self) -> None:
        """Recompose now if the keys to show differ from those shown."""
        self._pending = False
        self._bindings_ready = True
        if not self.is_attached or self._signature() == self._shown:
            return
        # Footer.compose data-binds each key to the active message pump, which is the
        # caller's (e.g. the app's) when this is awaited from elsewhere: make it ours.
        token = active_message_pump.set(self)
        try:
            await self.recompose()
        finally:
            active_message_pump.reset(token)
