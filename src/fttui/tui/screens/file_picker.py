"""Pick a training file: type a path (tab completes) or browse a directory tree.

``FilePickerScreen`` is a ``ModalScreen[str | None]`` dismissing with the chosen file's
path, or None on ``esc``. The tree shows directories and data files only (JSONL, JSON,
CSV, TSV, XLSX, TXT).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import DirectoryTree, Input, Label, Static

from fttui.datasets.lineindex import DATA_EXTENSIONS


class PathSuggester(Suggester):
    """Completes the last component of a path from the file system."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        expanded = os.path.expanduser(value)
        folder, prefix = os.path.split(expanded)
        try:
            names = sorted(os.listdir(folder or "."))
        except OSError:
            return None
        for name in names:
            if name.startswith(prefix) and name != prefix and not name.startswith("."):
                full = os.path.join(folder, name)
                suffix = "/" if os.path.isdir(full) else ""
                return value + name[len(prefix) :] + suffix
        return None


class DataDirectoryTree(DirectoryTree):
    """Directories and data files only; hidden entries left out."""

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        out = []
        for path in paths:
            if path.name.startswith("."):
                continue
            try:
                if path.is_dir() or path.suffix.lower() in DATA_EXTENSIONS:
                    out.append(path)
            except OSError:
                continue
        return out


class FilePickerScreen(ModalScreen[str | None]):
    """Choose a file. ``enter`` in the path box opens it; ``tab`` goes to the tree."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="file_picker.cancel"),
        Binding("ctrl+u", "parent", "Parent folder", id="file_picker.parent"),
    ]

    def __init__(self, title: str = "Open a training file", start: str | None = None) -> None:
        super().__init__()
        self.title_text = title
        start_path = Path(os.path.expanduser(start)) if start else Path.cwd()
        if start_path.is_file():
            self._initial = str(start_path)
            folder = start_path.parent
        else:
            self._initial = str(start_path) + os.sep if start else ""
            folder = start_path if start_path.is_dir() else Path.cwd()
        self._folder = folder.resolve()

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Label(self.title_text, id="picker-title")
            yield Input(
                value=self._initial,
                placeholder="path to a .jsonl / .json / .csv / .tsv / .xlsx file",
                suggester=PathSuggester(),
                id="picker-path",
            )
            yield Static("", id="picker-error")
            yield DataDirectoryTree(self._folder, id="picker-tree")
            yield Static(
                "enter open · tab to the tree / → accept completion · ctrl+u parent · esc cancel",
                id="picker-help",
            )

    def on_mount(self) -> None:
        path_input = self.query_one("#picker-path", Input)
        path_input.focus()
        path_input.cursor_position = len(path_input.value)

    def _error(self, message: str) -> None:
        self.query_one("#picker-error", Static).update(message)

    @on(Input.Submitted, "#picker-path")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value.strip()
        if not value:
            self._error("Type a path, or pick a file in the tree.")
            return
        path = Path(os.path.expanduser(value))
        if not path.is_absolute():
            path = Path.cwd() / path
        if path.is_dir():
            self._set_folder(path)
            return
        if not path.exists():
            self._error(f"No such file: {path}")
            return
        if not os.access(path, os.R_OK):
            self._error(f"Cannot read {path}: permission denied")
            return
        self.dismiss(str(path))

    def _set_folder(self, folder: Path) -> None:
        self._folder = folder.resolve()
        tree = self.query_one("#picker-tree", DataDirectoryTree)
        tree.path = self._folder
        path_input = self.query_one("#picker-path", Input)
        path_input.value = str(self._folder) + os.sep
        path_input.cursor_position = len(path_input.value)
        self._error("")

    @on(DirectoryTree.FileSelected)
    def _file_selected(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self.dismiss(str(event.path))

    def action_parent(self) -> None:
        self._set_folder(self._folder.parent)

    def action_cancel(self) -> None:
        self.dismiss(None)
