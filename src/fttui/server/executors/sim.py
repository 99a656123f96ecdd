"""The ``sim`` executor: a fast, deterministic, clearly labelled simulation of training.

It follows the job-folder protocol of ``base.py`` exactly like the real trainer (a thread
writes ``events.jsonl``, ``state.json``, checkpoints, ``step_metrics.csv`` and ``model/``),
so the server has one way to follow jobs. Nothing is learned: the loss is a smooth curve
derived from the job's seed, and a "fine-tuned" sim model answers with the training-file
answer closest to the question — labelled ``[simulated]`` — which is enough to demo and
test the whole loop (stop sequences, ``n``, max tokens, checkpoints as models).

Per-job knobs (``TrainerSpec.options``, from job metadata ``sim_<name>``):
``seconds_per_step`` (default 0.03: a 20-example job takes about 3 s), ``fail_at_step`` and
``fail_reason`` (the job fails at that step).
"""

from __future__ import annotations

import csv
import errno
import hashlib
import json
import math
import re
import shutil
import threading
import time
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from fttui.server.executors.base import (
    FINE_TUNING_METHODS,
    BaseModelInfo,
    Embeddings,
    EmbedRequest,
    Executor,
    ExecutorError,
    Generation,
    GenerationRequest,
    TokenDelta,
)
from fttui.server.jobfolder import JobState, TrainerSpec, write_json_atomic
from fttui.server.rft import sub_grader_names

#: Base models the simulation offers, with plausible creation dates.
SIM_BASE_MODELS: dict[str, int] = {
    "gpt-4o-mini-2024-07-18": 1721172741,
    "gpt-4o-2024-08-06": 1722814719,
    "gpt-4.1-mini-2025-04-14": 1744318173,
    "gpt-4.1-nano-2025-04-14": 1744321707,
    "gpt-3.5-turbo-0125": 1706048358,
    "babbage-002": 1692634615,
    "davinci-002": 1692634301,
    "SmolLM2-135M-Instruct": 1730851200,
}
#: the methods the simulation takes on a model, where not all of them (as at OpenAI: the
#: legacy completion models are fine-tuned on prompt/completion data only, without DPO or a
#: grader's chat samples); the others simulate supervised, DPO and RFT
SIM_METHODS: dict[str, tuple[str, ...]] = {
    "babbage-002": ("supervised",),
    "davinci-002": ("supervised",),
}
DEFAULT_SECONDS_PER_STEP = 0.03
KEEP_CHECKPOINTS = 3
MAX_ANSWERS = 500  #: training answers a sim model keeps to answer with
CSV_HEADER = ["step", "train_loss", "train_accuracy", "valid_loss", "valid_mean_token_accuracy"]
#: an RFT job's result file: rewards in place of losses
RFT_CSV_HEADER = ["step", "train_reward_mean", "valid_reward_mean"]
_TOKEN_RE = re.compile(r"\s*\S+|\s+")
_WORD_RE = re.compile(r"\w+")
#: the size of a sim embedding (``dimensions`` may ask for fewer)
SIM_EMBEDDING_DIMENSIONS = 256


def _text_of(content: Any) -> str:
    """The text of a message ``content``: a string, or the text parts of a list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _example_pair(obj: Any) -> tuple[str, str] | None:
    """(question, answer) of one training example of any supported format."""
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("prompt"), str) and isinstance(obj.get("completion"), str):
        return obj["prompt"], obj["completion"]
    messages = obj.get("messages")
    answer_list = obj.get("preferred_output") or obj.get("preferred_completion")
    if isinstance(obj.get("input"), dict):
        messages = obj["input"].get("messages")
    if not isinstance(messages, list):
        return None
    if isinstance(answer_list, list) and answer_list and isinstance(answer_list[-1], dict):
        answer = _text_of(answer_list[-1].get("content"))
        history = messages
    else:
        last = max(
            (
                i
                for i, m in enumerate(messages)
                if isinstance(m, dict) and m.get("role") == "assistant"
            ),
            default=None,
        )
        if last is None:
            return None
        answer = _text_of(messages[last].get("content"))
        history = messages[:last]
    question = next(
        (
            _text_of(m.get("content"))
            for m in reversed(history)
            if isinstance(m, dict) and m.get("role") == "user"
        ),
        "",
    )
    return question, answer


def _read_examples(path: str) -> tuple[int, int, list[tuple[str, str]]]:
    """(examples, characters, up to MAX_ANSWERS question/answer pairs) of a JSONL file."""
    count = chars = 0
    pairs: list[tuple[str, str]] = []
    with open(path, "rb") as fh:
        for raw in fh:
            if not raw.strip():
                continue
            count += 1
            chars += len(raw)
            if len(pairs) < MAX_ANSWERS:
                try:
                    pair = _example_pair(json.loads(raw))
                except ValueError:
                    pair = None
                if pair:
                    pairs.append(pair)
    return count, chars, pairs


def _unit(seed: int, *parts: object) -> float:
    """A deterministic number in [0, 1) from the seed and ``parts``."""
    digest = hashlib.blake2b(repr((seed, *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _error_of(exc: Exception) -> dict[str, str]:
    """The ``state.json`` error of a crashed run; a full disk says so."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return {
            "code": "disk_full",
            "message": f"the disk of the job folder is full ({exc.strerror}); free some "
            "space and create the job again",
        }
    return {"code": "sim_error", "message": f"simulation crashed: {exc}"}


class _SimRun(threading.Thread):
    """One simulated training run, writing the job folder as a trainer process would."""

    def __init__(self, spec: TrainerSpec, halt: threading.Event) -> None:
        super().__init__(name=f"sim-{spec.job_id}", daemon=True)
        self.spec = spec
        self.dir = Path(spec.output_dir)
        self.halt = halt  #: server shutdown: stop without a final status
        self.error: dict[str, str] | None = None  #: why the run crashed, if it did

    # -- writers -----------------------------------------------------------------
    def event(
        self, message: str, *, type_: str = "message", data: dict | None = None, level: str = "info"
    ) -> None:
        line = {
            "created_at": int(time.time()),
            "level": level,
            "message": message,
            "type": type_,
            "data": data or {},
        }
        with (self.dir / "events.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")
            fh.flush()

    def control(self) -> str | None:
        try:
            return json.loads((self.dir / "control.json").read_text(encoding="utf-8")).get("action")
        except (FileNotFoundError, ValueError, AttributeError):
            return None

    def save_adapter(self, folder: Path, step: int, metrics: dict, pairs: list) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        write_json_atomic(
            folder / "sim_adapter.json",
            {
                "simulated": True,
                "base_model": self.spec.base_model,
                "step": step,
                "metrics": metrics,
                "answers": pairs,
            },
        )

    # -- the run -----------------------------------------------------------------
    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:  # the job fails with the reason; the server stays up
            self.error = _error_of(exc)
            state = JobState.read(self.dir) or JobState()
            state.status = "failed"
            state.error = self.error
            try:
                state.write(self.dir)
            except OSError:  # e.g. the disk is full: ``SimExecutor.state`` reports it
                pass

    def _run(self) -> None:
        spec, opts = self.spec, self.spec.options
        n_examples, chars, pairs = _read_examples(spec.training_file)
        n_examples = max(n_examples, 1)
        valid_pairs = None
        if spec.validation_file:
            valid_pairs = _read_examples(spec.validation_file)[0]
        steps_per_epoch = math.ceil(n_examples / max(spec.batch_size, 1))
        total = steps_per_epoch * spec.n_epochs
        tokens_per_epoch = max(chars // 4, n_examples)
        seconds = float(opts.get("seconds_per_step", DEFAULT_SECONDS_PER_STEP))
        fail_at = int(opts["fail_at_step"]) if "fail_at_step" in opts else None

        state = JobState.read(self.dir) or JobState()
        start = 0
        if spec.resume_from:
            meta = json.loads((self.dir / spec.resume_from / "sim_adapter.json").read_text())
            start = int(meta["step"])
            self.event(f"Resuming the simulation from step {start}")
            self._trim_csv(start)
        else:
            state = JobState()
            self.event(
                f"Simulated training (fttui sim executor, nothing is really trained): "
                f"{n_examples} examples, {spec.n_epochs} epochs, {total} steps, "
                f"about {tokens_per_epoch * spec.n_epochs} tokens",
                data={
                    "examples": n_examples,
                    "total_steps": total,
                    "estimated_tokens": tokens_per_epoch * spec.n_epochs,
                },
            )
        state.status, state.total_steps, state.step, state.error = "running", total, start, None
        state.resume_checkpoint = None
        state.estimated_finish = int(time.time() + seconds * (total - start)) + 1
        state.write(self.dir)

        rft = spec.method == "reinforcement"
        subs = [f"train_reward/{name}" for name in sub_grader_names(spec.grader or {})]
        csv_path = self.dir / "step_metrics.csv"
        if not csv_path.exists():
            with csv_path.open("w", newline="") as fh:
                csv.writer(fh).writerow([*RFT_CSV_HEADER, *subs] if rft else CSV_HEADER)

        for step in range(start + 1, total + 1):
            if self.halt.is_set():  # server shutting down: save the step, resume on restart
                folder = f"checkpoints/pause-step-{step - 1}"
                self.save_adapter(self.dir / folder, step - 1, {}, pairs)
                state.resume_checkpoint = folder
                state.write(self.dir)
                return
            action = self.control()
            if action == "cancel":
                # the event first: once the server reads a final state it stops reading events
                self.event("Simulated training cancelled")
                state.status = "cancelled"
                state.write(self.dir)
                return
            if action == "pause":
                folder = f"checkpoints/pause-step-{step - 1}"
                self.save_adapter(self.dir / folder, step - 1, {}, pairs)
                self.event(f"Simulated training paused after step {step - 1}")
                state.status, state.resume_checkpoint = "paused", folder
                state.write(self.dir)
                return
            if seconds > 0:
                time.sleep(seconds)
            if fail_at is not None and step >= fail_at:
                reason = str(
                    opts.get("fail_reason")
                    or f"Simulated failure at step {step} (injected with sim_fail_at_step)"
                )
                self.event(reason, level="error")
                state.status = "failed"
                state.error = {"code": "sim_injected_failure", "message": reason}
                state.write(self.dir)
                return

            progress = step / total
            jitter = _unit(spec.seed, "loss", step) - 0.5
            if rft:
                data = self._rewards(step, total, steps_per_epoch, valid_pairs is not None)
                message = (
                    f"Step {step}/{total}: mean reward={data['train_reward_mean']:.4f} (simulated)"
                )
                if "valid_reward_mean" in data:
                    message += f", validation mean reward={data['valid_reward_mean']:.4f}"
                self.event(message, type_="metrics", data=data)
                with csv_path.open("a", newline="") as fh:
                    csv.writer(fh).writerow(
                        [
                            step,
                            data["train_reward_mean"],
                            data.get("valid_reward_mean", ""),
                            *(data[name] for name in subs),
                        ]
                    )
                self._step_done(
                    state, step, total, steps_per_epoch, tokens_per_epoch, seconds, data, pairs
                )
                continue
            loss = round(0.25 + 2.2 * math.exp(-3.5 * progress) + 0.08 * jitter, 4)
            acc = round(min(0.99, 0.45 + 0.5 * (1 - math.exp(-3 * progress)) + 0.02 * jitter), 4)
            data = {  # dict[str, Any], as the RFT branch's above
                "step": step,
                "total_steps": total,
                "train_loss": loss,
                "train_mean_token_accuracy": acc,
            }
            if valid_pairs is not None:
                data["valid_loss"] = round(loss * 1.08 + 0.05, 4)
                data["valid_mean_token_accuracy"] = round(acc * 0.97, 4)
            epoch_end = step % steps_per_epoch == 0
            if epoch_end and valid_pairs is not None:
                data["full_valid_loss"] = round(loss * 1.1 + 0.05, 4)
                data["full_valid_mean_token_accuracy"] = round(acc * 0.96, 4)
            message = f"Step {step}/{total}: training loss={loss:.4f}"
            if "valid_loss" in data:
                message += f", validation loss={data['valid_loss']:.4f}"
            self.event(message, type_="metrics", data=data)
            with csv_path.open("a", newline="") as fh:
                csv.writer(fh).writerow(
                    [
                        step,
                        loss,
                        acc,
                        data.get("valid_loss", ""),
                        data.get("valid_mean_token_accuracy", ""),
                    ]
                )
            self._step_done(
                state, step, total, steps_per_epoch, tokens_per_epoch, seconds, data, pairs
            )

        self.save_adapter(self.dir / "model", total, {}, pairs)
        for stale in (self.dir / "checkpoints").glob("pause-step-*"):
            shutil.rmtree(stale, ignore_errors=True)
        state.status, state.model_path, state.result_file = "succeeded", "model", "step_metrics.csv"
        state.trained_tokens = tokens_per_epoch * spec.n_epochs
        state.estimated_finish = None
        self.event("Simulated training finished")
        state.write(self.dir)

    def _step_done(
        self,
        state: JobState,
        step: int,
        total: int,
        steps_per_epoch: int,
        tokens_per_epoch: int,
        seconds: float,
        data: dict[str, Any],
        pairs: list,
    ) -> None:
        """Record a finished step: progress, and a checkpoint at each epoch's end."""
        state.step = step
        state.trained_tokens = round(tokens_per_epoch * step / steps_per_epoch)
        state.estimated_finish = int(time.time() + seconds * (total - step)) + 1
        if step % steps_per_epoch == 0:
            folder = f"checkpoints/step-{step}"
            self.save_adapter(self.dir / folder, step, data, pairs)
            state.checkpoints.append({"step": step, "path": folder, "metrics": data})
            for old in state.checkpoints[:-KEEP_CHECKPOINTS]:
                shutil.rmtree(self.dir / old["path"], ignore_errors=True)
            state.checkpoints = state.checkpoints[-KEEP_CHECKPOINTS:]
            self.event(f"Checkpoint created at step {step}", data={"step": step})
        state.write(self.dir)

    def _rewards(
        self, step: int, total: int, steps_per_epoch: int, validation: bool
    ) -> dict[str, Any]:
        """Simulated RFT metrics: a mean reward that climbs from about 0.2 to 0.8, one
        sub-reward per grader of a multi grader, a validation reward every eval_interval."""
        spec = self.spec
        progress = step / total
        jitter = _unit(spec.seed, "reward", step) - 0.5
        reward = round(
            min(1.0, max(0.0, 0.2 + 0.6 * (1 - math.exp(-3 * progress)) + 0.06 * jitter)), 4
        )
        data: dict[str, Any] = {"step": step, "total_steps": total, "train_reward_mean": reward}
        for i, name in enumerate(sub_grader_names(spec.grader or {})):
            sub = reward * (0.85 + 0.3 * _unit(spec.seed, "sub", name, step)) - 0.02 * i
            data[f"train_reward/{name}"] = round(min(1.0, max(0.0, sub)), 4)
        interval = int(spec.options.get("eval_interval") or steps_per_epoch or 1)
        if validation and (step % max(interval, 1) == 0 or step == total):
            data["valid_reward_mean"] = round(max(0.0, reward * 0.95 - 0.02), 4)
        return data

    def _trim_csv(self, last_step: int) -> None:
        path = self.dir / "step_metrics.csv"
        if not path.exists():
            return
        rows = list(csv.reader(path.open(newline="")))
        keep = [rows[0], *(r for r in rows[1:] if r and int(r[0]) <= last_step)]
        with path.open("w", newline="") as fh:
            csv.writer(fh).writerows(keep)


@lru_cache(maxsize=64)
def _load_answers(adapter_path: str, model: str = "") -> tuple[tuple[str, str], ...]:
    """The answers of a sim adapter; ``ExecutorError`` when its file is missing or damaged
    (answering as the base model would pass an untrained reply off as the model's)."""
    path = Path(adapter_path) / "sim_adapter.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        return tuple((str(q), str(a)) for q, a in meta.get("answers", []))
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ExecutorError(
            f"the weights of {model or adapter_path} are damaged ({path}: {reason})",
            code="model_not_available",
            param="model",
        ) from None


def _closest_answer(question: str, answers: tuple[tuple[str, str], ...]) -> str:
    words = set(_WORD_RE.findall(question.lower()))

    def score(pair: tuple[str, str]) -> float:
        other = set(_WORD_RE.findall(pair[0].lower()))
        return len(words & other) / (len(other) + 1)

    return max(answers, key=score)[1]


class SimExecutor(Executor):
    """Simulated training and generation (see the module docstring)."""

    name = "sim"
    owned_by = "fttui-sim"
    max_concurrent_jobs = 64

    def __init__(self, *, data_dir: Path | str, base_models: dict[str, str] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self._models = dict(SIM_BASE_MODELS)
        for extra in base_models or {}:
            self._models.setdefault(extra, int(time.time()))
        self._runs: dict[str, _SimRun] = {}
        self._halt = threading.Event()
        self._lock = threading.Lock()

    def base_models(self) -> list[BaseModelInfo]:
        return [
            BaseModelInfo(
                m, self.owned_by, c, fine_tuning_methods=SIM_METHODS.get(m, FINE_TUNING_METHODS)
            )
            for m, c in self._models.items()
        ]

    def check(self, spec: TrainerSpec) -> None:
        if spec.base_model not in self._models:
            raise ExecutorError(
                f"model {spec.base_model!r} is not available for fine-tuning here",
                code="model_not_available",
                param="model",
            )

    def start(self, spec: TrainerSpec) -> None:
        run = _SimRun(spec, self._halt)
        with self._lock:
            self._runs = {k: r for k, r in self._runs.items() if r.is_alive()}
            self._runs[spec.job_id] = run
        run.start()

    def stop(self, job_id: str, action: Literal["cancel", "pause"]) -> None:
        with self._lock:
            run = self._runs.get(job_id)
        if run is not None and run.is_alive():
            write_json_atomic(run.dir / "control.json", {"action": action})

    def state(self, spec: TrainerSpec) -> JobState | None:
        state = JobState.read(spec.output_dir)
        with self._lock:
            run = self._runs.get(spec.job_id)
        if state is not None and state.status == "running" and (run is None or not run.is_alive()):
            # read again: the thread may have written its final state just now
            state = JobState.read(spec.output_dir) or state
            if state.status == "running":
                state.status = "failed"
                # the run's own reason when it had one (it could not write it: a full disk)
                state.error = (run.error if run is not None else None) or {
                    "code": "sim_worker_stopped",
                    "message": "the simulated training worker stopped unexpectedly",
                }
        return state

    def generate(self, request: GenerationRequest) -> Generation:
        if request.base_model not in self._models:
            raise ExecutorError(
                f"model {request.base_model!r} is not served by the sim executor",
                code="model_not_found",
                param="model",
            )
        if request.adapter_path and not Path(request.adapter_path).is_dir():
            # e.g. a checkpoint the trainer rotated away before the server's next tick:
            # say so, as the torch executor does, rather than answer untrained
            raise ExecutorError(
                f"the weights of {request.model} are gone ({request.adapter_path})",
                code="model_not_found",
                param="model",
            )
        if request.messages is not None:
            question = next(
                (
                    _text_of(m.get("content"))
                    for m in reversed(request.messages)
                    if m.get("role") == "user"
                ),
                "",
            )
            prompt_text = " ".join(_text_of(m.get("content")) for m in request.messages)
        else:
            question = prompt_text = request.prompt or ""
        prompt_tokens = len(_TOKEN_RE.findall(prompt_text)) + 3
        answers = _load_answers(request.adapter_path, request.model) if request.adapter_path else ()
        texts = [self._answer(request, question, answers, i) for i in range(request.n)]
        return Generation(prompt_tokens=prompt_tokens, deltas=self._deltas(request, texts))

    def _answer(
        self,
        request: GenerationRequest,
        question: str,
        answers: tuple[tuple[str, str], ...],
        index: int,
    ) -> str:
        if answers:
            answer = _closest_answer(question, answers)
            return "[simulated]" + (answer if answer.startswith((" ", "\n")) else " " + answer)
        # Line breaks kept (each line's own spacing squeezed): echoing a two-line prompt on
        # one line read as if the client had sent a space instead of the newline.
        lines = (" ".join(line.split()) for line in question.strip().splitlines())
        short = "\n".join(lines)[:160] or "nothing"
        variants = (
            "Here is a canned reply.",
            "This reply is made up.",
            "No model ran to write this.",
        )
        pick = 0
        if request.temperature > 0:
            pick = int(_unit(request.seed or 0, index, question) * len(variants))
        return (
            f"[simulated] This is {request.model} on the fttui sim executor, not a real "
            f"model. {variants[pick]} You said: \u201c{short}\u201d. Fine-tune a model on "
            f"your data to hear it answer in your style."
        )

    def embed(self, request: EmbedRequest) -> Embeddings:
        if request.base_model not in self._models:
            raise ExecutorError(
                f"model {request.base_model!r} is not served by the sim executor",
                code="model_not_found",
                param="model",
            )
        vectors = [sim_embedding(t) for t in request.texts]
        tokens = sum(len(_TOKEN_RE.findall(t)) for t in request.texts)
        return Embeddings(vectors=vectors, prompt_tokens=tokens)

    def _deltas(self, request: GenerationRequest, texts: list[str]) -> Iterator[TokenDelta]:
        for index, text in enumerate(texts):
            tokens = _TOKEN_RE.findall(text)
            for k, token in enumerate(tokens[: request.max_tokens]):
                logprob = top = None
                if request.logprobs:
                    logprob = -round(0.05 + 0.9 * _unit(k, token), 4)
                    alternatives = [a for a in (" the", " a", ".", ",", " and") if a != token]
                    top = [(token, logprob)] + [
                        (alt, round(logprob - 1.0 - j, 4)) for j, alt in enumerate(alternatives)
                    ]
                    top = top[: request.top_logprobs]
                yield TokenDelta(index=index, text=token, logprob=logprob, top_logprobs=top)
            finish: Literal["stop", "length"] = (
                "length" if len(tokens) > request.max_tokens else "stop"
            )
            yield TokenDelta(index=index, text="", finish_reason=finish)

    def shutdown(self) -> None:
        self._halt.set()
        with self._lock:
            runs = list(self._runs.values())
        for run in runs:
            run.join(timeout=2)


def sim_embedding(text: str, dimensions: int = SIM_EMBEDDING_DIMENSIONS) -> list[float]:
    """A deterministic stand-in for a model's embedding: the text's character trigrams
    (lower-cased, words padded with spaces) hashed into ``dimensions`` signed buckets, then
    L2-normalised. Texts that share more trigrams point closer together, so cosine
    similarity ranks "Paris" near "paris." and far from "Berlin", as a real model would; a
    hash (blake2b, not ``hash()``) makes it the same in every process and on every run."""
    padded = " " + " ".join(text.lower().split()) + " "
    vec = [0.0] * dimensions
    for i in range(len(padded) - 2):
        digest = hashlib.blake2b(padded[i : i + 3].encode(), digest_size=8).digest()
        bucket = int.from_bytes(digest[:4], "little") % dimensions
        vec[bucket] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vec))
    return [v / norm for v in vec] if norm else vec
