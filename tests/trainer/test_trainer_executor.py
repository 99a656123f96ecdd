"""The torch executor driven directly: real trainer processes on a tiny model.

Pause, resume, cancel, crashes and restarts are tested through the server
(``test_trainer_server.py``)."""

from __future__ import annotations

import csv
import shutil
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tiny import write_jsonl

from fttui.server.executors.base import ExecutorError, GenerationRequest
from fttui.server.executors.torch_executor import TorchExecutor
from fttui.server.jobfolder import JobState, TrainerSpec

SYSTEM = {"role": "system", "content": "You answer with colours."}


@pytest.fixture
def executor(tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TorchExecutor:
    monkeypatch.setenv("FTTUI_HOME", str(tmp_path / "home"))
    ex = TorchExecutor(data_dir=tmp_path / "data", base_models={"tiny": str(tiny_model)})
    yield ex
    ex.shutdown()


def make_spec(tmp_path: Path, training: Path, name: str = "job", **changes) -> TrainerSpec:
    out = tmp_path / name
    out.mkdir()
    fields = dict(
        job_id=f"ftjob-{name}",
        base_model="tiny",
        training_file=str(training),
        output_dir=str(out),
        n_epochs=4,
        batch_size=2,
        learning_rate_multiplier=10.0,
        seed=3,
        fine_tuned_model=f"ft:tiny:fttui::{name}",
    )
    fields.update(changes)
    spec = TrainerSpec(**fields)
    (out / "spec.json").write_text(spec.to_json())
    return spec


def wait_for(
    executor: TorchExecutor,
    spec: TrainerSpec,
    done: Callable[[JobState], bool],
    timeout: float = 300,
) -> JobState:
    """The job's state once ``done`` holds; the timeout only guards against a hang."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = executor.state(spec)
        if state is not None and done(state):
            return state
        time.sleep(0.05)
    log = (Path(spec.output_dir) / "trainer.log").read_text(errors="replace")
    raise AssertionError(f"timed out; state={executor.state(spec)}\n{log[-3000:]}")


def finished(state: JobState) -> bool:
    return state.status in ("succeeded", "failed", "cancelled", "paused")


def losses(job_dir: Path) -> list[float]:
    with (job_dir / "step_metrics.csv").open() as fh:
        return [float(row["train_loss"]) for row in csv.DictReader(fh)]


def answer(executor: TorchExecutor, tiny_model: Path, adapter: str | None, **kw) -> str:
    generation = executor.generate(
        GenerationRequest(
            model="m",
            base_model="tiny",
            model_path=str(tiny_model),
            adapter_path=adapter,
            messages=[SYSTEM, {"role": "user", "content": "Which?"}],
            max_tokens=8,
            temperature=0,
            **kw,
        )
    )
    return "".join(d.text for d in generation.deltas)


def test_job_trains_and_checkpoints_answer(executor, tiny_model, tmp_path, color_files) -> None:
    train, valid = color_files
    spec = make_spec(tmp_path, train, validation_file=str(valid))
    twin = make_spec(tmp_path, train, "twin")  # same seed; validation changes no weight
    executor.check(spec)
    executor.start(spec)
    executor.start(twin)
    state = wait_for(executor, spec, finished)
    job_dir = Path(spec.output_dir)
    assert state.status == "succeeded", state.error
    assert (state.step, state.total_steps) == (24, 24)
    assert state.trained_tokens > 0 and state.model_path == "model"
    loss = losses(job_dir)
    assert len(loss) == 24 and sum(loss[-3:]) < sum(loss[:3])
    assert wait_for(executor, twin, finished).status == "succeeded"
    assert losses(Path(twin.output_dir)) == loss  # same seed: the same run, step for step
    assert [c["step"] for c in state.checkpoints] == [12, 18, 24]
    assert not (job_dir / "checkpoints" / "step-6").exists()  # only the last 3 are kept
    assert "full_valid_loss" in state.checkpoints[-1]["metrics"]

    events = (job_dir / "events.jsonl").read_text()
    assert "This job will train" in events and "tokens/s" in events

    assert not answer(executor, tiny_model, None).startswith("red green")
    for folder in (state.model_path, state.checkpoints[0]["path"]):
        assert answer(executor, tiny_model, str(job_dir / folder)).startswith("red green blue")


def test_generation_samples_streams_and_reports_logprobs(executor, tiny_model) -> None:
    request = GenerationRequest(
        model="tiny",
        base_model="tiny",
        messages=[SYSTEM],
        max_tokens=5,
        n=2,
        seed=7,
        logprobs=True,
        top_logprobs=2,
    )
    generation = executor.generate(request)
    assert generation.prompt_tokens > 0
    deltas = list(generation.deltas)
    assert {d.index for d in deltas} == {0, 1}
    assert all(d.finish_reason == "length" for d in deltas if d.finish_reason)
    tokens = [d for d in deltas if d.finish_reason is None]
    assert all(d.logprob is not None and len(d.top_logprobs) == 2 for d in tokens)
    again = executor.generate(request)
    assert [d.text for d in again.deltas] == [d.text for d in deltas]  # same seed, same text
    # a closed stream releases the model at once
    stream = executor.generate(
        GenerationRequest(model="tiny", base_model="tiny", prompt="red", max_tokens=200)
    ).deltas
    next(stream)
    stream.close()
    after: list = []
    worker = threading.Thread(
        target=lambda: after.extend(
            executor.generate(
                GenerationRequest(
                    model="tiny", base_model="tiny", prompt="red", max_tokens=3, temperature=0
                )
            ).deltas
        )
    )
    worker.start()
    worker.join(timeout=120)
    assert after and after[-1].finish_reason in ("stop", "length")


def test_unusable_data_fails_the_job_with_a_reason(executor, tmp_path) -> None:
    bad = write_jsonl(
        tmp_path / "bad.jsonl",
        [
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "x", "weight": 0},
                ]
            }
        ],
    )
    spec = make_spec(tmp_path, bad)
    executor.start(spec)
    state = wait_for(executor, spec, finished)
    assert state.status == "failed" and state.error["code"] == "invalid_training_file"
    assert "no example has a trained assistant token" in state.error["message"]


def test_check_refuses_what_cannot_run(executor, tmp_path, color_files, monkeypatch) -> None:
    train, _ = color_files
    with pytest.raises(ExecutorError, match="--base-model NAME=PATH"):
        executor.check(make_spec(tmp_path, train, "unknown", base_model="nope"))
    assert "--base-model NAME=PATH" in executor.unavailable_reason("nope")
    assert executor.unavailable_reason("tiny") is None
    pref = write_jsonl(
        tmp_path / "pref.jsonl",
        [
            {
                "input": {"messages": [{"role": "user", "content": "q"}]},
                "preferred_output": [{"role": "assistant", "content": "a"}],
                "non_preferred_output": [{"role": "assistant", "content": "b"}],
            }
        ],
    )
    with pytest.raises(ExecutorError, match="dpo"):
        executor.check(make_spec(tmp_path, pref, "pref"))
    with pytest.raises(ExecutorError, match="preference examples"):
        executor.check(make_spec(tmp_path, train, "dpo", method="dpo"))
    with pytest.raises(ExecutorError, match="precision"):
        executor.check(make_spec(tmp_path, train, "prec", options={"precision": "fp8"}))
    monkeypatch.setitem(sys.modules, "peft", None)  # as if peft were not installed
    with pytest.raises(ExecutorError, match=r"needs peft: pip install 'fttui\[local\]'"):
        executor.check(make_spec(tmp_path, train, "nopeft"))


def test_full_fine_tuning_saves_a_whole_model_that_answers(
    executor, tiny_model, tmp_path, color_files
) -> None:
    train, _ = color_files
    spec = make_spec(tmp_path, train, n_epochs=3, options={"lora": False, "learning_rate": 0.01})
    executor.start(spec)
    state = wait_for(executor, spec, finished)
    assert state.status == "succeeded", state.error
    model_dir = Path(spec.output_dir) / state.model_path
    assert (model_dir / "config.json").is_file() and not (
        model_dir / "adapter_config.json"
    ).exists()
    assert answer(executor, tiny_model, str(model_dir)).startswith("red green blue")


def test_a_hub_id_trains_from_the_hugging_face_cache(
    tiny_model, tmp_path, color_files, monkeypatch
) -> None:
    """A base model registered as a Hub id (``org/name``) loads through
    ``from_pretrained(org/name)``; offline here, so from a Hugging Face cache laid out as
    ``hf download`` leaves it."""
    import huggingface_hub.constants

    monkeypatch.chdir(tmp_path)  # no local folder called fttui-test/…

    cache = tmp_path / "hf-cache"
    snapshot = cache / "models--fttui-test--tiny" / "snapshots" / ("0" * 40)
    shutil.copytree(tiny_model, snapshot)
    (cache / "models--fttui-test--tiny" / "refs").mkdir()
    (cache / "models--fttui-test--tiny" / "refs" / "main").write_text("0" * 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))  # for the trainer process
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))  # this one
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("FTTUI_HOME", str(tmp_path / "home"))
    executor = TorchExecutor(data_dir=tmp_path / "data", base_models={"hub": "fttui-test/tiny"})
    assert [m.id for m in executor.base_models() if m.id == "hub"] == ["hub"]
    train, _ = color_files
    spec = make_spec(tmp_path, train, base_model="hub", model_path="fttui-test/tiny", n_epochs=1)
    try:
        executor.check(spec)
        executor.start(spec)
        state = wait_for(executor, spec, finished)
    finally:
        executor.shutdown()
    assert state.status == "succeeded", state.error
    gone = make_spec(tmp_path, train, "gone", base_model="gone", model_path="fttui-test/gone")
    with pytest.raises(ExecutorError, match=r"offline.*hf download fttui-test/gone"):
        executor.check(gone)


def _stuck_trainer(executor: TorchExecutor, tmp_path: Path, job_id: str):
    """A trainer that ignores ``control.json`` (hung in a CUDA call, say): a process that only
    sleeps, registered for a job folder whose state says running."""
    import subprocess

    from fttui.server.executors import torch_executor
    from fttui.server.jobfolder import JobFolder

    job_dir = tmp_path / job_id
    job_dir.mkdir(exist_ok=True)
    JobFolder(job_dir).update(status="running", step=3)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    trainer = torch_executor._Trainer(job_dir, proc.pid, proc)
    with executor._lock:
        executor._trainers[job_id] = trainer
    return trainer, job_dir


def test_a_trainer_that_ignores_cancel_is_killed_and_the_job_cancelled(
    executor: TorchExecutor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fttui.server.executors import torch_executor

    monkeypatch.setattr(torch_executor, "CANCEL_GRACE_S", 0.3)
    trainer, job_dir = _stuck_trainer(executor, tmp_path, "ftjob-stuck")
    executor.stop("ftjob-stuck", "cancel")
    assert trainer.wait(30), "the stuck trainer was not killed"
    deadline = time.monotonic() + 30
    while JobState.read(job_dir).status != "cancelled" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert JobState.read(job_dir).status == "cancelled"
    assert "the trainer was stopped" in (job_dir / "events.jsonl").read_text()


def test_a_stop_does_not_overwrite_the_trainer_that_resumed_the_job(
    executor: TorchExecutor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fttui.server.executors import torch_executor

    monkeypatch.setattr(torch_executor, "PAUSE_GRACE_S", 0.5)
    old, job_dir = _stuck_trainer(executor, tmp_path, "ftjob-resumed")
    executor.stop("ftjob-resumed", "pause")
    # Resumed before the grace ran out: a new trainer took the job over (as start() does).
    new, _ = _stuck_trainer(executor, tmp_path, "ftjob-resumed")
    try:
        time.sleep(1.5)  # past the grace: the stop thread has decided by now
        assert JobState.read(job_dir).status == "running"  # not overwritten with "paused"
        assert "the trainer was stopped" not in (
            (job_dir / "events.jsonl").read_text() if (job_dir / "events.jsonl").exists() else ""
        )
    finally:
        old.kill()
        new.kill()
