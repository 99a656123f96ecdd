"""The README and the files the app writes, in a terminal (the browser side is in
test_web_browser.py): the README command names a file that holds this README, and a
terminal without a desktop gets no browser started over the app's screen."""

from __future__ import annotations

from pathlib import Path

from fttui.tui.app import FtApp, readme

OFFLINE = "http://127.0.0.1:9/v1"  # nothing listens there; live=False never calls it
ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_is_the_checkouts_file() -> None:
    text, path = readme()
    assert path == ROOT / "README.md"
    assert text == (ROOT / "README.md").read_text(encoding="utf-8")
    assert "## Open it in a browser — `fttui web`" in text


async def test_the_readme_command_in_a_terminal_without_a_desktop_names_the_file(
    fttui_home: Path, monkeypatch
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    app = FtApp(base_url=OFFLINE, api_key="sk-test-key", live=False)
    opened: list[str] = []
    async with app.run_test(size=(120, 40)) as pilot:
        # the driver's open_url is the boundary where a browser would be started
        monkeypatch.setattr(app._driver, "open_url", lambda url, new_tab=True: opened.append(url))
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Open the README" in titles
        app.action_open_readme()
        await pilot.pause()
        said = [str(n.message) for n in app._notifications]
        assert said == [f"README: {ROOT / 'README.md'}"], said
        assert not app.is_web
    assert opened == []
