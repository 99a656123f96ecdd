"""``fttui serve --executor ray --storage s3://…``: the job folders live in an object store
(a real S3-compatible server on loopback, moto's), the Ray job trains in a scratch folder
and syncs through it, and the server mirrors it: events, checkpoints, the model it serves,
pause and resume; a bucket nobody can write is a 400 at create."""

from __future__ import annotations

import json

import openai
import pytest

pytest.importorskip("s3fs")
pytest.importorskip("moto")

from test_ray_executor import QUESTION, create_job, events, metrics, upload, wait

from support.cli import run_cli
from support.live_server import make_server, wait_for
from support.s3 import S3_ENV, start_s3

BUCKET = "fttui-jobs"
#: examples in the pause and cancel tests' file: enough that an idle machine is still training
#: when the pause or cancel comes down from the store (the sync takes a second or so each
#: way; with 12 the job could end first), few enough that every step's metrics event fits
#: in one page of events (1,000)
LONG = 36


@pytest.fixture
def long_file(tmp_path):
    from trainer.tiny import color_examples, write_jsonl

    return write_jsonl(tmp_path / "long.jsonl", color_examples(LONG))


@pytest.fixture
def s3():
    server = start_s3()
    server.make_bucket(BUCKET)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_server(ray_cluster, ray_tiny_model, tmp_path, s3):
    server = make_server(
        tmp_path / "srv",
        "--base-model",
        f"tiny={ray_tiny_model}",
        "--ray-address",
        ray_cluster.address,
        "--storage",
        f"s3://{BUCKET}/team",
        "--storage-option",
        f"endpoint_url={s3.endpoint}",
        executor="ray",
    )
    server.env.update(S3_ENV)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_a_job_with_its_folder_on_s3_trains_with_events_checkpoints_and_a_servable_model(
    s3_server, ray_cluster, s3, color_file, capsys
):
    client = s3_server.client()
    job = create_job(client, upload(client, color_file))
    done = wait(client, job.id, {"succeeded", "failed", "cancelled"}, s3_server)
    assert done.status == "succeeded", done.error
    entry = ray_cluster.jobs(job.id)[0].entrypoint
    assert "fttui.server.executors.storage" in entry and f"s3://{BUCKET}/team" in entry
    steps = metrics(client, job.id)
    assert [m["step"] for m in steps] == list(range(1, 25))  # every step once
    assert steps[-1]["train_loss"] < steps[0]["train_loss"] * 0.5
    ckpts = client.fine_tuning.jobs.checkpoints.list(job.id).data
    assert sorted(c.step_number for c in ckpts) == [12, 18, 24]
    # the store holds the job folder the trainer wrote...
    fs = s3.fs()
    root = f"{BUCKET}/team/jobs/{job.id}"
    state = json.loads(fs.cat_file(f"{root}/state.json"))
    assert state["status"] == "succeeded" and state["model_path"] == "model"
    assert fs.find(f"{root}/model") and fs.find(f"{root}/checkpoints/step-24")
    assert not fs.exists(f"{root}/checkpoints/step-6")  # pruned there as the trainer pruned
    spec = json.loads(fs.cat_file(f"{root}/spec.json"))
    assert spec["training_file"].startswith("inputs/file-")  # the worker's own copy
    # ...and the server fetched the model back: it answers, as trained
    local = s3_server.data_dir / "jobs" / job.id
    assert (local / "model").is_dir() and not (local / "model").is_symlink()
    reply = client.chat.completions.create(
        model=done.fine_tuned_model, messages=QUESTION, temperature=0, max_completion_tokens=10
    )
    assert reply.choices[0].message.content.startswith("red green blue")
    ckpt_reply = client.chat.completions.create(
        model=ckpts[0].fine_tuned_model_checkpoint, messages=QUESTION, max_completion_tokens=5
    )
    assert ckpt_reply.choices[0].message.content
    # the Ray job's own log, through `fttui jobs logs`: the worker's sync and the trainer
    logs = run_cli(["jobs", "logs", job.id], s3_server, capsys=capsys)
    assert logs.code == 0, logs.err
    assert f"fttui: the job folder s3://{BUCKET}/team/jobs/{job.id} is synced" in logs.out
    assert f"fttui trainer: job {job.id}, supervised on tiny" in logs.out


def test_pause_and_resume_go_through_the_store_and_train_each_step_once(
    s3_server, ray_cluster, long_file
):
    client = s3_server.client()
    job = create_job(client, upload(client, long_file), n_epochs=20, batch_size=1)
    wait(client, job.id, set(), s3_server, until=lambda j: len(metrics(client, j.id)) >= 3)
    client.fine_tuning.jobs.pause(job.id)
    wait_for(
        lambda: all(str(j.status) in ("STOPPED", "SUCCEEDED") for j in ray_cluster.jobs(job.id)),
        90,
        "the paused Ray job to end",
    )
    # the server learns it from the store's state.json, a sync after the Ray job ended
    ended = wait(client, job.id, {"paused", "succeeded", "failed", "cancelled"}, s3_server, 60)
    assert ended.status == "paused", ended.error
    # the trainer's paused state, come down from the store (the mirror may be a sync behind)
    state_file = s3_server.data_dir / "jobs" / job.id / "state.json"
    wait_for(
        lambda: json.loads(state_file.read_text()).get("status") == "paused",
        60,
        "the paused state.json in the server's mirror",
    )
    state = json.loads(state_file.read_text())
    at = state["step"]
    assert state["status"] == "paused" and state["resume_checkpoint"] == f"resume/step-{at}"
    client.fine_tuning.jobs.resume(job.id)
    done = wait(client, job.id, {"succeeded", "failed", "cancelled"}, s3_server)
    assert done.status == "succeeded", done.error
    assert sorted(j.submission_id for j in ray_cluster.jobs(job.id)) == [job.id, f"{job.id}-r1"]
    assert [m["step"] for m in metrics(client, job.id)] == list(range(1, 20 * LONG + 1))
    resumed = [e.message for e in events(client, job.id) if "resumed" in e.message]
    assert any(f"Fine-tuning resumed at step {at}" in m for m in resumed), (at, resumed)


def test_a_bucket_that_cannot_be_written_is_a_400_at_create_and_nothing_is_made(
    ray_cluster, ray_tiny_model, tmp_path, s3, color_file
):
    server = make_server(
        tmp_path / "srv",
        "--base-model",
        f"tiny={ray_tiny_model}",
        "--ray-address",
        ray_cluster.address,
        "--storage",
        "s3://no-such-bucket/x",
        "--storage-option",
        f"endpoint_url={s3.endpoint}",
        executor="ray",
    )
    server.env.update(S3_ENV)
    server.start()
    try:
        client = server.client()
        file_id = upload(client, color_file)
        with pytest.raises(openai.BadRequestError) as err:
            create_job(client, file_id)
        assert err.value.code == "storage_unwritable"
        assert "s3://no-such-bucket/x cannot be written" in err.value.message
        assert "bucket does not exist" in err.value.message
        assert client.fine_tuning.jobs.list().data == []
        assert client.files.retrieve(file_id).id == file_id  # the upload is kept
    finally:
        server.stop()


def test_cancel_reaches_the_trainer_through_the_store(s3_server, ray_cluster, long_file):
    client = s3_server.client()
    job = create_job(client, upload(client, long_file), n_epochs=25, batch_size=1)
    wait(client, job.id, set(), s3_server, until=lambda j: len(metrics(client, j.id)) >= 2)
    client.fine_tuning.jobs.cancel(job.id)
    wait_for(
        lambda: all(str(j.status) in ("STOPPED", "SUCCEEDED") for j in ray_cluster.jobs(job.id)),
        60,
        "the Ray job to end",
    )
    assert client.fine_tuning.jobs.retrieve(job.id).status == "cancelled"
    # the trainer itself read the cancel (control.json came down from the store), rather
    # than being stopped by Ray after the grace period
    # (its event comes down with the store's last sync, after the Ray job ended)
    wait_for(
        lambda: any(
            e.message.startswith("Training cancelled at step") for e in events(client, job.id)
        ),
        60,
        "the trainer's cancel event",
    )
    assert len(metrics(client, job.id)) < 25 * LONG


def test_a_worker_that_cannot_read_the_job_folder_exits_1_saying_why(s3, tmp_path):
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        **S3_ENV,
        "FTTUI_STORAGE_OPTIONS": json.dumps({"endpoint_url": s3.endpoint}),
    }
    done = subprocess.run(
        [sys.executable, "-m", "fttui.server.executors.storage", "s3://no-such-bucket/jobs/x"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1
    assert "cannot read the job folder s3://no-such-bucket/jobs/x" in done.stderr
    assert "Traceback" not in done.stderr
