"""The executor interface: how the local server runs training jobs and answers prompts.

The API layer of ``fttui serve`` never trains or generates itself: it hands a job to an
executor and reads back what the executor reports. Two executors ship: ``sim`` (a fast,
deterministic, clearly labelled simulation for tests and demos) and ``torch`` (real LoRA
training in a separate trainer process). A distributed engine can plug in the same way.

The job-folder protocol
-----------------------
Every job has a folder (``TrainerSpec.output_dir``) that the server creates, holding
``spec.json`` (the spec below, plain JSON, so the same trainer can run anywhere). The
executor — or the trainer process it starts — writes:

``events.jsonl``
    Append-only, one JSON object per line, flushed after each line::

        {"created_at": 1732212345, "level": "info", "message": "Step 3/30: training loss=1.92",
         "type": "metrics", "data": {"step": 3, "total_steps": 30, "train_loss": 1.92,
         "train_mean_token_accuracy": 0.61}}

    ``type`` is ``message`` or ``metrics``; ``data`` is always an object (``{}`` for plain
    messages). The server ingests complete lines only (it remembers the byte offset) and
    gives each event its id.

``state.json``
    Rewritten atomically (temp file + rename) whenever something changes::

        {"status": "running", "step": 3, "total_steps": 30, "trained_tokens": 4096,
         "estimated_finish": 1732212400, "error": null,
         "checkpoints": [{"step": 10, "path": "checkpoints/step-10",
                          "metrics": {"step": 10, "train_loss": 1.2, ...}}],
         "result_file": null, "model_path": null}

    ``status`` is one of ``running``, ``succeeded``, ``failed``, ``cancelled``, ``paused``;
    an executor's ``state`` may also report ``queued`` (a cluster's job waiting for
    resources: the API shows the job queued until it reports ``running``).
    On pause, ``resume_checkpoint`` may name the folder saved for the pause (it need not be
    listed in ``checkpoints``, which holds the epoch-end checkpoints the API shows).
    ``error`` is ``{"code": ..., "message": ...}`` on failure. ``checkpoints`` lists at most
    the last 3 (older folders are deleted). Paths are relative to the job folder. At the end
    ``result_file`` names the step-metrics CSV (header
    ``step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy``) and
    ``model_path`` the final weights/adapter folder.

``control.json``
    Written by the server, read by the trainer between steps: ``{"action": "cancel"}`` or
    ``{"action": "pause"}``. On pause the trainer saves a checkpoint of the current step,
    sets ``status: paused`` and exits; the server later starts it again with
    ``resume_from`` set. On cancel it sets ``status: cancelled`` and exits.

If the process dies without writing a final status, the executor reports ``failed`` with
the reason (exit code, last lines of stderr).

Write a run's last events *before* the ``state.json`` that ends it (``paused`` or a final
status): once the server has read that state it stops reading the job's events, so a line
appended after it would be lost (or, after a pause, shown after the resume).

Before it (re)starts a job, the server removes any ``control.json`` and, when resuming,
rewrites ``state.json`` with ``status: running`` (keeping the other fields), so a stale
``paused`` is never read as the new run's state. Job metadata keys prefixed with the
executor's name (``sim_seconds_per_step``, ``torch_precision``...) reach the executor as
``TrainerSpec.options`` without the prefix, their string values parsed as JSON when they
parse (``"0.01"`` → ``0.01``, ``"3"`` → ``3``, ``"true"`` → ``True``).
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})


class ExecutorError(Exception):
    """A request the executor cannot serve; the API turns it into a 400 with this message."""

    def __init__(self, message: str, code: str = "invalid_request", param: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param


class ExecutorNotReady(ExecutorError):
    """``start`` cannot take the job *now* (a cluster head that does not answer): the job
    stays queued, with an event giving this message, and is started when it answers."""


@dataclass
class TrainerSpec:
    """Everything a trainer needs to run one job; serialised as ``spec.json``."""

    job_id: str
    base_model: str  #: the base model's name as the API knows it
    training_file: str  #: absolute path of the training JSONL
    output_dir: str  #: absolute path of the job folder
    n_epochs: int
    batch_size: int
    learning_rate_multiplier: float
    seed: int
    method: Literal["supervised", "dpo", "reinforcement"] = "supervised"
    beta: float | None = None  #: DPO only
    grader: dict[str, Any] | None = None  #: reinforcement only: OpenAI's grader JSON
    validation_file: str | None = None
    model_path: str | None = None  #: resolved local weights (folder or .gguf); None for sim
    init_adapter: str | None = None  #: continue from this fine-tuned adapter folder
    resume_from: str | None = None  #: checkpoint folder to resume from (after pause/restart)
    fine_tuned_model: str | None = None  #: the model id the job will produce
    lora: bool = True  #: False: full fine-tuning
    precision: Literal["fp32", "bf16"] = "fp32"
    device: str = "auto"
    #: executor-specific options, e.g. for sim: {"seconds_per_step": 0.05,
    #: "fail_at_step": 5, "fail_reason": "..."}
    options: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> TrainerSpec:
        return cls(**json.loads(text))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TrainerSpec:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


@dataclass
class BaseModelInfo:
    """A base model an executor can fine-tune and serve."""

    id: str
    owned_by: str
    created: int = 0
    path: str | None = None  #: local weights, when the executor has them


@dataclass
class GenerationRequest:
    """A chat or legacy completion request, already validated by the API layer.

    Stop sequences are *not* the executor's concern: the server cuts the text at the first
    stop sequence and closes the iterator. Executors should still stop early when the
    iterator is closed (``GeneratorExit``).
    """

    model: str  #: the id the client asked for
    base_model: str
    model_path: str | None = None
    adapter_path: str | None = None  #: fine-tuned model or checkpoint adapter folder
    messages: list[dict[str, Any]] | None = None  #: chat completions
    prompt: str | None = None  #: legacy completions
    max_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    n: int = 1
    seed: int | None = None
    logprobs: bool = False
    top_logprobs: int = 0


@dataclass
class TokenDelta:
    """One piece of generated text for choice ``index``.

    The last delta of each choice has ``finish_reason`` set (``"stop"`` for end of text,
    ``"length"`` when ``max_tokens`` was reached) and may have empty ``text``.
    """

    index: int
    text: str
    logprob: float | None = None
    top_logprobs: list[tuple[str, float]] | None = None
    finish_reason: Literal["stop", "length"] | None = None


@dataclass
class Generation:
    """What ``Executor.generate`` returns: prompt token count and the streamed deltas."""

    prompt_tokens: int
    deltas: Iterator[TokenDelta]


@dataclass
class JobState:
    """The parsed ``state.json`` of a job folder."""

    status: str = "running"
    step: int = 0
    total_steps: int = 0
    trained_tokens: int = 0
    estimated_finish: int | None = None
    error: dict[str, Any] | None = None
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    result_file: str | None = None
    model_path: str | None = None
    #: set on pause: the checkpoint folder (relative) to resume from; when absent the server
    #: resumes from the last entry of ``checkpoints``
    resume_checkpoint: str | None = None

    @classmethod
    def read(cls, job_dir: str | os.PathLike[str]) -> JobState | None:
        """The state in ``job_dir``, or None when the trainer has not written one yet (or
        it cannot be used: see ``load`` for the reason)."""
        try:
            return cls.load(job_dir)
        except StateError:
            return None

    @classmethod
    def load(cls, job_dir: str | os.PathLike[str]) -> JobState | None:
        """The state in ``job_dir``, None when there is none; ``StateError`` naming the
        file when it is damaged (cut short, not an object, a field of the wrong type)."""
        path = Path(job_dir) / "state.json"
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StateError(path, f"cannot be read ({exc})") from None
        if not isinstance(raw, dict):
            raise StateError(path, f"holds a JSON {type(raw).__name__}, not an object")
        known = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        for name, value in known.items():
            if not _STATE_TYPES[name](value):
                raise StateError(path, f"has a {name} of the wrong type: {value!r:.80}")
        for name in ("step", "total_steps", "trained_tokens"):
            if name in known:
                known[name] = int(known[name])
        for ckpt in known.get("checkpoints", ()):
            ckpt["step"] = int(ckpt["step"])
        return cls(**known)

    def write(self, job_dir: str | os.PathLike[str]) -> None:
        """Write atomically: readers never see a half-written file."""
        write_json_atomic(Path(job_dir) / "state.json", asdict(self))


def _is_int(v: Any) -> bool:
    # a float is taken (a trainer may count in floats) and read as an int
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _opt(kind: type | tuple[type, ...]) -> Any:
    return lambda v: v is None or (isinstance(v, kind) and not isinstance(v, bool))


def _checkpoint_ok(c: Any) -> bool:
    return isinstance(c, dict) and _is_int(c.get("step")) and isinstance(c.get("path"), str)


_STATE_TYPES: dict[str, Any] = {
    "status": lambda v: isinstance(v, str),
    "step": _is_int,
    "total_steps": _is_int,
    "trained_tokens": _is_int,
    "estimated_finish": _opt((int, float)),
    "error": _opt(dict),
    "checkpoints": lambda v: isinstance(v, list) and all(_checkpoint_ok(c) for c in v),
    "result_file": _opt(str),
    "model_path": _opt(str),
    "resume_checkpoint": _opt(str),
}


class StateError(ValueError):
    """A ``state.json`` that cannot be used; the message names the file."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path} {reason}")
        self.path, self.reason = path, reason


#: checkpoint folders of a job folder: the epoch checkpoints the API lists, and the ones
#: saved to resume from (sim: checkpoints/pause-step-N, torch: resume/step-N)
_LISTED = re.compile(r"checkpoints/step-(\d+)")
_RESUMABLE = re.compile(r"(?:checkpoints/pause-step|resume/step)-(\d+)")


def state_from_checkpoints(job_dir: str | os.PathLike[str], status: str) -> JobState | None:
    """A ``state.json`` rebuilt from the checkpoint folders on disk (the one that was there
    is damaged): resumable from the latest of them; None when there is none."""
    root = Path(job_dir)
    listed: list[tuple[int, str]] = []
    resumable: list[tuple[int, str]] = []
    for sub in ("checkpoints", "resume"):
        folder = root / sub
        if not folder.is_dir():
            continue
        for item in folder.iterdir():
            rel = f"{sub}/{item.name}"
            if not item.is_dir() or not any(item.iterdir()):
                continue  # a folder the crash left empty
            if m := _LISTED.fullmatch(rel):
                listed.append((int(m.group(1)), rel))
            elif m := _RESUMABLE.fullmatch(rel):
                resumable.append((int(m.group(1)), rel))
    if not listed and not resumable:
        return None
    listed.sort()
    step, latest = max(listed + resumable)
    return JobState(
        status=status,
        step=step,
        checkpoints=[{"step": n, "path": rel, "metrics": {"step": n}} for n, rel in listed[-3:]],
        resume_checkpoint=latest,
    )


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` through a temp file in the same folder + rename.

    Flushed to disk before the rename: after a power cut the file is the old one or the
    new one, never empty or cut short (a rename can reach the disk before the data)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Executor(ABC):
    """Runs training jobs and generation for ``fttui serve``."""

    #: short name used by ``fttui serve --executor NAME``
    name: ClassVar[str]
    #: ``owned_by`` of the models it serves
    owned_by: ClassVar[str]
    #: how many jobs the server runs at once on this executor; the others wait in ``queued``
    max_concurrent_jobs: ClassVar[int] = 1

    @abstractmethod
    def base_models(self) -> list[BaseModelInfo]:
        """Base models available for fine-tuning and chat on this executor."""

    @abstractmethod
    def check(self, spec: TrainerSpec) -> None:
        """Raise ``ExecutorError`` (a 400 for the client) when ``spec`` cannot run here:
        unknown base model, torch missing, DPO unsupported... Called before the job is made."""

    @abstractmethod
    def start(self, spec: TrainerSpec) -> None:
        """Start (or resume, when ``spec.resume_from`` is set) training without blocking.
        ``spec.output_dir`` exists and holds ``spec.json``."""

    @abstractmethod
    def stop(self, job_id: str, action: Literal["cancel", "pause"]) -> None:
        """Ask a running job to cancel or pause (writes ``control.json``); returns at once.
        Must make the job reach a final/paused state within a few seconds, forcibly if need be."""

    @abstractmethod
    def state(self, spec: TrainerSpec) -> JobState | None:
        """The job's current state; reports ``failed`` with a reason if the worker died."""

    @abstractmethod
    def generate(self, request: GenerationRequest) -> Generation:
        """Answer a prompt with a base model, fine-tuned model or checkpoint."""

    def outlived_server(self, spec: TrainerSpec) -> bool:
        """Whether a worker from the server's previous run is still training this job (the
        server was killed, not stopped): the restarted server then follows it rather than
        failing or restarting a job that is in fact running. False when workers cannot
        outlive the server (threads)."""
        return False

    def unavailable_reason(self, model: str) -> str | None:
        """Why ``model`` is not a base model here and how to get it, for the API's
        "model not available" answer; None when the executor has nothing to add."""
        return None

    def logs(self, job_dir: Path, job_id: str) -> str | None:
        """The job's raw trainer log so far (its process's output, all runs), for
        ``GET /v1/fine_tuning/jobs/{id}/logs``; None when this executor keeps none."""
        return None

    def startup_lines(self) -> list[str]:
        """Lines the server prints when it starts (e.g. a cluster it cannot reach yet)."""
        return []

    def shutdown(self) -> None:  # noqa: B027 - optional hook
        """Stop every running job (server shutdown). Jobs come back as failed or resumable."""
