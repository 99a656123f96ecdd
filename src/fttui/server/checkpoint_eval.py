"""A job's ``eval_grader``: each new checkpoint scored on the validation file with a grader.

A job whose metadata holds ``eval_grader`` (a grader's JSON; metadata values are strings)
gets, for each checkpoint, the grader's mean reward over the validation file's items
(the first ``MAX_ITEMS``), answered by the checkpoint itself, reported as a ``metrics``
event ``{"step": N, "eval_grader": mean}`` — a series beside the losses, so checkpoints
can be compared (``fttui jobs metrics``, the Metrics pane). It runs on one thread of its
own, after the checkpoint is recorded, so training and the API never wait for it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson

from fttui.server.errors import ApiError, bad_request

METADATA_KEY = "eval_grader"
MAX_ITEMS = 200


def parse_eval_grader(metadata: dict[str, str] | None, has_validation: bool) -> dict | None:
    """The grader a job's metadata asks for, or None; a 400 naming what is wrong."""
    from fttui.evals import has_python, validate

    raw = (metadata or {}).get(METADATA_KEY)
    if raw is None:
        return None
    param = f"metadata.{METADATA_KEY}"
    try:
        grader = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"{param} must be a grader's JSON: {exc}", param=param) from None
    errors = validate(grader)
    if errors:
        raise bad_request(
            f"{param}: invalid grader: " + "; ".join(errors), param=param, code="invalid_grader"
        )
    if has_python(grader):
        raise bad_request(
            f"{param}: python graders do not run on fttui serve.",
            param=param,
            code="python_grader_disabled",
        )
    if not has_validation:
        raise bad_request(
            f"{param} scores each checkpoint on the validation file: give a validation_file.",
            param="validation_file",
        )
    return grader


class CheckpointEvaluator:
    def __init__(self, models: Any, executor: Any, record: Callable[..., None]) -> None:
        self.models, self.executor, self.record = models, executor, record
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint-eval")
        self._halt = threading.Event()

    def submit(self, job_id: str, grader: dict, validation: Path, model: str, step: int) -> None:
        self._pool.submit(self._run, job_id, grader, validation, model, step)

    def close(self) -> None:
        self._halt.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _answer(self, model: str, item: Any, stops: list[str] | None) -> str:
        from fttui.server.generation import (
            chat_completion,
            chat_request,
            completion,
            completion_request,
        )

        body: dict[str, Any] = {"model": model, "temperature": 0, "max_tokens": 256}
        if stops:
            body["stop"] = stops
        if item.kind == "completion":
            body["prompt"] = item.prompt
            req, stop, prompts, echo, _, _ = completion_request(body, self.models, self.executor)
            return completion(self.executor, req, stop, prompts, echo)["choices"][0]["text"]
        body["messages"] = item.messages
        req, stop, _, _ = chat_request(body, self.models, self.executor)
        return chat_completion(self.executor, req, stop)["choices"][0]["message"]["content"] or ""

    def _run(self, job_id: str, grader: dict, validation: Path, model: str, step: int) -> None:
        from fttui.evals import Runner, run
        from fttui.evals.items import detect_stop, iter_items
        from fttui.server.generation import embed_texts

        def embed(texts: list[str]) -> list[list[float]]:
            # cosine similarity through the job's base model: the same yardstick at every
            # checkpoint, where the checkpoint's own embeddings would move with training.
            # Resolved here, after an answer: the checkpoint's id is known by then.
            base = self.models.resolve(model).base_model
            return embed_texts(self.models, self.executor, base, texts).vectors

        runner = Runner(embed=embed)
        try:
            stop = detect_stop(validation)
            stops = [stop] if stop else None
            rewards: list[float] = []
            for item in iter_items(validation, stop=stop, limit=MAX_ITEMS):
                if self._halt.is_set():
                    return
                if not item.gradable(by_grader=True):  # RFT prompts too: graded on fields
                    continue
                text = self._answer_when_ready(model, item, stops)
                rewards.append(run(grader, item.namespace(), text, runner).reward)
        except Exception as exc:  # a checkpoint deleted meanwhile, a damaged file: said, not raised
            self.record(job_id, f"eval_grader could not score {model}: {exc}", level="warn")
            return
        if not rewards:
            self.record(
                job_id,
                "eval_grader: the validation file has no item with a reference",
                level="warn",
            )
            return
        mean = sum(rewards) / len(rewards)
        self.record(
            job_id,
            f"Checkpoint at step {step}: eval_grader {grader.get('name')!r} scored {mean:.4f} "
            f"on {len(rewards)} validation examples",
            type_="metrics",
            data={"step": step, METADATA_KEY: mean},
        )

    def _answer_when_ready(self, model: str, item: Any, stops: list[str] | None) -> str:
        # The checkpoint is submitted inside the transaction that records it: until that
        # commits, its model id is unknown (a 404) for a moment.
        for _ in range(100):
            try:
                return self._answer(model, item, stops)
            except ApiError as exc:
                if exc.status != 404:
                    raise
                time.sleep(0.05)
        return self._answer(model, item, stops)
