"""Items from a training-format file: the reference, what is sent, the data's stop."""

from __future__ import annotations

import json

from fttui.evals.items import detect_stop, iter_items


def write(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_chat_items_send_the_messages_before_the_last_assistant_answer(tmp_path):
    path = write(
        tmp_path / "c.jsonl",
        [
            {
                "messages": [
                    {"role": "system", "content": "S"},
                    {"role": "user", "content": "Q1"},
                    {"role": "assistant", "content": "A1", "weight": 0},
                    {"role": "user", "content": "Q2"},
                    {"role": "assistant", "content": "A2"},
                ]
            },
            {"messages": [{"role": "user", "content": "no answer"}]},
            "{not json",
            {"input": {"messages": []}, "preferred_output": [], "non_preferred_output": []},
        ],
    )
    items = list(iter_items(path))
    first = items[0]
    assert first.reference == "A2" and first.messages[-1] == {"role": "user", "content": "Q2"}
    assert {"role": "assistant", "content": "A1"} in first.messages  # weight dropped
    assert first.namespace()["prompt"] == "Q2"
    assert [(i.line, i.reference) for i in items[1:]] == [(2, None), (3, None), (4, None)]
    assert "no assistant message" in items[1].problem
    assert "preference" in items[3].problem


def test_completions_lose_the_stop_sequence_the_data_ends_with(tmp_path):
    path = write(
        tmp_path / "p.jsonl", [{"prompt": f"Q{i} ->", "completion": f" A{i} END"} for i in range(3)]
    )
    assert detect_stop(path) == " END"
    items = list(iter_items(path, stop=" END", limit=2))
    assert [(i.prompt, i.reference) for i in items] == [("Q0 ->", " A0"), ("Q1 ->", " A1")]


def test_no_common_stop_is_none(tmp_path):
    path = write(
        tmp_path / "p.jsonl",
        [{"prompt": "a", "completion": " x END"}, {"prompt": "b", "completion": " y"}],
    )
    assert detect_stop(path) is None
