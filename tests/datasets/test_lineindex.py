"""The line index behind the Data pane's preview (``fttui.datasets.lineindex``)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from fttui.datasets.lineindex import LineIndex, RecordsSource, open_source

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def test_lines_blank_crlf_bom_invalid_and_no_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "odd.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\r\n\n{"b": 2}\nnot json\n{"c": 3}')
    with LineIndex(path) as index:
        assert index.scan() is True
        assert index.done and len(index) == 5
        rows = [index.row(i) for i in range(len(index))]
    assert [r.line for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].value == {"a": 1}  # BOM and CR stripped
    assert rows[1].blank
    assert rows[2].value == {"b": 2}
    assert rows[3].value is None and rows[3].error and "invalid JSON" in rows[3].error
    assert rows[4].value == {"c": 3}  # last line without "\n"


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    with LineIndex(path) as index:
        assert index.scan()
        assert len(index) == 0
        assert index.row_of(1) is None


@pytest.mark.parametrize("chunk", [1, 7, 64, 1 << 20])
def test_chunk_boundaries_do_not_matter(tmp_path: Path, chunk: int) -> None:
    lines = [f'{{"i": {i}, "pad": "{"x" * (i % 13)}"}}' for i in range(300)]
    path = tmp_path / "many.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with LineIndex(path) as index:
        assert index.scan(chunk_size=chunk)
        assert len(index) == 300
        assert [index.row(i).value["i"] for i in (0, 1, 150, 299)] == [0, 1, 150, 299]


def test_rows_readable_while_scanning_and_stoppable(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    path.write_text("".join(f'{{"i": {i}}}\n' for i in range(200_000)))
    index = LineIndex(path)
    seen: list[int] = []
    first = threading.Event()
    release = threading.Event()

    def progress(done: int, total: int) -> None:
        if not seen:
            seen.append(len(index))
            first.set()
            # generous: a loaded CI box may be slow to run the checks below; they set it
            release.wait(120)

    worker = threading.Thread(
        target=index.scan, kwargs={"progress": progress, "chunk_size": 64 << 10}
    )
    worker.start()
    try:
        assert first.wait(120)
        # the first rows are there (and readable) while the scan is held mid-file
        assert 0 < seen[0] < 200_000 and not index.done
        assert index.row(0).value == {"i": 0}
    finally:
        release.set()
        worker.join()
    assert index.done and len(index) == 200_000
    assert index.row(199_999).value == {"i": 199_999}

    stopped = LineIndex(path)
    assert stopped.scan(should_stop=lambda: True, chunk_size=1 << 10) is False
    assert not stopped.done
    stopped.close()
    index.close()


def test_long_line_read_truncated(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    path.write_text('{"x": "' + "y" * 100_000 + '"}\n{"z": 1}\n')
    with LineIndex(path) as index:
        index.scan()
        row = index.row(0, max_bytes=1000)
        assert row.truncated and row.size > 100_000 and row.error
        assert index.row(0).value == {"x": "y" * 100_000}
        assert index.row(1).value == {"z": 1}


def test_open_source_picks_by_format(tmp_path: Path) -> None:
    assert isinstance(open_source(FIXTURES / "chat_valid.jsonl"), LineIndex)
    assert isinstance(open_source(FIXTURES / "superhero.csv"), RecordsSource)
    jsonl_named_json = tmp_path / "lines.json"
    jsonl_named_json.write_text('{"a": 1}\n{"a": 2}\n')
    assert isinstance(open_source(jsonl_named_json), LineIndex)
    array = tmp_path / "array.json"
    array.write_text('[{"a": 1}, {"a": 2}]')
    assert isinstance(open_source(array), RecordsSource)
    with pytest.raises(OSError):
        open_source(tmp_path / "missing.jsonl")


def test_records_source_maps_rows_to_file_lines() -> None:
    source = open_source(FIXTURES / "superhero.csv")
    assert source.scan()
    assert len(source) >= 20
    first = source.row(0)
    assert first.line == 2  # the header is row 1
    assert set(first.value) == {"prompt", "completion"}
    assert source.row_of(first.line) == 0
    assert source.line_of(len(source) - 1) == len(source) + 1


def test_a_pretty_printed_object_and_a_txt_file_are_read_as_the_linter_reads_them(
    tmp_path: Path,
) -> None:
    """A pretty-printed .json object was split into lines (12 red "invalid JSON" rows for
    one valid example), and a .txt file's lines were parsed as JSON (the linter reads them
    as completions)."""
    pretty = tmp_path / "one.json"
    pretty.write_text('{\n  "messages": [\n    {"role": "user", "content": "Hi"}\n  ]\n}\n')
    source = open_source(pretty)
    assert isinstance(source, RecordsSource) and source.scan()
    assert len(source) == 1 and source.row(0).error is None
    text = tmp_path / "lines.txt"
    text.write_text("The first completion.\nThe second one.\n")
    source = open_source(text)
    assert isinstance(source, RecordsSource) and source.scan()
    assert [source.row(i).error for i in range(len(source))] == [None, None]


def test_a_null_in_a_json_array_is_a_row_a_finding_can_jump_to(tmp_path: Path) -> None:
    """The linter flags a `null` element (data_type) at its line; the preview dropped it, so
    jumping to that finding landed on the next example."""
    path = tmp_path / "array.json"
    path.write_text('[\n{"prompt": "a", "completion": "b"},\nnull,\n5\n]\n')
    source = open_source(path)
    assert source.scan()
    lines = [source.line_of(i) for i in range(len(source))]
    assert lines == [2, 3, 4]
    assert source.row(source.row_of(3)).raw == "null"
