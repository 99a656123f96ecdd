"""The executor interface: how the local server runs training jobs and answers prompts.

The API layer of ``fttui serve`` never trains or generates itself: it hands a job to an
executor and reads back what the executor reports. Two executors ship: ``sim`` (a fast,
deterministic, clearly labelled simulation for tests and demos) and ``torch`` (real LoRA
training in a separate trainer process). A distributed engine can plug in the same way.

The job folder each job is run in (``spec.json``, ``events.jsonl``, ``state.json``,
``control.json``) is described, and its types defined, in ``fttui.server.jobfolder``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from fttui.server.jobfolder import JobState, TrainerSpec

#: the fine-tuning methods ``fttui serve`` knows; a base model takes all of them unless its
#: executor says otherwise (``BaseModelInfo.fine_tuning_methods``)
FINE_TUNING_METHODS: tuple[str, ...] = ("supervised", "dpo", "reinforcement")


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
class BaseModelInfo:
    """A base model an executor can fine-tune and serve."""

    id: str
    owned_by: str
    created: int = 0
    path: str | None = None  #: local weights, when the executor has them
    #: the methods a job on it may use (served on its ``/v1/models`` object, checked at create)
    fine_tuning_methods: tuple[str, ...] = FINE_TUNING_METHODS


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
class EmbedRequest:
    """``POST /v1/embeddings``, already validated: one vector per text, in order."""

    model: str  #: the id the client asked for
    base_model: str
    texts: list[str]
    model_path: str | None = None
    adapter_path: str | None = None  #: fine-tuned model or checkpoint adapter folder


@dataclass
class Embeddings:
    """What ``Executor.embed`` returns: the vectors (L2-normalised) and the tokens read."""

    vectors: list[list[float]]
    prompt_tokens: int


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

    def embed(self, request: EmbedRequest) -> Embeddings:
        """Embed ``request.texts`` with the model (``/v1/embeddings``); an executor without
        embeddings says so, as a 400 the client reads."""
        raise ExecutorError(
            f"the {self.name} executor has no embeddings", code="embeddings_unsupported"
        )

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
