"""Metadata as typed in the create form (``key=value, …``) and OpenAI's limits on it, shared
by the form and ``jobs create --metadata``: a pair that would be refused is one clear line
before anything is uploaded or created."""

from __future__ import annotations

import pytest

from fttui.api.metadata import (
    MetadataError,
    check_metadata,
    format_metadata,
    parse_metadata_text,
)
from support.cli import CHAT, run_cli


def test_metadata_text_parses_pairs_with_escaped_commas_and_round_trips():
    assert parse_metadata_text("") == {}
    got = parse_metadata_text(" team = nlp , note=a\\, b,path=c:\\\\x, empty=")
    assert got == {"team": "nlp", "note": "a, b", "path": "c:\\x", "empty": ""}
    assert parse_metadata_text(format_metadata(got)) == got


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("a=1, oops", "'oops' is not key=value"),
        ("=1", "has no key"),
        ("a=1, a=2", "the key 'a' is given twice"),
        (", ".join(f"k{i}=v" for i in range(17)), "at most 16 key=value pairs (17 given)"),
        (f"{'k' * 65}=v", "is 65 characters (at most 64)"),
        (f"k={'v' * 513}", "the value of 'k' is 513 characters (at most 512)"),
    ],
)
def test_metadata_openai_would_refuse_is_a_clear_error(text, says):
    with pytest.raises(MetadataError) as exc:
        parse_metadata_text(text)
    assert says in str(exc.value)


def test_the_limits_themselves_are_accepted():
    check_metadata({f"k{i}": "v" for i in range(16)})
    check_metadata({"k" * 64: "v" * 512})


def test_jobs_create_refuses_a_metadata_key_too_long_before_any_request(capsys, fttui_home):
    # no server at this address: a request would be a connection error, not this
    argv = ["--base-url", "http://127.0.0.1:9/v1", "--api-key", "sk-x", "jobs", "create",
            "--model", "gpt-4o-mini-2024-07-18", "--training-file", str(CHAT),
            "--metadata", f"{'k' * 65}=v"]  # fmt: skip
    r = run_cli(argv, capsys=capsys)
    assert r.code == 2
    assert r.err.strip() == (
        "fttui: --metadata: the key 'kkkkkkkkkkkkkkkkkkkk'… is 65 characters (at most 64)"
    )
