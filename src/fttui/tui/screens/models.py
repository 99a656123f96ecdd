"""The provider's models (``M`` from anywhere): fine-tuned first, with owner, created and,
where the provider reports it, the shutdown date and the days left; ``d`` deletes a
fine-tuned model through the same Keep-first confirmation as cancelling a job.

The list is fetched in a thread worker; a failure (listing or deleting) is one line on
the screen, which stays usable. A deleted model's row goes by key, the cursor stays.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static

from fttui.tui.widgets.key_footer import KeyFooter
from fttui.tui.widgets.measured_table import MeasuredTable

if TYPE_CHECKING:  # the app imports the screens: typing only, no cycle at run time
    from fttui.tui.app import FtApp

COLUMNS = (
    ("id", "Model"),
    ("owned_by", "Owner"),
    ("created", "Created"),
    ("shutdown", "Shutdown"),
    ("days_left", "Days left"),
)


def is_fine_tuned(model_id: str) -> bool:
    return model_id.startswith("ft:")


def shutdown_of(model: dict[str, Any]) -> dt.date | None:
    """The model's ``shutdown_date`` (OpenAI's Model object: a date, or null when none is
    announced) as a date; None when absent, null or unreadable."""
    value = model.get("shutdown_date")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, dt.UTC).date()
    if isinstance(value, str) and value:
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def model_cells(model: dict[str, Any], today: dt.date) -> tuple[Text, ...]:
    """The cells of a model's row, in ``COLUMNS`` order (Text: a model name is data)."""
    created = model.get("created")
    when = "—"
    if isinstance(created, int | float) and not isinstance(created, bool):
        try:
            when = dt.datetime.fromtimestamp(created, dt.UTC).strftime("%Y-%m-%d")
        except (ValueError, OverflowError, OSError):
            pass
    shutdown = shutdown_of(model)
    days = Text("—", justify="right")
    if shutdown is not None:
        left = (shutdown - today).days
        days = Text(
            str(left) if left >= 0 else "shut down",
            style="bold red" if left < 30 else "yellow" if left < 90 else "",
            justify="right",
        )
    model_id = str(model.get("id") or "")
    return (
        Text(model_id, style="bold" if is_fine_tuned(model_id) else ""),
        Text(str(model.get("owned_by") or "—")),
        Text(when),
        Text(shutdown.isoformat() if shutdown else "—"),
        days,
    )


def sorted_models(models: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fine-tuned first, newest first; then the others by name."""
    tuned = [m for m in models if is_fine_tuned(str(m.get("id") or ""))]
    others = [m for m in models if not is_fine_tuned(str(m.get("id") or ""))]
    tuned.sort(key=lambda m: (-(m.get("created") or 0), str(m.get("id"))))
    others.sort(key=lambda m: str(m.get("id")))
    return tuned + others


class _Listed(Message):
    def __init__(self, models: list[dict[str, Any]] | None, error: str | None = None) -> None:
        super().__init__()
        self.models = models
        self.error = error


class _Deleted(Message):
    def __init__(self, model_id: str, error: str | None = None) -> None:
        super().__init__()
        self.model_id = model_id
        self.error = error


class ModelsScreen(Screen[None]):
    """The models table and a status line."""

    app: FtApp  # for the type checker only (no value: Textual's property stays)

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d,delete", "delete", "Delete model", id="models.delete"),
        Binding("r", "refresh", "Refresh", id="models.refresh"),
        Binding("escape,M", "close", "Back", id="models.close"),
        Binding("j", "cursor(1)", "Down", show=False, id="models.down"),
        Binding("k", "cursor(-1)", "Up", show=False, id="models.up"),
    ]

    def __init__(self, *, today: dt.date | None = None) -> None:
        super().__init__()
        #: the day "days left" counts from (fixed in snapshot tests)
        self.today = today
        self.models: dict[str, dict[str, Any]] = {}
        self.loaded = False
        self._deleting: set[str] = set()

    def compose(self) -> ComposeResult:
        with Vertical(id="models-box"):
            table: DataTable[Text] = MeasuredTable(
                id="models-table", cursor_type="row", zebra_stripes=True
            )
            for key, label in COLUMNS:
                table.add_column(label, key=key)
            yield table
        yield Static("", id="models-status", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#models-box").border_title = "Models"
        self.query_one(DataTable).focus()
        if self.app.live:
            self.action_refresh()

    # -- status line --------------------------------------------------------------------
    def _status(self, message: str, *, error: bool = False) -> None:
        status = self.query_one("#models-status", Static)
        status.update(Text(message))
        status.set_class(error, "-error")

    @property
    def status_text(self) -> str:
        return str(self.query_one("#models-status", Static).render())

    # -- listing ------------------------------------------------------------------------
    def action_refresh(self) -> None:
        self._status("listing the provider's models…")
        self._list()

    @work(thread=True, exclusive=True, group="models-list", exit_on_error=False)
    def _list(self) -> None:
        from fttui.api.errors import friendly

        try:
            models = self.app.backend.list_models()
        except Exception as exc:
            self.post_message(_Listed(None, str(friendly(exc))))
            return
        self.post_message(_Listed(models))

    def on__listed(self, message: _Listed) -> None:
        message.stop()
        if message.models is None:
            self._status(f"✗ cannot list the models: {message.error}", error=True)
            return
        self.show_models(message.models)

    def show_models(self, models: list[dict[str, Any]]) -> None:
        """Show ``models`` (the provider's list): rows updated by key, the cursor kept."""
        table: DataTable[Text] = self.query_one(DataTable)
        today = self.today or dt.date.today()
        ordered = sorted_models([m for m in models if m.get("id")])
        cursor_key = self.cursor_model
        self.models = {str(m["id"]): m for m in ordered}
        keys = list(self.models)
        shown = [str(k.value) for k in table.rows]
        with self.app.batch_update():
            for gone in [k for k in shown if k not in self.models]:
                table.remove_row(gone)  # deleted (here or elsewhere): its row goes by key
            shown = [k for k in shown if k in self.models]
            if shown == keys:
                # the same models in the same order: changed cells only, the cursor stays
                for key in keys:
                    cells = model_cells(self.models[key], today)
                    for (column, _label), cell, old in zip(
                        COLUMNS, cells, table.get_row(key), strict=True
                    ):
                        if cell != old:
                            table.update_cell(key, column, cell, update_width=True)
            else:
                # a model came, so the order changed: rebuilt, the cursor back on its model
                table.clear()
                for key in keys:
                    table.add_row(*model_cells(self.models[key], today), key=key)
                if cursor_key in self.models:
                    table.move_cursor(row=table.get_row_index(cursor_key))
        self.loaded = True
        tuned = sum(is_fine_tuned(k) for k in self.models)
        self._status(
            f"{len(self.models)} model{'s' if len(self.models) != 1 else ''}, "
            f"{tuned} fine-tuned · d deletes a fine-tuned model · esc back"
        )

    @property
    def cursor_model(self) -> str | None:
        table: DataTable[Text] = self.query_one(DataTable)
        if not table.row_count:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except Exception:  # no row under the cursor
            return None
        return str(key.value) if key.value is not None else None

    def action_cursor(self, step: int) -> None:
        table: DataTable[Text] = self.query_one(DataTable)
        if step > 0:
            table.action_cursor_down()
        else:
            table.action_cursor_up()

    # -- deleting -----------------------------------------------------------------------
    def action_delete(self) -> None:
        from fttui.tui.screens.confirm import ConfirmScreen

        model_id = self.cursor_model
        if model_id is None:
            return
        if self.app.read_only:
            self._status("Read-only mode: deleting models is disabled.", error=True)
            return
        if not is_fine_tuned(model_id):
            self._status(
                f"✗ {model_id} is a base model: only fine-tuned models (ft:…) can be deleted",
                error=True,
            )
            return
        if model_id in self._deleting:
            return

        def answered(confirmed: bool | None) -> None:
            if confirmed:
                self._deleting.add(model_id)
                self._status(f"deleting {model_id}…")
                self._delete(model_id)

        self.app.push_screen(
            ConfirmScreen(
                "Delete this model?",
                f"{model_id}\n\nIt cannot be used or restored afterwards; its job stays.",
                confirm_label="Delete",
            ),
            answered,
        )

    @work(thread=True, exclusive=False, group="models-delete", exit_on_error=False)
    def _delete(self, model_id: str) -> None:
        from fttui.api.errors import friendly

        try:
            deleted = self.app.backend.delete_model(model_id)
        except Exception as exc:
            self.post_message(_Deleted(model_id, str(friendly(exc))))
            return
        self.post_message(_Deleted(model_id, None if deleted else "the provider did not delete it"))

    def on__deleted(self, message: _Deleted) -> None:
        message.stop()
        self._deleting.discard(message.model_id)
        if message.error is not None:
            self._status(f"✗ {message.model_id} not deleted: {message.error}", error=True)
            return
        table: DataTable[Text] = self.query_one(DataTable)
        self.models.pop(message.model_id, None)
        if message.model_id in table.rows:
            table.remove_row(message.model_id)
        self._status(f"deleted {message.model_id}")

    def action_close(self) -> None:
        self.dismiss(None)
