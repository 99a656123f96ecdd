"""`prepare_file`: the superhero round trip, splits, conversions, atomic writes."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from fttui.datasets import lint_path
from fttui.datasets.prepare import PrepareError, prepare_file
from fttui.datasets.read import iter_records
from support.datasets import chat, preference, valid_chat, write_jsonl

FIXTURES = Path(__file__).parent.parent / "fixtures"


def read_jsonl(path: str | Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


def test_superhero_csv_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    result = prepare_file(FIXTURES / "superhero.csv", out)
    assert result.separator == " ->" and result.stop == " END"
    assert result.outputs == [str(out)] and result.examples_written == 30
    rows = read_jsonl(out)
    assert len(rows) == 30
    for row in rows:
        assert set(row) == {"prompt", "completion"}
        assert row["prompt"].endswith(" ->") and row["prompt"].count(" ->") == 1
        assert row["completion"].startswith(" ") and row["completion"].endswith(" END")
    # the source content survives: strip what prepare added and compare
    source = [v for _l, v, f in iter_records(FIXTURES / "superhero.csv") if f is None]
    assert [
        {"prompt": r["prompt"][:-3], "completion": r["completion"][1:-4]} for r in rows
    ] == source
    # the result lints clean of every legacy finding for a prompt/completion model
    report = lint_path(out, model="babbage-002")
    assert [f.code for f in report.findings] == ["few_examples"]
    # and preparing it again changes nothing
    again = prepare_file(out, tmp_path / "again.jsonl")
    assert read_jsonl(tmp_path / "again.jsonl") == rows
    assert again.stop == " END" and again.separator == " ->"
    assert all(c.startswith("every ") for c in again.changes)


def test_dropped_duplicates_and_empty_completions(tmp_path: Path) -> None:
    src = tmp_path / "pc.jsonl"
    rows = [{"prompt": f"Q{i}", "completion": f"A{i}"} for i in range(12)]
    rows += [{"prompt": "Q1", "completion": "A1"}, {"prompt": "Q99", "completion": "  "}]
    write_jsonl(src, rows)
    result = prepare_file(src, tmp_path / "out.jsonl")
    assert result.examples_written == 12
    text = "\n".join(result.changes)
    assert "dropped 1 duplicate example(s) (line 13)" in text
    assert "dropped 1 example(s) with an empty completion (line 14)" in text


def test_split_is_seeded_and_complete(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "chat.jsonl", valid_chat(50))
    a = prepare_file(src, tmp_path / "a.jsonl", split=0.2, seed=7)
    b = prepare_file(src, tmp_path / "b.jsonl", split=0.2, seed=7)
    c = prepare_file(src, tmp_path / "c.jsonl", split=0.2, seed=8)
    assert a.outputs == [str(tmp_path / "a_train.jsonl"), str(tmp_path / "a_valid.jsonl")]
    train, valid = (read_jsonl(p) for p in a.outputs)
    assert len(train) == 40 and len(valid) == 10 and a.validation_examples == 10
    assert sorted(map(json.dumps, train + valid)) == sorted(map(json.dumps, valid_chat(50)))
    assert valid == read_jsonl(b.outputs[1])
    assert valid != read_jsonl(c.outputs[1])


def test_a_split_pair_is_written_whole_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second file of a --split pair failing to land (a disk error, injected) puts the
    first back: never a new train file beside last run's validation file, and no temp or
    kept-aside file is left behind."""
    src = write_jsonl(tmp_path / "chat.jsonl", valid_chat(50))
    first = prepare_file(src, tmp_path / "a.jsonl", split=0.2, seed=7)
    before = {p: Path(p).read_bytes() for p in first.outputs}
    real_replace = os.replace

    def failing_replace(a, b):
        if str(b).endswith("_valid.jsonl"):
            raise OSError(5, "Input/output error (injected)")
        return real_replace(a, b)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="injected"):
        prepare_file(src, tmp_path / "a.jsonl", split=0.2, seed=8)  # another split
    monkeypatch.undo()
    assert {p: Path(p).read_bytes() for p in first.outputs} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a_train.jsonl",
        "a_valid.jsonl",
        "chat.jsonl",
    ]
    # a first run that fails the same way leaves nothing at all
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="injected"):
        prepare_file(src, fresh / "b.jsonl", split=0.2)
    monkeypatch.undo()
    assert list(fresh.iterdir()) == []


def test_to_chat(tmp_path: Path) -> None:
    result = prepare_file(FIXTURES / "superhero.csv", tmp_path / "chat.jsonl", to_chat=True)
    rows = read_jsonl(tmp_path / "chat.jsonl")
    assert result.format == "chat" and result.stop is None
    assert rows[0]["messages"][0]["role"] == "user"
    assert rows[0]["messages"][1]["content"].startswith("Iron Lad is")
    report = lint_path(tmp_path / "chat.jsonl")
    assert not report.has_errors


def test_preference_old_names_are_renamed(tmp_path: Path) -> None:
    old = []
    for i in range(3):
        p = preference(i)
        old.append(
            {
                "input": p["input"],
                "preferred_completion": p["preferred_output"],
                "non_preferred_completion": p["non_preferred_output"],
            }
        )
    result = prepare_file(write_jsonl(tmp_path / "p.jsonl", old), tmp_path / "out.jsonl")
    assert read_jsonl(tmp_path / "out.jsonl") == [preference(i) for i in range(3)]
    assert any("renamed" in c for c in result.changes)


def test_xlsx_and_json_inputs(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["messages"])
    for ex in valid_chat(3):
        ws.append([json.dumps(ex["messages"])])
    wb.save(tmp_path / "c.xlsx")
    prepare_file(tmp_path / "c.xlsx", tmp_path / "x.jsonl")
    assert read_jsonl(tmp_path / "x.jsonl") == valid_chat(3)
    (tmp_path / "c.json").write_text(json.dumps(valid_chat(3)))
    prepare_file(tmp_path / "c.json", tmp_path / "j.jsonl")
    assert read_jsonl(tmp_path / "j.jsonl") == valid_chat(3)


def test_broken_lines_are_skipped_and_reported(tmp_path: Path) -> None:
    src = tmp_path / "d.jsonl"
    src.write_bytes(
        b"\xef\xbb\xbf"
        + json.dumps(chat(1)).encode()
        + b"\r\n{bad\r\n[1]\r\n"
        + json.dumps(chat(2)).encode()
    )
    result = prepare_file(src, tmp_path / "out.jsonl")
    assert read_jsonl(tmp_path / "out.jsonl") == [chat(1), chat(2)]
    text = "\n".join(result.changes)
    assert "removed the UTF-8 byte-order mark" in text
    assert "invalid_json (line 2)" in text
    assert "not a JSON object (line 3)" in text
    assert (tmp_path / "out.jsonl").read_bytes().endswith(b"\n")
    assert b"\r" not in (tmp_path / "out.jsonl").read_bytes()


def test_refuses_to_overwrite_its_input(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "d.jsonl", valid_chat(3))
    before = src.read_bytes()
    with pytest.raises(PrepareError, match="overwrite"):
        prepare_file(src, src)
    os.symlink(src, tmp_path / "link.jsonl")
    with pytest.raises(PrepareError, match="overwrite"):
        prepare_file(src, tmp_path / "link.jsonl")
    assert src.read_bytes() == before


@pytest.mark.parametrize(("split", "target"), [(None, "out.jsonl"), (0.5, "out_train.jsonl")])
def test_a_failed_write_leaves_nothing_behind(
    split: float | None, target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = write_jsonl(tmp_path / "d.jsonl", valid_chat(20))
    previous = tmp_path / target  # an earlier output that the failed run must not clobber
    previous.write_text("previous content\n")
    import fttui.datasets.prepare as prep

    def boom(*_a, **_k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(prep.os, "fsync", boom)
    with pytest.raises(OSError):
        prepare_file(src, tmp_path / "out.jsonl", split=split)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["d.jsonl", target])
    assert previous.read_text() == "previous content\n"


def test_a_failure_while_writing_examples_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = write_jsonl(tmp_path / "d.jsonl", valid_chat(20))
    import fttui.datasets.prepare as prep

    real = prep._Normalizer.normalize
    calls = {"n": 0}

    def fail_in_pass_two(self, line, value, *, count):
        if not count:
            calls["n"] += 1
            if calls["n"] == 10:  # half-way through writing
                raise KeyboardInterrupt
        return real(self, line, value, count=count)

    monkeypatch.setattr(prep._Normalizer, "normalize", fail_in_pass_two)
    with pytest.raises(KeyboardInterrupt):
        prepare_file(src, tmp_path / "out.jsonl")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.jsonl"]


def test_outputs_get_a_normal_file_mode(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "d.jsonl", valid_chat(4))
    umask = os.umask(0o022)
    os.umask(umask)
    prepare_file(src, tmp_path / "out.jsonl", split=0.5)
    for name in ("out_train.jsonl", "out_valid.jsonl"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask
    (tmp_path / "out_train.jsonl").chmod(0o640)  # a file it replaces keeps its mode
    prepare_file(src, tmp_path / "out.jsonl", split=0.5)
    assert stat.S_IMODE((tmp_path / "out_train.jsonl").stat().st_mode) == 0o640


def test_split_needs_two_examples(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "d.jsonl", valid_chat(1))
    with pytest.raises(PrepareError, match="at least 2 examples"):
        prepare_file(src, tmp_path / "out.jsonl", split=0.2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.jsonl"]


def test_nothing_to_write(tmp_path: Path) -> None:
    src = tmp_path / "empty.jsonl"
    src.write_text("\n")
    with pytest.raises(PrepareError, match="no examples"):
        prepare_file(src, tmp_path / "out.jsonl")
    assert not (tmp_path / "out.jsonl").exists()


NAMES = ("Ann", "Bob", "Cy", "Dee", "Eve")


def hero_rows(n: int = 40) -> list[dict[str, str]]:
    """Superhero-style descriptions of several sentences, each ending in '.'."""
    return [
        {
            "prompt": f"Superhero: Hero {i}\nPowers: power {i}",
            "completion": f"Hero {i} can fly. Hero {i} is strong. Everyone loves hero {i}.",
        }
        for i in range(n)
    ]


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    import csv

    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["prompt", "completion"])
        w.writeheader()
        w.writerows(rows)
    return path


def test_prepare_appends_END_when_dot_occurs_inside(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "heroes.csv", hero_rows())
    result = prepare_file(src, tmp_path / "out.jsonl")
    assert result.stop == " END"
    assert "'.' also occurs inside 40 completions, so ' END' was appended" in "\n".join(
        result.changes
    )
    for row in read_jsonl(tmp_path / "out.jsonl"):
        assert row["completion"].endswith(". END") and row["completion"].count(" END") == 1


def test_prepare_content_ending_is_not_a_stop(tmp_path: Path) -> None:
    rows = [
        {
            "prompt": f"Hero {i} ->",
            "completion": f" The city waits for the day {NAMES[i % 5]}{i} arrives.",
        }
        for i in range(40)
    ]
    src = write_csv(tmp_path / "arrives.csv", rows)
    result = prepare_file(src, tmp_path / "out.jsonl")
    assert result.stop == " END" and result.separator == " ->"
    assert "the common ending ' arrives.' is text, not a stop sequence" in "\n".join(result.changes)
    report = lint_path(src, model="babbage-002")
    assert "no_common_stop_sequence" in [f.code for f in report.findings]


def test_prepare_keeps_a_marker_ending_found_nowhere_else(tmp_path: Path) -> None:
    rows = [{"prompt": f"Q {i} ->", "completion": f" A. B {i}.\n"} for i in range(12)]
    write_jsonl(tmp_path / "in.jsonl", rows)
    result = prepare_file(tmp_path / "in.jsonl", tmp_path / "out.jsonl")
    assert result.stop == ".\n" and result.separator == " ->"


def test_prepare_appends_separator_when_it_repeats_inside_prompts(tmp_path: Path) -> None:
    rows = [{"prompt": f"a -> b {i} ->", "completion": f" c {i} END"} for i in range(12)]
    write_jsonl(tmp_path / "in.jsonl", rows)
    result = prepare_file(tmp_path / "in.jsonl", tmp_path / "out.jsonl")
    assert result.separator != " ->" and result.stop == " END"
    assert "' ->' also occurs inside 12 prompts, so" in "\n".join(result.changes)
    assert "separator_repeated" in [f.code for f in lint_path(tmp_path / "in.jsonl").findings]


def test_lint_reports_stop_sequence_repeated_for_inner_dots(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "heroes.csv", hero_rows())
    codes = [f.code for f in lint_path(src, model="davinci-002").findings]
    assert "stop_sequence_repeated" in codes
