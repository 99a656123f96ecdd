"""The app's handle on the provider: one resolved ``Provider`` and one shared client.

Everything here is blocking and is called from thread workers only (never from the UI
thread). It adds no provider, job or event logic of its own: it holds the connection and
calls the API layer (``fttui.api``), and it keeps the last job list in the cache folder so
the app can show it at once on the next start. No Textual import here.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fttui import paths

if TYPE_CHECKING:  # pragma: no cover
    import openai

    from fttui.api.providers import Provider

#: The columns a job row keeps (the table, the details panel and the cache use these).
ROW_FIELDS = (
    "id",
    "model",
    "status",
    "created_at",
    "finished_at",
    "trained_tokens",
    "fine_tuned_model",
    "training_file",
    "validation_file",
    "hyperparameters",
    "method",
    "error",
    "result_files",
    "suffix",
    "seed",
    "metadata",
    "estimated_finish",
)

CACHE_VERSION = 1
#: The most jobs a full refresh lists (newest first).
MAX_JOBS = 20_000
#: Jobs a quick (periodic) refresh lists: the newest page.
QUICK_PAGE = 100


def _plain(value: Any) -> Any:
    """SDK models → plain JSON-ready values."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if hasattr(value, "model_dump"):
        return _plain(value.model_dump(exclude_none=False))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)


def job_row(job: Any) -> dict[str, Any]:
    """A job (SDK object or dict) as the plain dict the app shows and caches."""
    try:
        from fttui.api.jobs import job_summary

        data = job_summary(job)
    except (ImportError, AttributeError):  # the API layer is not there yet
        data = _plain(job)
    if not isinstance(data, dict):
        data = _plain(job)
    return {name: _plain(data.get(name)) for name in ROW_FIELDS}


_STEP_RE = None


def event_progress(event: Any) -> tuple[int, int | None] | None:
    """(step, total steps) from a metrics event (its ``data``, else "Step 12/48" in its
    message, as OpenAI writes them); None for any other event."""
    import re

    global _STEP_RE
    data = event.get("data") if isinstance(event, dict) else getattr(event, "data", None)
    if isinstance(data, dict) and isinstance(data.get("step"), int):
        total = data.get("total_steps")
        return data["step"], total if isinstance(total, int) else None
    message = event.get("message") if isinstance(event, dict) else getattr(event, "message", "")
    if _STEP_RE is None:
        _STEP_RE = re.compile(r"\bStep (\d+)(?:/(\d+))?")
    m = _STEP_RE.search(str(message or ""))
    if m:
        return int(m.group(1)), int(m.group(2)) if m.group(2) else None
    return None


def is_terminal(status: str | None) -> bool:
    return status in {"succeeded", "failed", "cancelled"}


class Backend:
    """The provider the app talks to, resolved from profile / base URL / key / environment.

    ``client()`` connects on first use (for the ``local`` provider this may start the
    local server, which takes seconds), so it must only be called from a thread worker.
    """

    def __init__(
        self,
        *,
        profile: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
    ) -> None:
        self.profile = profile
        self.base_url = base_url
        self._api_key = api_key
        self._lock = threading.RLock()
        self._provider: Provider | None = None
        self._client: openai.OpenAI | None = None
        self._poll_client: openai.OpenAI | None = None

    def __repr__(self) -> str:  # never show the key
        return f"Backend(profile={self.profile!r}, base_url={self.base_url!r})"

    # -- provider and client ---------------------------------------------------------
    @property
    def provider(self) -> Provider:
        """The resolved provider (no network; after ``client()`` it carries the real URL)."""
        with self._lock:
            if self._provider is None:
                from fttui.api.providers import resolve_provider

                self._provider = resolve_provider(
                    profile=self.profile, base_url=self.base_url, api_key=self._api_key
                )
            return self._provider

    @property
    def connected(self) -> bool:
        return self._client is not None

    def client(self) -> openai.OpenAI:
        """A ready ``openai.OpenAI`` client (blocking: may start the local server)."""
        with self._lock:
            if self._client is None:
                from fttui.api.providers import connect

                provider, client = connect(
                    profile=self.profile, base_url=self.base_url, api_key=self._api_key
                )
                self._provider = provider
                self._client = client
            return self._client

    @property
    def manages_local_server(self) -> bool:
        """True when the app itself starts the local server (no key, no profile): when it
        stops answering, ``reset()`` and ``client()`` start it again."""
        provider = self._provider
        return provider is not None and provider.kind == "local"

    def reset(self) -> None:
        """Forget the connection: the next ``client()`` connects (and starts the local
        server when it is gone)."""
        with self._lock:
            self._client = None
            self._poll_client = None
            self._provider = None

    def poll_client(self) -> openai.OpenAI:
        """The same connection without the SDK's own retries, for polls: a failing poll
        shows the outage banner at once and the app's poller retries on its schedule."""
        with self._lock:
            if self._poll_client is None:
                client = self.client()
                try:
                    self._poll_client = client.with_options(max_retries=0)
                except Exception:  # a client without with_options: use it as it is
                    self._poll_client = client
            return self._poll_client

    def describe(self) -> dict[str, str]:
        """What the status bar shows: profile name, base URL, executor / key source."""
        provider = self._provider
        if provider is None:
            try:
                provider = self.provider
            except Exception as exc:
                return {
                    "name": self.profile or "?",
                    "base_url": self.base_url or "",
                    "detail": str(exc),
                }
        name = provider.name
        detail = ""
        if provider.kind == "local":
            executor = getattr(provider, "executor", None)
            if executor:
                detail = f"local server · {executor}" + (
                    " (simulated training)" if executor == "sim" else " (real training)"
                )
            else:
                detail = "local server · starting…" if self._client is None else "local server"
        else:
            detail = f"key {provider.masked_key}"
        return {"name": name, "base_url": provider.base_url or "", "detail": detail}

    # -- jobs --------------------------------------------------------------------------
    def list_jobs(
        self, *, limit: int | None = MAX_JOBS, should_stop: Callable[[], bool] | None = None
    ) -> list[dict[str, Any]]:
        """The newest ``limit`` jobs as rows, newest first."""
        from fttui.api.jobs import iter_jobs

        rows: list[dict[str, Any]] = []
        for job in iter_jobs(self.poll_client(), limit=limit):
            rows.append(job_row(job))
            if should_stop is not None and len(rows) % 100 == 0 and should_stop():
                break
        return rows

    def get_job(self, job_id: str) -> dict[str, Any]:
        from fttui.api.jobs import get_job

        return job_row(get_job(self.poll_client(), job_id))

    def cancel_job(self, job_id: str) -> dict[str, Any]:
        from fttui.api.jobs import cancel_job

        return job_row(cancel_job(self.client(), job_id))

    def pause_job(self, job_id: str) -> dict[str, Any]:
        from fttui.api.jobs import pause_job

        return job_row(pause_job(self.client(), job_id))

    def resume_job(self, job_id: str) -> dict[str, Any]:
        from fttui.api.jobs import resume_job

        return job_row(resume_job(self.client(), job_id))

    def checkpoints(self, job_id: str) -> list[dict[str, Any]]:
        from fttui.api.jobs import iter_checkpoints

        out = []
        for cp in iter_checkpoints(self.poll_client(), job_id):
            out.append(_plain(cp))
        out.sort(key=lambda c: c.get("step_number") or 0)
        return out

    def latest_progress(self, job_id: str) -> tuple[int, int | None] | None:
        """The step a training job is at, from its newest events (one small page)."""
        from fttui.api.events import iter_events

        found = None
        for event in iter_events(self.poll_client(), job_id, limit=5, page_size=5):
            found = event_progress(_plain(event)) or found
        return found

    def event_follower(self, job_id: str) -> Any:
        from fttui.api.events import EventFollower

        return EventFollower(self.poll_client(), job_id)

    def metrics(self, job_id: str) -> Any:
        """The job's ``MetricSeries`` (from its result CSV when done, else its events)."""
        from fttui.api.events import iter_events
        from fttui.api.jobs import get_job
        from fttui.api.metrics import fetch_job_metrics, series_from_events

        client = self.poll_client()
        job = get_job(client, job_id)
        series = fetch_job_metrics(client, job)
        full = ("full_valid_loss", "full_valid_mean_token_accuracy")
        if getattr(series, "source", "events") != "events" and not any(
            series.series.get(name) for name in full
        ):
            # Result files carry per-step figures only; the full-validation ones are in
            # the last metrics events.
            tail = series_from_events(iter_events(client, job_id, limit=200))
            for name in full:
                if tail.series.get(name):
                    series.series[name] = tail.series[name]
        return series

    # -- models ------------------------------------------------------------------------
    def list_models(self) -> list[dict[str, Any]]:
        """The provider's models as plain dicts (id, owned_by, created, shutdown_date…)."""
        from fttui.api.models import iter_models

        return [_plain(m) for m in iter_models(self.client())]

    def delete_model(self, model_id: str) -> bool:
        from fttui.api.models import delete_model

        return delete_model(self.client(), model_id)

    def data_markers(self, job: dict[str, Any]) -> dict[str, Any] | None:
        """The separator / stop a job's training data uses, and where they came from:
        ``{"separator", "stop", "source"}`` from the job's metadata (fttui recorded them
        when it created the job), else from the head of its training file (kept in the
        cache folder: a file never changes); None when neither says, and for a chat
        model's job (chat data has neither)."""
        from fttui.api.jobs import recorded_markers, training_file_markers

        recorded = recorded_markers(job.get("metadata"))
        if recorded is not None:
            return {"separator": recorded[0], "stop": recorded[1], "source": "metadata"}
        file_id = job.get("training_file")
        if not isinstance(file_id, str) or not file_id:
            return None
        from fttui.api.models import is_legacy_completion_model

        if not is_legacy_completion_model(str(job.get("model") or "")):
            return None  # a chat model trains on chat data: no separator, no stop to find
        import orjson

        jobs_cache = self.cache_path()  # jobs-<provider digest>.json: the same provider
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in file_id)[:100]
        path = jobs_cache.with_name(f"markers-{jobs_cache.stem.removeprefix('jobs-')}-{safe}.json")
        try:
            cached = orjson.loads(path.read_bytes())
        except (OSError, ValueError):
            cached = None
        if isinstance(cached, dict) and cached.get("file") == file_id:
            sep, stop = cached.get("separator"), cached.get("stop")
        else:
            sep, stop = training_file_markers(self.poll_client(), file_id)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(orjson.dumps({"file": file_id, "separator": sep, "stop": stop}))
            except OSError:
                pass  # a cache: the file is read again next time
        if sep is None and stop is None:
            return None
        return {"separator": sep, "stop": stop, "source": f"training file {file_id}"}

    def download_file(self, file_id: str, dest: Path) -> Path:
        """A provider file's content written (atomically) to ``dest``."""
        from fttui.api.files import download_file

        return download_file(self.client(), file_id, dest)

    def stream_chat(self, model: str, prompt: str, **kwargs: Any) -> Any:
        from fttui.api.chat import stream_chat

        return stream_chat(self.client(), model, prompt, **kwargs)

    # -- the job list cache -------------------------------------------------------------
    def cache_path(self) -> Path:
        """Where the last job list of this provider is kept (no key in the name or file)."""
        try:
            provider = self.provider
            ident = f"{provider.name}|{provider.kind}|{provider.base_url or ''}"
            if provider.kind == "local":
                ident = f"local|{paths.data_dir()}"
        except Exception:
            ident = f"{self.profile}|{self.base_url}"
        import hashlib  # here: OpenSSL's start-up is not needed before the first frame

        digest = hashlib.sha256(ident.encode()).hexdigest()[:16]
        return paths.cache_dir() / f"jobs-{digest}.json"

    def load_cached_jobs(self) -> list[dict[str, Any]]:
        import orjson

        try:
            data = orjson.loads(self.cache_path().read_bytes())
        except (OSError, ValueError):
            return []
        if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
            return []
        jobs = data.get("jobs")
        return (
            [j for j in jobs if isinstance(j, dict) and j.get("id")]
            if isinstance(jobs, list)
            else []
        )

    def save_cached_jobs(self, jobs: Iterable[dict[str, Any]]) -> None:
        import orjson

        path = self.cache_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            blob = orjson.dumps({"version": CACHE_VERSION, "jobs": list(jobs)})
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".jobs-", suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                fh.write(blob)
            os.replace(tmp, path)
        except OSError:
            pass
