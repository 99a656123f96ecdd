"""The Models screen (M) against a live sim server: fine-tuned models first with owner,
created and shutdown date; delete through the Keep-first confirmation; errors inline."""

from __future__ import annotations

import datetime as dt

import pytest
from textual.widgets import Button, DataTable

from fttui.tui.app import FtApp
from fttui.tui.screens.confirm import ConfirmScreen
from fttui.tui.screens.models import ModelsScreen, model_cells
from support.tui import create_sim_job, shows, until, wait_job

SIZE = (120, 40)
pytestmark = pytest.mark.usefixtures("fast_polls")  # the module's `server`: tests/tui/conftest.py


def tuned_model(client, suffix: str) -> str:
    job_id = create_sim_job(client, seconds_per_step=0.005, suffix=suffix)
    return wait_job(client, job_id, {"succeeded"}, timeout=60).fine_tuned_model


async def open_models(pilot) -> ModelsScreen:
    await pilot.press("M")
    screen = pilot.app.screen
    assert isinstance(screen, ModelsScreen)
    await until(pilot, lambda: screen.loaded, what="the models listed")
    return screen


def row_ids(screen: ModelsScreen) -> list[str]:
    table = screen.query_one(DataTable)
    return [str(key.value) for key in table.rows]


async def test_m_lists_the_providers_models_fine_tuned_first(server, fttui_home):
    model = tuned_model(server.client(), "listed")
    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_models(pilot)
        ids = row_ids(screen)
        assert model in ids and "davinci-002" in ids
        tuned = [i for i in ids if i.startswith("ft:")]
        assert ids[: len(tuned)] == tuned  # fine-tuned first
        text = await shows(pilot, model, "fttui-sim", "org-fttui")
        assert "Shutdown" in text and "Days left" in text
        # the local server announces no shutdown: "—", never a made-up date
        row = screen.query_one(DataTable).get_row(model)
        assert [c.plain for c in row[3:]] == ["—", "—"]
        await pilot.press("escape")
        assert not isinstance(app.screen, ModelsScreen)


async def test_deleting_a_model_asks_with_keep_focused_and_the_row_goes(server, fttui_home):
    client = server.client()
    model = tuned_model(client, "doomed")
    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_models(pilot)
        table = screen.query_one(DataTable)
        table.move_cursor(row=table.get_row_index(model))
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirm")
        assert isinstance(app.focused, Button) and app.focused.id == "keep"
        await pilot.press("enter")  # Keep
        await until(pilot, lambda: app.screen is screen, what="back on the models")
        assert model in row_ids(screen)
        assert model in {m.id for m in client.models.list().data}

        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirm")
        await pilot.press("y")
        await until(pilot, lambda: model not in row_ids(screen), what="the row gone")
        assert f"deleted {model}" in screen.status_text
        assert model not in {m.id for m in client.models.list().data}


async def test_a_delete_that_fails_says_why_on_the_screen(server, fttui_home):
    client = server.client()
    model = tuned_model(client, "gone")
    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_models(pilot)
        table = screen.query_one(DataTable)
        table.move_cursor(row=table.get_row_index(model))
        client.models.delete(model)  # deleted elsewhere meanwhile
        await pilot.press("d", "y")
        await until(pilot, lambda: "not deleted" in screen.status_text, what="the error")
        assert "does not exist" in screen.status_text
        # a base model is refused here, before any request
        table.move_cursor(row=table.get_row_index("davinci-002"))
        await pilot.press("d")
        assert not isinstance(app.screen, ConfirmScreen)
        assert "only fine-tuned models" in screen.status_text
        await pilot.press("r")
        await until(pilot, lambda: model not in row_ids(screen), what="listed again")


def test_days_left_count_to_the_shutdown_date():
    today = dt.date(2026, 1, 1)
    cells = model_cells(
        {"id": "gpt-old", "owned_by": "openai", "created": 0, "shutdown_date": "2026-01-31"}, today
    )
    assert [c.plain for c in cells] == ["gpt-old", "openai", "1970-01-01", "2026-01-31", "30"]
    past = model_cells({"id": "x", "shutdown_date": "2025-12-01"}, today)
    assert past[4].plain == "shut down"


SAMPLE = [
    {"id": "gpt-4o-mini-2024-07-18", "owned_by": "system", "created": 1721172741},
    {"id": "davinci-002", "owned_by": "system", "created": 1692634301},
    {
        "id": "gpt-3.5-turbo-0613",
        "owned_by": "openai",
        "created": 1686587434,
        "shutdown_date": "2026-02-14",
    },
    {
        "id": "ft:gpt-4o-mini-2024-07-18:acme:support-bot:gXC6SoK9",
        "owned_by": "acme",
        "created": 1732200000,
    },
    {
        "id": "ft:davinci-002:acme:superhero:CCs7y1q2",
        "owned_by": "acme",
        "created": 1732300000,
        "shutdown_date": "2026-06-01",
    },
]


@pytest.mark.skipif(
    __import__("textual").__version__ != "8.2.8",
    reason="snapshots were taken with Textual 8.2.8",
)
def test_snapshot_models_screen(snap_compare, fttui_home):
    app = FtApp(base_url="http://127.0.0.1:9/v1", api_key="sk-test-key", live=False)

    async def run_before(pilot):
        screen = ModelsScreen(today=dt.date(2026, 1, 15))  # a fixed clock: days left fixed
        await pilot.app.push_screen(screen)
        screen.show_models(SAMPLE)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


async def test_read_only_refuses_to_delete_a_model(fttui_home):
    app = FtApp(base_url="http://127.0.0.1:9/v1", api_key="sk-test-key", live=False, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = ModelsScreen()
        await app.push_screen(screen)
        screen.show_models(SAMPLE)
        await pilot.pause()
        assert screen.cursor_model == "ft:davinci-002:acme:superhero:CCs7y1q2"  # newest first
        await pilot.press("d")
        assert not isinstance(app.screen, ConfirmScreen)
        assert "Read-only" in screen.status_text


async def test_help_on_the_models_screen_lists_its_keys(fttui_home):
    from fttui.tui.screens.help import HelpScreen

    app = FtApp(base_url="http://127.0.0.1:9/v1", api_key="sk-test-key", live=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")  # from the Jobs pane: M is listed
        assert isinstance(app.screen, HelpScreen)
        assert "app.models" in {row.binding_id for row in app.screen.rows}
        await pilot.press("escape")
        await pilot.press("M")
        assert isinstance(app.screen, ModelsScreen)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        ids = {row.binding_id for row in app.screen.rows}
        # (M here is the screen's own: back)
        assert {"models.delete", "models.refresh", "models.close", "app.help"} <= ids
        assert "Models" in app.screen.context
