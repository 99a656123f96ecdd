"""The list of a training file's examples, one line each — instant on a 1 GB file.

A ``ScrollView`` using the Line API: only the rows on screen are read (one ``pread`` each
through ``fttui.datasets.lineindex``), parsed and rendered, with an LRU cache of summaries.
The line offsets are indexed by a worker of the Data pane while this list already shows
the first rows; ``grow()`` tells it more rows exist. Never a DataTable of 100k rows.
"""

from __future__ import annotations

from typing import ClassVar

from rich.segment import Segment
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from fttui.datasets.lineindex import DatasetSource, Row
from fttui.tui.widgets.example_view import SEVERITY_ICONS, summarize

#: bytes of a line read for its one-line summary (longer lines are summarised from the head)
SUMMARY_MAX_BYTES = 1 << 20


class DatasetPreview(ScrollView, can_focus=True):
    """One row per line of the file; a cursor; markers on the lines that have findings."""

    DEFAULT_CSS = """
    DatasetPreview {
        height: 1fr;
        overflow-x: hidden;
        overflow-y: scroll;
        background: $surface;
        &:focus { background-tint: $foreground 5%; }
    }
    DatasetPreview > .dataset-preview--cursor { background: $block-cursor-blurred-background; }
    DatasetPreview:focus > .dataset-preview--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: $block-cursor-text-style;
    }
    DatasetPreview > .dataset-preview--line-number { color: $text-muted; }
    DatasetPreview > .dataset-preview--error { color: $text-error; }
    DatasetPreview > .dataset-preview--warning { color: $text-warning; }
    DatasetPreview > .dataset-preview--info { color: $text-accent; }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "dataset-preview--cursor",
        "dataset-preview--line-number",
        "dataset-preview--error",
        "dataset-preview--warning",
        "dataset-preview--info",
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False, id="data.preview.up"),
        Binding("down,j", "cursor_down", "Down", show=False, id="data.preview.down"),
        Binding("pageup", "page_up", "Page up", show=False, id="data.preview.page_up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="data.preview.page_down"),
        Binding("home,g", "first", "First", show=False, id="data.preview.first"),
        Binding("end,G", "last", "Last", show=False, id="data.preview.last"),
        Binding(
            "right_square_bracket", "next_finding", "Next finding", id="data.preview.next_finding"
        ),
        Binding(
            "left_square_bracket",
            "previous_finding",
            "Previous finding",
            show=False,
            id="data.preview.previous_finding",
        ),
        Binding("enter", "open", "View", id="data.preview.open"),  # short: the footer is full
    ]

    cursor: reactive[int] = reactive(0, always_update=False, init=False)

    class CursorMoved(Message):
        """The cursor is on another row (``row`` 0-based, ``line`` 1-based in the file)."""

        def __init__(self, preview: DatasetPreview, row: int, line: int) -> None:
            super().__init__()
            self.preview = preview
            self.row = row
            self.line = line

        @property
        def control(self) -> DatasetPreview:
            return self.preview

    class Opened(Message):
        """``enter`` on a row: the reader wants the full example."""

        def __init__(self, preview: DatasetPreview, row: int) -> None:
            super().__init__()
            self.preview = preview
            self.row = row

        @property
        def control(self) -> DatasetPreview:
            return self.preview

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.source: DatasetSource | None = None
        self._count = 0
        self._summaries: LRUCache[int, Strip] = LRUCache(1024)
        self._strip_width = 0
        self._markers: dict[int, str] = {}  # line -> worst severity
        self._marked_lines: list[int] = []
        self._follow_end = False

    # -- data -------------------------------------------------------------------------
    def set_source(self, source: DatasetSource | None) -> None:
        """Show ``source`` (rows appear as ``grow()`` is called while it is indexed)."""
        self.source = source
        self._summaries.clear()
        self._markers = {}
        self._marked_lines = []
        self._follow_end = False
        self._count = 0
        self.set_reactive(DatasetPreview.cursor, 0)
        self.scroll_to(0, 0, animate=False, immediate=True)
        self.grow()
        self.refresh()

    @property
    def row_count(self) -> int:
        return self._count

    def grow(self) -> None:
        """The source has more rows (or finished): resize, and follow the end if asked."""
        count = len(self.source) if self.source is not None else 0
        if count == self._count and not (self.source is not None and self.source.done):
            return
        old = self._count
        self._count = count
        self.virtual_size = Size(max(1, self.scrollable_content_region.width), count)
        if self._follow_end and count:
            if self.source is not None and self.source.done:
                self._follow_end = False
            self.move_to(count - 1)
        elif old == 0 and count:
            self.post_message(self.CursorMoved(self, self.cursor, self.line_of(self.cursor)))
        # rows that were past the end may now be on screen
        self.refresh()

    def set_markers(self, markers: dict[int, str]) -> None:
        """Severity markers by 1-based line (the worst finding of each line)."""
        self._markers = dict(markers)
        self._marked_lines = sorted(self._markers)
        self._summaries.clear()
        self.refresh()

    def line_of(self, row: int) -> int:
        if self.source is None or not 0 <= row < self._count:
            return 0
        return self.source.line_of(row)

    def current_row(self) -> Row | None:
        """The parsed row under the cursor (read in full), or None."""
        if self.source is None or not 0 <= self.cursor < self._count:
            return None
        return self.source.row(self.cursor, max_bytes=64 << 20)

    # -- cursor -----------------------------------------------------------------------
    def move_to(self, row: int, *, center: bool = False) -> None:
        """Put the cursor on ``row`` (clamped) and scroll it into view."""
        if self._count == 0:
            return
        row = max(0, min(self._count - 1, row))
        self.cursor = row
        self._scroll_to_cursor(center=center)

    def go_to_line(self, line: int) -> bool:
        """Put the cursor on the row of 1-based ``line``; False when not indexed (yet)."""
        if self.source is None:
            return False
        row = self.source.row_of(line)
        if row is None or row >= self._count:
            return False
        self.move_to(row, center=True)
        return True

    def _scroll_to_cursor(self, *, center: bool = False) -> None:
        height = max(1, self.scrollable_content_region.height)
        top = int(self.scroll_y)
        row = self.cursor
        if center and not top <= row < top + height:
            self.scroll_to(y=max(0, row - height // 2), animate=False, immediate=True)
        elif row < top:
            self.scroll_to(y=row, animate=False, immediate=True)
        elif row >= top + height:
            self.scroll_to(y=row - height + 1, animate=False, immediate=True)

    def watch_cursor(self, old: int, new: int) -> None:
        self.refresh_lines(old)
        self.refresh_lines(new)
        self.post_message(self.CursorMoved(self, new, self.line_of(new)))

    def action_cursor_up(self) -> None:
        self._follow_end = False
        self.move_to(self.cursor - 1)

    def action_cursor_down(self) -> None:
        self._follow_end = False
        self.move_to(self.cursor + 1)

    def action_page_up(self) -> None:
        self._follow_end = False
        self.move_to(self.cursor - max(1, self.scrollable_content_region.height - 1))

    def action_page_down(self) -> None:
        self._follow_end = False
        self.move_to(self.cursor + max(1, self.scrollable_content_region.height - 1))

    def action_first(self) -> None:
        self._follow_end = False
        self.move_to(0)

    def action_last(self) -> None:
        """The last row; while the file is still being indexed, follow the end until done."""
        self._follow_end = self.source is not None and not self.source.done
        self.move_to(self._count - 1)

    def _jump_finding(self, step: int) -> None:
        if not self._marked_lines:
            self.notify("No findings with a line in this file.", severity="information")
            return
        import bisect

        line = self.line_of(self.cursor)
        lines = self._marked_lines
        if step > 0:
            i = bisect.bisect_right(lines, line)
            target = lines[i] if i < len(lines) else lines[0]
        else:
            i = bisect.bisect_left(lines, line) - 1
            target = lines[i] if i >= 0 else lines[-1]
        self._follow_end = False
        if not self.go_to_line(target):
            self.notify(f"Line {target} is not indexed yet.", severity="warning")

    def action_next_finding(self) -> None:
        self._jump_finding(+1)

    def action_previous_finding(self) -> None:
        self._jump_finding(-1)

    def action_open(self) -> None:
        if self._count:
            self.post_message(self.Opened(self, self.cursor))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        row = int(self.scroll_y) + offset.y
        if 0 <= row < self._count:
            self._follow_end = False
            self.move_to(row)

    def on_resize(self) -> None:
        self._summaries.clear()
        self.virtual_size = Size(max(1, self.scrollable_content_region.width), self._count)

    # -- rendering --------------------------------------------------------------------
    def _row_strip(self, row: int, width: int) -> Strip:
        """Line number, marker and summary of ``row``, cropped to ``width`` (cached)."""
        strip = self._summaries.get(row)
        if strip is not None:
            return strip
        assert self.source is not None
        base = self.rich_style
        line_no = self.source.line_of(row)
        digits = max(4, len(str(self.line_of(self._count - 1) or 1)))
        number_style = self.get_component_rich_style("dataset-preview--line-number")
        segments = [Segment(f"{line_no:>{digits}} ", base + number_style)]
        severity = self._markers.get(line_no)
        if severity:
            style = self.get_component_rich_style(f"dataset-preview--{severity}")
            segments.append(Segment(SEVERITY_ICONS.get(severity, "•") + " ", base + style))
        else:
            segments.append(Segment("  ", base))
        try:
            text = summarize(self.source.row(row, max_bytes=SUMMARY_MAX_BYTES), width - digits - 3)
        except (OSError, IndexError, ValueError) as exc:
            text = Text(f"unreadable: {exc}", style="red")
        except (
            Exception
        ) as exc:  # an example shaped like nothing expected: one red row, never a crash
            text = Text(f"cannot show this example: {type(exc).__name__}: {exc}", style="red")
        body = Strip(text.render(self.app.console), text.cell_len).apply_style(base)
        strip = Strip.join([Strip(segments), body]).crop_extend(0, width, base)
        self._summaries[row] = strip
        return strip

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        row = int(self.scroll_y) + y
        if self.source is None or row >= self._count:
            return Strip.blank(width, self.rich_style)
        if width != self._strip_width:
            self._summaries.clear()
            self._strip_width = width
        strip = self._row_strip(row, width)
        if row == self.cursor:
            strip = strip.apply_style(self.get_component_rich_style("dataset-preview--cursor"))
        return strip.apply_offsets(0, row)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._summaries.clear()


__all__ = ["DatasetPreview"]
