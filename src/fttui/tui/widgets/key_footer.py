"""``KeyFooter``: Textual's ``Footer`` without the redundant recomposes, fitted to the width.

The stock footer rebuilds all its key widgets (~30 ms on a busy 2-core box) on every
bindings signal: each focus change, each pane switch, several times during start-up.
This one rebuilds only when the keys it would show (or the width) have changed, coalesces
the signals that arrive before the next refresh, and can compose itself before the first
frame (``refresh_keys``) so the app's first frame already lists its keys.

On a narrow terminal the stock footer cut its last key mid-word (``n New j``). This one
goes compact (less spacing) when the keys do not fit, then leaves keys out from the end —
never ``?`` (help lists every key) — and never shows half a key.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, NamedTuple

from rich.cells import cell_len
from textual._context import active_message_pump
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

#: The action of the key that is never left out: it lists all the others.
HELP_ACTION = "app.help"
#: The command palette key, docked right: its width with its border.
PALETTE_EXTRA = 2
#: Textual's class for the footer's palette key (docked right).
PALETTE_CLASS = "-command-palette"


class KeySpec(NamedTuple):
    """One key of the footer: FooterKey's arguments."""

    key: str
    key_display: str
    description: str
    action: str
    disabled: bool
    tooltip: str
    classes: str


def key_width(key_display: str, description: str, compact: bool) -> int:
    """Cells one footer key takes (its paddings and margins, as FooterKey's CSS sets them)."""
    if compact:  # key padding 0, description padding-left 1, margin-right 1
        return cell_len(key_display) + (1 + cell_len(description) if description else 0) + 1
    # key padding 0 1, description padding-right 1
    return cell_len(key_display) + 2 + (cell_len(description) + 1 if description else 0)


def fit_keys(
    items: list[tuple[str, str, bool]], width: int, palette: int
) -> tuple[bool, list[int], bool]:
    """Which keys to show in ``width`` cells: ``items`` are (key display, description,
    is help); ``palette`` the palette key's width (0: none). Returns (compact, indexes of
    the keys shown, whether the palette key shows)."""
    for compact in (False, True):
        total = sum(key_width(k, d, compact) for k, d, _ in items)
        if total + palette <= width:
            return compact, list(range(len(items))), bool(palette)

    def greedy(room: int) -> list[int]:
        # help first (it lists the rest), then the others in their order while they fit
        used = sum(key_width(k, d, True) for k, d, is_help in items if is_help)
        shown = [i for i, item in enumerate(items) if item[2]]
        for i, (k, d, is_help) in enumerate(items):
            if not is_help and used + key_width(k, d, True) <= room:
                shown.append(i)
                used += key_width(k, d, True)
        return sorted(shown)

    if palette:
        shown = greedy(width - palette)
        if len(shown) >= min(3, len(items)):  # rather pane keys than the palette key
            return True, shown, True
    return True, greedy(width), False


class KeyFooter(Footer):
    """A footer that recomposes only when its keys change, and fits its width."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._shown: Hashable | None = None
        self._pending = False

    def _width(self) -> int:
        return self.size.width or self.app.size.width

    def _signature(self) -> Hashable:
        """What the footer would show now (keys, labels, enabled states, width)."""
        palette = self.app.COMMAND_PALETTE_BINDING
        keys = tuple(
            (key, binding.key, binding.action, binding.description, enabled, tooltip, binding.group)
            for key, (_node, binding, enabled, tooltip) in self.screen.active_bindings.items()
            if binding.show or key == palette
        )
        return (keys, self._width())

    def _plan(self) -> tuple[bool, list[KeySpec]]:
        """Whether the keys go compact, and each key to show, in order (the palette key
        last, with ``PALETTE_CLASS``)."""
        active_bindings = self.screen.active_bindings
        # One key per action (as the stock footer shows them), in the order they come.
        by_action: dict[str, tuple[Any, bool, str]] = {}
        for _node, binding, enabled, tooltip in active_bindings.values():
            if binding.show and binding.action not in by_action:
                by_action[binding.action] = (binding, enabled, tooltip)
        entries = list(by_action.values())
        items = [
            (self.app.get_key_display(b), b.description, b.id == HELP_ACTION or b.action == "help")
            for b, _enabled, _tooltip in entries
        ]
        palette_entry = None
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            palette_entry = active_bindings.get(self.app.COMMAND_PALETTE_BINDING)
        palette_width = 0
        if palette_entry is not None:
            _node, binding, _enabled, _tooltip = palette_entry
            palette_width = (
                key_width(self.app.get_key_display(binding), binding.description, False)
                + PALETTE_EXTRA
            )
        compact, shown, with_palette = fit_keys(items, self._width(), palette_width)
        specs = [self._spec(*entries[i]) for i in shown]
        if palette_entry is not None and with_palette:
            _node, binding, enabled, _tooltip = palette_entry
            tooltip = binding.tooltip or binding.description
            specs.append(self._spec(binding, enabled, tooltip, PALETTE_CLASS))
        return compact, specs

    def _spec(self, binding: Any, enabled: bool, tooltip: str, classes: str = "") -> KeySpec:
        display = self.app.get_key_display(binding)
        return KeySpec(
            binding.key, display, binding.description, binding.action, not enabled, tooltip, classes
        )

    def compose(self) -> ComposeResult:
        self._shown = self._signature() if self._bindings_ready else None
        if not self._bindings_ready:
            return
        compact, specs = self._plan()
        self.set_reactive(Footer.compact, compact)
        self.set_class(compact, "-compact")
        for spec in specs:
            yield self._make_key(spec)

    def _make_key(self, spec: KeySpec) -> FooterKey:
        key = FooterKey(
            spec.key,
            spec.key_display,
            spec.description,
            spec.action,
            disabled=spec.disabled,
            tooltip=spec.tooltip,
            classes=spec.classes,
        )
        return key if spec.classes else key.data_bind(compact=Footer.compact)

    async def _update_in_place(self) -> bool:
        """Show the planned keys in the footer's key widgets as they are, adding or
        removing only the difference (False when the palette key is shown in one and
        not the other: then it recomposes).

        A pane switch changes the keys shown; recomposing made ~20 new widgets to style
        and draw each time (~10-20 ms of CPU, within some switches' frame: issue 15).
        The widgets are those compose makes for the same keys, so the screen is too."""
        compact, specs = self._plan()
        keys = [w for w in self.children if isinstance(w, FooterKey)]
        if len(keys) != len(self.children):
            return False
        old = [w for w in keys if not w.has_class(PALETTE_CLASS)]
        palette = [w for w in keys if w.has_class(PALETTE_CLASS)]
        new = [spec for spec in specs if not spec.classes]
        new_palette = [spec for spec in specs if spec.classes]
        if len(palette) != len(new_palette):
            return False
        self.compact = compact  # the keys are data-bound to it (the palette key is not)
        pairs = [*zip(old, new, strict=False), *zip(palette, new_palette, strict=True)]
        for widget, spec in pairs:
            same_width = (widget.key_display, widget.description) == (
                spec.key_display,
                spec.description,
            )
            widget.key = spec.key
            widget.key_display = spec.key_display
            widget.description = spec.description
            widget.action = spec.action
            widget._disabled = spec.disabled
            widget.set_class(spec.disabled, "-disabled")
            widget.tooltip = spec.tooltip or None
            widget.refresh(layout=not same_width)
        if len(old) > len(new):
            await self.remove_children(old[len(new) :])
        elif len(new) > len(old):
            added = [self._make_key(spec) for spec in new[len(old) :]]
            if palette:
                await self.mount_all(added, before=palette[0])
            else:
                await self.mount_all(added)
        return True

    def on_resize(self, _event: object) -> None:
        if self.is_attached and not self._pending:
            self._pending = True
            self.call_after_refresh(self.refresh_keys)

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
        if not self.is_attached:
            return
        signature = self._signature()
        if signature == self._shown:
            return
        # Footer.compose data-binds each key to the active message pump, which is the
        # caller's (e.g. the app's) when this is awaited from elsewhere: make it ours.
        token = active_message_pump.set(self)
        try:
            if await self._update_in_place():
                self._shown = signature
                return
            await self.recompose()
        finally:
            active_message_pump.reset(token)
