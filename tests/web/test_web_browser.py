"""`fttui web` in a real headless Chromium: a real ``fttui serve --executor sim`` with two
jobs, a real ``fttui web`` in front of it, Debian's ``chromium`` driven by Playwright.

The page draws the app with xterm.js on a canvas, so its text is not in the DOM: an init
script catches xterm's Terminal object as the page's own script builds it, and the test
reads the terminal's buffer — the characters the page shows — through ``page.evaluate``.

``FTTUI_WEB_SCREENSHOT=screenshots/web.png pytest tests/web`` also writes the README's
screenshot from that browser.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import openai
import pytest

from livekit import FIXTURES, LiveServer, free_port, terminate, wait_for

MODEL = "gpt-4o-mini-2024-07-18"

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


@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        pytest.skip(
            "Chromium is not installed (apt-get install -y chromium, or FTTUI_CHROMIUM=PATH): "
            "the browser test of `fttui web` did not run"
        )
    return path


class WebProcess:
    """A running ``fttui web``: its URL with the token, read from what it printed."""

    def __init__(self, home: Path, server: LiveServer, *extra: str, cwd: Path) -> None:
        self.port = free_port()
        self.log_path = home / "web.log"
        env = {
            **os.environ,
            "FTTUI_HOME": str(home),
            "OPENAI_API_KEY": server.api_key,  # the app in each tab gets it from here
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
                    server.base_url,
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


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def websocket_handshake_status(port: int, path: str = "/ws") -> int:
    """The status a websocket upgrade of ``path`` gets (101 = the app would start)."""
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request.encode())
        status_line = sock.recv(4096).split(b"\r\n", 1)[0].decode()
    return int(status_line.split()[1])


class Page:
    """The browser tab, read as text rows."""

    def __init__(self, page) -> None:
        self.page = page

    def screen(self) -> str:
        return self.page.evaluate(READ_SCREEN) or ""

    def wait_for(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in (screen := self.screen()):
                assert "Traceback" not in screen, screen
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never showed in the page:\n{self.screen()}")

    def wait_gone(self, text: str, timeout: float = 15) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text not in (screen := self.screen()):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} is still in the page:\n{self.screen()}")

    def press(self, key: str) -> None:
        self.page.keyboard.press(key)


def test_the_app_runs_in_a_real_browser_behind_its_token(
    chromium: str, sim_server: LiveServer, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    server = sim_server
    client = server.client()
    train = client.files.create(
        file=(FIXTURES / "chat_valid.jsonl").open("rb"), purpose="fine-tune"
    )
    done = client.fine_tuning.jobs.create(
        model=MODEL,
        training_file=train.id,
        suffix="webdone",
        metadata={"sim_seconds_per_step": "0"},
    )
    slow = client.fine_tuning.jobs.create(
        model=MODEL,
        training_file=train.id,
        suffix="webslow",
        metadata={"sim_seconds_per_step": "2"},  # running all through the test
    )
    wait_for(
        lambda: client.fine_tuning.jobs.retrieve(slow.id).status == "running",
        what="the slow job to run",
    )
    home = tmp_path / "home"
    home.mkdir()
    app_cwd = tmp_path / "cwd"  # where the apps of the tabs write their files
    app_cwd.mkdir()
    web = WebProcess(home, server, cwd=app_cwd)
    try:
        # The token: printed, stored 0600 beside the local server's key.
        token_file = home / "data" / "web_token"
        token = token_file.read_text().strip()
        assert web.url == f"http://127.0.0.1:{web.port}/?token={token}"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600

        # Without the token (or with a wrong one) nothing is served: the page, its
        # script, the websocket that would start an app.
        assert http_status(f"{web.root}/") == 401
        assert http_status(f"{web.root}/?token=not-{token}") == 401
        assert http_status(f"{web.root}/static/js/textual.js") == 401
        assert websocket_handshake_status(web.port) == 401
        assert websocket_handshake_status(web.port, f"/ws?token=x{token}") == 401

        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=chromium,
                headless=True,
                args=["--no-sandbox"],  # CI runs as root, where Chromium's sandbox cannot
            )
            try:
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                context.add_init_script(CATCH_XTERM)
                tab = Page(context.new_page())
                tab.page.goto(web.url)
                # The token went into a cookie and out of the address bar.
                assert tab.page.url == f"{web.root}/"
                tab.wait_for("2 Jobs", timeout=60)
                tab.page.focus("textarea.xterm-helper-textarea")

                tab.press("1")
                tab.wait_for("Open file")  # the Data pane's keys in the footer
                tab.press("2")
                screen = tab.wait_for(slow.id)
                assert done.id in screen
                tab.wait_for("webslow")

                tab.press("g")  # the newest job (the slow one) is on top
                tab.wait_for("running")
                tab.press("x")
                dialog = tab.wait_for("Cancel job?")
                assert slow.id in dialog and "Keep" in dialog
                tab.press("Enter")  # the focus starts on Keep
                tab.wait_gone("Cancel job?")
                assert client.fine_tuning.jobs.retrieve(slow.id).status == "running"

                if shot := os.environ.get("FTTUI_WEB_SCREENSHOT"):
                    tab.wait_for("step")
                    time.sleep(2)  # a few events and metric points more
                    tab.page.screenshot(path=shot)

                # A file the app writes (the metrics CSV) comes to the browser as a download.
                tab.press("3")
                tab.wait_for("Train loss")
                # (textual.js opens it in a new tab; Chromium reports it on this one)
                with tab.page.expect_download() as download:
                    tab.press("e")
                assert download.value.suggested_filename == f"{slow.id}-metrics.csv"
                csv = Path(download.value.path()).read_text()
                assert csv.startswith("step,") and "train_loss" in csv.splitlines()[0]
                assert (app_cwd / f"{slow.id}-metrics.csv").read_text() == csv
                # The README opens in a browser tab (from the command palette).
                tab.press("Control+p")
                tab.wait_for("Search for commands")
                tab.page.keyboard.type("Open the README")
                tab.wait_for("fttui's manual")
                with tab.page.expect_popup() as popup:
                    tab.press("Enter")
                popup.value.wait_for_load_state()
                readme = popup.value.text_content("body") or ""
                assert readme.startswith("# fttui") and "fttui web" in readme

                # The same page, another tab of the same browser: the cookie lets it in.
                other = context.new_page()
                assert other.goto(f"{web.root}/").status == 200
            finally:
                browser.close()
    finally:
        code = web.stop()
        with contextlib.suppress(openai.BadRequestError):  # done already: nothing to stop
            client.fine_tuning.jobs.cancel(slow.id)
    assert code == 0, web.log()
    assert "Traceback" not in web.log(), web.log()
