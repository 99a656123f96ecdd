"""A table's rows are shown at their measured widths even when a frame was drawn between
adding them and the table measuring them (Textual's DataTable kept those lines: the
Models screen showed "ft:gp" under Model on a loaded machine)."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widgets import DataTable

from fttui.tui.widgets.measured_table import MeasuredTable
from support.tui import screen_text, until

LONG = "ft:gpt-4o-mini-2024-07-18:acme:support-bot:CwjSn1f"


class OneTable(App[None]):
    CSS = "DataTable { height: 8; }"  # a fixed height: no resize comes to drop the lines

    def __init__(self, table_class: type[DataTable]) -> None:
        super().__init__()
        self.table_class = table_class

    def compose(self) -> ComposeResult:
        yield self.table_class(id="t")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("Model", key="id")
        table.add_column("Owner", key="owner")

    def add_and_draw(self) -> None:
        """Add a row, then draw the table at once, before its idle measures the row (as a
        frame that falls in between does)."""
        table = self.query_one(DataTable)
        table.add_row(LONG, "org-acme", key=LONG)
        table.render_lines(Region(0, 0, table.size.width, table.size.height))


async def test_rows_drawn_before_they_were_measured_are_drawn_again_at_their_widths():
    app = OneTable(MeasuredTable)
    async with app.run_test(size=(100, 12)) as pilot:
        table = app.query_one(DataTable)
        await until(pilot, lambda: table.size.width > 0, what="laid out")
        app.add_and_draw()
        await until(pilot, lambda: LONG in screen_text(app), what="the whole model name")
        assert "org-acme" in screen_text(app)
