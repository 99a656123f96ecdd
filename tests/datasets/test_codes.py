"""Every finding code fires on data made to trigger it, and valid data is quiet."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fttui.datasets import lint_path
from fttui.datasets import read as read_mod
from fttui.datasets.findings import CHECKS
from support.datasets import SYSTEM, chat, preference, prompt_completion, valid_chat, write_jsonl

PNG_1x1 = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
GIF = "data:image/gif;base64," + base64.b64encode(b"GIF89a\x01\x00\x01\x00").decode()


def msgs(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"messages": list(messages), **extra}


U = {"role": "user", "content": "Hi"}
A = {"role": "assistant", "content": "Hello"}
CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
}
TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}


def padded(bad: list[Any], n: int = 12) -> list[Any]:
    """``n`` valid chat examples, then the bad rows (so count-based codes stay quiet)."""
    return [*valid_chat(n), *bad]


Case = Callable[[Path, pytest.MonkeyPatch], tuple[Path, dict[str, Any]]]


def jsonl_case(rows: list[Any], **kwargs: Any) -> Case:
    def make(tmp: Path, _mp: pytest.MonkeyPatch) -> tuple[Path, dict[str, Any]]:
        return write_jsonl(tmp / "data.jsonl", rows), kwargs

    return make


def bytes_case(data: bytes, name: str = "data.jsonl", **kwargs: Any) -> Case:
    def make(tmp: Path, _mp: pytest.MonkeyPatch) -> tuple[Path, dict[str, Any]]:
        path = tmp / name
        path.write_bytes(data)
        return path, kwargs

    return make


def valid_bytes(n: int = 12) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in valid_chat(n))


def case_file_too_large(tmp: Path, mp: pytest.MonkeyPatch) -> tuple[Path, dict[str, Any]]:
    mp.setattr(read_mod, "MAX_FILE_BYTES", 100)
    return write_jsonl(tmp / "big.jsonl", valid_chat(12)), {}


def case_line_too_long(tmp: Path, mp: pytest.MonkeyPatch) -> tuple[Path, dict[str, Any]]:
    mp.setattr(read_mod, "LONG_LINE_BYTES", 300)  # valid lines are ~170 bytes, this one ~380
    long = chat(99)
    long["messages"][1]["content"] = "word " * 60
    return write_jsonl(tmp / "long.jsonl", padded([long])), {}


def case_line_too_large(tmp: Path, mp: pytest.MonkeyPatch) -> tuple[Path, dict[str, Any]]:
    mp.setattr(read_mod, "MAX_LINE_BYTES", 3 * 1024 * 1024)
    mp.setattr(read_mod, "LONG_LINE_BYTES", 1024 * 1024)
    path = tmp / "huge.jsonl"
    huge = json.dumps(msgs(U, {"role": "assistant", "content": "x" * (4 * 1024 * 1024)}))
    write_jsonl(path, [*valid_chat(12), huge])
    return path, {}


def case_multiple_sheets(tmp: Path, _mp: pytest.MonkeyPatch) -> tuple[Path, dict[str, Any]]:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["prompt", "completion"])
    for i in range(12):
        ws.append([f"Double {i} ->", f" {2 * i} END"])
    wb.create_sheet("notes").append(["ignored"])
    path = tmp / "data.xlsx"
    wb.save(path)
    return path, {"model": "babbage-002"}


def case_validation_overlap(tmp: Path, _mp: pytest.MonkeyPatch) -> tuple[Path, dict[str, Any]]:
    train = write_jsonl(tmp / "train.jsonl", valid_chat(12))
    val = write_jsonl(tmp / "valid.jsonl", [*valid_chat(11, start=100), chat(3)])
    return train, {"validation": val}


def case_too_long(tmp: Path, _mp: pytest.MonkeyPatch) -> tuple[Path, dict[str, Any]]:
    long = msgs(SYSTEM, {"role": "user", "content": "tell me a story " * 700}, A)
    return write_jsonl(tmp / "data.jsonl", padded([long])), {"model": "babbage-002"}


def pc_rows(rows: list[dict[str, Any]], n: int = 12) -> list[dict[str, Any]]:
    return [*(prompt_completion(i) for i in range(n)), *rows]


#: an RFT grader that compares the answer with each example's `reference_answer`
GRADER = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "{{item.reference_answer}}",
    "operation": "eq",
}
DEV = {"role": "developer", "content": "Answer with the city only."}


def rft_rows(rows: list[dict[str, Any]], n: int = 12) -> list[dict[str, Any]]:
    valid = [
        msgs(DEV, {"role": "user", "content": f"Capital of country {i}?"}, reference_answer="Paris")
        for i in range(n)
    ]
    return [*valid, *rows]


CASES: dict[str, Case] = {
    "file_too_large": case_file_too_large,
    "bom": bytes_case(b"\xef\xbb\xbf" + valid_bytes()),
    "crlf_line_endings": bytes_case(valid_bytes().replace(b"\n", b"\r\n")),
    "blank_line": bytes_case(valid_bytes(6) + b"\n" + valid_bytes(12)[len(valid_bytes(6)) :]),
    "missing_final_newline": bytes_case(valid_bytes().rstrip(b"\n")),
    "invalid_encoding": bytes_case(valid_bytes() + b'{"messages": "\xff\xfe"}\n'),
    "invalid_json": jsonl_case(padded(['{"messages": [}'])),
    "invalid_table": bytes_case(b'prompt,completion\n"unterminated,quote\n', name="data.csv"),
    "line_too_long": case_line_too_long,
    "line_too_large": case_line_too_large,
    "multiple_sheets": case_multiple_sheets,
    "needs_conversion": bytes_case(
        b"prompt,completion\n"
        + b"".join(f"Double {i} ->, {2 * i} END\n".encode() for i in range(12)),
        name="data.csv",
    ),
    "empty_file": bytes_case(b""),
    "data_type": jsonl_case(padded([[1, 2, 3]])),
    "missing_messages_list": jsonl_case(padded([{"messages": []}])),
    "message_missing_key": jsonl_case(padded([msgs({"content": "no role"}, A)])),
    "message_unrecognized_key": jsonl_case(padded([msgs({**U, "mood": "happy"}, A)])),
    "unrecognized_role": jsonl_case(padded([msgs({"role": "developer", "content": "x"}, U, A)])),
    "missing_content": jsonl_case(padded([msgs({"role": "user", "content": "  "}, A)])),
    "example_missing_assistant_message": jsonl_case(padded([msgs(SYSTEM, U)])),
    "missing_user_message": jsonl_case(padded([msgs(SYSTEM, A)])),
    "missing_system_message": jsonl_case(padded([msgs(U, A)])),
    "example_unrecognized_key": jsonl_case(padded([msgs(SYSTEM, U, A, metadata={"a": 1})])),
    "weight_invalid": jsonl_case(padded([msgs(SYSTEM, U, {**A, "weight": 2})])),
    "tool_call_invalid": jsonl_case(
        padded([msgs(SYSTEM, U, {"role": "assistant", "tool_calls": [{**CALL, "id": ""}]})])
    ),
    "tools_invalid": jsonl_case(padded([msgs(SYSTEM, U, A, tools=[{"type": "retrieval"}])])),
    "functions_deprecated": jsonl_case(
        padded(
            [
                msgs(
                    SYSTEM,
                    U,
                    {"role": "assistant", "function_call": {"name": "f", "arguments": "{}"}},
                    functions=[{"name": "f"}],
                )
            ]
        )
    ),
    "image_invalid": jsonl_case(
        padded(
            [
                msgs(
                    SYSTEM,
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": GIF}}]},
                    A,
                )
            ]
        )
    ),
    "preference_invalid": jsonl_case(
        [*(preference(i) for i in range(12)), {**preference(99), "preferred_output": []}]
    ),
    "preference_old_field_names": jsonl_case(
        [
            *(preference(i) for i in range(12)),
            {
                "input": preference(50)["input"],
                "preferred_completion": preference(50)["preferred_output"],
                "non_preferred_completion": preference(50)["non_preferred_output"],
            },
        ]
    ),
    "prompt_completion_invalid": jsonl_case(
        pc_rows([{"prompt": "Double 7 ->", "completion": 14}]), model="babbage-002"
    ),
    "extra_columns": jsonl_case(
        pc_rows([{**prompt_completion(70), "id": 70}]), model="babbage-002"
    ),
    "mixed_formats": jsonl_case(padded([prompt_completion(1)])),
    "model_format_mismatch": jsonl_case(valid_chat(12), model="babbage-002"),
    "duplicate_example": jsonl_case(padded([chat(2)])),
    "example_too_long": case_too_long,
    "special_token_in_content": jsonl_case(
        padded([msgs(SYSTEM, U, {"role": "assistant", "content": "end <|endoftext|>"})])
    ),
    "too_few_examples": jsonl_case(valid_chat(3)),
    "few_examples": jsonl_case(valid_chat(20)),
    "validation_overlap": case_validation_overlap,
    "empty_completion": jsonl_case(
        pc_rows([{"prompt": "Double 8 ->", "completion": ""}]), model="babbage-002"
    ),
    "no_common_separator": jsonl_case(
        [{"prompt": f"Double {i}", "completion": f" {2 * i} END"} for i in range(12)],
        model="babbage-002",
    ),
    "separator_repeated": jsonl_case(
        pc_rows([{"prompt": "a -> b ->", "completion": " c END"}]), model="babbage-002"
    ),
    "completion_no_leading_space": jsonl_case(
        pc_rows([{"prompt": "Double 9 ->", "completion": "18 END"}]), model="babbage-002"
    ),
    "no_common_stop_sequence": jsonl_case(
        [{"prompt": f"Double {i} ->", "completion": f" {2 * i}"} for i in range(12)],
        model="babbage-002",
    ),
    "stop_sequence_repeated": jsonl_case(
        pc_rows([{"prompt": "Say END ->", "completion": " END is a word END"}]), model="babbage-002"
    ),
    "common_prefix": jsonl_case(
        [
            {"prompt": f"Translate into French please: word {i} ->", "completion": f" mot {i} END"}
            for i in range(12)
        ],
        model="babbage-002",
    ),
    "uppercase_text": jsonl_case(
        [{"prompt": f"DOUBLE {i} ->", "completion": f" {2 * i} DONE END"} for i in range(12)],
        model="babbage-002",
    ),
    "method_format_mismatch": jsonl_case(valid_chat(12), method="dpo"),
    "rft_example_invalid": jsonl_case(
        rft_rows([{"prompt": "Capital of France?", "completion": " Paris"}]),
        method="reinforcement",
    ),
    "rft_last_message_not_user": jsonl_case(
        rft_rows([msgs(U, A, reference_answer="Hello")]), method="reinforcement"
    ),
    "rft_grader_field_missing": jsonl_case(
        rft_rows([msgs(U)]), method="reinforcement", grader=GRADER
    ),
    "rft_data_suspected": jsonl_case(rft_rows([])),
    "long_example": jsonl_case(
        pc_rows([{"prompt": "x " * 6000 + "->", "completion": " y END"}]), model="babbage-002"
    ),
}


#: The line each case's first finding must name: the bad example's real 1-based line (13
#: after the 12 valid rows that ``padded`` / ``pc_rows`` put first), or None for findings
#: about the whole file.
FILE_LEVEL = {
    "common_prefix",
    "empty_file",
    "few_examples",
    "file_too_large",
    "method_format_mismatch",
    "rft_data_suspected",
    "model_format_mismatch",
    "multiple_sheets",
    "needs_conversion",
    "no_common_separator",
    "no_common_stop_sequence",
    "too_few_examples",
    "uppercase_text",
}
LINES: dict[str, int | None] = {
    **{code: 13 for code in CASES},
    **{code: None for code in FILE_LEVEL},
    "bom": 1,
    "crlf_line_endings": 1,
    "blank_line": 7,  # six valid lines, then the blank one
    "missing_final_newline": 12,  # the last of 12 lines
    "invalid_table": 2,  # row 1 is the header; the broken quote opens row 2
    "validation_overlap": 12,  # the validation file's line 12 is the training file's line 4
}


NO_LINE_IN_MESSAGE = {"bom", "invalid_table"}


def test_every_code_has_a_case() -> None:
    assert set(CASES) == set(CHECKS)
    assert set(LINES) == set(CHECKS)


def _all_counts(report) -> dict[str, int]:
    counts = dict(report.finding_counts)
    if report.validation is not None:
        for code, n in report.validation.finding_counts.items():
            counts[code] = counts.get(code, 0) + n
    return counts


@pytest.mark.parametrize("code", sorted(CASES))
def test_code_fires(code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, kwargs = CASES[code](tmp_path, monkeypatch)
    report = lint_path(path, **kwargs)
    counts = _all_counts(report)
    assert code in counts, f"{code} did not fire; got {counts}"
    found = [
        f
        for f in report.findings + (report.validation.findings if report.validation else [])
        if f.code == code
    ]
    assert found, code
    f = found[0]
    assert f.severity == CHECKS[code].severity
    assert f.message and f.hint
    assert f.line == LINES[code], f"{code}: line {f.line}, expected {LINES[code]}: {f.message}"
    # the message names the line too (a BOM is always on line 1; tables say "row")
    if f.line is not None and code not in NO_LINE_IN_MESSAGE:
        assert f"line {f.line}" in f.message, f.message
    assert report.has_errors == any(CHECKS[c].severity == "error" for c in counts)


def test_line_numbers_are_real_lines(tmp_path: Path) -> None:
    rows = [*valid_chat(5), "", msgs(SYSTEM, A), *valid_chat(6, start=10)]
    report = lint_path(write_jsonl(tmp_path / "d.jsonl", rows))
    by_code = {f.code: f for f in report.findings}
    assert by_code["blank_line"].line == 6
    assert by_code["missing_user_message"].line == 7


def test_invalid_json_has_a_column(tmp_path: Path) -> None:
    report = lint_path(write_jsonl(tmp_path / "d.jsonl", padded(['{"messages": [1, 2,]}'])))
    (f,) = [f for f in report.findings if f.code == "invalid_json"]
    assert f.line == 13 and f.column == 19  # the trailing comma
    assert "column 19" in f.message


def test_duplicate_names_the_first_line(tmp_path: Path) -> None:
    report = lint_path(write_jsonl(tmp_path / "d.jsonl", padded([chat(4), chat(4)])))
    dups = [f for f in report.findings if f.code == "duplicate_example"]
    assert [(f.line, "line 5" in f.message) for f in dups] == [(13, True), (14, True)]


# -- quiet on valid data -----------------------------------------------------------------


def rich_valid(n: int) -> list[dict[str, Any]]:
    """Valid chat examples of every kind: plain, tool calls, vision, weights, parts."""
    rows: list[dict[str, Any]] = []
    for i in range(n):
        kind = i % 5
        if kind == 0:
            rows.append(chat(i))
        elif kind == 1:
            call = {**CALL, "id": f"call_{i}"}
            rows.append(
                msgs(
                    SYSTEM,
                    {"role": "user", "content": f"Weather {i}?"},
                    {"role": "assistant", "content": None, "tool_calls": [call]},
                    {"role": "tool", "tool_call_id": f"call_{i}", "content": '{"temp": 20}'},
                    {"role": "assistant", "content": f"It is 20 degrees ({i})."},
                    tools=[TOOL],
                    parallel_tool_calls=False,
                )
            )
        elif kind == 2:
            rows.append(
                msgs(
                    SYSTEM,
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": f"What is in picture {i}?"},
                            {"type": "image_url", "image_url": {"url": PNG_1x1, "detail": "low"}},
                            {
                                "type": "image_url",
                                "image_url": {"url": "https://example.com/a.jpg"},
                            },
                        ],
                    },
                    A,
                )
            )
        elif kind == 3:
            rows.append(
                msgs(
                    SYSTEM,
                    {"role": "user", "content": f"Count to {i}", "name": "ada"},
                    {"role": "assistant", "content": "No.", "weight": 0},
                    {"role": "user", "content": "Please."},
                    {"role": "assistant", "content": f"1..{i}", "weight": 1},
                )
            )
        else:
            rows.append(
                msgs(
                    SYSTEM,
                    {"role": "user", "content": [{"type": "text", "text": f"Echo {i}"}]},
                    {"role": "assistant", "content": [{"type": "text", "text": f"{i}"}]},
                )
            )
    return rows


@pytest.mark.parametrize(
    ("name", "rows", "model"),
    [
        ("chat", rich_valid(60), "gpt-4o-mini-2024-07-18"),
        ("preference", [preference(i) for i in range(60)], "gpt-4o-2024-08-06"),
        ("prompt_completion", [prompt_completion(i) for i in range(60)], "babbage-002"),
    ],
)
def test_valid_data_is_quiet(name: str, rows: list[Any], model: str, tmp_path: Path) -> None:
    report = lint_path(write_jsonl(tmp_path / f"{name}.jsonl", rows), model=model)
    assert report.findings == [], [f.message for f in report.findings]
    assert report.format == name
    assert report.examples == 60
    assert not report.has_errors


def test_fixture_chat_valid_has_no_errors() -> None:
    fixture = Path(__file__).parent.parent / "fixtures" / "chat_valid.jsonl"
    report = lint_path(fixture)
    assert [f.code for f in report.findings] == ["few_examples"]
    assert report.stats["kinds"] == {"tools": 3, "vision": 2, "weight": 2}


def test_counts_stay_complete_beyond_the_cap(tmp_path: Path) -> None:
    rows = [*valid_chat(12), *[chat(1)] * 30]
    report = lint_path(write_jsonl(tmp_path / "d.jsonl", rows), max_findings=5)
    assert report.finding_counts["duplicate_example"] == 30
    assert len(report.findings) == 5
    assert report.findings_truncated == sum(report.finding_counts.values()) - 5
    val = write_jsonl(tmp_path / "v.jsonl", valid_chat(12))
    report = lint_path(
        write_jsonl(tmp_path / "t.jsonl", valid_chat(12)), validation=val, max_findings=3
    )
    assert report.validation.finding_counts["validation_overlap"] == 12
    assert len(report.validation.findings) == 3


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ({"role": "assistant", "tool_calls": [{**CALL, "id": ""}]}, "has no `id`"),
        (
            {
                "role": "assistant",
                "tool_calls": [
                    {**CALL, "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
                ],
            },
            "`arguments` is an object; it must be a JSON string",
        ),
        (
            {
                "role": "assistant",
                "tool_calls": [
                    {**CALL, "function": {"name": "get_weather", "arguments": "{city: Paris"}}
                ],
            },
            "`arguments` is not valid JSON",
        ),
        (
            {"role": "assistant", "tool_calls": [{**CALL, "function": {"arguments": "{}"}}]},
            "has no function `name`",
        ),
        (
            {"role": "assistant", "tool_calls": [{**CALL, "function": None}]},
            "has no `function` object",
        ),
    ],
)
def test_tool_call_invalid_covers_id_name_and_arguments(
    message: dict[str, Any], expected: str, tmp_path: Path
) -> None:
    rows = padded([msgs(SYSTEM, U, message, tools=[TOOL])])
    report = lint_path(write_jsonl(tmp_path / "d.jsonl", rows))
    found = [f for f in report.findings if f.code == "tool_call_invalid"]
    assert [f.line for f in found] == [13], [f.message for f in found]
    assert expected in found[0].message
    assert report.has_errors


def test_a_tool_reply_must_answer_a_call(tmp_path: Path) -> None:
    call = {"role": "assistant", "tool_calls": [CALL]}
    rows = padded(
        [
            msgs(SYSTEM, U, call, {"role": "tool", "content": "20"}, A),
            msgs(SYSTEM, U, call, {"role": "tool", "tool_call_id": "call_9", "content": "20"}, A),
        ]
    )
    report = lint_path(write_jsonl(tmp_path / "d.jsonl", rows))
    found = [(f.line, f.message) for f in report.findings if f.code == "tool_call_invalid"]
    assert [line for line, _ in found] == [13, 14]
    assert "needs a `tool_call_id`" in found[0][1]
    assert "'call_9' answers no earlier tool call" in found[1][1]


@pytest.mark.parametrize(
    ("n", "codes"),
    [
        (1, {"too_few_examples"}),
        (9, {"too_few_examples"}),
        (10, {"few_examples"}),
        (49, {"few_examples"}),
        (50, set()),
    ],
)
def test_example_count_thresholds(n: int, codes: set[str], tmp_path: Path) -> None:
    report = lint_path(write_jsonl(tmp_path / "d.jsonl", valid_chat(n)))
    assert {f.code for f in report.findings} == codes
    assert report.has_errors == (n < 10)


def test_errors_left_out_by_max_findings_still_count(tmp_path: Path) -> None:
    rows = padded([msgs(SYSTEM, U)])  # one error: example_missing_assistant_message
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    report = lint_path(path, max_findings=0)
    assert report.findings == []
    assert report.finding_counts == {"example_missing_assistant_message": 1, "few_examples": 1}
    assert report.has_errors
    val = write_jsonl(tmp_path / "v.jsonl", rows)
    report = lint_path(
        write_jsonl(tmp_path / "t.jsonl", valid_chat(60)), validation=val, max_findings=0
    )
    assert report.findings == [] and report.validation.findings == []
    assert report.has_errors


def test_preference_examples_are_text_only(tmp_path: Path) -> None:
    image = {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
        ],
    }
    bad = {**preference(99), "input": {"messages": [SYSTEM, image]}}
    rows = [*(preference(i) for i in range(12)), bad]
    report = lint_path(write_jsonl(tmp_path / "d.jsonl", rows))
    found = [f for f in report.findings if f.code == "preference_invalid"]
    assert [f.line for f in found] == [13] and "text only" in found[0].message


def test_too_many_image_examples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fttui.datasets import checks

    monkeypatch.setattr(checks, "MAX_IMAGE_EXAMPLES", 2)
    rows = rich_valid(15)  # every fifth example (kind 2) holds images: 3 of them
    report = lint_path(write_jsonl(tmp_path / "d.jsonl", rows))
    found = [f for f in report.findings if f.code == "image_invalid"]
    assert [(f.line, f.message) for f in found] == [
        (None, "3 examples hold images; a file may have at most 2")
    ]


# -- image colour modes: providers take RGB or RGBA only -------------------------------
def png_bytes(color_type: int, pixels: bytes = b"\x00\x80\x80\x80") -> bytes:
    """A whole 1×1 PNG (valid CRCs and IDAT) of the given IHDR colour type."""
    import struct
    import zlib

    depth = 8
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", 1, 1, depth, color_type, 0, 0, 0)
    extra = chunk(b"PLTE", b"\x80\x80\x80") if color_type == 3 else b""
    idat = zlib.compress(pixels[: 1 + channels])  # filter byte + one pixel
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + extra
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )


def jpeg_header(components: int, exif_bytes: int = 0) -> bytes:
    """SOI, an APP1 (EXIF-sized) segment, then a baseline frame header with ``components``."""
    app1 = b"\xff\xe1" + (exif_bytes + 2).to_bytes(2, "big") + b"\x00" * exif_bytes
    body = b"\x08" + (1).to_bytes(2, "big") + (1).to_bytes(2, "big") + bytes([components])
    body += b"".join(bytes([i + 1, 0x11, 0]) for i in range(components))
    sof = b"\xff\xc0" + (len(body) + 2).to_bytes(2, "big") + body
    return b"\xff\xd8" + app1 + sof + b"\xff\xd9"


def data_url(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def test_png_1x1_fixture_is_what_png_bytes_makes() -> None:
    """The hand-made PNGs below are real ones: the RGB one equals the well-known fixture."""
    from fttui.datasets.images import image_mode

    assert image_mode(base64.b64decode(PNG_1x1.split(",", 1)[1])) == "RGB"
    assert image_mode(png_bytes(2)) == "RGB" and image_mode(png_bytes(6)) == "RGBA"


@pytest.mark.parametrize(
    ("url", "mode"),
    [
        (data_url("image/png", png_bytes(0)), "PNG image is grayscale (mode L);"),
        (data_url("image/png", png_bytes(3)), "PNG image is palette-based (mode P);"),
        (data_url("image/png", png_bytes(4)), "PNG image is grayscale with alpha (mode LA);"),
        (data_url("image/jpeg", jpeg_header(1)), "JPEG image is grayscale (mode L);"),
        (data_url("image/jpeg", jpeg_header(4, exif_bytes=40_000)), "JPEG image is CMYK;"),
    ],
    ids=["png-L", "png-P", "png-LA", "jpeg-L", "jpeg-CMYK-after-exif"],
)
def test_an_image_not_in_rgb_mode_is_invalid(tmp_path: Path, url: str, mode: str) -> None:
    part = {"type": "image_url", "image_url": {"url": url}}
    rows = padded([msgs(SYSTEM, {"role": "user", "content": [part]}, A)])
    report = lint_path(write_jsonl(tmp_path / "d.jsonl", rows))
    found = [f for f in report.findings if f.code == "image_invalid"]
    assert [f.line for f in found] == [13]
    assert mode in found[0].message and "images must be RGB or RGBA" in found[0].message
    assert 'convert("RGB")' in found[0].hint


@pytest.mark.parametrize(
    "url",
    [
        data_url("image/png", png_bytes(2)),
        data_url("image/png", png_bytes(6)),
        data_url("image/jpeg", jpeg_header(3, exif_bytes=60_000)),  # the frame after EXIF
        data_url("image/jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF"),  # cut before its frame
    ],
    ids=["png-RGB", "png-RGBA", "jpeg-RGB-after-exif", "jpeg-cut-short"],
)
def test_rgb_images_and_headers_it_cannot_read_are_quiet(tmp_path: Path, url: str) -> None:
    part = {"type": "image_url", "image_url": {"url": url}}
    rows = padded([msgs(SYSTEM, {"role": "user", "content": [part]}, A)])
    report = lint_path(write_jsonl(tmp_path / "d.jsonl", rows))
    assert [f for f in report.findings if f.code == "image_invalid"] == []
