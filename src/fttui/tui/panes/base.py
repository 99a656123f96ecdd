"""``Pane``: what the app asks of each of its five panes (issue 11).

The app used to probe panes with ``hasattr``/``getattr`` (``on_shown``, ``refresh_now``,
``focus_default``...); each pane now subclasses ``Pane`` and overrides only what it needs,
so the app calls the methods directly and a misspelt override is a type error, not a
silently skipped call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from textual.containers import Vertical

if TYPE_CHECKING:  # the app imports the panes: typing only, no import of the app at run time
    from fttui.tui.app import FtApp
    from fttui.tui.messages import JobSelected, JobsMarked


class Pane(Vertical):
    """A pane of the app's content switcher; every hook is a no-op unless overridden."""

    @property
    def ftapp(self) -> FtApp:
        """The app, typed (posting's request_editor.py does the same: no runtime import)."""
        return cast("FtApp", self.app)

    def on_shown(self) -> None:
        """The pane was switched to (it was hidden)."""

    def refresh_now(self) -> None:
        """``r``: fetch what the pane shows now."""

    def select_job(self, message: JobSelected) -> None:
        """The Jobs pane's cursor moved to another job (or that job changed)."""

    def set_marked(self, message: JobsMarked) -> None:
        """The jobs marked to compare changed."""

    def set_checkpoints(self, job_id: str, cps: list[dict[str, Any]]) -> None:
        """The selected job's checkpoints were fetched."""

    def focus_default(self) -> None:
        """Give the focus to the pane's main widget (the pane itself unless overridden)."""
        self.focus()
