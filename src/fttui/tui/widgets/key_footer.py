"""``KeyFooter``: Textual's ``Footer`` drawn as one line by one widget, fitted to the width.

The stock footer is a container of key widgets (``FooterKey``) that it rebuilds on every
bindings signal: each focus change, each pane switch, several times during start-up. To
restyle, lay out and draw ~20 widgets took 10-20 ms of CPU, and it came a frame after the
pane it belonged to (the footer recomposes after a refresh): a pane switch showed the
pane at ~30 ms and its keys at ~80-100 ms (bench/tui.py, issue 15). This footer is one
widget that draws its keys as one line of text: a change of keys is a repaint of one line,
in the same frame as the focus change that caused it. It looks and behaves as the stock
one: the same colours (the theme's ``$footer-*`` variables), a key lit under the mouse with
its tooltip, a click runs the key, a disabled key is dim and rings the bell, the command
palette's key on the right behind a thin rule.

On a narrow terminal the stock footer cut its last key mid-word (``n New j``). This one
goes compact (less spacing) when the keys do not fit, then leaves keys out from the end —
never ``?`` (help lists every key) — and never shows half a key.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, NamedTuple

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widget import Widget

#: The action of the key that is never left out: it lists all the others.
HELP_ACTION = "app.help"
#: The command palette key, on the right: its width with its rule (and padding, when not
#: compact).
PALETTE_EXTRA = 2
#: The thin rule left of the palette key (Textual's ``vkey`` border).
PALETTE_RULE = "▏"


class KeySpec(NamedTuple):
    """One key of the footer."""

    key: str
    key_display: str
    description: str
    action: str
    disabled: bool
    tooltip: str
    #: the command palette's key (drawn on the right, behind a rule)
    palette: bool = False


class KeyStyles(NamedTuple):
    """The rich styles of one key's cells: around it (its paddings, margins), its key,
    its description, and the rule before the palette key."""

    item: Style
    key: Style
    description: Style
    rule: Style


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


class KeyFooter(Widget, can_focus=False):
    """The keys of the focused widget and its ancestors, on one line: one widget."""

    ALLOW_SELECT = False
    COMPONENT_CLASSES = {
        "key-footer--item",
        "key-footer--key",
        "key-footer--description",
        "key-footer--hover",
        "key-footer--rule",
    }
    # The stock Footer's and FooterKey's rules, as component classes of one widget.
    DEFAULT_CSS = """
    KeyFooter {
        dock: bottom;
        height: 1;
        width: 1fr;
        color: $footer-foreground;
        background: $footer-background;
        & > .key-footer--item {
            background: $footer-item-background;
        }
        & > .key-footer--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        & > .key-footer--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
        & > .key-footer--hover {
            color: $footer-key-foreground;
            background: $block-hover-background;
        }
        & > .key-footer--rule {
            color: $foreground 20%;
        }
    }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: what the keys drawn were planned from (``_signature``); None: not drawn yet
        self._shown: Hashable | None = None
        #: the keys, compact or not, as drawn last
        self.compact = False
        self.keys: list[KeySpec] = []
        #: (start, end, key) of each key drawn: what the mouse is over
        self._spans: list[tuple[int, int, KeySpec]] = []
        self._hover: KeySpec | None = None
        self._line: tuple[Hashable, Text] | None = None

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _width(self) -> int:
        return self.size.width or self.app.size.width

    def _signature(self, active_bindings: Any = None) -> Hashable:
        """What the footer would show now (keys, labels, enabled states, width)."""
        if active_bindings is None:
            active_bindings = self.screen.active_bindings
        palette = self.app.COMMAND_PALETTE_BINDING
        keys = tuple(
            (key, binding.key, binding.action, binding.description, enabled, tooltip, binding.group)
            for key, (_node, binding, enabled, tooltip) in active_bindings.items()
            if binding.show or key == palette
        )
        return (keys, self._width())

    def _plan(self, active_bindings: Any = None) -> tuple[bool, list[KeySpec]]:
        """Whether the keys go compact, and each key to show, in order (the palette key
        last); from ``active_bindings`` when the caller has them (the screen's otherwise)."""
        if active_bindings is None:
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
        if self.app.ENABLE_COMMAND_PALETTE:
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
            specs.append(self._spec(binding, enabled, tooltip, palette=True))
        return compact, specs

    def _spec(self, binding: Any, enabled: bool, tooltip: str, *, palette: bool = False) -> KeySpec:
        display = self.app.get_key_display(binding)
        return KeySpec(
            binding.key, display, binding.description, binding.action, not enabled, tooltip, palette
        )

    # -- keeping up with the focus ---------------------------------------------------------
    def bindings_changed(self, screen: Screen) -> None:
        # The app losing the terminal's focus drops the focused widget's keys: the stock
        # footer keeps showing them then, and so does this one.
        if screen is self.screen and screen.app.app_focus:
            self.refresh()

    def shows_current_keys(self) -> bool:
        """Whether the keys drawn are those of the focus now."""
        return self._shown == self._signature()

    # -- drawing ----------------------------------------------------------------------------
    def _styles(self, hover: bool, disabled: bool) -> KeyStyles:
        """A key's styles, blended over the footer's background as Textual blends a
        FooterKey's (a lit key takes the hover colours)."""
        _, under = self.background_colors
        item = self.get_component_styles("key-footer--hover" if hover else "key-footer--item")
        item_bg = under + item.background
        item_fg = item_bg + (item.color if hover else self.styles.color)
        dim = Style(dim=True) if disabled else Style()

        def part(name: str) -> Style:
            styles = self.get_component_styles(name)
            back = item_bg + styles.background
            fore = back + styles.color
            return Style(color=fore.rich_color, bgcolor=back.rich_color) + styles.text_style + dim

        rule = item_bg + self.get_component_styles("key-footer--rule").color
        return KeyStyles(
            Style(color=item_fg.rich_color, bgcolor=item_bg.rich_color) + dim,
            part("key-footer--key"),
            part("key-footer--description"),
            Style(color=rule.rich_color, bgcolor=item_bg.rich_color),
        )

    def render(self) -> Text:
        # While the terminal has not the app's focus, Textual takes the focus from the
        # focused widget: the keys it had stay (as bindings_changed leaves them), whatever
        # draws the footer again meanwhile (the mouse over it, a resize).
        signature = self._shown
        active_bindings = None
        if signature is None or self.app.app_focus:
            active_bindings = self.screen.active_bindings  # a walk of the focus chain: once
            signature = self._signature(active_bindings)
        if signature != self._shown:
            self.compact, self.keys = self._plan(active_bindings)
            self._shown = signature
            self._line = None
            self._hover = None
            self.tooltip = None
        key = (signature, self._hover, self.app.current_theme.name)
        if self._line is not None and self._line[0] == key:
            return self._line[1]
        text = self._draw()
        self._line = (key, text)
        return text

    def _draw(self) -> Text:
        compact = self.compact
        width = self._width()
        line = Text(no_wrap=True, overflow="crop", end="")
        self._spans = []
        _, under = self.background_colors
        base = Style(bgcolor=under.rich_color)
        styles: dict[tuple[bool, bool], KeyStyles] = {}  # the same few for every key

        def style_of(spec: KeySpec) -> KeyStyles:
            state = (spec is self._hover, spec.disabled)
            if state not in styles:
                styles[state] = self._styles(*state)
            return styles[state]

        def add_key(spec: KeySpec, key_compact: bool) -> None:
            style = style_of(spec)
            start = line.cell_len
            if key_compact:
                line.append(spec.key_display, style.key)
                if spec.description:
                    line.append(" " + spec.description, style.description)
            else:
                line.append(" " + spec.key_display + " ", style.key)
                if spec.description:
                    line.append(spec.description + " ", style.description)
            self._spans.append((start, line.cell_len, spec))

        for spec in self.keys:
            if not spec.palette:
                add_key(spec, compact)
                if compact:
                    line.append(" ", base)  # FooterKey's margin-right in a compact footer
        for spec in self.keys:
            if not spec.palette:
                continue
            # The palette key is compact always (the stock footer never binds it to the
            # footer's compact), behind a rule, with a cell after it: its padding, or its
            # margin in a compact footer.
            own = 1 + key_width(spec.key_display, spec.description, True)
            if line.cell_len + own < width:
                line.append(" " * (width - own - line.cell_len), base)
            line.append(PALETTE_RULE, style_of(spec).rule)
            add_key(spec, True)
            line.append(" ", base if compact else style_of(spec).item)
        if line.cell_len < width:
            line.append(" " * (width - line.cell_len), base)
        return line

    # -- the mouse -------------------------------------------------------------------------
    def _key_at(self, x: int) -> KeySpec | None:
        for start, end, spec in self._spans:
            if start <= x < end:
                return spec
        return None

    def on_mouse_move(self, event: events.MouseMove) -> None:
        self._set_hover(self._key_at(event.x))

    def on_leave(self, _event: events.Leave) -> None:
        self._set_hover(None)

    def _set_hover(self, spec: KeySpec | None) -> None:
        if spec is not self._hover:
            self._hover = spec
            self.tooltip = (spec.tooltip or None) if spec is not None else None
            self.styles.pointer = "default" if spec is None else "pointer"  # as FooterKey
            self.refresh()

    def on_mouse_down(self, event: events.MouseDown) -> None:
        spec = self._key_at(event.x)
        if spec is None:
            return
        event.stop()
        if spec.disabled:
            self.app.bell()
        else:
            self.app.simulate_key(spec.key)
