"""`fttui web` in a real headless Chromium: a real ``fttui serve --executor sim`` with two
jobs, a real ``fttui web`` in front of it, Debian's ``chromium`` driven by Playwright.

What the page shows is read from xterm.js's buffer (``tests/support/browser.py``).

``FTTUI_WEB_SCREENSHOT=screenshots/web.png pytest tests/web`` also writes the README's
screenshot from that browser.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import time
import urllib.error
import urllib.request
from pathlib import Path

import openai
import pytest

from support.browser import CATCH_XTERM, Page, WebProcess, find_chromium
from support.live_server import FIXTURES, LiveServer, wait_for

MODEL = "gpt-4o-mini-2024-07-18"


@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        pytest.skip(
            "Chromium is not installed (apt-get install -y chromium, or FTTUI_CHROMIUM=PATH): "
            "the browser test of `fttui web` did not run"
        )
    return path


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
    web = WebProcess(home, server.base_url, server.api_key, cwd=app_cwd)
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
                context.set_default_timeout(90_000)  # downloads, popups: a hang guard only
                context.add_init_script(CATCH_XTERM)
                tab = Page(context.new_page())
                tab.page.goto(web.url)
                # The token went into a cookie and out of the address bar.
                assert tab.page.url == f"{web.root}/"
                tab.wait_for("2 Jobs", timeout=90)
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
