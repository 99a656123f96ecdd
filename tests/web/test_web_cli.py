"""`fttui web` without a browser: its options, the warning off loopback, the page's URLs."""

from __future__ import annotations

import argparse
import os
import re
import shlex
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from fttui.cli import build_parser
from fttui.cli.web import app_command
from support.live_server import free_port, terminate, wait_for


def fttui(*args: str, home: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fttui", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "FTTUI_HOME": str(home)},
    )


def test_the_app_in_each_tab_gets_read_only_and_the_profile_but_never_the_key() -> None:
    args = build_parser().parse_args(
        ["web", "--read-only", "--profile", "my lab", "--base-url", "http://h/v1"]
    )
    argv = shlex.split(app_command(args))
    assert argv[:3] == [sys.executable, "-m", "fttui"]
    assert argv[3:] == ["--read-only", "--profile", "my lab", "--base-url", "http://h/v1"]
    plain = shlex.split(app_command(argparse.Namespace()))
    assert plain == [sys.executable, "-m", "fttui"]
    assert "--api-key" not in build_parser().parse_args(["web"]).__dict__


def test_a_bad_port_is_one_line_and_exit_2(tmp_path: Path) -> None:
    proc = fttui("web", "--port", "70000", home=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "fttui: --port 70000: use 1 to 65535"
    assert not (tmp_path / "data" / "web_token").exists()  # refused before anything is made


def test_a_port_in_use_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = fttui("web", "--port", str(port), home=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"fttui: cannot listen on 127.0.0.1:{port}: "), proc.stderr
    assert "Traceback" not in proc.stderr


def test_every_address_warns_and_the_page_uses_the_address_the_browser_used(
    tmp_path: Path,
) -> None:
    port = free_port()
    log_path = tmp_path / "web.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "fttui", "web", "--host", "0.0.0.0", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "FTTUI_HOME": str(tmp_path), "PYTHONUNBUFFERED": "1"},
        )
    try:
        wait_for(
            lambda: "fttui web: open" in log_path.read_text() or proc.poll() is not None,
            timeout=60,
            what="fttui web to start",
        )
        out = log_path.read_text()
        assert "warning: listening on 0.0.0.0, not loopback" in out, out
        token = (tmp_path / "data" / "web_token").read_text().strip()
        url = re.search(r"fttui web: open (\S+)", out).group(1)
        assert url == f"http://{socket.gethostname()}:{port}/?token={token}"
        # A browser on this machine: the page points at 127.0.0.1, not at 0.0.0.0.
        # (the token's redirect sets the cookie that the page is then served with)
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with browser.open(f"http://127.0.0.1:{port}/?token={token}", timeout=10) as resp:
            page = resp.read().decode()
        assert f'data-session-websocket-url="ws://127.0.0.1:{port}/ws"' in page
        assert "0.0.0.0" not in page
        # Another site's page may not drive the app, even with the token.
        evil = urllib.request.Request(
            f"http://127.0.0.1:{port}/ws?token={token}", headers={"Origin": "http://evil.test"}
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(evil, timeout=10)
        assert refused.value.code == 403
    finally:
        terminate(proc)


def test_the_token_is_kept_between_runs_and_new_token_replaces_it(tmp_path: Path) -> None:
    from fttui.cli.web import load_or_create_token

    first = load_or_create_token(tmp_path / "data")
    assert load_or_create_token(tmp_path / "data") == first
    renewed = load_or_create_token(tmp_path / "data", renew=True)
    assert renewed != first and len(renewed) >= 40
    assert (tmp_path / "data" / "web_token").read_text().strip() == renewed
    assert (tmp_path / "data").stat().st_mode & 0o077 == 0


def test_the_global_api_key_option_is_refused_with_the_way_that_works(tmp_path: Path) -> None:
    proc = fttui("--api-key", "sk-secret", "web", home=tmp_path)
    assert proc.returncode == 2
    assert "OPENAI_API_KEY=... fttui web" in proc.stderr and "sk-secret" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
