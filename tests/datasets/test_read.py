"""Reading: JSONL oddities, JSON arrays, tables, XLSX, TXT; unreadable files raise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fttui.datasets import lint_path
from fttui.datasets.detect import chat_features, detect_format
from fttui.datasets.read import DatasetReadError, iter_records
from support.datasets import chat, prompt_completion, valid_chat, write_jsonl


def records(path: Path) -> list[tuple]:
    return list(iter_records(path))


def test_jsonl_oddities_are_findings_with_real_lines(tmp_path: Path) -> None:
    path = tmp_path / "odd.jsonl"
    path.write_bytes(
        b'\xef\xbb\xbf{"a": 1}\r\n'  # 1: BOM + CRLF
        b"\n"  # 2: blank
        b'{"b": 2}\n'  # 3
        b'{"c": "\xff"}\n'  # 4: invalid UTF-8
        b"{oops\n"  # 5: invalid JSON
        b'{"d": 4}'  # 6: no final newline
    )
    got = records(path)
    values = {line: value for line, value, f in got if f is None}
    codes = {(f.code, line) for line, _v, f in got if f is not None}
    assert values == {1: {"a": 1}, 3: {"b": 2}, 6: {"d": 4}}
    assert codes == {
        ("bom", 1),
        ("crlf_line_endings", 1),
        ("blank_line", 2),
        ("invalid_encoding", 4),
        ("invalid_json", 5),
        ("missing_final_newline", 6),
    }
    enc = next(f for _l, _v, f in got if f is not None and f.code == "invalid_encoding")
    assert enc.column == 8


def test_twenty_megabyte_line_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    big = chat(1)
    big["messages"][1]["content"] = "lorem ipsum\n" * (20 * 1024 * 1024 // 12)
    write_jsonl(path, [*valid_chat(11, start=10), big])
    report = lint_path(path)
    assert report.examples == 12
    (f,) = [f for f in report.findings if f.code == "line_too_long"]
    assert f.line == 12 and f.message.endswith("MB long")
    assert report.stats["total_tokens"]["max"] > 3_000_000


def test_json_array_with_element_lines(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text(json.dumps(valid_chat(3), indent=2))
    got = records(path)
    assert [v for _l, v, _f in got] == valid_chat(3)
    lines = [line for line, _v, _f in got]
    text = path.read_text().splitlines()
    assert all(text[n - 1].strip() == "{" for n in lines)
    assert lines[0] == 2


def test_json_file_holding_jsonl_is_read_as_jsonl(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "data.json", valid_chat(3))
    assert [line for line, _v, _f in records(path)] == [1, 2, 3]


def test_csv_with_a_messages_column_and_case_insensitive_headers(tmp_path: Path) -> None:
    import csv

    path = tmp_path / "chat.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["Messages", "note"])
        for ex in valid_chat(2):
            w.writerow([json.dumps(ex["messages"]), "n"])
        w.writerow(["[not json", "n"])
    got = [(line, v, f) for line, v, f in records(path) if not (f and f.code == "needs_conversion")]
    assert got[0][1] == {"messages": valid_chat(1)[0]["messages"], "note": "n"}
    assert got[0][0] == 2
    assert got[2][2] is not None and got[2][2].code == "invalid_json" and got[2][0] == 4


def test_tsv_and_txt(tmp_path: Path) -> None:
    tsv = tmp_path / "d.tsv"
    tsv.write_text("prompt\tcompletion\nA ->\t B END\n")
    assert [v for _l, v, f in records(tsv) if f is None] == [
        {"prompt": "A ->", "completion": " B END"}
    ]
    txt = tmp_path / "d.txt"
    txt.write_text("one\n\ntwo\n")
    assert [v["completion"] for _l, v, f in records(txt) if f is None] == ["one", "two"]


def test_xlsx_first_sheet_and_warning(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Prompt", "Completion"])
    ws.append(["2+2 ->", " 4 END"])
    ws.append([3, 4.0])
    wb.create_sheet("other").append(["x"])
    path = tmp_path / "d.xlsx"
    wb.save(path)
    got = records(path)
    assert [v for _l, v, f in got if f is None] == [
        {"prompt": "2+2 ->", "completion": " 4 END"},
        {"prompt": "3", "completion": "4"},
    ]
    assert "multiple_sheets" in {f.code for _l, _v, f in got if f is not None}


@pytest.mark.parametrize("kind", ["missing", "folder"])
def test_unreadable_file_raises_dataset_read_error(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "nope.jsonl" if kind == "missing" else tmp_path
    with pytest.raises(DatasetReadError) as exc:
        lint_path(path)
    assert isinstance(exc.value, OSError)
    with pytest.raises(DatasetReadError):
        list(iter_records(path))


def test_corrupt_xlsx_is_a_finding(tmp_path: Path) -> None:
    path = tmp_path / "bad.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    report = lint_path(path)
    assert "invalid_table" in report.finding_counts and report.has_errors


def test_detect_format() -> None:
    assert detect_format(chat(1)) == "chat"
    assert (
        detect_format({"input": {}, "preferred_output": [], "non_preferred_output": []})
        == "preference"
    )
    assert detect_format({"input": {}, "preferred_completion": []}) == "preference"
    assert detect_format(prompt_completion(1)) == "prompt_completion"
    assert detect_format({"text": "x"}) == "unknown"
    assert detect_format([1]) == "unknown"
    vision = {
        "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x"}}]}
        ]
    }
    assert chat_features(vision) == {"vision"}
    assert chat_features({"messages": [], "tools": [{}]}) == {"tools"}


def test_progress_and_stop(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", valid_chat(30))
    seen: list[tuple[int, int]] = []
    report = lint_path(path, progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (path.stat().st_size, path.stat().st_size)
    assert not report.stopped
    stopped = lint_path(path, should_stop=lambda: True)
    assert stopped.stopped and stopped.examples == 0
    assert stopped.to_dict()["stopped"] is True


def test_broken_json_array_names_the_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text('[\n  {"messages": []},\n  {"messages": [}\n]\n')
    report = lint_path(path)
    (f,) = [f for f in report.findings if f.code == "invalid_json"]
    assert (f.line, f.column) == (3, 17)
    assert f.message.startswith("line 3: invalid JSON at column 17: ")
