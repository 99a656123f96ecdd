"""The status bar (profile, base URL, last refresh) and the outage banner above it."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Static

_KIND_TITLES = {
    "network": "Provider unreachable",
    "timeout": "Provider not answering",
    "rate_limit": "Rate limited",
    "provider": "Provider error",
    "auth": "Authentication failed",
    "permission": "Permission denied",
    "config": "Configuration problem",
}


class Banner(Static):
    """A full-width warning line: what is wrong and when the app retries (a countdown)."""

    DEFAULT_CSS = """
    Banner {
        display: none;
        height: 1;
        width: 1fr;
        background: $error;
        color: $text;
        text-style: bold;
        padding: 0 1;
    }
    Banner.-warning { background: $warning; color: $background; }
    Banner.-visible { display: block; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.kind: str | None = None
        self.message: str = ""
        self.retry_at: float | None = None
        self._timer: Timer | None = None

    def on_mount(self) -> None:
        self._timer = self.set_interval(1.0, self._tick, pause=True)

    def show_problem(self, kind: str, message: str, retry_in: float | None) -> None:
        self.kind = kind
        self.message = message
        self.retry_at = time.monotonic() + retry_in if retry_in is not None else None
        self.set_class(kind == "rate_limit", "-warning")
        self.add_class("-visible")
        self._render_text()
        if self._timer is not None:
            self._timer.resume()

    def clear_problem(self) -> None:
        self.kind = None
        self.retry_at = None
        self.remove_class("-visible")
        if self._timer is not None:
            self._timer.pause()

    @property
    def active(self) -> bool:
        return self.kind is not None

    def _tick(self) -> None:
        if self.kind is not None:
            self._render_text()

    def _render_text(self) -> None:
        title = _KIND_TITLES.get(self.kind or "", "Problem")
        text = Text.assemble(("⚠ ", "bold"), (title, "bold"))
        if self.retry_at is not None:
            left = max(0, round(self.retry_at - time.monotonic()))
            text.append(f" — retrying in {left}s" if left else " — retrying now…", style="bold")
            text.append(" (r: now)")
        text.append(" · ")
        text.append(self.message)
        self.update(text)


class StatusBar(Vertical):
    """Profile · base URL · backend detail · last refresh (and read-only / cached marks)."""

    DEFAULT_CSS = """
    StatusBar { height: auto; }
    StatusBar > #status-line { height: 1; background: $panel; color: $text-muted; }
    StatusBar #status-profile { width: auto; padding: 0 1; background: $accent; color: $text; text-style: bold; }
    StatusBar #status-url { width: 1fr; padding: 0 1; }
    StatusBar #status-detail { width: auto; padding: 0 1; }
    StatusBar #status-refresh { width: auto; padding: 0 1; }
    StatusBar #status-mode { width: auto; padding: 0 1; background: $warning; color: $background; display: none; }
    StatusBar #status-mode.-on { display: block; }
    """

    last_refresh: reactive[float | None] = reactive(None)
    cached: reactive[bool] = reactive(False)

    def __init__(self, *, read_only: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.read_only = read_only
        self._clock = time.time

    def compose(self) -> ComposeResult:
        yield Banner(id="banner")
        with Horizontal(id="status-line"):
            yield Static("…", id="status-profile")
            yield Static("", id="status-url")
            yield Static("", id="status-detail")
            yield Static("", id="status-refresh")
            yield Static("READ-ONLY", id="status-mode", classes="-on" if self.read_only else "")

    def on_mount(self) -> None:
        self.set_interval(5.0, self._update_refresh)
        self._update_refresh()

    @property
    def banner(self) -> Banner:
        return self.query_one(Banner)

    def set_provider(self, name: str, base_url: str, detail: str = "") -> None:
        # Text: a profile name, URL or error is shown as typed, never parsed as markup.
        self.query_one("#status-profile", Static).update(Text(name or "?"))
        self.query_one("#status-url", Static).update(Text(base_url or ""))
        self.query_one("#status-detail", Static).update(Text(detail))

    def mark_refreshed(self) -> None:
        self.cached = False
        self.last_refresh = self._clock()

    def watch_last_refresh(self) -> None:
        self._update_refresh()

    def watch_cached(self) -> None:
        self._update_refresh()

    def _update_refresh(self) -> None:
        if not self.is_mounted:
            return
        label = self.query_one("#status-refresh", Static)
        if self.last_refresh is None:
            label.update("cached list" if self.cached else "connecting…")
            return
        stamp = time.strftime("%H:%M:%S", time.localtime(self.last_refresh))
        ago = max(0, int(self._clock() - self.last_refresh))
        label.update(f"refreshed {stamp}" + (f" ({ago}s ago)" if ago >= 5 else ""))
