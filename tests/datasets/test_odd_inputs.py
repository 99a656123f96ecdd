"""Odd inputs real users produce: deep JSON, null rows, unnamed columns, UTF-16, stray BOMs."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from fttui.datasets import lint_path
from fttui.datasets.prepare import PrepareError, prepare_file
from fttui.datasets.read import iter_records
from support.datasets import prompt_completion, valid_chat, write_jsonl


def deep(levels: int) -> dict[str, Any]:
    """An object nested ``levels`` deep: orjson reads it (up to 1024) but writes only 255."""
    value: dict[str, Any] = {}
    for _ in range(levels):
        value = {"a": value}
    return value


def read_jsonl(path: str | Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


def codes(report: Any) -> list[str]:
    return [f.code for f in report.findings]


def deep_tools_example(key: str) -> dict[str, Any]:
    fn = {"name": "f", "parameters": deep(300)}
    example = valid_chat(1, start=99)[0]
    example[key] = [{"type": "function", "function": fn}] if key == "tools" else [fn]
    return example


def dump_deep(path: Path, rows: list[Any]) -> Path:
    # the stdlib json writes what orjson cannot, given the stack
    import sys

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 5000))
    try:
        return write_jsonl(path, [json.dumps(r) for r in rows])
    finally:
        sys.setrecursionlimit(old)


# -- 1. JSON nested deeper than orjson writes ------------------------------------------


@pytest.mark.parametrize("key", ["tools", "functions"])
def test_deeply_nested_tools_is_a_finding(tmp_path: Path, key: str) -> None:
    path = dump_deep(tmp_path / "deep.jsonl", [*valid_chat(12), deep_tools_example(key)])
    report = lint_path(path)
    bad = [f for f in report.findings if f.code == "tools_invalid"]
    assert len(bad) == 1 and bad[0].line == 13 and "nested too deeply" in bad[0].message
    assert report.examples == 13  # the rest of the file is still linted


@pytest.mark.parametrize(
    "row",
    [
        deep_tools_example("tools"),
        {"messages": [{"role": "user", "content": "x"}], "extra": deep(300)},
    ],
    ids=["tools", "anywhere"],
)
@pytest.mark.parametrize("remediate", [True, False])
def test_prepare_skips_a_deeply_nested_chat_example(
    tmp_path: Path, row: dict[str, Any], remediate: bool
) -> None:
    src = dump_deep(tmp_path / "deep.jsonl", [*valid_chat(5), row, *valid_chat(5, start=5)])
    out = tmp_path / "out.jsonl"
    result = prepare_file(src, out, remediate=remediate)
    assert result.examples_written == 10 and read_jsonl(out) == valid_chat(10)
    assert any("nested too deeply" in c and "(line 6)" in c for c in result.changes)


def test_prepare_skips_a_deeply_nested_prompt(tmp_path: Path) -> None:
    rows = [prompt_completion(i) for i in range(5)]
    src = dump_deep(tmp_path / "pc.jsonl", [*rows, {"prompt": [deep(300)], "completion": " x END"}])
    result = prepare_file(src, tmp_path / "out.jsonl")
    assert result.examples_written == 5
    assert any("nested too deeply" in c and "(line 6)" in c for c in result.changes)


def test_prepare_writes_nothing_when_every_example_is_dropped(tmp_path: Path) -> None:
    """Every example skipped (too deep) or dropped (empty completions): no empty output file
    and "wrote 0", but the same clear refusal as a file with no examples at all."""
    src = dump_deep(tmp_path / "deep.jsonl", [deep_tools_example("tools")] * 3)
    out = tmp_path / "out.jsonl"
    with pytest.raises(PrepareError, match=r"no examples to write \(lines 1, 2, 3: nested too"):
        prepare_file(src, out)
    empty = write_jsonl(tmp_path / "empty.jsonl", [{"prompt": "a", "completion": ""}] * 2)
    with pytest.raises(PrepareError, match=r"no examples to write \(lines 1, 2: empty completion"):
        prepare_file(empty, out)
    assert not out.exists()


# -- 2. a prompt/completion row with both null -----------------------------------------


def test_prepare_says_why_a_null_row_is_dropped(tmp_path: Path) -> None:
    rows: list[Any] = [prompt_completion(i) for i in range(3)]
    rows.insert(1, {"prompt": None, "completion": None})
    result = prepare_file(write_jsonl(tmp_path / "pc.jsonl", rows), tmp_path / "out.jsonl")
    assert result.examples_read == 4 and result.examples_written == 3
    assert any("prompt and completion are null" in c and "(line 2)" in c for c in result.changes)


# -- 3. empty / unnamed table columns --------------------------------------------------


def test_csv_trailing_empty_columns_add_no_keys(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["messages", "", ""])  # Excel keeps stray empty columns like this
        for ex in valid_chat(12):
            w.writerow([json.dumps(ex["messages"]), "", ""])
    assert [v for _l, v, f in iter_records(path) if f is None] == valid_chat(12)
    assert "example_unrecognized_key" not in codes(lint_path(path))
    out = tmp_path / "out.jsonl"
    prepare_file(path, out)
    assert read_jsonl(out) == valid_chat(12)


def test_csv_unnamed_column_with_data_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("prompt,completion,\nQ ->, A END,note\nR ->, B END,\n", encoding="utf-8")
    got = [v for _l, v, f in iter_records(path) if f is None]
    assert got == [
        {"prompt": "Q ->", "completion": " A END", "Unnamed: 2": "note"},
        {"prompt": "R ->", "completion": " B END"},
    ]


def test_xlsx_empty_header_cells_add_no_keys(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["messages"])
    ws.cell(1, 3).number_format = "0.00"  # a formatted, empty cell: the sheet is 3 wide
    for ex in valid_chat(12):
        ws.append([json.dumps(ex["messages"])])
    path = tmp_path / "d.xlsx"
    wb.save(path)
    assert [v for _l, v, f in iter_records(path) if f is None] == valid_chat(12)
    assert "example_unrecognized_key" not in codes(lint_path(path))


def test_an_empty_key_name_is_shown(tmp_path: Path) -> None:
    rows = [*valid_chat(12), {**valid_chat(1, start=50)[0], "": 1}]
    report = lint_path(write_jsonl(tmp_path / "d.jsonl", rows))
    (finding,) = [f for f in report.findings if f.code == "example_unrecognized_key"]
    assert "()" not in finding.message and "('')" in finding.message


# -- 4. blank rows above an XLSX header ------------------------------------------------


def test_xlsx_blank_rows_above_the_header(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.cell(1, 1).number_format = "0.00"  # rows 1-2 exist but are empty
    ws.cell(3, 1, "messages")
    for row, ex in enumerate(valid_chat(12), start=4):
        ws.cell(row, 1, json.dumps(ex["messages"]))
    ws.cell(16, 1, "[not json")
    path = tmp_path / "d.xlsx"
    wb.save(path)
    got = [(line, v) for line, v, f in iter_records(path) if f is None]
    assert [v for _l, v in got] == valid_chat(12)
    assert [line for line, _v in got] == list(range(4, 16))  # the sheet's row numbers
    report = lint_path(path)
    assert report.examples == 12
    assert [f.line for f in report.findings if f.code == "invalid_json"] == [16]


# -- 5. UTF-16 files -------------------------------------------------------------------


@pytest.mark.parametrize(
    "bom,codec", [(b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")], ids=["le", "be"]
)
@pytest.mark.parametrize("name", ["d.jsonl", "d.json", "d.csv", "d.txt"])
def test_utf16_file_is_one_clear_finding(tmp_path: Path, bom: bytes, codec: str, name: str) -> None:
    if name.endswith(".csv"):
        text = "prompt,completion\n" + "".join(f"Q{i} ->, A{i} END\n" for i in range(12))
    else:
        text = "".join(json.dumps(ex) + "\n" for ex in valid_chat(12))
    path = tmp_path / name
    path.write_bytes(bom + text.encode(codec))
    report = lint_path(path)
    enc = [f for f in report.findings if f.code == "invalid_encoding"]
    assert len(enc) == 1 and enc[0].line == 1 and "UTF-16" in enc[0].message
    assert report.finding_counts["invalid_encoding"] == 1
    assert "invalid_json" not in report.finding_counts
    with pytest.raises(PrepareError, match="UTF-16"):
        prepare_file(path, tmp_path / "out.jsonl")


# -- 6. a BOM on JSONL saved as .json --------------------------------------------------


def test_bom_on_jsonl_saved_as_json_is_reported_once(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_bytes(
        b"\xef\xbb\xbf" + "".join(json.dumps(ex) + "\n" for ex in valid_chat(12)).encode()
    )
    report = lint_path(path)
    assert report.examples == 12 and report.finding_counts["bom"] == 1
    assert [f.code for _l, _v, f in iter_records(path) if f is not None].count("bom") == 1
