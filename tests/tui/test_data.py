"""Pane 1 — Data: open a file, read examples, findings jump to their example, stats,
prepare. Pilot tests on the real app (``FtApp``, no network: ``live=False``)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from fttui.tui.app import FtApp
from fttui.tui.panes.data import DataPane
from fttui.tui.screens.file_picker import FilePickerScreen
from fttui.tui.screens.prepare_result import PrepareResultScreen
from support.tui import FIXTURES, screen_text, shows, until

SIZE = (120, 40)


def linted(pane: DataPane) -> Callable[[], bool]:
    return lambda: pane.report is not None or pane.lint_error is not None


@pytest.fixture
def app_for(fttui_home: Path):
    def make(path: Path | str | None) -> FtApp:
        return FtApp(data_file=str(path) if path else None, live=False, initial_pane="data")

    return make


async def test_open_file_shows_examples_stats_and_estimate(app_for) -> None:
    app = app_for(FIXTURES / "chat_valid.jsonl")
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(DataPane)
        await until(pilot, linted(pane))
        assert pane.lint_error is None
        # the line index is its own worker: it may finish after the lint
        await until(pilot, lambda: pane.preview.row_count == 20, what="20 rows")
        report = pane.report
        assert report.examples == 20 and not report.has_errors
        await shows(
            pilot,
            "chat_valid.jsonl",
            "20 lines",
            "What is the capital of France?",  # the list
            "You are a concise, helpful assistant.",  # the example view
            # stats and the estimate, as the linter computed them
            f"{report.estimate['n_epochs']} (default for 20 examples)",
            f"{report.estimate['billed_tokens']:,} tokens",
            "p90",
            report.stats["encoding"],
        )

        # moving the cursor shows each example: tool calls, images, weights
        await pilot.press("G")
        await until(pilot, lambda: pane.preview.cursor == 19)
        for row in range(20):
            pane.preview.move_to(row)
            await shows(pilot, f"line {row + 1}")
        values = [pane.source.row(i).value for i in range(20)]
        tool_row = next(
            i for i, v in enumerate(values) if any(m.get("tool_calls") for m in v["messages"])
        )
        pane.preview.move_to(tool_row)
        await shows(pilot, "⚙ call")
        image_row = next(
            i
            for i, v in enumerate(values)
            if any(isinstance(m.get("content"), list) for m in v["messages"])
        )
        pane.preview.move_to(image_row)
        await shows(pilot, "🖼 image")
        weight_row = next(
            i for i, v in enumerate(values) if any("weight" in m for m in v["messages"])
        )
        pane.preview.move_to(weight_row)
        await shows(pilot, f"line {weight_row + 1}", "weight")


async def test_m_changes_the_target_model_and_price(app_for) -> None:
    from fttui.tui.screens.lint_options import LintOptionsScreen

    app = app_for(FIXTURES / "chat_valid.jsonl")
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(DataPane)
        await until(pilot, linted(pane))
        assert pane.report.estimate["cost"] is None
        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, LintOptionsScreen))
        app.screen.query_one("#lint-model").value = "babbage-002"
        app.screen.query_one("#lint-price").value = "2.5"
        await pilot.press("ctrl+s")
        await until(
            pilot,
            lambda: pane.report is not None and pane.report.estimate["model"] == "babbage-002",
        )
        est = pane.report.estimate
        assert est["token_limit"] == 2048 and est["cost"] is not None
        await shows(pilot, "babbage-002", f"${est['cost']:,.2f} at $2.50 / 1M tokens")


async def test_the_m_dialog_is_titled_as_the_key_that_opens_it(app_for) -> None:
    """Its title was "Lint and estimate for", a phrase left dangling."""
    from fttui.tui.screens.lint_options import LintOptionsScreen

    app = app_for(FIXTURES / "chat_valid.jsonl")
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(DataPane)
        await until(pilot, linted(pane))
        await shows(pilot, "m Model & price")  # the footer's key
        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, LintOptionsScreen))
        title = str(app.screen.query_one("#lint-options-title").render())
        assert title.startswith("Model & price"), title
        assert title.split()[-1] not in ("for", "to", "of", "and"), title
        await pilot.press("escape")


async def test_a_price_from_the_config_shows_a_cost_at_once(app_for, fttui_home: Path) -> None:
    from fttui import paths

    paths.config_file().parent.mkdir(parents=True, exist_ok=True)
    paths.config_file().write_text('[prices]\n"gpt-4o-mini" = 3\n')
    app = app_for(FIXTURES / "chat_valid.jsonl")
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(DataPane)
        await until(pilot, linted(pane))
        cost = pane.report.estimate["cost"]
        assert cost is not None and cost > 0
        await shows(pilot, f"${cost:,.2f} at $3.00 / 1M tokens")


async def test_the_last_files_lint_never_lands_on_the_next_file(app_for, tmp_path: Path) -> None:
    """A lint of file A that ended just as file B was opened (its answer still queued) was
    taken as B's: A's report, and A's error markers on B's rows."""
    from fttui.tui.panes.data import LintFinished

    app = app_for(FIXTURES / "chat_errors.jsonl")
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(DataPane)
        await until(pilot, linted(pane))
        old_report, old_token = pane.report, pane._lint_token
        assert old_report.has_errors
        pane.open_file(str(FIXTURES / "chat_valid.jsonl"))
        pane.post_message(LintFinished(old_token, old_report))  # A's answer, late
        await until(pilot, lambda: pane.report is not None, what="B's own lint")
        assert pane.report is not old_report and not pane.report.has_errors
        assert "0 errors" in screen_text(app)


async def test_odd_tool_calls_show_as_rows_and_never_crash_the_app(app_for, tmp_path: Path) -> None:
    """Any JSON can sit where a tool call goes (the linter flags it). A `function` that is
    a string, or `tool_calls` that is a number, made the preview raise and the app exit."""
    import json as _json

    user = {"role": "user", "content": "Weather?"}
    odd = [
        [{"id": "c1", "type": "function", "function": "get_weather"}],
        5,
        True,
        {"id": "c2"},
        [{"id": "c3", "type": "function", "function": {"name": "get_weather"}}],
    ]
    path = tmp_path / "odd.jsonl"
    path.write_text(
        "".join(
            _json.dumps({"messages": [user, {"role": "assistant", "tool_calls": calls}]}) + "\n"
            for calls in odd
        )
    )
    app = app_for(path)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(DataPane)
        await until(pilot, linted(pane))
        await shows(pilot, "⚙ get_weather", "⚙ ?")
        for _ in odd:  # each one in the example view too
            await pilot.press("j")
        await pilot.pause()
        assert app.is_running and "tool_call_invalid" in screen_text(app)


async def test_the_first_paint_handshake_survives_a_busy_queue(app_for) -> None:
    """On a loaded machine the index worker's next progress can be queued before the UI has
    handled the first one; the first (it starts the linter) must not be dropped as stale."""
    import threading

    from fttui.tui.panes.data import IndexProgress

    app = app_for(FIXTURES / "chat_valid.jsonl")
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(DataPane)
        await until(pilot, linted(pane))
        pane._lint_pending = True  # as right after opening a file
        runs = pane._lint_token
        painted = threading.Event()
        # both queued before the pane runs again, as when the worker outpaces the UI
        pane.post_message(IndexProgress(pane._token, 10, 100, False, painted))
        pane.post_message(IndexProgress(pane._token, 50, 100, False))
        await until(pilot, painted.is_set, what="the first-paint message handled")
        await until(
            pilot,
            lambda: pane._lint_token > runs and pane.report is not None,
            what="the linter started again and finished",
        )


async def test_findings_grouped_by_code_jump_to_their_example(app_for) -> None:
    app = app_for(FIXTURES / "chat_errors.jsonl")
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(DataPane)
        await until(pilot, linted(pane))
        report = pane.report
        assert report.has_errors
        codes = {f.code for f in report.findings}
        assert {"invalid_json", "data_type", "unrecognized_role"} <= codes
        tree = pane.findings
        groups = [node for node in tree.root.children if isinstance(node.data, str)]
        assert {node.data for node in groups} == codes  # one node per code
        # errors first
        first_severity = min(f.severity for f in report.findings if f.code == groups[0].data)
        assert first_severity == "error"

        # f focuses the findings; open the group of unrecognized_role, select its finding
        await pilot.press("f")
        assert app.focused is tree
        target = next(f for f in report.findings if f.code == "unrecognized_role")
        index = [n.data for n in groups].index("unrecognized_role")
        tree.move_cursor(groups[index])
        await pilot.press("enter")  # expands the group
        await until(
            pilot,
            lambda: (
                groups[index].is_expanded and any(c.data is target for c in groups[index].children)
            ),
        )
        await pilot.press("down", "enter")  # the finding itself
        await until(pilot, lambda: pane.preview.line_of(pane.preview.cursor) == target.line)
        # the example with the unknown role is shown, with its finding above it
        await shows(pilot, f"line {target.line}", "narrator", "unrecognized_role")

        # ] steps through the lines that have findings, in the list
        await pilot.press("escape")
        assert app.focused is pane.preview
        before = pane.preview.line_of(pane.preview.cursor)
        await pilot.press("right_square_bracket")
        after = pane.preview.line_of(pane.preview.cursor)
        marked = sorted({f.line for f in report.findings if f.line})
        assert after == next((ln for ln in marked if ln > before), marked[0])


async def test_open_with_o_through_the_file_picker(app_for) -> None:
    app = app_for(None)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(DataPane)
        await shows(pilot, "No training file open")
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, FilePickerScreen))
        picker_input = app.screen.query_one("#picker-path")
        picker_input.value = str(FIXTURES / "chat_valid.jsonl")
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, FilePickerScreen))
        await until(pilot, linted(pane))
        assert pane.path == str(FIXTURES / "chat_valid.jsonl")
        await until(pilot, lambda: pane.preview.row_count == 20, what="20 rows")

        # a missing file: a clear message, the open file stays
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, FilePickerScreen))
        app.screen.query_one("#picker-path").value = str(FIXTURES / "nope.jsonl")
        await pilot.press("enter")
        await shows(pilot, "No such file")
        assert isinstance(app.screen, FilePickerScreen)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, FilePickerScreen))
        assert pane.path == str(FIXTURES / "chat_valid.jsonl")


async def test_prepare_writes_a_new_file_and_shows_the_changes(app_for, tmp_path: Path) -> None:
    src = tmp_path / "superhero.csv"
    shutil.copy(FIXTURES / "superhero.csv", src)
    app = app_for(src)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(DataPane)
        await until(pilot, linted(pane))
        await pilot.press("P")
        await until(pilot, lambda: isinstance(app.screen, PrepareResultScreen), timeout=30)
        result = app.screen.result
        assert result.changes, "the superhero CSV needs remediation"
        assert result.stop == " END"
        out = Path(result.outputs[0])
        assert out.parent == tmp_path and out.name == "superhero.prepared.jsonl"
        assert out.exists() and src.exists()
        await shows(pilot, "change", "' END'")  # the screen was just pushed: wait for it
        # o opens the prepared file in the pane
        await pilot.press("o")
        await until(pilot, lambda: pane.path == str(out))
        await until(pilot, linted(pane))
        assert pane.report.format == "prompt_completion"
        first = pane.source.row(0).value
        assert first["prompt"].endswith(" ->") and first["completion"].endswith(" END")


async def test_missing_file_and_big_lines_never_crash(app_for, tmp_path: Path) -> None:
    path = tmp_path / "odd.jsonl"
    huge = '{"messages": [{"role": "user", "content": "' + "z" * 100_000 + '"}]}'
    path.write_text("\n".join(["{not json", "", huge, '["a", "list"]']) + "\n")
    app = app_for(tmp_path / "missing.jsonl")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        pane = app.query_one(DataPane)
        await shows(pilot, "Cannot open")
        assert pane.path is None
        pane.open_file(str(path))
        await until(pilot, linted(pane))
        await until(pilot, lambda: pane.preview.row_count == 4, what="4 rows")
        for row in (0, 1, 3, 2):
            pane.preview.move_to(row)
            await shows(pilot, f"line {row + 1}")
        assert "error" in screen_text(app)
        # the 100 kB message is cut in the view: its end says how much is left out
        await pilot.press("e")
        await until(pilot, lambda: app.focused is pane.example, what="the example focused")
        await pilot.press("end")
        await shows(pilot, "more characters")


async def test_preview_renders_only_what_is_visible(app_for, tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl"
    line = '{"messages": [{"role": "user", "content": "q%d"}, {"role": "assistant", "content": "a%d"}]}\n'
    path.write_text("".join(line % (i, i) for i in range(100_000)))
    app = app_for(path)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(DataPane)
        await until(pilot, lambda: pane.source is not None and pane.source.done)
        preview = pane.preview
        await until(pilot, lambda: preview.row_count == 100_000, what="every row indexed")
        assert len(preview._summaries) < 100  # only the visible rows were read
        await pilot.press("G")
        await until(pilot, lambda: preview.cursor == 99_999)
        await shows(pilot, "q99999")
        assert len(preview._summaries) < 200


def test_data_pane_snapshot(snap_compare, fttui_home: Path) -> None:
    """The Data pane on the valid chat fixture, once linted (a fixed file: a stable frame)."""

    async def linted_and_moved(pilot) -> None:
        pane = pilot.app.query_one(DataPane)
        await until(pilot, linted(pane))
        await until(pilot, lambda: pane.preview.row_count == 20, what="20 rows")
        await pilot.press("j", "j")
        # the frame to compare, settled (the status bar too: its refresh label is drawn late
        # on a loaded machine)
        await shows(pilot, "Example — line 3", "20 lines", "connecting…")

    app = FtApp(data_file=str(FIXTURES / "chat_valid.jsonl"), live=False, initial_pane="data")
    assert snap_compare(app, terminal_size=SIZE, run_before=linted_and_moved)


def test_big_files_lint_in_a_child_process(tmp_path: Path) -> None:
    """The same report as in-process; progress comes back; stopping ends it; errors are
    one line (the app lints files ≥ 16 MB this way so its UI thread keeps the GIL)."""
    from fttui.datasets import lint_path
    from fttui.tui.lint_process import lint_in_process

    path = FIXTURES / "chat_errors.jsonl"
    seen: list[tuple[int, int]] = []
    report = lint_in_process(str(path), max_findings=100, progress=lambda d, t: seen.append((d, t)))
    assert report.to_dict() == lint_path(path, max_findings=100).to_dict()
    assert seen and seen[0][1] == path.stat().st_size
    assert lint_in_process(str(path), should_stop=lambda: True) is None
    with pytest.raises(OSError):
        lint_in_process(str(tmp_path / "missing.jsonl"))


def test_a_big_example_is_a_quiet_row_not_an_error(tmp_path: Path) -> None:
    """An example over the 1 MB a list row reads (images as data URLs) showed as a red
    "error" row though nothing is wrong with it."""
    from fttui.datasets.lineindex import LineIndex
    from fttui.tui.widgets.example_view import summarize

    path = tmp_path / "big.jsonl"
    path.write_text('{"messages": [{"role": "user", "content": "' + "x" * 2_000_000 + '"}]}\n')
    with LineIndex(path) as index:
        index.scan()
        row = index.row(0, max_bytes=1 << 20)
    text = summarize(row, 100)
    assert row.truncated and "error" not in text.plain and "1.9 MB example" in text.plain
    assert not any("red" in str(span.style) for span in text.spans)


async def test_the_header_follows_the_panes_state_with_no_call_to_redraw_it(app_for) -> None:
    """What the header shows is the pane's state: setting a piece of it redraws the header,
    so no code path has to remember to (issue 11: thirteen hand calls before)."""
    app = app_for(FIXTURES / "chat_valid.jsonl")
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(DataPane)
        await until(pilot, linted(pane))
        await until(pilot, lambda: pane.preview.row_count == 20, what="20 rows")

        def header() -> str:
            return str(pane.query_one("#data-header-text").render())

        await until(pilot, lambda: "20 lines" in header() and "0 errors" in header())
        pane.lint_error = "the linter stopped"
        assert "lint failed: the linter stopped" in header()
        pane.index_state = "indexing 50%"
        assert "20 lines (indexing 50%)" in header()
        pane.report = None
        assert "examples" not in header() and "0 errors" not in header()
