"""A job's event log that follows new events and really stops when you scroll up.

Scrolling up (keys, page up, home, the mouse wheel) pauses following: new events are
still added but the view stays put and the hint line counts them ("12 new events — G or
End to resume"). ``G``/``End`` — or scrolling back to the bottom — resumes; ``s`` toggles.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import RichLog, Static

LEVEL_STYLES = {"warn": "yellow", "warning": "yellow", "error": "bold red"}
#: Events kept to write again after a resize (the log itself keeps 5,000 lines).
MAX_KEPT = 5000
#: Seconds a resize waits for the next one before the log is re-wrapped.
REWRAP_DELAY = 0.1


def event_text(event: dict[str, Any]) -> Text:
    """One event as one line: time, level, message."""
    ts = event.get("created_at")
    try:
        stamp = time.strftime("%H:%M:%S", time.localtime(int(ts))) if ts else "--:--:--"
    except (TypeError, ValueError, OverflowError):
        stamp = "--:--:--"
    level = str(event.get("level") or "info")
    text = Text()
    text.append(stamp, style="dim")
    text.append(" ")
    text.append(f"{level:<5}", style=LEVEL_STYLES.get(level, "dim"))
    text.append(" ")
    text.append(str(event.get("message") or ""), style=LEVEL_STYLES.get(level, ""))
    return text


class EventLog(RichLog):
    """The scrolling log itself (focusable)."""

    BINDINGS = [
        # Not in the footer: "s Follow" (the pane's toggle) is there already.
        Binding("G", "resume", "Resume following", show=False, id="events.resume"),
        Binding("end", "resume", "Follow", show=False, id="events.end"),
    ]

    class StateChanged(Message):
        def __init__(self, log: EventLog) -> None:
            super().__init__()
            self.log = log

    def __init__(self, **kwargs) -> None:
        super().__init__(
            auto_scroll=False, max_lines=5000, wrap=True, min_width=20, markup=False, **kwargs
        )
        self.following = True
        self.pending = 0
        self.total = 0
        # The events as written: RichLog wraps a line once, at the width it had then, so
        # after a resize they are written again at the new width (they stayed cut off).
        self._texts: deque[Text] = deque(maxlen=MAX_KEPT)
        self._wrapped_at = 0  # the width the lines on screen were wrapped to
        self._rewrap_timer: Timer | None = None

    # -- content ------------------------------------------------------------------------
    def add_events(self, items: list[dict[str, Any]]) -> None:
        if not items:
            return
        for event in items:
            text = event_text(event)
            self._texts.append(text)
            self.write(text, scroll_end=self.following)
        self._wrapped_at = self.scrollable_content_region.width
        self.total += len(items)
        if not self.following:
            self.pending += len(items)
        self.post_message(self.StateChanged(self))

    def reset(self) -> None:
        self.clear()
        self._texts.clear()
        self.pending = 0
        self.total = 0
        self.following = True
        self.post_message(self.StateChanged(self))

    def on_resize(self, _event: events.Resize) -> None:
        width = self.scrollable_content_region.width
        if self._texts and self._wrapped_at and width != self._wrapped_at:
            # debounced: a terminal dragged wider sends a resize per column
            if self._rewrap_timer is not None:
                self._rewrap_timer.stop()
            self._rewrap_timer = self.set_timer(REWRAP_DELAY, self._rewrap)

    def _rewrap(self) -> None:
        self._rewrap_timer = None
        width = self.scrollable_content_region.width
        if not width or width == self._wrapped_at:
            return
        at = self.scroll_y / self.max_scroll_y if self.max_scroll_y else 1.0
        self.clear()
        for text in self._texts:
            self.write(text, scroll_end=False)
        self._wrapped_at = width
        if self.following:
            self.scroll_end(animate=False, immediate=False, x_axis=False)
        else:  # about where it was (the lines above it may have wrapped differently)
            self.call_after_refresh(lambda: self.scroll_to(y=at * self.max_scroll_y, animate=False))

    # -- following ----------------------------------------------------------------------
    def set_following(self, following: bool) -> None:
        if following == self.following and not (following and self.pending):
            return
        self.following = following
        if following:
            self.pending = 0
            self.scroll_end(animate=False, immediate=False, x_axis=False)
        self.post_message(self.StateChanged(self))

    def toggle_following(self) -> None:
        self.set_following(not self.following)

    def action_resume(self) -> None:
        self.set_following(True)

    def _scrollable(self) -> bool:
        return self.max_scroll_y > 0

    def _at_end(self) -> bool:
        target = getattr(self, "scroll_target_y", self.scroll_y)
        return max(self.scroll_y, target) >= self.max_scroll_y

    def _user_scrolled_up(self) -> None:
        if self._scrollable() and self.following:
            self.set_following(False)

    def _user_scrolled_down(self) -> None:
        if not self.following and self._at_end():
            self.set_following(True)

    def action_scroll_up(self) -> None:
        super().action_scroll_up()
        self._user_scrolled_up()

    def action_page_up(self) -> None:
        super().action_page_up()
        self._user_scrolled_up()

    def action_scroll_home(self) -> None:
        super().action_scroll_home()
        self._user_scrolled_up()

    def action_scroll_end(self) -> None:
        self.set_following(True)

    def action_scroll_down(self) -> None:
        super().action_scroll_down()
        self._user_scrolled_down()

    def action_page_down(self) -> None:
        super().action_page_down()
        self._user_scrolled_down()

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        super()._on_mouse_scroll_up(event)
        self._user_scrolled_up()

    def _on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        super()._on_mouse_scroll_down(event)
        self._user_scrolled_down()


class EventPanel(Vertical):
    """The log plus its hint line (following / paused with N new events)."""

    DEFAULT_CSS = """
    EventPanel { height: 1fr; }
    /* The vertical scrollbar always shows: lines are wrapped to the width at the time they
       are written, so a bar that appears later made them 2 cells too wide (a horizontal
       scrollbar under wrapped text). */
    EventPanel > EventLog { height: 1fr; background: $surface; overflow-y: scroll; overflow-x: hidden; }
    EventPanel > #event-hint { height: 1; color: $text-muted; padding: 0 1; }
    EventPanel > #event-hint.-paused { background: $warning 30%; color: $text; text-style: bold; }
    """

    def compose(self) -> ComposeResult:
        yield EventLog(id="event-log")
        yield Static("following new events", id="event-hint")

    @property
    def log_widget(self) -> EventLog:
        return self.query_one(EventLog)

    def on_event_log_state_changed(self, message: EventLog.StateChanged) -> None:
        message.stop()
        log = message.log
        hint = self.query_one("#event-hint", Static)
        if log.following:
            hint.update(f"following · {log.total} events · s pauses")
            hint.remove_class("-paused")
        else:
            new = (
                f"{log.pending} new event{'s' if log.pending != 1 else ''}"
                if log.pending
                else "paused"
            )
            hint.update(f"⏸ {new} — G or End resumes, s toggles")
            hint.add_class("-paused")
