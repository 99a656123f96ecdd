"""Telling the user a job ended: a toast, the terminal bell, and a desktop notification
written to the terminal as an escape sequence (OSC 9 or OSC 777), which reaches the user's
own terminal over SSH too — no notification daemon on the machine running fttui.

``[notifications]`` in the config turns each off (``fttui.config.Notifications``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from fttui.config import Notifications, load_notifications

__all__ = ["Notifications", "desktop_sequence", "load_notifications", "notify_job_end"]


def _clean(text: str) -> str:
    # a control character (ESC, BEL) in a job's name would end the sequence early and
    # let the rest be read as terminal commands
    return "".join(ch for ch in text if ch.isprintable())


def desktop_kind(setting: str, env: Mapping[str, str] | None = None) -> str | None:
    """``osc9``, ``osc777`` or None (off) for ``setting``; ``auto`` picks OSC 777 for the
    terminals that speak only that one (urxvt, foot, VTE-based), OSC 9 elsewhere (the one
    most terminals — iTerm2, WezTerm, kitty, ghostty, Windows Terminal — understand)."""
    if setting == "off":
        return None
    if setting in ("osc9", "osc777"):
        return setting
    env = os.environ if env is None else env
    term = env.get("TERM", "")
    if env.get("VTE_VERSION") or term.startswith(("rxvt", "foot")):
        return "osc777"
    return "osc9"


def desktop_sequence(
    title: str, body: str, *, kind: str, env: Mapping[str, str] | None = None
) -> str:
    """The escape sequence of one desktop notification; inside tmux it is wrapped in
    tmux's passthrough (DCS ``tmux;``) so it reaches the terminal outside, not tmux."""
    title, body = _clean(title), _clean(body)
    if kind == "osc777":
        seq = f"\x1b]777;notify;{title.replace(';', ',')};{body}\x07"
    else:
        seq = f"\x1b]9;{title}: {body}\x07"
    env = os.environ if env is None else env
    if env.get("TMUX"):
        seq = "\x1bPtmux;" + seq.replace("\x1b", "\x1b\x1b") + "\x1b\\"
    return seq


def job_end_text(job: Mapping[str, Any]) -> str:
    status = job.get("status") or "ended"
    text = f"{job.get('id')} {status}"
    if job.get("fine_tuned_model"):
        text += f": {job['fine_tuned_model']}"
    elif status == "failed" and isinstance(job.get("error"), dict):
        message = job["error"].get("message")
        if message:
            text += f": {message}"
    return text


def notify_job_end(app: Any, job: Mapping[str, Any], settings: Notifications) -> str | None:
    """Toast, bell and desktop notification for a job that ended, as ``settings`` allow.
    Returns what was written to the terminal (None when nothing was)."""
    text = job_end_text(job)
    if settings.toast:
        severity = {"succeeded": "information", "failed": "error"}.get(
            str(job.get("status")), "warning"
        )
        app.notify(text, title="Job ended", severity=severity, markup=False)
    kind = desktop_kind(settings.desktop)
    out = ("\a" if settings.bell else "") + (
        desktop_sequence("fttui", text, kind=kind) if kind else ""
    )
    # The driver is Textual's writer to the terminal: App.bell() writes its BEL there and
    # App.copy_to_clipboard() its OSC 52; there is no public call for any other sequence.
    driver = getattr(app, "_driver", None)
    if not out or driver is None:
        return None
    driver.write(out)
    return out
