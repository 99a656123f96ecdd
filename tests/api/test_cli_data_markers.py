"""`fttui jobs create` on prepared prompt/completion data records the separator and stop
the data uses in the job's metadata (fttui_separator / fttui_stop), so whoever queries the
model later (the Playground, a script) finds them; chat data records none."""

from __future__ import annotations

import json

from support.cli import CHAT, FAST, SUPERHERO, run_cli


def test_jobs_create_on_prepared_data_records_its_separator_and_stop(
    api_server, tmp_path, capsys, fttui_home
):
    out = tmp_path / "superhero.jsonl"
    assert run_cli(["prepare", str(SUPERHERO), "-o", str(out)], capsys=capsys).code == 0
    res = run_cli(
        ["jobs", "create", "--model", "davinci-002", "--training-file", str(out), "--json", *FAST],
        api_server,
        capsys=capsys,
    )
    assert res.code == 0, res.err
    meta = json.loads(res.out)["metadata"]
    assert meta["fttui_separator"] == " ->" and meta["fttui_stop"] == " END"
    assert meta["sim_seconds_per_step"] == "0.005"  # the user's own kept beside them

    # a value the user gave wins
    res = run_cli(
        [
            "jobs", "create", "--model", "davinci-002", "--training-file", str(out), "--json",
            "--metadata", "fttui_stop=###", *FAST,
        ],
        api_server,
        capsys=capsys,
    )  # fmt: skip
    meta = json.loads(res.out)["metadata"]
    assert meta["fttui_stop"] == "###" and meta["fttui_separator"] == " ->"


def test_jobs_create_on_chat_data_records_no_markers(api_server, capsys, fttui_home):
    res = run_cli(
        ["jobs", "create", "--model", "gpt-4o-mini-2024-07-18", "--training-file", str(CHAT),
         "--json", *FAST],
        api_server,
        capsys=capsys,
    )  # fmt: skip
    assert res.code == 0, res.err
    meta = json.loads(res.out)["metadata"]
    assert "fttui_stop" not in meta and "fttui_separator" not in meta
