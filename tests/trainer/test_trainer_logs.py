"""``fttui jobs logs ID [--follow] [--tail N]``: the trainer's raw output through fttui
serve's ``GET /v1/fine_tuning/jobs/{id}/logs`` (an extension), from a live torch server;
a sim server, which keeps no raw log, says to use the events."""

from __future__ import annotations

from test_trainer_server import upload, wait
from tiny import color_examples, write_jsonl

from support.cli import run_cli
from support.live_server import make_server


def create(client, training: str, n_epochs: int = 2, metadata: dict | None = None):
    hp = {"n_epochs": n_epochs, "batch_size": 2, "learning_rate_multiplier": 10}
    return client.fine_tuning.jobs.create(
        model="tiny",
        training_file=training,
        seed=3,
        metadata=metadata,
        method={"type": "supervised", "supervised": {"hyperparameters": hp}},
    )


def test_jobs_logs_follow_prints_the_trainers_output_until_the_job_ends(
    torch_server, tmp_path, capsys
) -> None:
    client = torch_server.client(timeout=120)
    job = create(client, upload(client, write_jsonl(tmp_path / "t.jsonl", color_examples(12))))
    done = run_cli(
        ["jobs", "logs", job.id, "--follow", "--interval", "0.2"], torch_server, capsys=capsys
    )
    assert done.code == 0, done.err
    assert f"fttui trainer: job {job.id}, supervised on tiny" in done.out
    assert f"job {job.id} succeeded" in done.err
    assert client.fine_tuning.jobs.retrieve(job.id).status == "succeeded"


def test_the_raw_log_of_a_failed_trainer_holds_its_traceback_and_tail_cuts_it(
    torch_server, tmp_path, capsys
) -> None:
    client = torch_server.client(timeout=120)
    training = upload(client, write_jsonl(tmp_path / "t.jsonl", color_examples(12)))
    # LoRA on modules the model does not have: peft raises inside the trainer
    job = create(client, training, metadata={"torch_target_modules": "no_such_proj"})
    failed = wait(client, job.id, {"failed", "succeeded"}, torch_server)
    assert failed.status == "failed", failed
    whole = run_cli(["jobs", "logs", job.id], torch_server, capsys=capsys)
    assert whole.code == 0, whole.err
    assert "Traceback (most recent call last)" in whole.out and "no_such_proj" in whole.out
    last = whole.out.rstrip("\n").splitlines()[-1]
    tail = run_cli(["jobs", "logs", job.id, "--tail", "1"], torch_server, capsys=capsys)
    assert tail.code == 0 and tail.out.splitlines() == [last]
    # over HTTP, the same: text, the offset to follow from, the status
    body = client.get(
        f"/fine_tuning/jobs/{job.id}/logs", cast_to=object, options={"params": {"tail": 1}}
    )
    assert body["text"].strip() == last and body["status"] == "failed"
    assert body["offset"] == len(whole.out.encode())
    rest = client.get(
        f"/fine_tuning/jobs/{job.id}/logs",
        cast_to=object,
        options={"params": {"offset": body["offset"]}},
    )
    assert rest["text"] == ""


def test_a_bad_tail_is_exit_2_and_an_unknown_job_is_one_line(torch_server, capsys) -> None:
    bad = run_cli(["jobs", "logs", "ftjob-x", "--tail", "-1"], torch_server, capsys=capsys)
    assert bad.code == 2 and "--tail must be >= 0" in bad.err
    missing = run_cli(["jobs", "logs", "ftjob-nope"], torch_server, capsys=capsys)
    assert missing.code == 1 and "ftjob-nope" in missing.err
    assert "Traceback" not in missing.err


def test_a_provider_without_raw_logs_says_to_use_the_events(tmp_path, capsys) -> None:
    from support.cli import start_job
    from support.cli import upload as upload_chat

    server = make_server(tmp_path / "sim", executor="sim").start()
    try:
        client = server.client()
        job = start_job(client, upload_chat(client))
        done = run_cli(["jobs", "logs", job.id], server, capsys=capsys)
        assert done.code == 1
        assert "keeps no raw trainer log" in done.err and f"fttui jobs events {job.id}" in done.err
        assert "Traceback" not in done.err
    finally:
        server.stop()
