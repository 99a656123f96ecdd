"""Property-based: lint never raises on arbitrary bytes or arbitrary JSON lines."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fttui.datasets import lint_path
from fttui.datasets.findings import CHECKS
from fttui.datasets.prepare import PrepareError, prepare_file

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _check(report) -> None:
    assert report.examples >= 0
    for f in report.findings:
        assert f.code in CHECKS and f.severity == CHECKS[f.code].severity
        assert f.line is None or f.line >= 1
    report.to_dict()  # serialisable


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
message = st.fixed_dictionaries(
    {},
    optional={
        "role": st.sampled_from(["system", "user", "assistant", "tool", "function", "x"])
        | json_values,
        "content": st.text(max_size=30) | json_values,
        "weight": st.sampled_from([0, 1, 2, 0.5, True, None]),
        "tool_calls": json_values,
        "tool_call_id": json_values,
        "name": json_values,
        "function_call": json_values,
    },
)
example = st.one_of(
    st.fixed_dictionaries(
        {"messages": st.lists(message, max_size=5)}, optional={"tools": json_values}
    ),
    st.fixed_dictionaries(
        {},
        optional={
            "input": json_values
            | st.fixed_dictionaries({"messages": st.lists(message, max_size=3)}),
            "preferred_output": st.lists(message, max_size=2),
            "non_preferred_completion": st.lists(message, max_size=2),
        },
    ),
    st.fixed_dictionaries({}, optional={"prompt": json_values, "completion": json_values}),
    json_values,
)


@SETTINGS
@given(
    data=st.binary(max_size=600),
    ext=st.sampled_from([".jsonl", ".json", ".csv", ".tsv", ".txt", ""]),
)
def test_lint_never_raises_on_arbitrary_bytes(data: bytes, ext: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"data{ext}"
        path.write_bytes(data)
        _check(lint_path(path))
        # prepare either writes a whole JSONL file or says why not (PrepareError); never a
        # traceback, never a temporary file left behind
        try:
            prepare_file(path, Path(tmp) / "out.jsonl")
        except PrepareError:
            assert sorted(p.name for p in Path(tmp).iterdir()) == [path.name]
        else:
            for line in (Path(tmp) / "out.jsonl").read_text(encoding="utf-8").split("\n")[:-1]:
                assert isinstance(json.loads(line), dict)
            assert sorted(p.name for p in Path(tmp).iterdir()) == sorted([path.name, "out.jsonl"])


@SETTINGS
@given(rows=st.lists(example, max_size=15))
def test_lint_never_raises_on_arbitrary_examples(rows: list) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        report = lint_path(path, model="babbage-002", validation=path)
        _check(report)
        try:
            result = prepare_file(path, Path(tmp) / "out.jsonl", split=0.3)
        except PrepareError:
            return
        for out in result.outputs:
            for line in Path(out).read_text().split("\n")[:-1]:
                assert isinstance(json.loads(line), dict)
