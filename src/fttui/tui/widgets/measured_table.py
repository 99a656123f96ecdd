"""``MeasuredTable``: a ``DataTable`` whose rows are never drawn at the widths they had
before their cells were measured.

Textual's ``DataTable`` measures the cells of new rows on its next idle
(``_update_dimensions``) and widens the auto-width columns, but it keeps the lines it
drew before that: they are cached under keys the measuring does not change (its
``_update_count``). A frame that falls between ``add_row`` and that idle, which a loaded
machine makes likely, drew each column at its header's width ("ft:gp", "org-f" in the
Models screen), and those lines stayed on screen until something else changed the table
(the Models screen's test caught it: 3 runs of 4 failed with two suites running on 2 cores). A table
of fixed height never gets the resize that would have dropped them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from textual.widgets import DataTable
from textual.widgets._data_table import RowKey

CellType = TypeVar("CellType")


class MeasuredTable(DataTable[CellType]):
    """A ``DataTable`` that drops the lines it drew before measuring new rows."""

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        super()._update_dimensions(new_rows)
        # every cached line and row (their keys all carry the update count) is stale now
        self._update_count += 1
        self.refresh()
