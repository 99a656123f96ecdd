"""Items from a training-format file: the reference, what is sent, the data's stop."""

from __future__ import annotations

import json

from fttui.evals.items import detect_stop, iter_items, nothing_to_score


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
            {"messages": [{"role": "system", "content": "no answer"}]},
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


def test_rft_chat_ending_on_the_users_turn_is_sent_whole_and_graded_on_its_fields(tmp_path):
    path = write(
        tmp_path / "rft.jsonl",
        [
            {
                "messages": [
                    {"role": "developer", "content": "Answer with the city."},
                    {"role": "user", "content": "Capital of France?", "weight": 1},
                ],
                "answer": "Paris",
            },
            # an earlier assistant turn is context, not the reference: the last turn is the user's
            {
                "messages": [
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "Hello"},
                    {"role": "user", "content": "Capital of Italy?"},
                ],
                "answer": "Rome",
            },
        ],
    )
    first, second = iter_items(path)
    assert first.kind == "chat" and first.open_ended and first.reference is None
    assert first.messages == [
        {"role": "developer", "content": "Answer with the city."},
        {"role": "user", "content": "Capital of France?"},
    ]
    assert second.messages[-1] == {"role": "user", "content": "Capital of Italy?"}
    assert len(second.messages) == 3
    ns = second.namespace()
    assert ns["answer"] == "Rome" and ns["prompt"] == "Capital of Italy?"
    assert "reference" not in ns  # {{item.reference}} is a missing field, not "null"
    # a grader scores them; a built-in metric (it compares with a reference) cannot
    assert first.gradable(by_grader=True) and not first.gradable(by_grader=False)
    assert "RFT" in first.problem and "--grader" in first.problem


def test_an_empty_file_or_one_without_references_has_nothing_to_score(tmp_path):
    empty = write(tmp_path / "empty.jsonl", [])
    assert nothing_to_score(empty) == f"{empty} holds no examples: nothing to evaluate"
    rft = write(
        tmp_path / "rft.jsonl",
        [{"messages": [{"role": "user", "content": f"Q{i}"}], "answer": "A"} for i in range(4)],
    )
    why = nothing_to_score(rft)
    assert why.startswith(f"none of the 4 examples in {rft} can be scored (line 1: ends on")
    assert why.endswith("; …)")  # three reasons shown, then the ellipsis
    assert nothing_to_score(rft, by_grader=True) is None
    assert nothing_to_score(rft, limit=1).startswith(f"the only example in {rft} cannot")


def test_notes_on_the_file_are_not_items_without_a_reference(tmp_path):
    # a byte-order mark, a blank line, CRLF endings, no final newline: notes, not examples
    rows = [
        json.dumps(
            {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
        )
        for q, a in [("Q1", "A1"), ("Q2", "A2"), ("Q3", "A3")]
    ]
    path = tmp_path / "notes.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + f"{rows[0]}\r\n\r\n{rows[1]}\r\n{rows[2]}".encode())
    items = list(iter_items(path))
    assert [(i.index, i.line, i.reference) for i in items] == [
        (0, 1, "A1"),
        (1, 3, "A2"),
        (2, 4, "A3"),
    ]
    assert all(i.problem is None for i in items)
