"""Finding the separator and stop of prompt/completion data as `prepare` finds them."""

from __future__ import annotations

from pathlib import Path

import orjson

from fttui.datasets.markers import Markers, detect_markers, markers_from_file, markers_from_jsonl
from fttui.datasets.prepare import prepare_file
from support.live_server import FIXTURES


def test_a_prepared_superhero_file_gives_the_separator_and_stop_prepare_appended(
    tmp_path: Path,
) -> None:
    out = tmp_path / "superhero.jsonl"
    result = prepare_file(FIXTURES / "superhero.csv", out)
    # every completion ends with ". END" or "! END": the stop is what prepare appended
    assert markers_from_file(str(out)) == Markers(result.separator, result.stop)
    assert markers_from_file(str(out)) == Markers(" ->", " END")


def test_an_ending_that_also_occurs_inside_is_no_stop() -> None:
    pairs = [(f"Q{i} ->", f" One. Two {i}.") for i in range(5)]
    assert detect_markers(pairs) == Markers(" ->", None)


def test_chat_data_has_no_markers() -> None:
    data = (FIXTURES / "chat_valid.jsonl").read_bytes()
    assert markers_from_jsonl(data, complete=True) == Markers()
    assert not markers_from_jsonl(data, complete=True)


def test_a_head_cut_inside_a_line_ignores_that_line() -> None:
    lines = [
        orjson.dumps({"prompt": f"p{i}\n\n###\n\n", "completion": f" c{i}\n"}) for i in range(3)
    ]
    data = b"\n".join(lines) + b"\n" + b'{"prompt": "cut sho'
    assert markers_from_jsonl(data) == Markers("\n\n###\n\n", "\n")
