"""``fttui serve --executor ray`` against a real local Ray cluster, through the real
``openai`` SDK: a job is one Ray job that trains a real (tiny) model; cancel, pause and
resume, a server killed mid-job, a head that does not answer, and bad resource requests."""

from __future__ import annotations

import json
import time
from pathlib import Path

import openai
import pytest

from support.live_server import make_server, wait_for

SYSTEM = {"role": "system", "content": "You answer with colours."}
QUESTION = [SYSTEM, {"role": "user", "content": "Which?"}]
#: hang guards, not budgets: Ray starts each job's trainer in a fresh process on 2 cores
JOB_TIMEOUT_S = 300


def upload(client, path: Path) -> str:
    with path.open("rb") as fh:
        return client.files.create(file=fh, purpose="fine-tune").id


def create_job(
    client,
    training: str,
    *,
    n_epochs: int = 4,
    batch_size: int = 2,
    metadata: dict | None = None,
    extra: dict | None = None,
):
    hp = {"n_epochs": n_epochs, "batch_size": batch_size, "learning_rate_multiplier": 10}
    return client.fine_tuning.jobs.create(
        model="tiny",
        training_file=training,
        seed=3,
        suffix="colours",
        metadata=metadata,
        method={"type": "supervised", "supervised": {"hyperparameters": hp}},
        **(extra or {}),
    )


def wait(
    client, job_id: str, statuses: set[str], server, timeout: float = JOB_TIMEOUT_S, until=None
):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.fine_tuning.jobs.retrieve(job_id)
        if job.status in statuses or (until is not None and until(job)):
            return job
        time.sleep(0.25)
    raise AssertionError(f"job {job_id} is {job.status} after {timeout}s\n{server.log()[-3000:]}")


def events(client, job_id: str) -> list:
    return list(reversed(client.fine_tuning.jobs.list_events(job_id, limit=1000).data))


def metrics(client, job_id: str) -> list[dict]:
    return sorted(
        (e.data for e in events(client, job_id) if e.type == "metrics"), key=lambda d: d["step"]
    )


def test_a_job_is_one_ray_job_that_trains_the_model_with_events_and_checkpoints(
    ray_server, ray_cluster, color_file
):
    client = ray_server.client()
    job = create_job(client, upload(client, color_file), metadata={"ray_num_cpus": "1"})
    done = wait(client, job.id, {"succeeded", "failed", "cancelled"}, ray_server)
    assert done.status == "succeeded", done.error
    # one Ray job, named by the job's id, that ran the trainer to the end
    wait_for(
        lambda: str(ray_cluster.jobs(job.id)[0].status) != "RUNNING", 30, "the Ray job to end"
    )  # its process exits just after the trainer's last write
    ray_jobs = ray_cluster.jobs(job.id)
    assert [(j.submission_id, str(j.status)) for j in ray_jobs] == [(job.id, "SUCCEEDED")]
    assert "fttui.server.trainer" in ray_jobs[0].entrypoint
    steps = metrics(client, job.id)
    assert [m["step"] for m in steps] == list(range(1, 25))  # 12 examples / 2 × 4 epochs
    assert steps[-1]["train_loss"] < steps[0]["train_loss"] * 0.5
    ckpts = client.fine_tuning.jobs.checkpoints.list(job.id).data
    assert sorted(c.step_number for c in ckpts) == [12, 18, 24]  # the last 3 epochs
    # the model the cluster trained answers through the server
    reply = client.chat.completions.create(
        model=done.fine_tuned_model, messages=QUESTION, temperature=0, max_completion_tokens=10
    )
    assert reply.choices[0].message.content.startswith("red green blue")
    assert done.trained_tokens and done.trained_tokens > 0


def test_cancel_stops_the_ray_job_and_the_job_ends_cancelled(ray_server, ray_cluster, color_file):
    client = ray_server.client()
    job = create_job(client, upload(client, color_file), n_epochs=25, batch_size=1)
    wait(client, job.id, set(), ray_server, until=lambda j: len(metrics(client, j.id)) >= 2)
    client.fine_tuning.jobs.cancel(job.id)
    wait_for(
        lambda: all(str(j.status) in ("STOPPED", "SUCCEEDED") for j in ray_cluster.jobs(job.id)),
        60,
        "the Ray job to end",
    )
    assert client.fine_tuning.jobs.retrieve(job.id).status == "cancelled"
    steps = metrics(client, job.id)
    assert len(steps) < 25 * 12  # it stopped early
    time.sleep(1)
    assert len(metrics(client, job.id)) == len(steps)  # and trains no more


def test_pause_then_resume_submits_a_new_ray_job_from_the_resume_point(
    ray_server, ray_cluster, color_file
):
    client = ray_server.client()
    # long enough that an idle machine cannot finish it before the pause lands
    job = create_job(client, upload(client, color_file), n_epochs=20, batch_size=1)
    wait(client, job.id, set(), ray_server, until=lambda j: len(metrics(client, j.id)) >= 3)
    client.fine_tuning.jobs.pause(job.id)
    wait_for(
        lambda: all(str(j.status) in ("STOPPED", "SUCCEEDED") for j in ray_cluster.jobs(job.id)),
        90,
        "the paused Ray job to end",
    )
    paused = client.fine_tuning.jobs.retrieve(job.id)
    assert paused.status == "paused"
    state = json.loads((ray_server.data_dir / "jobs" / job.id / "state.json").read_text())
    at = state["step"]
    assert state["resume_checkpoint"] == f"resume/step-{at}"
    client.fine_tuning.jobs.resume(job.id)
    done = wait(client, job.id, {"succeeded", "failed", "cancelled"}, ray_server)
    assert done.status == "succeeded", done.error
    ids = sorted(j.submission_id for j in ray_cluster.jobs(job.id))
    assert ids == [job.id, f"{job.id}-r1"]
    steps = [m["step"] for m in metrics(client, job.id)]
    assert steps == list(range(1, 241))  # each step once: the resume went on from `at`
    assert any(f"Fine-tuning resumed at step {at}" in e.message for e in events(client, job.id))


def test_a_server_killed_mid_job_reattaches_to_its_ray_job_on_restart(
    ray_server, ray_cluster, color_file
):
    client = ray_server.client()
    job = create_job(client, upload(client, color_file), n_epochs=12, batch_size=1)
    wait(client, job.id, set(), ray_server, until=lambda j: len(metrics(client, j.id)) >= 2)
    ray_server.kill()
    time.sleep(2)  # the Ray job trains on meanwhile
    ray_server.start()
    client = ray_server.client()
    done = wait(client, job.id, {"succeeded", "failed", "cancelled"}, ray_server)
    assert done.status == "succeeded", done.error
    assert [j.submission_id for j in ray_cluster.jobs(job.id)] == [job.id]  # one Ray job only
    assert [m["step"] for m in metrics(client, job.id)] == list(range(1, 145))
    # what matters is above: one Ray job, every step once. The "went on meanwhile" event
    # is not asserted: whether the restarted server still finds the trainer running (and
    # says so) or finds it finished depends on how fast the tiny job runs on the machine.


def test_a_head_that_does_not_answer_leaves_the_job_queued_with_an_event(
    ray_cluster, ray_tiny_model, tmp_path, color_file
):
    from support.live_server import free_port

    gone = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    server = make_server(
        tmp_path / "srv",
        "--base-model",
        f"tiny={ray_tiny_model}",
        "--ray-address",
        gone,
        executor="ray",
    ).start()
    try:
        assert "does not answer" in server.log()  # said at start-up, and it started
        client = server.client()
        job = create_job(client, upload(client, color_file))
        wait_for(
            lambda: any("Waiting to start" in e.message for e in events(client, job.id)),
            30,
            "the waiting event",
        )
        time.sleep(1)
        job = client.fine_tuning.jobs.retrieve(job.id)
        assert job.status == "queued"
        waiting = [e for e in events(client, job.id) if "Waiting to start" in e.message]
        assert len(waiting) == 1 and "does not answer" in waiting[0].message
        # the head comes back (the server restarted against the real one): the job runs
        server.stop()
        server.args[server.args.index(gone)] = ray_cluster.address
        server.start()
        client = server.client()
        done = wait(client, job.id, {"succeeded", "failed", "cancelled"}, server)
        assert done.status == "succeeded", done.error
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("metadata", "words"),
    [
        ({"ray_num_cpu": "1"}, "ray_num_cpu"),
        ({"ray_num_gpus": "-1"}, "ray_num_gpus"),
        ({"ray_num_workers": "1.5"}, "ray_num_workers"),
    ],
)
def test_an_unknown_or_bad_resource_name_is_a_400_naming_it(
    ray_server, color_file, metadata, words
):
    client = ray_server.client()
    file_id = upload(client, color_file)
    with pytest.raises(openai.BadRequestError) as err:
        create_job(client, file_id, metadata=metadata)
    assert words in err.value.message
    assert client.fine_tuning.jobs.list().data == []  # nothing was made


def test_more_gpus_than_the_cluster_has_waits_queued_with_the_reason_then_fails(
    ray_cluster, ray_tiny_model, tmp_path, color_file
):
    server = make_server(
        tmp_path / "srv",
        "--base-model",
        f"tiny={ray_tiny_model}",
        "--ray-address",
        ray_cluster.address,
        "--ray-pending-timeout",
        "10",
        executor="ray",
    ).start()
    try:
        client = server.client()
        job = create_job(client, upload(client, color_file), metadata={"ray_num_gpus": "1"})
        wait(
            client,
            job.id,
            set(),
            server,
            until=lambda j: any(
                "waits for cluster resources" in e.message for e in events(client, j.id)
            ),
        )
        assert client.fine_tuning.jobs.retrieve(job.id).status == "queued"
        reason = next(
            e.message for e in events(client, job.id) if "waits for cluster resources" in e.message
        )
        assert "1 GPU" in reason
        done = wait(client, job.id, {"failed", "succeeded", "cancelled"}, server, timeout=60)
        assert done.status == "failed"
        assert done.error.code == "ray_resources_unavailable"
        assert "1 GPU" in done.error.message and "no room" in done.error.message
        assert metrics(client, job.id) == []
    finally:
        server.stop()


def test_two_workers_under_ray_train_keep_the_global_batch_and_match_one_workers_loss(
    ray_server, ray_cluster, color_file
):
    client = ray_server.client()
    file_id = upload(client, color_file)
    one = create_job(client, file_id, n_epochs=2, batch_size=4)
    two = create_job(
        client,
        file_id,
        n_epochs=2,
        batch_size=4,
        metadata={"ray_num_workers": "2", "ray_num_cpus": "1"},
    )
    for job in (one, two):
        done = wait(client, job.id, {"succeeded", "failed", "cancelled"}, ray_server)
        assert done.status == "succeeded", done.error
    assert client.fine_tuning.jobs.retrieve(two.id).hyperparameters.batch_size == 4
    a, b = metrics(client, one.id), metrics(client, two.id)
    # the same 6 steps (12 examples / a global batch of 4 × 2 epochs), reported once each
    assert [m["step"] for m in a] == [m["step"] for m in b] == list(range(1, 7))
    for x, y in zip(a, b, strict=True):
        assert y["train_loss"] == pytest.approx(x["train_loss"], rel=1e-3, abs=1e-4)
    assert any("data-parallel on 2 Ray Train workers" in e.message for e in events(client, two.id))
    ckpts = client.fine_tuning.jobs.checkpoints.list(two.id).data
    assert sorted(c.step_number for c in ckpts) == [3, 6]
    entry = ray_cluster.jobs(two.id)[0].entrypoint
    assert "fttui.server.trainer.ray_train" in entry


def test_with_storage_the_job_folder_and_its_files_live_on_the_shared_path(
    ray_cluster, ray_tiny_model, tmp_path, color_file
):
    shared = tmp_path / "shared"
    server = make_server(
        tmp_path / "srv",
        "--base-model",
        f"tiny={ray_tiny_model}",
        "--ray-address",
        ray_cluster.address,
        "--storage",
        f"file://{shared}",
        executor="ray",
    ).start()
    try:
        client = server.client()
        job = create_job(client, upload(client, color_file), n_epochs=1)
        done = wait(client, job.id, {"succeeded", "failed", "cancelled"}, server)
        assert done.status == "succeeded", done.error
        folder = shared / "jobs" / job.id
        assert (server.data_dir / "jobs" / job.id).resolve() == folder.resolve()
        assert (folder / "model").is_dir() and (folder / "events.jsonl").is_file()
        spec = json.loads((folder / "spec.json").read_text())
        assert Path(spec["training_file"]).resolve().is_relative_to(shared.resolve())
        reply = client.chat.completions.create(
            model=done.fine_tuned_model, messages=QUESTION, max_completion_tokens=5
        )
        assert reply.choices[0].message.content
        # storage the server can no longer write: a clear 400, and nothing is made
        import shutil

        shutil.rmtree(shared)
        shared.write_text("not a folder")
        with pytest.raises(openai.BadRequestError) as err:
            create_job(client, upload(client, color_file))
        assert "cannot be written" in err.value.message and str(shared) in err.value.message
        assert len(client.fine_tuning.jobs.list().data) == 1
    finally:
        server.stop()
