"""Render the README's screenshots: each pane of the real app against a real local server.

    python scripts/export_screenshots.py            # writes screenshots/*.svg

Starts ``fttui serve --executor sim`` in a temporary folder, creates real jobs through the
public API from ``tests/fixtures`` (one finished with a validation file, one still running,
one failed, one cancelled), then drives the app (headless, 120×40) through each pane and
saves an SVG of what it shows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
KEY = "sk-screenshots"
SIZE = (120, 40)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(home: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = (home / "server.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fttui",
            "serve",
            "--executor",
            "sim",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--token",
            KEY,
            "--data-dir",
            str(home / "data"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "FTTUI_HOME": str(home)},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return proc, f"http://127.0.0.1:{port}/v1"
        except Exception:
            if proc.poll() is not None:
                raise SystemExit((home / "server.log").read_text()) from None
            time.sleep(0.1)
    raise SystemExit("the local server did not start")


def make_jobs(base_url: str) -> dict[str, str]:
    import openai

    client = openai.OpenAI(base_url=base_url, api_key=KEY, max_retries=0)
    with (FIXTURES / "chat_valid.jsonl").open("rb") as fh:
        train = client.files.create(file=fh, purpose="fine-tune").id
    jobs = client.fine_tuning.jobs

    def create(suffix: str, **meta: str) -> str:
        return jobs.create(
            model="gpt-4o-mini-2024-07-18",
            training_file=train,
            validation_file=train,
            suffix=suffix,
            metadata={"sim_seconds_per_step": "0.02", **meta},
        ).id

    ids = {
        "cancelled": create("first-try"),
        "failed": create("bad-lr", sim_fail_at_step="12"),
        "done": create("support-bot"),
    }
    jobs.cancel(ids["cancelled"])
    for _ in range(600):
        if jobs.retrieve(ids["done"]).status in ("succeeded", "failed"):
            break
        time.sleep(0.1)
    ids["running"] = create("support-bot-v2", sim_seconds_per_step="0.6")
    return ids


async def until(pilot, cond, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {cond}")
        await pilot.pause(0.05)


async def shoot(base_url: str, ids: dict[str, str], out: Path) -> list[Path]:
    from fttui.tui.app import FtApp
    from fttui.tui.panes.playground import PlaygroundPane, PromptInput
    from fttui.tui.widgets.event_log import EventLog
    from fttui.tui.widgets.job_table import JobTable
    from fttui.tui.widgets.metric_sparklines import MetricRow

    written: list[Path] = []
    app = FtApp(base_url=base_url, api_key=KEY)
    app.animation_level = "none"

    async def save(name: str) -> None:
        # let pending layout (a panel that just grew) reach the screen before the shot
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        path = out / f"{name}.svg"
        app.save_screenshot(str(path))
        written.append(path)

    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(JobTable)
        await until(pilot, lambda: all(j in table.jobs for j in ids.values()))
        # Jobs: the running job, its details and events following.
        table.select_job(ids["running"])
        log = app.query_one(EventLog)
        await until(pilot, lambda: log.total >= 25, timeout=60)
        await until(pilot, lambda: "ckpt-step" in str(app.query_one("#job-details").render()))
        await save("jobs")
        # Metrics of the finished job (validation curves, full-validation figures).
        table.select_job(ids["done"])
        await pilot.press("3")
        await until(pilot, lambda: len(app.query_one("#metric-valid_loss", MetricRow).points) > 3)
        await until(
            pilot, lambda: ids["done"] in screen_text(app) and "100 steps" in screen_text(app)
        )
        await save("metrics")
        # Playground: the fine-tuned model beside its base model.
        await pilot.press("4")
        pane = app.query_one(PlaygroundPane)
        await until(
            pilot,
            lambda: pane.targets() and pane.target_model and pane.target_model.startswith("ft:"),
        )
        app.query_one("#pg-system").value = "You are a concise, helpful assistant."
        app.query_one("#pg-max-tokens").value = "120"
        await pilot.press("ctrl+b")
        prompt = app.query_one(PromptInput)
        prompt.focus()
        prompt.value = "What is the capital of France?"
        await pilot.press("enter")
        await until(
            pilot,
            lambda: (
                not pane._streaming
                and pane.query_one("#answer-a").text
                and pane.query_one("#answer-b").text
            ),
        )
        await until(pilot, lambda: screen_text(app).count("finish:") == 2)
        await save("playground")
        # Data: the training file, its findings and estimate.
        await pilot.press("escape", "1")
        data = app.query_one("#data")
        data.open_file(str(FIXTURES / "chat_errors.jsonl"))
        await until(pilot, lambda: getattr(data, "report", None) is not None, timeout=60)
        await until(pilot, lambda: "linting" not in screen_text(app), timeout=30)
        await pilot.pause(0.5)
        await save("data")
        # Cancel: the dialog starts on Keep.
        await pilot.press("2")
        table.select_job(ids["running"])
        await until(pilot, lambda: table.selected_id == ids["running"])
        await pilot.press("x")
        await until(pilot, lambda: app.focused is not None and app.focused.id == "keep")
        await save("cancel")
        await pilot.press("escape", "question_mark")
        await until(pilot, lambda: "Keys that work here" in screen_text(app))
        await save("help")
        await pilot.press("escape")
    return written


def screen_text(app) -> str:
    import io

    from rich.console import Console

    console = Console(
        width=SIZE[0], height=SIZE[1], record=True, file=io.StringIO(), color_system=None
    )
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    return console.export_text()


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", type=Path, default=ROOT / "screenshots")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fttui-shots-") as tmp:
        home = Path(tmp)
        os.environ["FTTUI_HOME"] = str(home)
        # a [prices] entry, as a user would keep one, so the Data pane shows a cost
        from fttui import paths

        paths.config_file().parent.mkdir(parents=True, exist_ok=True)
        paths.config_file().write_text('[prices]\n"gpt-4o-mini" = 3.00\n')
        proc, base_url = start_server(home)
        try:
            ids = make_jobs(base_url)
            written = asyncio.run(shoot(base_url, ids, args.out))
        finally:
            proc.terminate()
            proc.wait(timeout=15)
    for path in written:
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
