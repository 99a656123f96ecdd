"""A job's ``state.json`` damaged while the server was down (a real server, kill -9, real
files): one bad job never stops the server, and a job with a checkpoint on disk goes on
from it rather than from step 0 or not at all."""

from __future__ import annotations

import json

from support.live_server import wait_for

MODEL = "gpt-4o-mini-2024-07-18"


def upload(client, chat_jsonl):
    return client.files.create(file=chat_jsonl.open("rb"), purpose="fine-tune")


def slow_job(client, file_id: str, seconds: str = "0.05", epochs: int = 3):
    return client.fine_tuning.jobs.create(
        model=MODEL,
        training_file=file_id,
        hyperparameters={"n_epochs": epochs},
        metadata={"sim_seconds_per_step": seconds},
    )


def wait_checkpoint(client, job_id: str, timeout: float = 30) -> None:
    wait_for(lambda: client.fine_tuning.jobs.checkpoints.list(job_id).data, timeout, "a checkpoint")


def messages(client, job_id: str) -> list[str]:
    return [e.message for e in client.fine_tuning.jobs.list_events(job_id, limit=1000)]


def metric_steps(client, job_id: str) -> list[int]:
    return [
        e.data["step"]
        for e in client.fine_tuning.jobs.list_events(job_id, limit=1000)
        if e.type == "metrics"
    ]


def test_a_state_json_of_the_wrong_shape_fails_that_job_and_the_server_starts(
    tmp_path, make_server, chat_jsonl, wait_job
) -> None:
    server = make_server(tmp_path).start()
    client = server.client()
    train = upload(client, chat_jsonl)
    done = wait_job(client, slow_job(client, train.id, "0", 1).id)
    shapes = {"[1, 2]": "holds a JSON list", '{"checkpoints": [{"path": "x"}]}': "checkpoints"}
    jobs = [slow_job(client, train.id, "1") for _ in shapes]
    for job in jobs:
        wait_job(client, job.id, {"running"})
    server.kill()
    for job, text in zip(jobs, shapes, strict=True):
        (server.data_dir / "jobs" / job.id / "state.json").write_text(text)

    server.start()  # before: "unexpected error: AttributeError… please report it"
    try:
        client = server.client()
        for job, reason in zip(jobs, shapes.values(), strict=True):
            failed = wait_job(client, job.id)
            assert failed.status == "failed" and failed.error.code == "state_damaged"
            path = server.data_dir.resolve() / "jobs" / job.id / "state.json"
            assert str(path) in failed.error.message and reason in failed.error.message
        assert client.fine_tuning.jobs.retrieve(done.id).status == "succeeded"
        assert "Traceback" not in server.log()
    finally:
        server.stop()


def test_a_running_job_with_a_truncated_state_json_resumes_from_its_checkpoint(
    tmp_path, make_server, chat_jsonl, wait_job
) -> None:
    server = make_server(tmp_path).start()
    client = server.client()
    job = slow_job(client, upload(client, chat_jsonl).id, "0.05")
    wait_checkpoint(client, job.id)
    server.kill()
    state = server.data_dir / "jobs" / job.id / "state.json"
    state.write_bytes(state.read_bytes()[:25])  # cut short, as a power cut may leave it

    server.start()
    try:
        client = server.client()
        finished = wait_job(client, job.id, timeout=60)
        said = messages(client, job.id)
        # before: failed "before its first checkpoint" although one was on disk
        assert finished.status == "succeeded", (finished.error, said)
        assert any("recovered step 20 from its checkpoint checkpoints/step-20" in m for m in said)
        assert set(metric_steps(client, job.id)) == set(range(1, 61))
    finally:
        server.stop()


def test_a_paused_job_with_a_truncated_state_json_resumes_where_it_paused(
    tmp_path, make_server, chat_jsonl, wait_job
) -> None:
    server = make_server(tmp_path).start()
    try:
        client = server.client()
        job = slow_job(client, upload(client, chat_jsonl).id, "0.05")
        wait_checkpoint(client, job.id)
        client.fine_tuning.jobs.pause(job.id)
        folder = server.data_dir / "jobs" / job.id
        wait_for(lambda: '"paused"' in (folder / "state.json").read_text(), what="the pause")
        paused_at = json.loads((folder / "state.json").read_text())["step"]
        server.stop()
        (folder / "state.json").write_text('{"status": "pau')

        server.start()
        client = server.client()
        client.fine_tuning.jobs.resume(job.id)
        finished = wait_job(client, job.id, timeout=60)
        said = messages(client, job.id)
        assert finished.status == "succeeded", (finished.error, said)
        # before: "Resuming" never said, the run started again from step 0
        assert f"Resuming the simulation from step {paused_at}" in said, said
        assert sorted(set(metric_steps(client, job.id))) == list(range(1, 61))
    finally:
        server.stop()


def test_resume_after_kill_reports_each_step_once_after_a_torn_events_line(
    tmp_path, make_server, chat_jsonl, wait_job
) -> None:
    server = make_server(tmp_path).start()
    client = server.client()
    job = slow_job(client, upload(client, chat_jsonl).id, "0.05")
    # past the checkpoint at 20
    wait_for(lambda: max(metric_steps(client, job.id), default=0) >= 26, what="step 26")
    server.kill()
    with (server.data_dir / "jobs" / job.id / "events.jsonl").open("a") as fh:
        fh.write('{"created_at": 1, "level": "info", "mess')  # the kill cut this line

    server.start()
    try:
        client = server.client()
        finished = wait_job(client, job.id, timeout=60)
        assert finished.status == "succeeded", finished.error
        said = messages(client, job.id)
        # before: glued to the torn line, the first event after the restart was lost
        assert "Resuming the simulation from step 20" in said, said
        steps = metric_steps(client, job.id)
        # before: steps 21..26 twice (the replay after the checkpoint)
        assert sorted(steps) == list(range(1, 61)), steps
        csv = client.files.content(finished.result_files[0]).text.splitlines()[1:]
        assert [int(row.split(",")[0]) for row in csv] == list(range(1, 61))
    finally:
        server.stop()


def test_a_truncated_sim_adapter_is_an_error_not_the_base_models_reply(
    tmp_path, make_server, chat_jsonl, wait_job
) -> None:
    import openai
    import pytest

    server = make_server(tmp_path).start()
    try:
        client = server.client()
        job = wait_job(client, slow_job(client, upload(client, chat_jsonl).id, "0", 1).id)
        adapter = server.data_dir / "jobs" / job.id / "model" / "sim_adapter.json"
        adapter.write_bytes(adapter.read_bytes()[:40])
        with pytest.raises(openai.BadRequestError) as err:
            client.chat.completions.create(
                model=job.fine_tuned_model, messages=[{"role": "user", "content": "Hi"}]
            )
        assert "damaged" in err.value.message and "sim_adapter.json" in err.value.message
    finally:
        server.stop()
