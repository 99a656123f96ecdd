"""A trainer killed while it saves a resume point must resume from a save that is whole:
the resume point it replaces, or else the newest epoch checkpoint, never step 0.

The trainer runs in this process (``Run`` is the body of the trainer process); a kill is a
``BaseException`` raised from inside its save, which leaves the folder as a kill would."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from fttui.server.jobfolder import JobFolder, JobState, TrainerSpec
from fttui.server.trainer import loop


class Killed(BaseException):
    """The trainer process dying (SIGKILL) at this point."""


class PauseAt(JobFolder):
    """A job folder whose server asks for a pause once this run has trained up to ``step``."""

    def __init__(self, path: Path, step: int):
        super().__init__(path)
        self.pause_at, self.trained = step, False

    def add_metrics_row(self, metrics) -> None:
        super().add_metrics_row(metrics)
        self.trained = True

    def control(self) -> str | None:
        if self.trained and self.state.step >= self.pause_at:
            return "pause"
        return super().control()


def make_spec(tmp_path: Path, tiny_model: Path, training: Path) -> TrainerSpec:
    # 12 examples, batch 2: 6 steps an epoch, an epoch checkpoint every 6 steps
    return TrainerSpec(
        job_id="ftjob-resume",
        base_model="tiny",
        model_path=str(tiny_model),
        training_file=str(training),
        output_dir=str(tmp_path / "job"),
        n_epochs=3,
        batch_size=2,
        learning_rate_multiplier=10.0,
        seed=3,
        device="cpu",
        fine_tuned_model="ft:tiny:fttui::resume",
    )


def relaunch(spec: TrainerSpec, job: JobFolder) -> None:
    """Run the job again the way the server resumes it (``Supervisor._launch``)."""
    state = JobState.read(job.path)
    spec.resume_from = state.resume_checkpoint or (
        state.checkpoints[-1]["path"] if state.checkpoints else None
    )
    loop.Run(spec, job).run()


def events(job_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (job_dir / "events.jsonl").read_text().splitlines()]


def said(job_dir: Path) -> list[str]:
    return [e["message"] for e in events(job_dir)]


def test_a_kill_while_saving_a_resume_point_keeps_the_previous_one(
    tiny_model, tmp_path, color_files, monkeypatch
) -> None:
    spec = make_spec(tmp_path, tiny_model, color_files[0])
    job_dir = Path(spec.output_dir)
    loop.Run(spec, PauseAt(job_dir, 8)).run()  # checkpoint at 6, paused at 8
    assert JobState.read(job_dir).resume_checkpoint == "resume/step-8"

    save = torch.save

    def dies(obj, path, *args, **kwargs):
        if loop.TRAINER_STATE in str(path):
            raise Killed
        return save(obj, path, *args, **kwargs)

    monkeypatch.setattr(torch, "save", dies)
    with pytest.raises(Killed):  # the next pause, at step 10, dies mid-save
        relaunch(spec, PauseAt(job_dir, 10))
    monkeypatch.setattr(torch, "save", save)

    before = len(said(job_dir))
    relaunch(spec, PauseAt(job_dir, 10))
    restarted = said(job_dir)[before:]
    assert "Fine-tuning resumed at step 8" in restarted
    assert not any("starting over" in m for m in restarted)
    state = JobState.read(job_dir)
    assert (state.status, state.step, state.resume_checkpoint) == ("paused", 10, "resume/step-10")
    # the older resume point and the dead save's leftovers are gone once it is replaced
    assert [p.name for p in (job_dir / "resume").iterdir()] == ["step-10"]


def test_a_missing_resume_point_falls_back_to_the_newest_checkpoint(
    tiny_model, tmp_path, color_files
) -> None:
    spec = make_spec(tmp_path, tiny_model, color_files[0])
    job_dir = Path(spec.output_dir)
    loop.Run(spec, PauseAt(job_dir, 14)).run()  # checkpoints at 6 and 12, paused at 14
    # as a kill during an older trainer's save left it: state.json names a resume point
    # whose trainer state was never written
    (job_dir / "resume" / "step-14" / loop.TRAINER_STATE).unlink()
    relaunch(spec, JobFolder(job_dir))
    assert "Fine-tuning resumed at step 12" in said(job_dir)
    assert any(
        e["level"] == "warn" and "resuming from checkpoints/step-12" in e["message"]
        for e in events(job_dir)
    )
    state = JobState.read(job_dir)
    assert (state.status, state.step) == ("succeeded", 18), state.error


def test_a_trainer_killed_for_ignoring_pause_resumes_from_its_newest_save(
    tiny_model, tmp_path, monkeypatch
) -> None:
    """The executor kills a trainer that does not pause in time; the job must resume from
    the save ``state.json`` names (here a resume point newer than the epoch checkpoint)."""
    from fttui.server.executors import torch_executor

    monkeypatch.setattr(torch_executor, "PAUSE_GRACE_S", 0.3)
    monkeypatch.setenv("FTTUI_HOME", str(tmp_path / "home"))
    executor = torch_executor.TorchExecutor(
        data_dir=tmp_path / "data", base_models={"tiny": str(tiny_model)}
    )
    job_dir = tmp_path / "ftjob-stuck"
    JobFolder(job_dir).update(
        status="running",
        step=9,
        checkpoints=[{"step": 6, "path": "checkpoints/step-6", "metrics": {}}],
        resume_checkpoint="resume/step-8",
    )
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    trainer = torch_executor._Trainer(job_dir, proc.pid, proc)
    with executor._lock:
        executor._trainers["ftjob-stuck"] = trainer
    try:
        executor.stop("ftjob-stuck", "pause")
        assert trainer.wait(30), "the stuck trainer was not killed"
        deadline = time.monotonic() + 30
        while JobState.read(job_dir).status != "paused" and time.monotonic() < deadline:
            time.sleep(0.05)
        state = JobState.read(job_dir)
        assert (state.status, state.resume_checkpoint) == ("paused", "resume/step-8")
    finally:
        proc.kill()
        executor.shutdown()
