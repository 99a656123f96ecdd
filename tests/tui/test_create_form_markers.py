"""The New-job form on prepared prompt/completion data records the separator and stop in
the job's metadata (the same code as `fttui jobs create`), checked through the SDK."""

from __future__ import annotations

from pathlib import Path

from fttui.datasets.prepare import prepare_file
from fttui.tui.app import FtApp
from fttui.tui.screens.create_job import CreateJobScreen
from support.tui import FIXTURES, until


async def test_the_new_job_form_records_the_separator_and_stop_of_prepared_data(
    shared_sim_server, fttui_home: Path, tmp_path: Path
) -> None:
    data = tmp_path / "superhero.jsonl"
    prepare_file(FIXTURES / "superhero.csv", data)
    app = FtApp(base_url=shared_sim_server.base_url, api_key=shared_sim_server.api_key, live=False)
    results: list[str | None] = []
    async with app.run_test(size=(120, 40)) as pilot:
        screen = CreateJobScreen(training_file=str(data), model="davinci-002")
        app.push_screen(screen, results.append)
        await until(pilot, lambda: screen.is_current and bool(screen.query("#create-training")))
        await until(pilot, lambda: "create-training" in screen._reports, what="the lint")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: bool(results), timeout=60, what="the job")
    assert results[0]
    job = shared_sim_server.client().fine_tuning.jobs.retrieve(results[0])
    assert job.metadata["fttui_separator"] == " ->"
    assert job.metadata["fttui_stop"] == " END"
