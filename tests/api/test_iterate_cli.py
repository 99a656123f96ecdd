"""Compare and iterate from the command line (issue 15): ``jobs wait``, ``jobs compare``,
``jobs create --from``, continuing from a checkpoint, and sweeps — each against a live
``fttui serve --executor sim`` through the CLI."""

from __future__ import annotations

import json

import pytest

from support.cli import CHAT, FAST, run_cli, start_job, upload, wait_job


@pytest.fixture(autouse=True)
def _home(fttui_home):
    return fttui_home


def _files(client) -> set[str]:
    return {f.id for f in client.files.list().data}


def _jobs(client) -> set[str]:
    return {j.id for j in client.fine_tuning.jobs.list(limit=100).data}


# ----------------------------------------------------------------------------- wait


def test_jobs_wait_exits_with_each_outcome_and_the_worst_of_several(api_server, capsys):
    client = api_server.client()
    fid = upload(client)
    good = start_job(client, fid)
    bad = start_job(client, fid, sim_fail_at_step="3")
    slow = start_job(client, fid, epochs=20, sim_seconds_per_step="0.05")

    r = run_cli(["jobs", "wait", good.id, "--interval", "0.1"], api_server, capsys=capsys)
    assert r.code == 0, r.err
    done = wait_job(client, good.id)
    assert r.out.split() == [good.id, "succeeded", done.fine_tuned_model]

    r = run_cli(["jobs", "wait", good.id, bad.id, "--interval", "0.1"], api_server, capsys=capsys)
    assert r.code == 1 and f"{bad.id} failed" in r.out and f"{good.id} succeeded" in r.out

    # still running at --timeout: 124, and stderr says which job and in what state
    r = run_cli(["jobs", "wait", good.id, slow.id, "--timeout", "0.2", "--interval", "0.1"],
                api_server, capsys=capsys)  # fmt: skip
    assert r.code == 124 and slow.id in r.err and "after 0.2s" in r.err

    client.fine_tuning.jobs.cancel(slow.id)
    r = run_cli(["jobs", "wait", good.id, slow.id, "--json", "--interval", "0.1"], api_server,
                capsys=capsys)  # fmt: skip
    assert r.code == 2  # cancelled (issue 15's code; a usage error of jobs wait is 64)
    assert [(j["id"], j["status"]) for j in json.loads(r.out)] == [
        (good.id, "succeeded"),
        (slow.id, "cancelled"),
    ]
    # failed outranks cancelled
    r = run_cli(["jobs", "wait", slow.id, bad.id], api_server, capsys=capsys)
    assert r.code == 1


def test_jobs_wait_on_an_unknown_job_is_one_line_before_waiting_on_the_others(api_server, capsys):
    client = api_server.client()
    slow = start_job(client, upload(client), epochs=20, sim_seconds_per_step="0.05")
    r = run_cli(["jobs", "wait", slow.id, "ftjob-nope"], api_server, capsys=capsys)
    assert r.code == 1 and r.out == ""
    assert r.err.strip().splitlines() == [
        "fttui: not found (404): No such fine-tuning job: ftjob-nope"
    ]
    r = run_cli(["jobs", "wait", slow.id, "--timeout", "-1"], api_server, capsys=capsys)
    assert r.code == 64 and "--timeout" in r.err
    client.fine_tuning.jobs.cancel(slow.id)


def test_jobs_wait_usage_errors_exit_64_so_a_script_tells_them_from_a_cancelled_job(
    api_server, capsys, fttui_home
):
    from fttui.cli import main

    for argv in (["jobs", "wait"], ["jobs", "wait", "ftjob-x", "--bogus"],
                 ["jobs", "wait", "ftjob-x", "--interval", "soon"]):  # fmt: skip
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 64, argv
        err = capsys.readouterr().err
        assert err.startswith("fttui jobs wait: error:") and err.count("\n") == 1
    r = run_cli(["jobs", "wait", "ftjob-x", "--interval", "0"], api_server, capsys=capsys)
    assert r.code == 64 and "--interval" in r.err
    # a configuration error (a profile that does not exist) is not an outcome either
    r = run_cli(["--profile", "no-such-profile", "jobs", "wait", "ftjob-x"], capsys=capsys)
    assert r.code == 64 and "no-such-profile" in r.err
    # other commands keep 2 for a usage error
    with pytest.raises(SystemExit) as exc:
        main(["jobs", "show"])
    assert exc.value.code == 2
    # --help documents every code
    with pytest.raises(SystemExit):
        main(["jobs", "wait", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for says in ("1 a job failed", "124 a job still running", "2 a job cancelled",
                 "0 all succeeded", "64 a usage error"):  # fmt: skip
        assert says in text, says


# ----------------------------------------------------------------------------- compare


def test_compare_lists_only_the_fields_that_differ_and_final_and_best_metrics(api_server, capsys):
    client = api_server.client()
    first = wait_job(client, start_job(client, upload(client)).id)
    r = run_cli(["jobs", "create", "--from", first.id, "--epochs", "2", "--wait", "--json"],
                api_server, capsys=capsys)  # fmt: skip
    assert r.code == 0, r.err
    second = json.loads(r.out)

    r = run_cli(["jobs", "compare", first.id, second["id"], "--json"], api_server, capsys=capsys)
    assert r.code == 0, r.err
    result = json.loads(r.out)
    # a clone with one change differs in that one field only: same model, file, seed, metadata
    assert result["differ"] == {"hyperparameters.n_epochs": {first.id: 1, second["id"]: 2}}
    for job in result["jobs"]:
        series = json.loads(
            run_cli(["jobs", "metrics", job["id"], "--json"], api_server, capsys=capsys).out
        )["series"]["train_loss"]
        loss = job["metrics"]["train_loss"]
        assert loss["final"] == series[-1][1] and loss["final_step"] == series[-1][0]
        assert loss["best"] == min(v for _, v in series) < series[0][1]
    assert [j["id"] for j in result["jobs"]] == [first.id, second["id"]]

    r = run_cli(["jobs", "compare", first.id, second["id"]], api_server, capsys=capsys)
    rows = {ln.split()[0]: ln.split()[1:] for ln in r.out.splitlines()[1:]}
    assert rows["hyperparameters.n_epochs"] == ["1", "2"]
    assert "model" not in rows and "training_file" not in rows and "seed" not in rows
    final = next(ln for ln in r.out.splitlines() if ln.startswith("train_loss final"))
    assert final.split()[2] == f"{result['jobs'][0]['metrics']['train_loss']['final']:.4g}"

    r = run_cli(["jobs", "compare", first.id, first.id], api_server, capsys=capsys)
    assert r.code == 2 and "two or more" in r.err


# ----------------------------------------------------------------------------- clone, continue


def test_create_from_a_job_with_one_change_uploads_nothing_again(api_server, capsys):
    client = api_server.client()
    r = run_cli(["jobs", "create", "--model", "gpt-4o-mini-2024-07-18", "--training-file",
                 str(CHAT), "--epochs", "1", "--suffix", "orig", "--seed", "11", *FAST, "--json"],
                api_server, capsys=capsys)  # fmt: skip
    src = json.loads(r.out)
    files = _files(client)
    r = run_cli(["jobs", "create", "--from", src["id"], "--lr-multiplier", "0.5", "--json"],
                api_server, capsys=capsys)  # fmt: skip
    assert r.code == 0, r.err
    clone = json.loads(r.out)
    assert _files(client) == files  # the file by id: nothing uploaded
    assert clone["id"] != src["id"] and clone["training_file"] == src["training_file"]
    assert (clone["model"], clone["suffix"], clone["seed"]) == (
        "gpt-4o-mini-2024-07-18",
        "orig",
        11,
    )
    assert clone["metadata"] == src["metadata"]
    assert clone["hyperparameters"]["learning_rate_multiplier"] == 0.5
    assert clone["hyperparameters"]["n_epochs"] == 1

    r = run_cli(["jobs", "create", "--from", "ftjob-nope"], api_server, capsys=capsys)
    assert r.code == 1 and "not found" in r.err and _jobs(client) >= {clone["id"]}
    r = run_cli(["jobs", "create", "--epochs", "2"], api_server, capsys=capsys)
    assert r.code == 2 and "--from JOB_ID" in r.err


def test_continue_from_a_checkpoint_of_a_job(api_server, capsys):
    client = api_server.client()
    first = wait_job(client, start_job(client, upload(client)).id)
    ckpt = client.fine_tuning.jobs.checkpoints.list(first.id).data[0].fine_tuned_model_checkpoint
    assert ":ckpt-step-" in ckpt
    r = run_cli(["jobs", "create", "--from", first.id, "--model", ckpt, "--wait", "--json"],
                api_server, capsys=capsys)  # fmt: skip
    assert r.code == 0, r.err
    job = json.loads(r.out)
    assert job["model"] == ckpt and job["status"] == "succeeded"
    assert job["fine_tuned_model"].startswith("ft:gpt-4o-mini-2024-07-18:")
    assert job["fine_tuned_model"] != first.fine_tuned_model


# ----------------------------------------------------------------------------- sweeps


def test_a_2x2_sweep_shows_its_cost_and_creates_4_jobs_with_a_shared_sweep_id(
    api_server, capsys, fttui_home
):
    (fttui_home / "config").mkdir(exist_ok=True)
    (fttui_home / "config" / "config.toml").write_text('[prices]\n"gpt-4o-mini" = 3.0\n')
    client = api_server.client()
    files, jobs = _files(client), _jobs(client)
    argv = ["jobs", "create", "--model", "gpt-4o-mini-2024-07-18", "--training-file", str(CHAT),
            "--epochs", "2,3", "--lr-multiplier", "0.5,1", *FAST]  # fmt: skip

    # off a terminal, without --yes: the plan is shown and nothing is created or uploaded
    r = run_cli(argv, api_server, capsys=capsys)
    assert r.code == 2 and "--yes" in r.err
    assert "4 jobs (epochs 2,3 × lr-multiplier 0.5,1.0)" in r.out
    assert (_files(client), _jobs(client)) == (files, jobs)

    r = run_cli([*argv, "--yes", "--json"], api_server, capsys=capsys)
    assert r.code == 0, r.err
    sweep = json.loads(r.out)
    created = sweep["jobs"]
    assert len(created) == 4 and len(_jobs(client) - jobs) == 4
    assert {j["metadata"]["sweep"] for j in created} == {sweep["sweep"]}
    assert sweep["sweep"].startswith("sweep-")
    grid = {
        (j["hyperparameters"]["n_epochs"], j["hyperparameters"]["learning_rate_multiplier"])
        for j in created
    }
    assert grid == {(2, 0.5), (2, 1.0), (3, 0.5), (3, 1.0)}
    # one upload for the four jobs
    assert len(_files(client) - files) == 1 and len({j["training_file"] for j in created}) == 1

    # the cost is the file's billed tokens of one epoch times the grid's epochs (2+2+3+3)
    lint = json.loads(
        run_cli(
            ["lint", str(CHAT), "--model", "gpt-4o-mini-2024-07-18", "--json"], capsys=capsys
        ).out
    )
    per_epoch = lint["estimate"]["billed_tokens"] // lint["estimate"]["n_epochs"]
    assert sweep["billed_tokens"] == per_epoch * 10
    assert sweep["cost"] == round(per_epoch * 10 / 1e6 * 3.0, 4)
    assert f"{per_epoch * 10:,} billed tokens (≈ $" in r.err

    r = run_cli(["jobs", "wait", *(j["id"] for j in created), "--interval", "0.1"], api_server,
                capsys=capsys)  # fmt: skip
    assert r.code == 0, r.err


def test_a_sweep_from_a_job_asks_on_a_terminal_and_no_creates_nothing(
    api_server, capsys, monkeypatch
):
    import fttui.cli.apicommon as common

    client = api_server.client()
    src = wait_job(client, start_job(client, upload(client)).id)
    jobs = _jobs(client)
    monkeypatch.setattr(common, "is_tty", lambda stream=None: True)
    argv = ["jobs", "create", "--from", src.id, "--seed", "1,2,3"]
    r = run_cli(argv, api_server, stdin="n\n", capsys=capsys)
    assert r.code == 1 and "Create 3 jobs? [y/N]" in r.err and "nothing created" in r.err
    # the source job's own count: its trained tokens per epoch, times 1 epoch, 3 times
    assert f"3 jobs (seed 1,2,3): {src.trained_tokens * 3:,} billed tokens" in r.out
    assert _jobs(client) == jobs

    r = run_cli(argv, api_server, stdin="y\n", capsys=capsys)
    assert r.code == 0, r.err
    new = _jobs(client) - jobs
    seeds = sorted(client.fine_tuning.jobs.retrieve(j).seed for j in new)
    assert seeds == [1, 2, 3]
    wait_line = next(ln for ln in r.out.splitlines() if "fttui jobs wait " in ln)
    assert set(wait_line.split("fttui jobs wait ")[1].split()) == new


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--epochs", "2,x", "--epochs: '2,x' is not a whole number"),
        ("--lr-multiplier", "0.5,,1", "--lr-multiplier takes a value or a comma-separated list"),
        ("--seed", "1.5", "--seed: '1.5' is not a whole number"),
    ],
)
def test_a_malformed_sweep_list_is_a_usage_error_before_any_request(flag, value, message, capsys):
    r = run_cli(["--base-url", "http://127.0.0.1:9/v1", "--api-key", "k", "jobs", "create",
                 "--from", "ftjob-x", flag, value], capsys=capsys)  # fmt: skip
    assert r.code == 2 and message in r.err and len(r.err.strip().splitlines()) == 1
