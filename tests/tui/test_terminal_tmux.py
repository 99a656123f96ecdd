"""The real app in a real terminal: ``scripts/smoke-tmux.sh`` runs ``fttui`` inside tmux
against a live ``fttui serve --executor sim`` and drives it with keys — navigate, filter,
cancel (Keep, then y), follow events, metrics, comparing two
marked jobs, playground with a stop sequence, help, the
outage banner, cloning a job with `e` (epochs changed, no upload), the Data pane, and
creating a job from an open file. It fails on a traceback
on screen or on a screen that never shows what it should."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "smoke-tmux.sh"


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_the_app_in_a_real_terminal() -> None:
    steps = len(re.findall(r"^step ", SCRIPT.read_text(), flags=re.M))
    proc = subprocess.run(
        ["bash", str(SCRIPT)],
        cwd=ROOT,
        env={**os.environ, "PYTHON": sys.executable},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,  # a hang guard only: the script waits on screens, ~40 s
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert f"smoke: all {steps} steps passed" in out, out[-6000:]
