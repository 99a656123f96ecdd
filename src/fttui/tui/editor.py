"""The user's editor on a file at a line: ``$VISUAL``, else ``$EDITOR``.

Each editor family spells "at this line" its own way: ``vi +12 FILE`` (vim, nvim, nano,
emacs, micro, kakoune, joe… and any editor not known here), ``code --goto FILE:12``
(VS Code and its forks, with ``--wait`` so the app reloads after the edit, not at once),
``subl FILE:12`` / ``hx FILE:12``. No Textual here: the Data pane suspends the app around
:func:`run_editor`.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

#: editors that open ``FILE:LINE`` given ``--goto`` and need ``--wait`` to block
GOTO_EDITORS = frozenset({"code", "code-insiders", "codium", "vscodium", "cursor", "windsurf"})
#: editors that open ``FILE:LINE`` as it is (``--wait`` / ``-w`` for the GUI ones)
COLON_EDITORS = {"subl": "--wait", "sublime_text": "--wait", "zed": "--wait", "hx": "", "helix": ""}


class EditorError(ValueError):
    """No editor is set, or its setting cannot be read."""


@dataclass(frozen=True)
class EditorResult:
    returncode: int | None
    error: str | None = None  #: why it could not be started


def editor_setting(env: Mapping[str, str] | None = None) -> str:
    """``$VISUAL``, else ``$EDITOR``; raises :class:`EditorError` when neither is set."""
    env = os.environ if env is None else env
    for name in ("VISUAL", "EDITOR"):
        value = (env.get(name) or "").strip()
        if value:
            return value
    raise EditorError("no editor set: set $VISUAL or $EDITOR (e.g. export EDITOR=nano)")


def editor_command(path: str, line: int | None, env: Mapping[str, str] | None = None) -> list[str]:
    """The command that opens ``path`` at ``line`` (1-based; None: at its top)."""
    setting = editor_setting(env)
    try:
        argv = shlex.split(setting)
    except ValueError as exc:
        raise EditorError(f"cannot read the editor setting {setting!r}: {exc}") from None
    if not argv:
        raise EditorError("no editor set: set $VISUAL or $EDITOR (e.g. export EDITOR=nano)")
    name = os.path.basename(argv[0]).lower().removesuffix(".exe")
    if name in GOTO_EDITORS:
        wait = [] if {"--wait", "-w"} & set(argv[1:]) else ["--wait"]
        where = f"{path}:{line}" if line else path
        return [*argv, *wait, "--goto", where] if line else [*argv, *wait, path]
    if name in COLON_EDITORS:
        flag = COLON_EDITORS[name]
        wait = [flag] if flag and not {"--wait", "-w"} & set(argv[1:]) else []
        return [*argv, *wait, f"{path}:{line}" if line else path]
    return [*argv, f"+{line}", path] if line else [*argv, path]


def run_editor(argv: list[str]) -> EditorResult:
    """Run the editor and wait for it; an editor that cannot start is an error, not an
    exception (the app is suspended around this call and must come back)."""
    try:
        return EditorResult(subprocess.call(argv))
    except OSError as exc:
        return EditorResult(None, f"cannot run {argv[0]}: {exc.strerror or exc}")
