"""E on a finding in the Data pane: the user's editor on the file at that line, then the
file read and linted again. Pilot's headless driver cannot suspend the app, so the Pilot
tests run the real editor command and the reload path; the tmux test presses E in a real
terminal, where the app really is suspended."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fttui.tui.app import FtApp
from fttui.tui.editor import EditorError, editor_command, run_editor
from fttui.tui.panes.data import DataPane
from fttui.tui.widgets.findings_list import FindingsList
from support.tui import until

SIZE = (120, 40)
GOOD = (
    '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}'
)
BROKEN = (
    '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "oops"}]'
)

#: an "editor" that fixes the JSON at the line it is opened at (``+LINE FILE``)
FIXER = """
import json, sys
line, path = int(sys.argv[1].lstrip("+")), sys.argv[2]
rows = open(path, encoding="utf-8").read().splitlines()
text = rows[line - 1]
rows[line - 1] = json.dumps(json.loads(text + "}"))  # the closing brace it lacked
open(path, "w", encoding="utf-8").write("\\n".join(rows) + "\\n")
"""


def broken_file(tmp_path: Path) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join([GOOD] * 12 + [BROKEN] + [GOOD] * 2) + "\n", encoding="utf-8")
    return path


def fixer(tmp_path: Path) -> str:
    script = tmp_path / "fix-json.py"
    script.write_text(FIXER, encoding="utf-8")
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}"


def codes(pane: DataPane) -> set[str]:
    return {f.code for f in pane.report.findings} if pane.report else set()


def test_the_editor_is_opened_at_the_line_the_way_it_reads_it() -> None:
    assert editor_command("a.jsonl", 7, {"EDITOR": "vim"}) == ["vim", "+7", "a.jsonl"]
    assert editor_command("a.jsonl", 7, {"EDITOR": "nano -m"}) == ["nano", "-m", "+7", "a.jsonl"]
    assert editor_command("a.jsonl", 7, {"VISUAL": "emacs -nw", "EDITOR": "vi"}) == [
        "emacs",
        "-nw",
        "+7",
        "a.jsonl",
    ]
    assert editor_command("a.jsonl", 7, {"EDITOR": "code"}) == [
        "code",
        "--wait",
        "--goto",
        "a.jsonl:7",
    ]
    assert editor_command("a.jsonl", 7, {"EDITOR": "code -w"}) == [
        "code",
        "-w",
        "--goto",
        "a.jsonl:7",
    ]
    assert editor_command("a.jsonl", 7, {"EDITOR": "subl"}) == ["subl", "--wait", "a.jsonl:7"]
    assert editor_command("a.jsonl", 7, {"EDITOR": "/usr/bin/hx"}) == ["/usr/bin/hx", "a.jsonl:7"]
    assert editor_command("a.jsonl", None, {"EDITOR": "vi"}) == ["vi", "a.jsonl"]
    assert editor_command("a b.jsonl", 2, {"EDITOR": "'/opt/my ed/ed' -x"}) == [
        "/opt/my ed/ed",
        "-x",
        "+2",
        "a b.jsonl",
    ]
    with pytest.raises(EditorError, match=r"set \$VISUAL or \$EDITOR"):
        editor_command("a.jsonl", 1, {"EDITOR": "  "})
    with pytest.raises(EditorError, match="cannot read"):
        editor_command("a.jsonl", 1, {"EDITOR": "vi 'unclosed"})


def test_an_editor_that_cannot_start_is_an_error_not_an_exception(tmp_path: Path) -> None:
    result = run_editor([str(tmp_path / "no-such-editor"), "+1", "x"])
    assert result.returncode is None and "cannot run" in (result.error or "")


async def test_after_the_editor_fixes_the_line_the_finding_is_gone(
    fttui_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = broken_file(tmp_path)
    monkeypatch.setenv("EDITOR", fixer(tmp_path))
    monkeypatch.delenv("VISUAL", raising=False)
    app = FtApp(data_file=str(path), live=False, initial_pane="data")
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(DataPane)
        await until(pilot, lambda: "invalid_json" in codes(pane), what="the lint")
        findings = app.query_one(FindingsList)
        findings.focus()
        await pilot.pause()
        finding = findings.finding_at_cursor()  # the worst code's node: its first finding
        assert finding.code == "invalid_json" and finding.line == 13
        # what E runs inside app.suspend(): the editor command, then the reload
        argv = editor_command(str(path), finding.line)
        assert argv[-2:] == ["+13", str(path)]
        result = run_editor(argv)
        assert result.returncode == 0, result
        pane.edited(str(path), finding.line, result)
        await until(
            pilot,
            lambda: pane.report is not None and "invalid_json" not in codes(pane),
            what="the re-lint without the finding",
        )
        assert "duplicate_example" in codes(pane)  # linted again, not just emptied
        assert path.read_text(encoding="utf-8").splitlines()[12] != BROKEN


async def test_E_says_what_to_do_when_no_editor_is_set_or_no_terminal_can_be_lent(
    fttui_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = broken_file(tmp_path)
    before = path.read_bytes()
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.delenv("EDITOR", raising=False)
    app = FtApp(data_file=str(path), live=False, initial_pane="data")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        pane = app.query_one(DataPane)
        await until(pilot, lambda: "invalid_json" in codes(pane), what="the lint")
        await pilot.press("f", "E")
        await until(
            pilot,
            lambda: any("set $VISUAL or $EDITOR" in n.message for n in app._notifications),
            what="the no-editor message",
        )
        # the headless driver (as under fttui web) cannot lend the terminal: said, not run
        monkeypatch.setenv("EDITOR", fixer(tmp_path))
        await pilot.press("E")
        await until(
            pilot,
            lambda: any("cannot hand the terminal" in n.message for n in app._notifications),
            what="the no-terminal message",
        )
        assert path.read_bytes() == before
        assert "invalid_json" in codes(pane)


# -- the real suspend, in tmux -----------------------------------------------------------
def _tmux(socket: str, *args: str) -> str:
    out = subprocess.run(
        ["tmux", "-L", socket, "-f", "/dev/null", *args], capture_output=True, text=True
    )
    return out.stdout


def _wait_screen(socket: str, session: str, text: str, *, gone: str = "", timeout=30.0) -> str:
    """Wait until the pane shows ``text`` (and no longer ``gone``)."""
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = _tmux(socket, "capture-pane", "-p", "-t", session)
        assert "Traceback" not in screen, screen
        if text in screen and not (gone and gone in screen):
            return screen
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared (or {gone!r} stayed):\n{screen}")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_E_in_a_real_terminal_suspends_the_app_for_the_editor(
    fttui_home: Path, tmp_path: Path
) -> None:
    path = broken_file(tmp_path)
    socket, session = f"fttui-edit-{os.getpid()}", "edit"
    src = Path(__file__).resolve().parents[2] / "src"
    env = {
        "FTTUI_HOME": str(fttui_home),
        "TEXTUAL_ANIMATIONS": "none",
        "EDITOR": fixer(tmp_path),
        "PYTHONPATH": str(src),
    }
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    # an address nothing listens on: the Data pane needs no provider (no local server)
    cmd = (
        f"env -u VISUAL {exports} {shlex.quote(sys.executable)} -m fttui data "
        f"{shlex.quote(str(path))} --base-url http://127.0.0.1:9/v1 --api-key sk-x; sleep 30"
    )
    _tmux(socket, "new-session", "-d", "-s", session, "-x", "120", "-y", "40", cmd)
    try:
        _wait_screen(socket, session, "invalid_json")
        _tmux(socket, "send-keys", "-t", session, "f")
        time.sleep(0.3)
        _tmux(socket, "send-keys", "-t", session, "E")
        _wait_screen(socket, session, "duplicate_example", gone="invalid_json")
        assert path.read_text(encoding="utf-8").splitlines()[12] != BROKEN
    finally:
        _tmux(socket, "kill-server")
