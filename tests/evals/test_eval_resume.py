"""`fttui eval --resume` continues only the run that made its results file: another setup
is refused (nothing mixed in), and a failed answer is retried and its line replaced, not
kept beside the new one. Against a live `fttui serve --executor sim`."""

from __future__ import annotations

import json
from collections import Counter

from test_eval_cli import fttui, rows

from support.live_server import FIXTURES, free_port

CHAT = FIXTURES / "chat_valid.jsonl"
BASE = "gpt-4o-mini-2024-07-18"


class Down:
    """A provider that is not there (nothing listens on its port): every call fails."""

    def __init__(self, like) -> None:
        self.base_url = f"http://127.0.0.1:{free_port()}/v1"
        self.api_key = like.api_key
        self.data_dir = like.data_dir


def test_resume_with_another_setup_is_refused_and_the_file_is_left_as_it_was(sim_server, tmp_path):
    out = tmp_path / "r.jsonl"
    first = ["-m", BASE, "--metric", "contains", "--limit", "3", "-o", str(out)]
    r = fttui(sim_server, "eval", str(CHAT), *first)
    assert r.returncode == 0, r.stderr
    made = out.read_bytes()
    assert len(rows(out)) == 3
    others = {
        "another metric": ["-m", BASE, "--metric", "exact"],
        "another model": ["-m", "davinci-002", "--metric", "contains"],
        "one model more": ["-m", BASE, "-m", "davinci-002", "--metric", "contains"],
        "another pass threshold": ["-m", BASE, "--metric", "contains", "--pass-threshold", "0"],
        "other max tokens": ["-m", BASE, "--metric", "contains", "--max-tokens", "16"],
        "another stop": ["-m", BASE, "--metric", "contains", "--stop", "\\n"],
    }
    for what, options in others.items():
        r = fttui(sim_server, "eval", str(CHAT), *options, "-o", str(out), "--resume")
        assert r.returncode == 2, (what, r.stdout, r.stderr)
        assert f"cannot resume {out}: its results were made with another setup" in r.stderr, what
        assert "Traceback" not in r.stderr
        assert out.read_bytes() == made, what  # nothing asked, nothing appended
    # the same options on another file, or on this one edited since: not continued either
    edited = tmp_path / "edited.jsonl"
    edited.write_bytes(CHAT.read_bytes().replace(b"Paris", b"Lyon"))
    assert edited.read_bytes() != CHAT.read_bytes()
    r = fttui(sim_server, "eval", str(edited), *first[:4], "-o", str(out), "--resume")
    assert r.returncode == 2 and "or the data file" in r.stderr, (r.stdout, r.stderr)
    assert out.read_bytes() == made
    r = fttui(sim_server, "eval", str(CHAT), "-m", "davinci-002", "-o", str(out), "--resume")
    assert f"it holds answers of {BASE}, which this run does not ask" in r.stderr
    # the setup that made it continues it
    r = fttui(sim_server, "eval", str(CHAT), *first[:4], "-o", str(out), "--resume", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["resumed"] == 3 and report["models"][0]["n"] == 19
    assert len(rows(out)) == 19


def test_resume_retries_failed_answers_and_replaces_their_lines(sim_server, tmp_path):
    out = tmp_path / "r.jsonl"
    run = ["eval", str(CHAT), "-m", BASE, "--metric", "contains", "-j", "2", "-o", str(out)]
    r = fttui(sim_server, *run, "--limit", "2")
    assert r.returncode == 0, r.stderr
    kept = out.read_text().splitlines()
    # the provider goes away: items 3 and 4 fail (after the client's retries)
    r = fttui(Down(sim_server), *run, "--limit", "4", "--resume", "--json")
    assert r.returncode == 1, r.stderr
    failed = rows(out)[2:]
    assert sorted(x["item"] for x in failed) == [2, 3] and all(x["error"] for x in failed)
    # back again: the two are asked again, and their lines replace the failures
    r = fttui(sim_server, *run, "--limit", "4", "--resume", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["resumed"] == 2 and report["errors"] == []
    assert report["models"][0]["n"] == 4 and report["models"][0]["errors"] == 0
    final = rows(out)
    assert Counter((x["item"], x["model"]) for x in final) == {(i, BASE): 1 for i in range(4)}
    assert not any(x["error"] for x in final)
    assert out.read_text().splitlines()[:2] == kept  # the finished lines, as they were
