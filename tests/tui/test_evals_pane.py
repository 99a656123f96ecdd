"""The Evals pane (5) against a live sim server: two models scored on a small file (the
scoreboard, the items with the disagreements first), a stopped run that keeps its results
and continues, a bad grader shown inline, the export, and a snapshot after a run."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from textual.widgets import Checkbox, DataTable, Input, ProgressBar, Select, SelectionList

from fttui.tui.app import FtApp
from fttui.tui.panes.evals import EvalsPane
from fttui.tui.widgets.job_table import JobTable
from support.tui import (
    CHAT_VALID,
    create_sim_job,
    listed,
    sample_jobs,
    screen_text,
    shows,
    until,
    wait_job,
    write_job_cache,
)

SIZE = (120, 40)
BASE = "gpt-4o-mini-2024-07-18"
OFFLINE = "http://127.0.0.1:9/v1"
pytestmark = pytest.mark.usefixtures("fast_polls")  # the module's `server`: tests/tui/conftest.py


@pytest.fixture(scope="module")
def finished_job(server):
    client = server.client()
    job_id = create_sim_job(client, seconds_per_step=0.01, model=BASE, validation=True)
    return wait_job(client, job_id, {"succeeded"}, timeout=60)


def chat(user: str, assistant: str) -> str:
    return json.dumps(
        {
            "messages": [
                {"role": "user", "content": user},
                {"role": "assistant", "content": assistant},
            ]
        }
    )


@pytest.fixture
def small_file(tmp_path: Path) -> Path:
    """Three items: both sim models answer "[simulated] …", so they agree on the first
    (its reference is "simulated"); only the fine-tune knows the other two."""
    train = CHAT_VALID.read_text().splitlines()[:2]  # Paris., Eight.
    path = tmp_path / "small.jsonl"
    path.write_text("\n".join([chat("Say the word simulated", "simulated"), *train]) + "\n")
    return path


async def open_evals(pilot, job) -> EvalsPane:
    app = pilot.app
    await listed(pilot, job.id)
    app.query_one(JobTable).select_job(job.id)
    await pilot.press("5")
    pane = app.query_one(EvalsPane)
    box = pane.query_one("#ev-models", SelectionList)
    await until(
        pilot,
        lambda: set(box.selected) == {BASE, job.fine_tuned_model},
        what="the base and fine-tuned models ticked",
    )
    return pane


async def run_eval(pilot, pane: EvalsPane, path: Path) -> dict:
    pane.query_one("#ev-file", Input).value = str(path)
    pane.focus_default()
    await pilot.press("ctrl+r")  # a few sim answers: it may be over before press returns
    await until(pilot, lambda: not pane.running, timeout=120, what="the eval to end")
    assert pane.report is not None, screen_text(pilot.app)
    return pane.report


async def test_an_eval_of_two_models_lists_both_and_the_disagreements_first(
    server, finished_job, fttui_home, small_file
):
    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_evals(pilot, finished_job)
        # the default file: the job's validation file, downloaded into the cache
        file_box = pane.query_one("#ev-file", Input)
        await until(
            pilot,
            lambda: file_box.value.endswith(f"{finished_job.validation_file}.jsonl"),
            what="the validation file filled in",
        )
        assert Path(file_box.value).read_bytes() == CHAT_VALID.read_bytes()
        report = await run_eval(pilot, pane, small_file)

        board = pane.query_one("#ev-scoreboard", DataTable)
        assert {k.value for k in board.rows} == {BASE, finished_job.fine_tuned_model}
        models = {m["model"]: m for m in report["models"]}
        assert models[BASE]["n"] == models[finished_job.fine_tuned_model]["n"] == 3
        assert models[BASE]["pass_rate"] < models[finished_job.fine_tuned_model]["pass_rate"]
        # disagreements (lines 2, 3) before the item both pass (line 1)
        assert [(e["line"], e["disagree"]) for e in pane.items] == [
            (2, True),
            (3, True),
            (1, False),
        ]
        items = pane.query_one("#ev-items", DataTable)
        assert [items.get_row_at(i)[0] for i in range(items.row_count)] == ["2", "3", "1"]
        await shows(pilot, "2 disagreements first", "Paris.", "metric contains")


async def test_stopping_a_run_keeps_its_results_and_the_next_run_continues_it(
    server, finished_job, fttui_home, tmp_path
):
    lines = CHAT_VALID.read_text().splitlines()
    big = tmp_path / "big.jsonl"
    # 2,400 examples, 2,280 with a reference: at one request at a time an idle machine takes
    # many seconds over them, so the stop lands mid-run (800 were all done before the x came)
    copies = 120
    big.write_text("\n".join(lines * copies) + "\n")
    refs = 19 * copies  # the fixture's 20 examples, 19 with a reference
    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_evals(pilot, finished_job)
        pane.query_one("#ev-concurrency", Input).value = "1"
        pane.query_one("#ev-file", Input).value = str(big)
        pane.focus_default()
        await pilot.press("ctrl+r")
        bar = pane.query_one("#ev-progress", ProgressBar)
        await until(pilot, lambda: bar.progress >= 4, what="a few answers scored")
        # the screen answers while the run goes on: other panes, and back
        await pilot.press("2")
        assert app.current_pane == "jobs"
        await pilot.press("5")
        assert app.current_pane == "evals"
        await pilot.press("x")
        await until(pilot, lambda: not pane.running, timeout=60, what="the run to stop")
        report = pane.report
        assert report is not None and report["interrupted"]
        kept = sum(m["n"] for m in report["models"])
        assert 4 <= kept < refs * 2
        results = Path(report["results"])
        assert len(results.read_text().splitlines()) == kept  # every finished answer kept
        await shows(pilot, "ctrl+r continues")

        pane.query_one("#ev-concurrency", Input).value = "8"  # the same run, sooner done
        await pilot.press("ctrl+r")
        await until(pilot, lambda: not pane.running, timeout=600, what="the run to finish")
        report = pane.report
        assert not report["interrupted"] and report["resumed"] == kept
        assert all(m["n"] == refs for m in report["models"])
        assert len(results.read_text().splitlines()) == refs * 2  # nothing asked twice


async def test_a_bad_grader_file_shows_its_error_inline_with_the_bad_fields_path(
    server, finished_job, fttui_home, small_file, tmp_path
):
    grader = tmp_path / "grader.json"
    grader.write_text(json.dumps({"type": "string_check", "operation": "eq"}))
    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_evals(pilot, finished_job)
        pane.query_one("#ev-grader", Input).value = str(grader)
        pane.query_one("#ev-file", Input).value = str(small_file)
        await pilot.press("ctrl+r")
        await until(pilot, lambda: not pane.running, what="the run to be refused")
        error = str(pane.query_one("#ev-error").render())
        assert "grader.name" in error and "grader.input" in error, error
        assert pane.report is None
        await shows(pilot, "grader.name")
        await pilot.press("2")  # still answering
        assert app.current_pane == "jobs"


async def test_an_empty_file_shows_its_error_inline_and_runs_nothing(
    server, finished_job, fttui_home, tmp_path
):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_evals(pilot, finished_job)
        pane.query_one("#ev-file", Input).value = str(empty)
        pane.focus_default()
        await pilot.press("ctrl+r")
        await until(pilot, lambda: not pane.running, what="the run to be refused")
        error = str(pane.query_one("#ev-error").render())
        assert f"{empty} holds no examples: nothing to evaluate" in error, error
        assert pane.report is None  # no scoreboard of nothing
        await shows(pilot, "holds no examples")


def test_continuous_scores_disagree_when_far_apart_and_the_widest_come_first():
    from fttui.tui.panes.evals import side_by_side

    scores = {0: (0.9, 0.85), 1: (0.1, 0.4), 2: (0.0, 0.9), 3: (0.5, 0.5)}
    rows = [
        {"item": i, "line": i + 1, "model": m, "score": s, "passed": None, "output": "x"}
        for i, pair in scores.items()
        for m, s in zip(("a", "b"), pair, strict=True)
    ]
    entries = side_by_side(rows, ["a", "b"], {})
    # 0.9 and 0.3 apart disagree (widest first); 0.05 and 0 do not
    assert [(e["item"], e["disagree"]) for e in entries] == [
        (2, True),
        (1, True),
        (0, False),
        (3, False),
    ]
    # a score model's 0–10 range: 3 points apart is the same share as 0.3
    ten = [dict(r, score=r["score"] * 10) for r in rows]
    assert [e["item"] for e in side_by_side(ten, ["a", "b"], {}, scale=10) if e["disagree"]] == [
        2,
        1,
    ]


async def test_e_exports_the_results_and_names_the_file_in_a_toast(
    server, finished_job, fttui_home, small_file, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.chdir(out)
    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_evals(pilot, finished_job)
        await pilot.press("e")  # nothing to export yet: said, nothing written
        assert not list(out.iterdir())
        await run_eval(pilot, pane, small_file)
        await pilot.press("e")
        await until(pilot, lambda: list(out.glob("*.jsonl")), what="the export")
        (path,) = out.glob("*.jsonl")
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        assert len(rows) == 3 * 2
        assert {r["model"] for r in rows} == {BASE, finished_job.fine_tuned_model}
        await until(
            pilot,
            lambda: any(str(path) in n.message for n in app._notifications),
            what="the toast naming the file",
        )


def set_inference_price(home: Path, model: str, input_price: float, output_price: float) -> None:
    (home / "config").mkdir(exist_ok=True)
    (home / "config" / "config.toml").write_text(
        f'[inference_prices]\n"{model}" = {{ input = {input_price}, output = {output_price} }}\n'
    )


def board_cells(pane: EvalsPane) -> dict[str, dict[str, str]]:
    """The scoreboard as model → {column label → the cell's text}."""
    board = pane.query_one("#ev-scoreboard", DataTable)
    labels = [str(c.label) for c in board.ordered_columns]
    return {
        str(key.value): dict(zip(labels, map(str, board.get_row(key)), strict=True))
        for key in board.rows
    }


async def test_the_scoreboard_costs_a_priced_model_and_shows_a_dash_for_one_without_a_price(
    server, finished_job, fttui_home, small_file
):
    from fttui.api.evaluate import cost_text

    set_inference_price(fttui_home, BASE, 1000.0, 3000.0)  # the fine-tune: no price
    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_evals(pilot, finished_job)
        pane.query_one("#ev-stop", Input).value = "\\nEND"  # typed as on the CLI's --stop
        report = await run_eval(pilot, pane, small_file)
        await shows(pilot, "cost")
        cells = board_cells(pane)
    models = {m["model"]: m for m in report["models"]}
    base, ft = models[BASE], models[finished_job.fine_tuned_model]
    want = (base["prompt_tokens"] * 1000.0 + base["completion_tokens"] * 3000.0) / 1e6
    assert base["completion_tokens"] > 0 and base["cost"] == pytest.approx(want)
    assert base["price"] == {"input": 1000.0, "output": 3000.0}
    assert ft["cost"] is None and ft["price"] is None
    assert report["stop"] == ["\nEND"]  # the field's stop sent, not the file's
    assert cells[BASE]["cost"] == cost_text(want) and cells[BASE]["cost"].startswith("$")
    assert cells[finished_job.fine_tuned_model]["cost"] == "—"


async def test_a_positive_class_puts_accuracy_precision_recall_f1_and_auroc_on_the_scoreboard(
    server, finished_job, fttui_home, tmp_path
):
    # one "yes" among four: the sim answers "[simulated] …", never the label, and its
    # first token's logprobs give "yes" no chance: every answer negative
    labels = ["yes", "no", "no", "no"]
    path = tmp_path / "spam.jsonl"
    path.write_text("".join(chat(f"Is message {i} spam?", y) + "\n" for i, y in enumerate(labels)))
    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_evals(pilot, finished_job)
        pane.query_one("#ev-metric", Select).value = "classification"
        pane.query_one("#ev-positive", Input).value = "yes"
        report = await run_eval(pilot, pane, path)
        await shows(pilot, "AUROC", "P(yes) from logprobs")
        cells = board_cells(pane)
    for m in report["models"]:
        cls = m["classification"]
        assert cls["from"] == "first-token logprobs"  # asked with logprobs, as the CLI does
        assert (cls["accuracy"], cls["precision"], cls["recall"], cls["f1"]) == (
            0.75,
            0.0,
            0.0,
            0.0,
        )
        assert cls["auroc"] == 0.5
    assert set(cells) == {BASE, finished_job.fine_tuned_model}
    for row in cells.values():
        assert (row["acc"], row["P"], row["R"], row["F1"], row["AUROC"]) == (
            "0.750",
            "0.000",
            "0.000",
            "0.000",
            "0.500",
        )
        assert "95% CI" not in row and "cost" in row  # the figures took the intervals' place


async def test_a_python_grader_runs_only_with_allow_python_ticked(
    server, finished_job, fttui_home, small_file, tmp_path
):
    grader = tmp_path / "python.json"
    source = "def grade(sample, item):\n    return 1.0 if item['reference'] else 0.0\n"
    grader.write_text(json.dumps({"type": "python", "name": "always", "source": source}))
    app = FtApp(base_url=server.base_url, api_key=server.api_key)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_evals(pilot, finished_job)
        box = pane.query_one("#ev-allow-python", Checkbox)
        assert box.value is False  # off by default, as the CLI without --allow-python
        pane.query_one("#ev-grader", Input).value = str(grader)
        pane.query_one("#ev-file", Input).value = str(small_file)
        pane.focus_default()
        await pilot.press("ctrl+r")
        await until(pilot, lambda: not pane.running, what="the run to be refused")
        assert pane.report is None
        refused = str(pane.query_one("#ev-error").render())
        assert "python" in refused.lower(), refused
        box.value = True
        report = await run_eval(pilot, pane, small_file)
        assert all(m["mean"] == 1.0 and m["n"] == 3 for m in report["models"])


async def test_the_stop_field_overrides_the_files_stop_with_escapes(offline_app, tmp_path):
    app = offline_app
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        pane = app.query_one(EvalsPane)
        pane.query_one("#ev-file", Input).value = str(CHAT_VALID)
        pane.query_one("#ev-extra", Input).value = BASE
        pane.query_one("#ev-stop", Input).value = "\\n###"
        settings = pane.settings()
        assert isinstance(settings, dict) and settings["stop"] == "\n###"
        pane.query_one("#ev-stop", Input).value = ""
        assert pane.settings()["stop"] is None  # the file's own stop, as without --stop


async def test_the_help_and_the_footer_list_the_evals_keys(offline_app):
    from fttui.tui.screens.help import HelpScreen

    app = offline_app
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await until(pilot, lambda: app.current_pane == "evals", what="the Evals pane")
        await shows(pilot, "^r Run eval", "x Stop", "e Export results")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        ids = {r.binding_id for r in app.screen.rows}
        assert {"evals.run", "evals.stop", "evals.export", "evals.pick_file"} <= ids


async def test_without_a_job_the_file_is_the_data_panes_open_file(fttui_home):
    app = FtApp(data_file=str(CHAT_VALID), live=False, initial_pane="data")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        pane = app.query_one(EvalsPane)
        await until(
            pilot,
            lambda: pane.query_one("#ev-file", Input).value == str(CHAT_VALID),
            what="the Data pane's file filled in",
        )
        await shows(pilot, "(the Data pane's file)")


def test_the_pane_offers_the_clis_metrics():
    from fttui.api.evaluate import METRICS
    from fttui.cli.eval import METRICS as CLI
    from fttui.tui.panes.evals import METRICS as PANE

    assert METRICS == CLI == PANE


def test_score_by_checkpoint_orders_one_jobs_checkpoints_then_its_model():
    from fttui.api.evaluate import score_by_checkpoint

    ft = "ft:gpt-4o-mini:fttui::job1"
    models = [
        {"model": ft, "mean": 0.9},
        {"model": f"{ft}:ckpt-step-20", "mean": 0.6},
        {"model": BASE, "mean": 0.1},
        {"model": f"{ft}:ckpt-step-10", "mean": 0.3},
    ]
    assert score_by_checkpoint(models) == [("step 10", 0.3), ("step 20", 0.6), ("final", 0.9)]
    assert score_by_checkpoint(models[1:3]) == []  # one model of the job: no trend
    assert score_by_checkpoint([models[0], models[2]]) == []  # no checkpoint: no trend


# -- snapshot (offline app, a fixed report: latencies are fixed numbers here) -----------
SNAPSHOT_TEXTUAL = "8.2.8"
snapshot = pytest.mark.skipif(
    __import__("textual").__version__ != SNAPSHOT_TEXTUAL,
    reason=f"snapshots were taken with Textual {SNAPSHOT_TEXTUAL}",
)

FT = "ft:gpt-4o-mini-2024-07-18:fttui:demo-6:sim0006"


def fixed_report() -> tuple[dict, list[dict]]:
    def model(name: str, mean: float, lo: float, hi: float, p50: float) -> dict:
        return {
            "model": name,
            "n": 3,
            "errors": 0,
            "grading_problems": 0,
            "mean": mean,
            "ci95": [lo, hi],
            "pass_rate": mean,
            "prompt_tokens": 42,
            "completion_tokens": 120,
            "latency_p50_ms": p50,
            "latency_p95_ms": p50 * 2,
        }

    models = [
        model(BASE, 1 / 3, 0.0, 1.0, 12.0) | {"cost": 0.0000783},  # priced; the others: —
        model(f"{FT}:ckpt-step-2", 2 / 3, 0.0, 1.0, 13.0),
        model(FT, 1.0, 1.0, 1.0, 14.0),
    ]
    report = {
        "file": "small.jsonl",
        "scorer": "metric contains",
        "items": 3,
        "models": models,
        "disagreements": {"count": 2, "items": []},
        "no_reference": {"count": 0, "items": []},
        "errors": [],
        "resumed": 0,
        "interrupted": False,
        "results": "/tmp/small-0123456789ab.jsonl",
    }

    def answer(text: str, ok: bool) -> dict:
        return {"output": text, "score": float(ok), "passed": ok, "error": None}

    canned = "[simulated] This is the base model on the fttui sim executor"
    items = [
        {
            "item": 1,
            "line": 2,
            "input": "What is the capital of France?",
            "reference": "Paris.",
            "disagree": True,
            "answers": {
                BASE: answer(canned, False),
                f"{FT}:ckpt-step-2": answer("[simulated] Paris.", True),
                FT: answer("[simulated] Paris.", True),
            },
        },
        {
            "item": 2,
            "line": 3,
            "input": "How many legs does a spider have?",
            "reference": "Eight.",
            "disagree": True,
            "answers": {
                BASE: answer(canned, False),
                f"{FT}:ckpt-step-2": answer("[simulated] Paris.", False),
                FT: answer("[simulated] Eight.", True),
            },
        },
        {
            "item": 0,
            "line": 1,
            "input": "Say the word simulated",
            "reference": "simulated",
            "disagree": False,
            "answers": {m["model"]: answer("[simulated] …", True) for m in models},
        },
    ]
    return report, items


@pytest.fixture
def offline_app(fttui_home, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    write_job_cache(sample_jobs(12), base_url=OFFLINE)
    yield FtApp(base_url=OFFLINE, api_key="sk-test-key", live=False)
    monkeypatch.undo()
    time.tzset()


@snapshot
def test_snapshot_evals_pane(snap_compare, offline_app):
    async def run_before(pilot):
        await until(pilot, lambda: pilot.app.query_one(JobTable).row_count == 12, what="rows")
        pilot.app.query_one(JobTable).select_job("ftjob-00006demo")
        await pilot.press("5")
        pane = pilot.app.query_one(EvalsPane)
        pane.query_one("#ev-file", Input).value = "/data/small.jsonl"
        report, items = fixed_report()
        pane.show_results(report, items)
        pane.query_one("#ev-progress", ProgressBar).update(total=9, progress=9)
        await shows(pilot, "score by checkpoint", "reference  Paris.", "100%")  # settled
        await pilot.pause()

    assert snap_compare(offline_app, terminal_size=SIZE, run_before=run_before)
