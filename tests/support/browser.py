"""Drive `fttui web` in a real browser: start it, read what its page shows.

A plain module (like ``support.live_server``) shared by ``tests/web`` and ``bench/web.py``. The page
draws the app with xterm.js on a canvas, so its text is not in the DOM: an init script
catches xterm's Terminal object as the page's own script builds it, and
:meth:`Page.screen` reads the terminal's buffer — the characters the page shows — through
``page.evaluate``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from support.live_server import free_port, terminate, wait_for

#: Runs before the page's script: the first object that gets an ``_addonManager`` is
#: xterm's public Terminal (its constructor assigns it), kept as ``window.__xterm``.
CATCH_XTERM = """
Object.defineProperty(Object.prototype, '_addonManager', {
  configurable: true,
  set(value) {
    Object.defineProperty(this, '_addonManager', {value, writable: true, configurable: true});
    if (!window.__xterm) window.__xterm = this;
  },
});
"""

#: The rows of the terminal as the page shows them (null until xterm is up).
READ_SCREEN = """() => {
  const term = window.__xterm;
  if (!term) return null;
  const buffer = term.buffer.active, rows = [];
  for (let y = 0; y < term.rows; y++) {
    const line = buffer.getLine(buffer.viewportY + y);
    rows.push(line ? line.translateToString(true) : '');
  }
  return rows.join('\\n');
}"""


def find_chromium() -> str | None:
    for name in (os.environ.get("FTTUI_CHROMIUM"), "chromium", "chromium-browser"):
        if name and (path := shutil.which(name)):
            return path
    return None


class WebProcess:
    """A running ``fttui web``: its URL with the token, read from what it printed."""

    def __init__(self, home: Path, base_url: str, api_key: str, *extra: str, cwd: Path) -> None:
        self.port = free_port()
        self.log_path = home / "web.log"
        env = {
            **os.environ,
            "FTTUI_HOME": str(home),
            "OPENAI_API_KEY": api_key,  # the app in each tab gets it from here
            "PYTHONUNBUFFERED": "1",
            "TEXTUAL_ANIMATIONS": "none",
        }
        env.pop("OPENAI_BASE_URL", None)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "fttui",
                    "web",
                    "--port",
                    str(self.port),
                    "--base-url",
                    base_url,
                    *extra,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=cwd,
            )
        wait_for(
            lambda: "fttui web: open " in self.log() or self.proc.poll() is not None,
            timeout=60,
            what="fttui web to print its URL",
        )
        found = re.search(r"fttui web: open (\S+)", self.log())
        assert found, f"fttui web did not start:\n{self.log()}"
        self.url = found.group(1)
        self.root = f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        return terminate(self.proc, timeout=20)


class Page:
    """The browser tab, read as text rows."""

    def __init__(self, page) -> None:
        self.page = page

    def screen(self) -> str:
        return self.page.evaluate(READ_SCREEN) or ""

    # Generous: a hang guard only (the 2-CPU box runs several suites at a load of 10+).
    def wait_for(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in (screen := self.screen()):
                assert "Traceback" not in screen, screen
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never showed in the page:\n{self.screen()}")

    def wait_gone(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text not in (screen := self.screen()):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} is still in the page:\n{self.screen()}")

    def press(self, key: str) -> None:
        self.page.keyboard.press(key)
