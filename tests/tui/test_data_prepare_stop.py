"""Data pane prepare on superhero-style data whose descriptions have several sentences:
'.' ends every completion but also occurs inside each, so it is not the stop; ' END' is
appended and the result screen says why. Pilot on the real app (``live=False``)."""

from __future__ import annotations

import csv
from pathlib import Path

from fttui.tui.app import FtApp
from fttui.tui.panes.data import DataPane
from fttui.tui.screens.prepare_result import PrepareResultScreen
from support.tui import shows, until


def write_heroes(path: Path, n: int = 40) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["prompt", "completion"])
        for i in range(n):
            w.writerow(
                [
                    f"Superhero: Hero {i}\nPowers: power {i}",
                    f"Hero {i} can fly. Hero {i} is strong. Everyone loves hero {i}.",
                ]
            )
    return path


async def test_data_pane_prepare_appends_END_when_dot_occurs_inside(
    fttui_home: Path, tmp_path: Path
) -> None:
    src = write_heroes(tmp_path / "heroes.csv")
    app = FtApp(data_file=str(src), live=False, initial_pane="data")
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(DataPane)
        await until(pilot, lambda: pane.report is not None or pane.lint_error is not None)
        await pilot.press("P")
        await until(pilot, lambda: isinstance(app.screen, PrepareResultScreen), timeout=30)
        result = app.screen.result
        assert result.stop == " END", result.stop
        await shows(pilot, "' END'", "also occurs inside 40")
        out = Path(result.outputs[0])
        for line in out.read_text(encoding="utf-8").splitlines():
            assert line.endswith('. END"}')
