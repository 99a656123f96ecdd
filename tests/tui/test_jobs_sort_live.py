"""Sorting the Jobs list (issue 15) against a live ``fttui serve --executor sim``: ``o``
through every column, ``O`` and a header click the other way round, checked against the
jobs as the SDK lists them and against the rows drawn on screen, with the cursor kept on
its job while the list keeps polling."""

from __future__ import annotations

from typing import Any

import pytest

from fttui.tui.app import FtApp
from fttui.tui.widgets.job_table import DESCENDING_FIRST, JobTable
from support.tui import listed, screen_text, until, upload, wait_job

SIZE = (120, 40)
pytestmark = pytest.mark.usefixtures("fast_polls")  # the module's `server`: tests/tui/conftest.py
ENDED = {"succeeded", "failed", "cancelled"}


def table(app) -> JobTable:
    return app.query_one(JobTable)


def order(app) -> list[str]:
    return [row.key.value for row in table(app).ordered_rows]


def drawn_order(app, ids: list[str]) -> list[str]:
    """The jobs in the order their rows are drawn on screen (top to bottom)."""
    lines = screen_text(app).splitlines()
    at = {job_id: next((n for n, ln in enumerate(lines) if job_id in ln), -1) for job_id in ids}
    assert all(n >= 0 for n in at.values()), f"not every job on screen: {at}"
    return sorted(ids, key=at.__getitem__)


def value(job: Any, column: str) -> Any:
    """A job's value in ``column`` as the SDK reports it (the table's sort key)."""
    return {
        "id": job.id,
        "model": job.model,
        "status": job.status,
        "created": job.created_at,
        "tokens": job.trained_tokens or -1,  # no count (—) sorts below every count
        "fine_tuned_model": job.fine_tuned_model or "",
    }[column]


def sim_job(client, file_id: str, model: str, **opts: Any) -> str:
    epochs = opts.pop("epochs", 1)
    metadata = {"sim_seconds_per_step": str(opts.pop("seconds_per_step", 0.005))}
    metadata.update({f"sim_{k}": str(v) for k, v in opts.items()})
    return client.fine_tuning.jobs.create(
        model=model,
        training_file=file_id,
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": epochs}}},
        metadata=metadata,
    ).id


async def test_sorting_the_live_job_list_by_each_column_both_ways_keeps_the_cursor_on_its_job(
    server, fttui_home
):
    client = server.client()
    file_id = upload(client)
    mini, four_one = "gpt-4o-mini-2024-07-18", "gpt-4.1-mini-2025-04-14"
    # oldest first: models, statuses, token counts and model names that no order of
    # creation sorts (checked below), so only a real sort puts them in order
    ids = [
        sim_job(client, file_id, mini, epochs=1),
        sim_job(client, file_id, four_one, epochs=3),
        sim_job(client, file_id, mini, fail_at_step=2),
    ]
    cancelled = sim_job(client, file_id, four_one, seconds_per_step=0.5)
    wait_job(client, cancelled, {"running"})
    client.fine_tuning.jobs.cancel(cancelled)
    ids += [cancelled, sim_job(client, file_id, mini, epochs=2)]
    for job_id in ids:
        wait_job(client, job_id, ENDED, timeout=60)
    sdk = {j.id: j for j in client.fine_tuning.jobs.list(limit=100) if j.id in ids}
    assert {j.status for j in sdk.values()} == ENDED

    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=SIZE) as pilot:
        await listed(pilot, *ids)
        t = table(app)
        await until(pilot, lambda: all(t.jobs[j]["status"] in ENDED for j in ids), what="ended")
        newest = ids[::-1]
        await until(pilot, lambda: order(app) == newest, what="newest first")
        assert t.sort_column == "created" and t.sort_reverse
        # the job the cursor follows: the middle row, which every sort below moves
        chosen = ids[1]
        t.select_job(chosen)
        await until(pilot, lambda: t.selected_id == chosen, what="the cursor on the job")

        def check(column: str, reverse: bool) -> list[str]:
            rows = order(app)
            values = [value(sdk[j], column) for j in rows]
            assert sorted(rows) == sorted(ids)
            assert values == sorted(values, reverse=reverse), (column, reverse, values)
            # the cursor stayed on its job, wherever its row went
            assert t.selected_id == chosen and t.cursor_row == rows.index(chosen)
            return rows

        columns = list(t.shown)
        assert {"id", "model", "status", "created", "tokens", "fine_tuned_model"} <= set(columns)
        for column in (*columns[columns.index("created") + 1 :], *columns, "created")[
            : len(columns)
        ]:
            # in the order of creation the column is not sorted either way (the data was
            # made so): only a sort puts it in order
            start = [value(sdk[j], column) for j in newest]
            await pilot.press("o")  # the next column, its first direction
            first = column in DESCENDING_FIRST
            await until(pilot, lambda c=column: t.sort_column == c, what=f"sorted by {column}")
            assert t.sort_reverse == first
            rows = check(column, first)
            assert drawn_order(app, ids) == rows
            if column == "created":  # made within a second: the order of creation decides
                assert rows == (newest if first else ids)
            elif column != "id":  # random ids: the order of creation may sort them
                assert len(set(start)) >= 2 and start not in (sorted(start), sorted(start)[::-1])
            await pilot.press("O")  # the other way round
            await until(pilot, lambda f=first: t.sort_reverse != f, what=f"{column} reversed")
            rows = check(column, not first)
            if column == "created":
                assert rows == ids  # oldest first
            assert drawn_order(app, ids) == rows
            await pilot.press("O")
            await until(pilot, lambda f=first: t.sort_reverse == f, what=f"{column} again")
            rows = check(column, first)
            if column == "created":
                assert rows == newest
        assert t.sort_column == "created" and order(app) == newest  # o went all the way round

        # a click on a header sorts by it; a second click the other way round
        x = 1 + 2  # inside the border, on the label
        for col in t.ordered_columns:
            if col.key.value == "status":
                break
            x += col.get_render_width(t)
        await pilot.click(JobTable, offset=(x, 1))
        await until(pilot, lambda: t.sort_column == "status", what="sorted by a click")
        check("status", False)
        assert "Status ▲" in screen_text(app)
        await pilot.click(JobTable, offset=(x, 1))
        await until(pilot, lambda: t.sort_reverse, what="the other way by a second click")
        rows = check("status", True)
        assert "Status ▼" in screen_text(app) and drawn_order(app, ids) == rows

        # a job that arrives by a poll takes its place in the sorted order
        late = sim_job(client, file_id, four_one, epochs=1)
        wait_job(client, late, ENDED, timeout=60)
        await listed(pilot, late)
        await until(pilot, lambda: t.jobs[late]["status"] in ENDED, what="the late job ended")
        ids.append(late)
        sdk[late] = client.fine_tuning.jobs.retrieve(late)
        rows = check("status", True)
        assert rows.index(late) < rows.index(ids[2])  # succeeded, above the failed one
