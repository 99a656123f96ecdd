"""Every API command against a live ``fttui serve --executor sim`` (in-process CLI calls;
a few through a real subprocess to check exit codes and the one-line errors)."""

from __future__ import annotations

import itertools
import json
import os
import stat
import subprocess
import sys

import pytest

from fttui import paths
from support.cli import CHAT, CHAT_ERRORS, FAST, SUPERHERO, run_cli, start_job, upload, wait_job


@pytest.fixture(autouse=True)
def _home(fttui_home):
    return fttui_home


# ----------------------------------------------------------------------------- files


def test_files_upload_list_download_delete(api_server, capsys, tmp_path):
    r = run_cli(["files", "upload", str(CHAT), "--json"], api_server, capsys=capsys)
    assert r.code == 0, r.err
    f = json.loads(r.out)
    assert f["status"] == "processed" and f["bytes"] == CHAT.stat().st_size

    r = run_cli(["files", "list", "--json"], api_server, capsys=capsys)
    assert f["id"] in [x["id"] for x in json.loads(r.out)]
    r = run_cli(["files", "list"], api_server, capsys=capsys)
    assert f["id"] in r.out and "chat_valid.jsonl" in r.out

    out = tmp_path / "copy.jsonl"
    r = run_cli(["files", "download", f["id"], "-o", str(out)], api_server, capsys=capsys)
    assert r.code == 0 and out.read_bytes() == CHAT.read_bytes()

    r = run_cli(["files", "delete", f["id"], "--yes"], api_server, capsys=capsys)
    assert r.code == 0 and "deleted" in r.out
    r = run_cli(["files", "delete", f["id"], "--yes"], api_server, capsys=capsys)
    assert r.code == 1 and r.err.startswith("fttui: not found (404)")
    assert len(r.err.strip().splitlines()) == 1


def test_upload_in_parts_above_the_single_limit(api_server, tmp_path):
    from fttui.api.files import upload_file, wait_processed

    big = tmp_path / "big.jsonl"
    big.write_bytes(CHAT.read_bytes() * 40)
    seen = []
    client = api_server.client()
    f = upload_file(
        client,
        big,
        single_limit=10_000,
        part_size=16_384,
        progress=lambda done, total: seen.append((done, total)),
    )
    f = wait_processed(client, f.id)
    assert f.bytes == big.stat().st_size
    assert seen[-1] == (big.stat().st_size, big.stat().st_size)
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(seen))
    assert client.files.content(f.id).read() == big.read_bytes()


# ----------------------------------------------------------------------------- jobs


def test_create_wait_show_events_metrics_checkpoints(api_server, capsys):
    r = run_cli(
        [
            "jobs",
            "create",
            "--model",
            "gpt-4o-mini-2024-07-18",
            "--training-file",
            str(CHAT),
            "--epochs",
            "3",
            "--suffix",
            "cli",
            "--seed",
            "7",
            *FAST,
            "--metadata",
            "team=api",
            "--wait",
        ],
        api_server,
        capsys=capsys,
    )
    assert r.code == 0, r.err
    assert "created ftjob-" in r.out and "fine-tuned model: ft:gpt-4o-mini-2024-07-18" in r.out
    job_id = r.out.split("created ", 1)[1].split()[0]
    lines = [ln for ln in r.out.splitlines() if "Step " in ln]
    steps = [int(ln.split("Step ")[1].split("/")[0]) for ln in lines]
    assert steps == sorted(steps) and len(steps) == len(set(steps)) and steps[-1] == 60

    r = run_cli(["jobs", "show", job_id, "--json"], api_server, capsys=capsys)
    job = json.loads(r.out)
    assert job["status"] == "succeeded" and job["suffix"] == "cli" and job["seed"] == 7
    assert job["hyperparameters"]["n_epochs"] == 3 and job["metadata"]["team"] == "api"
    assert job["trained_tokens"] and job["result_files"] and len(job["checkpoints"]) == 3
    r = run_cli(["jobs", "show", job_id], api_server, capsys=capsys)
    for needle in (
        "succeeded",
        "gpt-4o-mini-2024-07-18",
        "n_epochs=3",
        "trained tokens",
        "checkpoints (3)",
        ":ckpt-step-",
    ):
        assert needle in r.out

    r = run_cli(["jobs", "events", job_id, "--json"], api_server, capsys=capsys)
    events = [json.loads(x) for x in r.out.splitlines()]
    stamps = [e["created_at"] for e in events]
    assert stamps == sorted(stamps) and len({e["id"] for e in events}) == len(events)
    assert sum(e["type"] == "metrics" for e in events) == 60
    r = run_cli(["jobs", "events", job_id, "--limit", "2"], api_server, capsys=capsys)
    assert len(r.out.splitlines()) == 2 and "completed" in r.out.splitlines()[-1]

    r = run_cli(["jobs", "checkpoints", job_id, "--json"], api_server, capsys=capsys)
    cps = json.loads(r.out)
    assert [c["step_number"] for c in cps] == [20, 40, 60]
    r = run_cli(["jobs", "checkpoints", job_id], api_server, capsys=capsys)
    assert "ckpt-step-40" in r.out

    r = run_cli(["jobs", "metrics", job_id, "--csv"], api_server, capsys=capsys)
    rows = r.out.strip().splitlines()
    assert rows[0].startswith("step,train_loss") and len(rows) == 61
    r = run_cli(
        ["jobs", "metrics", job_id, "--json", "--source", "events"], api_server, capsys=capsys
    )
    assert len(json.loads(r.out)["series"]["train_loss"]) == 60
    r = run_cli(["jobs", "metrics", job_id], api_server, capsys=capsys)
    assert "train_loss" in r.out and "(60 points)" in r.out


def test_lint_refuses_bad_files_unless_forced(api_server, capsys):
    argv = [
        "jobs",
        "create",
        "--model",
        "gpt-4o-mini-2024-07-18",
        "--training-file",
        str(CHAT_ERRORS),
        *FAST,
    ]
    r = run_cli(argv, api_server, capsys=capsys)
    assert r.code == 1 and "lint error" in r.err and "--force" in r.err
    before = {j.id for j in api_server.client().fine_tuning.jobs.list(limit=100)}
    r = run_cli([*argv, "--force", "--json"], api_server, capsys=capsys)
    assert r.code == 0, r.err
    assert json.loads(r.out)["id"] not in before


def test_a_bad_validation_file_uploads_nothing(api_server, capsys):
    """Both files are linted before either is uploaded: a validation file with errors used
    to fail the command after the training file was already uploaded (an orphan file)."""
    client = api_server.client()
    before = {f.id for f in client.files.list()}
    argv = [
        "jobs",
        "create",
        "--model",
        "gpt-4o-mini-2024-07-18",
        "--training-file",
        str(CHAT),
        "--validation-file",
        str(CHAT_ERRORS),
        *FAST,
    ]
    r = run_cli(argv, api_server, capsys=capsys)
    assert r.code == 1 and "lint error" in r.err and "chat_errors" in r.err
    assert {f.id for f in client.files.list()} == before


def test_list_status_limit_and_json(api_server, capsys):
    client = api_server.client()
    fid = upload(client)
    a = start_job(client, fid)
    b = start_job(client, fid, sim_fail_at_step="2")
    wait_job(client, a.id)
    wait_job(client, b.id)
    r = run_cli(["jobs", "list", "--json"], api_server, capsys=capsys)
    jobs = json.loads(r.out)
    ids = [j["id"] for j in jobs]
    assert a.id in ids and b.id in ids and len(ids) == len(set(ids))
    r = run_cli(["jobs", "list", "--status", "failed", "--json"], api_server, capsys=capsys)
    assert {j["status"] for j in json.loads(r.out)} == {"failed"}
    r = run_cli(["jobs", "list", "--limit", "1", "--json"], api_server, capsys=capsys)
    assert len(json.loads(r.out)) == 1
    r = run_cli(["jobs", "list"], api_server, capsys=capsys)
    assert r.out.startswith("ID") and a.id in r.out


def test_follow_exits_with_the_outcome(api_server, capsys):
    client = api_server.client()
    fid = upload(client)
    failing = start_job(client, fid, sim_fail_at_step="3")
    r = run_cli(
        ["jobs", "events", failing.id, "--follow", "--interval", "0.1"], api_server, capsys=capsys
    )
    assert r.code == 1 and "Simulated failure at step 3" in r.out and "failed" in r.err
    again = run_cli(["jobs", "follow", failing.id], api_server, capsys=capsys)  # the alias
    assert (again.code, again.out) == (r.code, r.out)
    r = run_cli(["jobs", "show", failing.id], api_server, capsys=capsys)
    error_row = next(ln for ln in r.out.splitlines() if ln.startswith("error "))
    assert "Simulated failure at step 3" in error_row
    assert json.loads(run_cli(["jobs", "show", failing.id, "--json"], api_server,
                              capsys=capsys).out)["error"]["code"]  # fmt: skip

    slow = start_job(client, fid, epochs=5, sim_seconds_per_step="0.05")
    r = run_cli(["jobs", "cancel", slow.id, "--yes", "--json"], api_server, capsys=capsys)
    assert r.code == 0 and json.loads(r.out)["status"] in ("cancelled", "running", "queued")
    r = run_cli(
        ["jobs", "events", slow.id, "--follow", "--interval", "0.1"], api_server, capsys=capsys
    )
    assert r.code == 3 and "cancelled" in r.err


def test_pause_resume(api_server, capsys):
    client = api_server.client()
    fid = upload(client)
    job = start_job(
        client, fid, epochs=10, sim_seconds_per_step="0.05"
    )  # ~10 s: time to pause under load
    wait_job(client, job.id, until=("running",))
    r = run_cli(["jobs", "pause", job.id], api_server, capsys=capsys)
    assert r.code == 0, r.err
    wait_job(client, job.id, until=("paused",))
    r = run_cli(["jobs", "resume", job.id, "--json"], api_server, capsys=capsys)
    assert r.code == 0 and json.loads(r.out)["status"] in ("running", "queued", "validating_files")
    r = run_cli(["jobs", "cancel", job.id, "-y"], api_server, capsys=capsys)
    assert r.code == 0


def test_continue_from_a_fine_tuned_model_and_models(api_server, capsys):
    client = api_server.client()
    fid = upload(client)
    first = wait_job(client, start_job(client, fid).id)
    assert first.fine_tuned_model
    r = run_cli(
        [
            "jobs",
            "create",
            "--model",
            first.fine_tuned_model,
            "--training-file",
            fid,
            "--epochs",
            "1",
            *FAST,
            "--wait",
            "--json",
        ],
        api_server,
        capsys=capsys,
    )
    assert r.code == 0, r.err
    second = client.fine_tuning.jobs.list(limit=1).data[0]
    assert second.model == first.fine_tuned_model and second.status == "succeeded"

    r = run_cli(["models", "list", "--json"], api_server, capsys=capsys)
    ids = [m["id"] for m in json.loads(r.out)]
    assert first.fine_tuned_model in ids and "gpt-4o-mini-2024-07-18" in ids
    r = run_cli(["models", "list", "--fine-tuned"], api_server, capsys=capsys)
    assert "gpt-4o-mini-2024-07-18 " not in r.out and first.fine_tuned_model in r.out
    r = run_cli(["models", "delete", second.fine_tuned_model, "--yes"], api_server, capsys=capsys)
    assert r.code == 0 and "deleted" in r.out
    r = run_cli(["models", "delete", second.fine_tuned_model, "--yes"], api_server, capsys=capsys)
    assert r.code == 1 and "not found" in r.err


# ----------------------------------------------------------------------------- ask


def test_ask_streams_and_honours_stop(api_server, capsys):
    r = run_cli(
        ["ask", "gpt-4o-mini-2024-07-18", "Say something", "--max-tokens", "40"],
        api_server,
        capsys=capsys,
    )
    assert r.code == 0 and r.out.strip()
    full = r.out.strip()
    word = full.split()[min(3, len(full.split()) - 1)]
    r = run_cli(
        [
            "ask",
            "gpt-4o-mini-2024-07-18",
            "Say something",
            "--max-tokens",
            "40",
            "--stop",
            f" {word}",
            "--json",
        ],
        api_server,
        capsys=capsys,
    )
    res = json.loads(r.out)
    assert res["finish_reason"] == "stop" and f" {word}" not in res["text"]
    assert full.startswith(res["text"])
    r = run_cli(
        [
            "ask",
            "gpt-4o-mini-2024-07-18",
            "Hi",
            "--compare",
            "gpt-4.1-mini-2025-04-14",
            "--system",
            "Be brief",
            "--temperature",
            "0",
        ],
        api_server,
        capsys=capsys,
    )
    assert "── gpt-4o-mini-2024-07-18 ──" in r.out and "── gpt-4.1-mini-2025-04-14 ──" in r.out


def test_ask_legacy_model_and_stdin(api_server, capsys):
    r = run_cli(
        ["ask", "davinci-002", "-", "--max-tokens", "10", "--json"],
        api_server,
        stdin="Superhero: Volt ->",
        capsys=capsys,
    )
    assert r.code == 0, r.err
    res = json.loads(r.out)
    assert res["legacy"] is True and res["text"]


def test_ask_keeps_a_newline_in_the_prompt(api_server, capsys):
    """The tutorial's two-line prompt reaches the model as two lines, on the chat and the
    legacy endpoint alike (the sim's echo showed them joined by a space)."""
    prompt = "Superhero: Volt\nPowers: electricity, lightning speed ->"
    for model in ("davinci-002", "gpt-4o-mini-2024-07-18"):
        r = run_cli(["ask", model, prompt], api_server, capsys=capsys)
        assert r.code == 0, r.err
        assert prompt in r.out, r.out


# ----------------------------------------------------------------------------- errors


def _fttui(
    *argv: str, env: dict | None = None, closed_stdin: bool = False
) -> subprocess.CompletedProcess:
    """``fttui ARGV`` as a script runs it: stdin not a terminal (or closed altogether)."""
    return subprocess.run(
        [sys.executable, "-m", "fttui", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        stdin=None if closed_stdin else subprocess.DEVNULL,
        preexec_fn=(lambda: os.close(0)) if closed_stdin else None,
    )


def test_clear_one_line_errors(api_server):
    bad = _fttui(
        "--base-url", api_server.base_url, "--api-key", "sk-wrong-key-123456", "jobs", "list"
    )
    assert bad.returncode == 1 and "authentication failed (401)" in bad.stderr
    assert "sk-wrong-key-123456" not in bad.stderr + bad.stdout
    missing = _fttui(
        "--base-url",
        api_server.base_url,
        "--api-key",
        api_server.api_key,
        "jobs",
        "show",
        "ftjob-doesnotexist",
    )
    assert missing.returncode == 1 and missing.stderr.startswith("fttui: not found (404)")
    down = _fttui(
        "--base-url", "http://127.0.0.1:9/v1", "--api-key", "sk-x-12345678", "models", "list"
    )
    assert down.returncode == 1 and "cannot reach the provider" in down.stderr
    unknown = _fttui("--profile", "nosuch", "jobs", "list")
    assert unknown.returncode == 2 and "unknown profile 'nosuch'" in unknown.stderr
    unasked = _fttui(
        "--base-url", api_server.base_url, "--api-key", api_server.api_key,
        "jobs", "cancel", "ftjob-anything",
    )  # fmt: skip
    assert unasked.returncode == 2 and "pass --yes to cancel ftjob-anything" in unasked.stderr
    no_stdin = _fttui(closed_stdin=True)  # the app, with stdin closed
    assert no_stdin.returncode == 2 and "the app needs a terminal" in no_stdin.stderr
    for proc in (bad, missing, down, unknown, unasked, no_stdin):
        assert proc.stdout == ""
        assert "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_env_variables_are_honoured(api_server, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", api_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", api_server.api_key)
    r = run_cli(["models", "list", "--json"], capsys=capsys)
    assert r.code == 0 and json.loads(r.out)


# ----------------------------------------------------------------------------- profiles


def test_profiles_list_add_remove(api_server, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-envkey-abcdefghijklmnop")
    r = run_cli(["profiles"], capsys=capsys)
    assert r.code == 0
    for name in ("openai", "azure", "bedrock", "nebius", "local"):
        assert name in r.out
    assert "sk-envkey-abcdefghijklmnop" not in r.out and "sk-…mnop" in r.out

    r = run_cli(
        [
            "profiles",
            "add",
            "mine",
            "--kind",
            "custom",
            "--base-url",
            api_server.base_url,
            "--api-key",
            api_server.api_key,
            "--default",
        ],
        capsys=capsys,
    )
    assert r.code == 0
    cfg = paths.config_file()
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    r = run_cli(["profiles", "--json"], capsys=capsys)
    assert api_server.api_key not in r.out
    mine = next(p for p in json.loads(r.out) if p["name"] == "mine")
    assert mine["configured"] and mine["default"]
    r = run_cli(["--profile", "mine", "jobs", "list", "--json"], capsys=capsys)
    assert r.code == 0
    r = run_cli(["jobs", "list", "--profile", "mine", "--json"], capsys=capsys)
    assert r.code == 0
    r = run_cli(["profiles", "remove", "mine"], capsys=capsys)
    assert r.code == 0 and "mine" not in cfg.read_text()


def test_cancel_asks_on_a_terminal(api_server, capsys, monkeypatch):
    import fttui.cli.apicommon as common
    import fttui.cli.jobs as jobs_cli

    client = api_server.client()
    job = start_job(client, upload(client), epochs=20, sim_seconds_per_step="0.05")
    monkeypatch.setattr(jobs_cli, "is_tty", lambda stream=None: True)
    monkeypatch.setattr(common, "is_tty", lambda stream=None: True)
    r = run_cli(["jobs", "cancel", job.id], api_server, stdin="n\n", capsys=capsys)
    assert r.code == 1 and f"Cancel {job.id}" in r.err and "not cancelled" in r.err
    assert client.fine_tuning.jobs.retrieve(job.id).status != "cancelled"
    r = run_cli(["jobs", "cancel", job.id], api_server, stdin="y\n", capsys=capsys)
    assert r.code == 0 and "cancelled" in r.out
    assert client.fine_tuning.jobs.retrieve(job.id).status == "cancelled"


def test_create_dpo_with_wandb_and_refuse_csv(api_server, capsys, tmp_path):
    pref = tmp_path / "pref.jsonl"
    with pref.open("w") as fh:
        for i in range(12):
            fh.write(
                json.dumps(
                    {
                        "input": {"messages": [{"role": "user", "content": f"question {i}?"}]},
                        "preferred_output": [{"role": "assistant", "content": f"good {i}"}],
                        "non_preferred_output": [{"role": "assistant", "content": f"bad {i}"}],
                    }
                )
                + "\n"
            )
    r = run_cli(
        [
            "jobs",
            "create",
            "--model",
            "gpt-4o-mini-2024-07-18",
            "--training-file",
            str(pref),
            "--method",
            "dpo",
            "--beta",
            "0.2",
            "--epochs",
            "1",
            "--wandb-project",
            "proj",
            *FAST,
            "--json",
        ],
        api_server,
        capsys=capsys,
    )
    assert r.code == 0, r.err
    job = json.loads(r.out)
    assert job["method"] == "dpo" and job["hyperparameters"]["beta"] == 0.2
    full = api_server.client().fine_tuning.jobs.retrieve(job["id"])
    assert full.integrations[0].wandb.project == "proj"

    csv = tmp_path / "superhero.csv"
    csv.write_text("prompt,completion\nHi,there\n")
    r = run_cli(
        ["jobs", "create", "--model", "davinci-002", "--training-file", str(csv)],
        api_server,
        capsys=capsys,
    )
    assert r.code == 1 and "fttui prepare" in r.err and "not JSONL" in r.err


# ----------------------------------------------------------------------------- README, shapes


def test_readme_worked_example_superhero(api_server, capsys, tmp_path):
    """README's example: prepare the superhero CSV, create + follow the job, ask with the
    separator and --stop " END" (legacy completions, not cut off at 16 tokens)."""
    data = tmp_path / "superhero.jsonl"
    r = run_cli(["prepare", str(SUPERHERO), "-o", str(data)], capsys=capsys)
    assert r.code == 0 and data.is_file(), r.err
    r = run_cli(
        [
            "jobs",
            "create",
            "--model",
            "davinci-002",
            "--training-file",
            str(data),
            "--suffix",
            "superhero",
            *FAST,
            "--wait",
        ],
        api_server,
        capsys=capsys,
    )
    assert r.code == 0, r.err
    model = r.out.split("fine-tuned model: ", 1)[1].split()[0]
    assert model.startswith("ft:davinci-002:") and ":superhero:" in model
    prompt = "Superhero: Volt\nPowers: electricity, lightning speed ->"
    r = run_cli(["ask", model, prompt, "--json"], api_server, capsys=capsys)
    raw = json.loads(r.out)
    assert raw["legacy"] and raw["text"].endswith(" END") and raw["finish_reason"] == "stop"
    r = run_cli(["ask", model, prompt, "--stop", " END"], api_server, capsys=capsys)
    assert r.code == 0 and r.out == raw["text"].removesuffix(" END") + "\n"


def test_json_shapes_of_create_wait_download_and_profiles(api_server, capsys, tmp_path):
    r = run_cli(
        [
            "jobs",
            "create",
            "--model",
            "gpt-4o-mini-2024-07-18",
            "--training-file",
            str(CHAT),
            "--validation-file",
            str(CHAT),
            "--epochs",
            "1",
            "--batch-size",
            "2",
            "--lr-multiplier",
            "0.5",
            *FAST,
            "--wait",
            "--json",
        ],
        api_server,
        capsys=capsys,
    )
    assert r.code == 0, r.err
    job = json.loads(r.out)  # one object: the job as it ended, not a stream of events
    assert job["status"] == "succeeded" and job["fine_tuned_model"]
    assert job["hyperparameters"]["batch_size"] == 2
    assert job["hyperparameters"]["learning_rate_multiplier"] == 0.5
    assert job["validation_file"].startswith("file-")

    shapes = {}
    for argv in (["files", "list", "--json"], ["models", "list", "--json"],
                 ["jobs", "checkpoints", job["id"], "--json"]):  # fmt: skip
        items = json.loads(run_cli(argv, api_server, capsys=capsys).out)
        shapes[argv[0]] = {tuple(sorted(x)) for x in items}
        assert len(shapes[argv[0]]) == 1, argv  # every item has the same keys
    assert "status_details" in next(iter(shapes["files"]))  # kept as null, not left out

    folder = tmp_path / "dl"
    folder.mkdir()
    r = run_cli(
        ["files", "download", job["training_file"], "-o", str(folder), "--json"],
        api_server,
        capsys=capsys,
    )
    got = json.loads(r.out)
    assert got["path"] == str(folder / CHAT.name) and got["bytes"] == CHAT.stat().st_size
    assert (folder / CHAT.name).read_bytes() == CHAT.read_bytes()

    r = run_cli(
        [
            "profiles",
            "add",
            "srv",
            "--kind",
            "custom",
            "--base-url",
            api_server.base_url,
            "--api-key-env",
            "SRV_KEY",
            "--json",
        ],
        capsys=capsys,
    )
    assert json.loads(r.out) == {
        "name": "srv",
        "kind": "custom",
        "config": str(paths.config_file()),
        "default": False,
    }
    r = run_cli(["profiles", "remove", "srv", "--json"], capsys=capsys)
    assert json.loads(r.out) == {"name": "srv", "removed": True}


def test_metrics_sparklines_on_a_terminal(api_server, capsys, monkeypatch):
    import fttui.cli.jobs as jobs_cli

    client = api_server.client()
    job = wait_job(client, start_job(client, upload(client)).id)
    monkeypatch.setattr(jobs_cli, "is_tty", lambda stream=None: True)
    r = run_cli(["jobs", "metrics", job.id], api_server, capsys=capsys)
    line = next(ln for ln in r.out.splitlines() if ln.startswith("train_loss"))
    assert set(line.split()[1]) <= set("▁▂▃▄▅▆▇█") and len(line.split()[1]) > 5


def test_bad_input_gives_one_line_and_no_partial_output(api_server, capsys, tmp_path):
    fid = upload(api_server.client())
    cases = [
        (["ask", "gpt-4o-mini-2024-07-18", "-"], 2, "the prompt is empty"),
        (["ask", "no-such-model", "hi"], 1, "not found (404)"),
        (["files", "download", fid, "-o", str(tmp_path / "nope" / "x.jsonl")], 1, "no folder"),
        (["files", "download", fid, "--json"], 2, "--json needs -o"),
        (["files", "upload", str(tmp_path)], 1, "is a folder"),
        (["files", "delete", fid], 2, "pass --yes to delete file"),
        (
            [
                "jobs",
                "create",
                "--model",
                "gpt-4o-mini-2024-07-18",
                "--training-file",
                str(tmp_path),
            ],
            2,  # a usage error, caught before any request (as `fttui lint` does)
            "is a folder",
        ),
        (["jobs", "events", "ftjob-nope", "--follow"], 1, "not found (404)"),
    ]
    for argv, code, needle in cases:
        r = run_cli(argv, api_server, stdin="", capsys=capsys)  # stdin: not a terminal
        assert (r.code, r.out) == (code, ""), (argv, r)
        assert r.err.startswith("fttui: ") and needle in r.err, (argv, r.err)
        assert len(r.err.strip().splitlines()) == 1, (argv, r.err)
    assert not list((tmp_path).glob("**/*.part"))
    for argv, needle in (
        (["jobs", "events", "ftjob-x", "--interval", "0"], "fttui: --interval must be > 0"),
        (["jobs", "list", "--limit", "many"], "fttui jobs list: error: argument --limit"),
        (["jobs", "frob"], "fttui jobs: error: argument ACTION: invalid choice: 'frob'"),
    ):
        try:
            r = run_cli(argv, api_server, capsys=capsys)
        except SystemExit as exc:  # argparse's own usage errors
            r = type(r)(exc.code, *capsys.readouterr())
        assert r.code == 2 and r.out == "" and r.err.startswith(needle), (argv, r)
        assert len(r.err.strip().splitlines()) == 1, (argv, r.err)
    assert api_server.client().files.retrieve(fid).id == fid  # not deleted unasked
    r = run_cli(["--base-url", "not-a-url", "--api-key", "sk-x", "models", "list"], capsys=capsys)
    assert r.code == 2 and r.err.strip() == (
        "fttui: base URL 'not-a-url' must start with http:// or https://"
    )


def test_small_pages_list_everything_once(api_server):
    """Files, checkpoints and events walked in tiny pages against the live server: every
    item exactly once, the same as one big page (the 1,000-job pass is in the scale tests)."""
    from fttui.api.events import iter_events
    from fttui.api.files import iter_files
    from fttui.api.jobs import iter_checkpoints

    client = api_server.client()
    fid = upload(client)
    for _ in range(4):
        upload(client)
    job = wait_job(client, start_job(client, fid, epochs=3).id)

    def ids(items):
        out = [x.id for x in items]
        assert len(out) == len(set(out))
        return out

    assert ids(iter_files(client, page_size=2)) == ids(client.files.list(limit=100).data)
    cps = ids(iter_checkpoints(client, job.id, page_size=2))
    assert len(cps) == 3 and cps == ids(
        client.fine_tuning.jobs.checkpoints.list(job.id, limit=100).data
    )
    everything = ids(client.fine_tuning.jobs.list_events(job.id, limit=100).data)
    assert len(everything) > 60
    assert ids(iter_events(client, job.id, page_size=7)) == everything[::-1]  # oldest first


def test_progress_bar_on_a_terminal(api_server, capsys, monkeypatch):
    import fttui.cli.apicommon as common

    monkeypatch.setattr(common, "is_tty", lambda stream=None: True)
    r = run_cli(
        [
            "jobs",
            "create",
            "--model",
            "gpt-4o-mini-2024-07-18",
            "--training-file",
            str(CHAT),
            *FAST,
        ],
        api_server,
        capsys=capsys,
    )
    assert r.code == 0, r.err
    bars = [seg.strip() for seg in r.err.replace("\n", "\r").split("\r") if seg.strip()]
    phases = [b.split()[0] for b in bars]
    assert phases[0] == "lint" and "upload" in phases and phases[-1] == "create"
    assert any(b.startswith("upload") and "100.0%" in b for b in bars)
