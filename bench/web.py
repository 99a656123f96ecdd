"""Benchmark `fttui web`: how long a browser tab takes to show the app, against the same
app's first frame in a terminal, measured in the same run.

    python bench/web.py               # needs Chromium (apt-get install -y chromium)
    python bench/web.py --starts 7    # more tabs

Terminal (the baseline, as ``bench/tui.py`` measures it): ``fttui`` spawned in a pty, the
clock runs until its first full frame (tabs, the job table's header, the footer).
Browser: ``fttui web`` is up; the clock runs from opening its page in headless Chromium
until xterm.js's buffer holds that same frame — the page, its script, the websocket, the
app process textual-serve starts for the tab and its first frame. Budget: the median tab
within 4× the median terminal start plus 1.5 s. Also reported: key-to-screen in the page,
a pane switch (2 ↔ 3) from the key press to the page showing the pane.

Exit status 1 when the budget is missed, 2 when Chromium is not installed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

from support.browser import CATCH_XTERM, Page, WebProcess, find_chromium  # noqa: E402
from tui import OFFLINE, first_frame, sample_jobs  # noqa: E402

RATIO_BUDGET = 4.0
SLACK_S = 1.5
FULL_FRAME = ("Playground", "Fine-tuned model", "Quit")


def drawn(screen: str) -> bool:
    return all(part in screen for part in FULL_FRAME)


def until(tab: Page, condition, limit: float = 60) -> float:
    """Seconds until ``condition(screen)`` holds, polled every 10 ms in the page."""
    start = time.perf_counter()
    while not condition(tab.screen()):
        if time.perf_counter() - start > limit:
            raise SystemExit(f"the page never showed it; it shows:\n{tab.screen()}")
        tab.page.wait_for_timeout(10)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=5, help="tabs (and terminal starts)")
    parser.add_argument("--jobs", type=int, default=500, help="cached jobs the app shows")
    parser.add_argument("--switches", type=int, default=10, help="pane switches timed")
    args = parser.parse_args()
    chromium = find_chromium()
    if chromium is None:
        print("bench/web.py: Chromium is not installed (apt-get install -y chromium)")
        return 2
    from playwright.sync_api import sync_playwright

    from fttui.tui.backend import Backend

    with tempfile.TemporaryDirectory(prefix="fttui-bench-web-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        import os

        os.environ["FTTUI_HOME"] = str(home)
        Backend(base_url=OFFLINE, api_key="sk-bench").save_cached_jobs(sample_jobs(args.jobs))
        terminal, _cpu = first_frame(home, args.starts)

        web = WebProcess(home, OFFLINE, "sk-bench", cwd=Path(tmp))
        tabs, switches = [], []
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path=chromium, headless=True, args=["--no-sandbox"]
                )
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                context.add_init_script(CATCH_XTERM)
                first = context.new_page()
                first.goto(web.url)  # trades the token for the cookie: not timed
                first.close()
                for i in range(args.starts):
                    tab = Page(context.new_page())
                    start = time.perf_counter()
                    tab.page.goto(web.root + "/", wait_until="commit")
                    until(tab, lambda s: s is not None)  # xterm up: the clock keeps running
                    tabs.append(time.perf_counter() - start + until(tab, drawn))
                    if i == 0:
                        tab.page.focus("textarea.xterm-helper-textarea")
                        for n in range(args.switches):
                            # each pane's own words, and the other pane's gone
                            key, shown, gone = (
                                ("3", "Train loss", "Fine-tuned model")
                                if n % 2 == 0
                                else ("2", "Fine-tuned model", "Train loss")
                            )
                            start = time.perf_counter()
                            tab.press(key)
                            until(tab, lambda s, a=shown, b=gone: a in s and b not in s)
                            switches.append(time.perf_counter() - start)
                    tab.page.close()
                browser.close()
        finally:
            web.stop()

    term_ms = statistics.median(terminal) * 1000
    tab_ms = statistics.median(tabs) * 1000
    budget_ms = RATIO_BUDGET * term_ms + SLACK_S * 1000
    ok = tab_ms <= budget_ms
    print(
        f"terminal: spawn → first full frame in a pty ({args.jobs:,} cached jobs): median "
        f"{term_ms:.0f} ms, min {min(terminal) * 1000:.0f} ms (n={len(terminal)})"
    )
    print(
        f"browser: page opened → the same frame in Chromium's xterm.js: median {tab_ms:.0f} ms, "
        f"min {min(tabs) * 1000:.0f} ms, max {max(tabs) * 1000:.0f} ms (n={len(tabs)}) — "
        f"{tab_ms / term_ms:.2f}× the terminal; budget {budget_ms:.0f} ms "
        f"({tab_ms / budget_ms:.2f}× budget) {'OK' if ok else 'OVER'}"
    )
    if switches:
        print(
            f"browser key-to-screen, pane switch 2↔3: median "
            f"{statistics.median(switches) * 1000:.0f} ms, max {max(switches) * 1000:.0f} ms "
            f"(n={len(switches)})"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
