"""fttui.api — everything the app needs from an OpenAI-compatible fine-tuning provider.

No Textual import anywhere in this package; ``openai`` is imported lazily inside functions,
so ``import fttui.api.<module>`` stays cheap. Every function that talks to the network is
blocking: the TUI calls them from thread workers. Nothing here keeps global mutable state
without a lock, so the functions are safe to call from several threads at once (an
``openai.OpenAI`` client is itself thread-safe and may be shared).

Every failure that reaches a caller is an :class:`fttui.api.errors.ApiError` with a ``kind``
and a one-line ``str()`` — never a raw ``openai``/``httpx2`` exception (functions below wrap
their SDK calls with ``friendly``). Keys are never printed in full, logged or cached:
show ``Provider.masked_key``.

Public surface (module → name, signature → return; errors)
=========================================================

``fttui.api.errors``
    ``class ApiError(Exception)`` — ``.kind`` one of ``KINDS`` = ("auth", "permission",
        "not_found", "conflict", "rate_limit", "network", "timeout", "bad_request",
        "provider", "config", "lint", "cancelled"); ``.message`` (one line), ``.status``
        (HTTP status or None), ``.retry_after`` (seconds or None; set for rate_limit),
        ``.transient`` (bool: worth retrying — rate_limit, network, timeout, 5xx provider).
        ``str(err)`` is the one line to show. Each kind is a subclass, to catch by type:
        ``AuthenticationError`` (auth), ``PermissionDeniedError`` (permission),
        ``NotFoundError`` (not_found), ``ConflictError`` (conflict), ``BadRequestError``
        (bad_request), ``RateLimitError`` (rate_limit), ``ServerError`` (provider),
        ``ApiConnectionError`` (network) and its ``ApiTimeoutError`` (timeout),
        ``ConfigurationError`` (config), ``LintError`` (lint: ``.report``),
        ``OperationCancelledError`` (cancelled); ``ApiError(kind, ...)`` builds the
        subclass of its kind.
    ``friendly(exc: BaseException) -> ApiError`` — converts openai / httpx2 / OSError
        exceptions (an ApiError is returned unchanged).
    ``retry_call(fn: Callable[[], T], *, attempts=4, base_delay=0.5, max_delay=20.0,
        should_stop: Callable[[], bool] | None = None,
        on_retry: Callable[[ApiError, float], None] | None = None,
        sleep=time.sleep) -> T`` — calls ``fn`` and retries transient failures with
        exponential backoff + jitter, honouring ``retry_after`` on 429; raises the last
        ``ApiError`` (kind ``cancelled`` when ``should_stop()`` turns true while waiting).
    ``backoff_delay(attempt: int, err: ApiError | None = None, *, base=0.5, cap=20.0)
        -> float`` — Retry-After when the error has one (capped at 120 s), else
        exponential with jitter.
    ``sleep_interruptibly(seconds, should_stop, sleep=time.sleep) -> bool`` — True if
        stopped early.
    ``parse_retry_after(headers) -> float | None``

``fttui.api.paging``
    ``read_call(fn, *, attempts=3, should_stop=None) -> T`` — an idempotent read with
        ``retry_call`` around it (on top of the client's own retries).
    ``iter_pages(fetch: Callable[[str | None], Page], *, attempts=3, should_stop=None)
        -> Iterator[item]`` — cursor pagination (``after`` = last id), each page retried.

``fttui.config`` (TOML at ``fttui.paths.config_file()``)
    ``load_config(path: Path | None = None) -> Config`` — ``Config.profiles: dict[str,
        ProfileConfig]``, ``Config.default_profile: str | None``, ``Config.keymap:
        dict[str, str]`` (binding id → comma-separated keys, for ``App.set_keymap``).
        Raises ``ConfigError`` (a ValueError) on malformed TOML, with the file and line.
    ``load_keymap(path: Path | None = None) -> dict[str, str]`` — never raises (empty dict
        on any problem).
    ``save_profile(profile: ProfileConfig, path: Path | None = None, *,
        make_default=False) -> Path`` — writes atomically; the file is chmod 0600 when any
        profile holds a literal ``api_key``. ``save_config(cfg, path=None) -> Path``,
        ``remove_profile(name, path=None) -> bool``.
    ``ProfileConfig(name, kind="openai", base_url=None, api_key=None, api_key_env=None,
        api_key_command=None, organization=None, project=None, api_version=None,
        azure_endpoint=None, region=None, timeout=None, max_retries=None)``

``fttui.api.keys``
    ``mask_key(key: str | None) -> str`` — e.g. ``"sk-…a1b2"``; ``"(none)"`` when empty.

``fttui.api.providers`` (``PROFILE_KINDS`` = ("openai", "azure", "bedrock", "nebius",
    "local", "custom") is ``fttui.config``'s)
    ``class Provider`` (frozen dataclass) — ``name`` (profile name or "env"/"cli"),
        ``kind`` (one of PROFILE_KINDS), ``base_url: str | None`` (for ``local``: None
        until a server is recorded in ``server.json``), ``masked_key: str``, ``key_source: str`` ("env OPENAI_API_KEY",
        "config", "command", "--api-key", "local server", ...), ``organization``,
        ``project``, ``api_version``, ``executor: str | None`` (local: "torch"/"sim" once
        known), ``timeout: float``, ``max_retries: int``, ``auto_start: bool`` (the
        ``local`` provider we start ourselves); ``needs_local_server`` property; the key
        itself (``api_key``) is held out of ``repr``/``to_dict``.
        ``provider.describe() -> str`` one line for status bars; ``provider.to_dict() ->
        dict`` (masked key only).
    ``resolve_provider(profile: str | None = None, base_url: str | None = None,
        api_key: str | None = None, *, config: Config | None = None,
        env: Mapping[str, str] | None = None) -> Provider`` — no network. Precedence:
        ``profile`` (explicit ``base_url``/``api_key`` override its values) > explicit
        ``base_url``/``api_key`` > ``OPENAI_BASE_URL``/``OPENAI_API_KEY`` > the config's
        ``default_profile``; no key and no profile → ``local``. Raises
        ApiError(kind="config") for an unknown profile or a malformed config; a failing key
        command is reported by ``make_client`` (kind "config").
    ``list_providers(*, config: Config | None = None, env=None) -> list[Provider]`` — the
        built-in profiles plus the configured ones (for ``fttui profiles``).
    ``make_client(provider: Provider, *, timeout: float | None = None,
        max_retries: int | None = None, http_client=None, start_local: bool = True)
        -> openai.OpenAI`` — deliberate timeouts (connect 5 s, read 30 s by default, not
        the SDK's 600 s) and retries (2; the SDK's backoff honours Retry-After). When
        ``provider.needs_local_server`` it calls ``ensure_local_server()`` first
        (blocking, may take seconds). Raises ApiError(kind="config") without a key, or
        for a base URL that is not http(s).
        Azure: ``openai.AzureOpenAI`` for the endpoint + api-version form.
    ``connect(profile=None, base_url=None, api_key=None, **make_client_kwargs)
        -> tuple[Provider, openai.OpenAI]`` — resolve + (for local) start + client; the
        returned Provider carries the real base URL and executor.
    ``provider_for_local(server: LocalServer, base: Provider | None = None) -> Provider``

``fttui.api.local_server`` (the ``local`` provider's ``fttui serve`` process)
    ``class LocalServer`` (frozen dataclass) — ``base_url``, ``pid``, ``executor``,
        ``data_dir: Path``, ``started: bool`` (True when this call launched it),
        ``masked_key``; the key is held out of ``repr``.
    ``stop_local_server(data_dir: Path | None = None) -> bool`` — SIGTERM the recorded pid.
    ``ensure_local_server(data_dir: Path | None = None, *, timeout: float = 60.0,
        start: bool = True, executor: str | None = None) -> LocalServer`` — reuses a
        server that answers (per ``<data_dir>/server.json`` + ``<data_dir>/api_key``),
        else launches ``python -m fttui serve --executor auto --port 0 --data-dir
        <data_dir>`` detached (``executor`` / ``$FTTUI_LOCAL_EXECUTOR`` replace ``auto``;
        its log in ``<data_dir>/server.log``) and waits for it. Serialised by a lock. Raises
        ApiError(kind="network") if it does not come up in ``timeout``.

``fttui.api.jobs``
    ``TERMINAL_STATUSES`` = {"succeeded", "failed", "cancelled"};
        ``is_terminal(status: str) -> bool``
    ``iter_jobs(client, *, status: str | Iterable[str] | None = None, limit: int | None =
        None, page_size: int = 100) -> Iterator[FineTuningJob]`` — one paginated pass,
        newest first; status filtered client-side.
    ``get_job(client, job_id) -> FineTuningJob``; ``cancel_job``/``pause_job``/
        ``resume_job(client, job_id) -> FineTuningJob`` — writes are retried safely
        (``WRITE_ATTEMPTS``): a 429/5xx is retried; after a dropped connection the effect
        is looked for first, so nothing is done twice.
    ``iter_checkpoints(client, job_id, *, page_size=100) -> Iterator[
        FineTuningJobCheckpoint]``
    ``job_summary(job) -> dict`` — JSON-ready view (id, status, model, fine_tuned_model,
        files, hyperparameters, method, trained_tokens, error, result_files, created_at,
        finished_at, suffix, seed, metadata, estimated_finish).
    ``lint_training_file(path, *, model, validation=None) -> LintReport | None`` —
        ``fttui.datasets.lint_path`` with the model's base (``ft:`` prefix removed).
    ``create_job(client, *, model: str, training_file: str, validation_file: str | None =
        None, n_epochs: int | None = None, batch_size: int | None = None,
        learning_rate_multiplier: float | None = None, method: str | None = None
        ("supervised"|"dpo"), beta: float | None = None, suffix: str | None = None,
        seed: int | None = None, metadata: dict[str, str] | None = None,
        wandb_project: str | None = None, force: bool = False,
        progress: Callable[[str, int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        processing_timeout: float = 600.0) -> FineTuningJob`` — a training/validation
        value that is an existing local path is linted (errors → ApiError(kind="lint",
        .report=LintReport) unless ``force``), uploaded (``progress(phase, done,
        total)``, phases "lint", "upload", "processing", "create"), waited on until processed;
        otherwise it is taken as a file id. With a ``method``, a model the provider cannot
        fine-tune so (``models.method_refusal``) is ApiError("bad_request",
        code="unsupported_method", param="model") before any upload. A local file that is
        not ``.jsonl`` is refused
        (ApiError "bad_request" naming ``fttui prepare``) unless ``force``. The create
        itself is retried like the other writes (no duplicate job).

``fttui.api.files``
    ``SINGLE_UPLOAD_LIMIT`` = 512 MiB; ``PART_SIZE`` = 64 MiB
    ``iter_files(client, *, purpose: str | None = None, page_size: int = 100)
        -> Iterator[FileObject]``
    ``upload_file(client, path, *, purpose="fine-tune", progress: Callable[[int, int],
        None] | None = None, should_stop=None, single_limit=SINGLE_UPLOAD_LIMIT,
        part_size=PART_SIZE) -> FileObject`` — Files API up to ``single_limit``, Uploads
        API in parts above; progress(bytes_sent, total); each request retried
        (``UPLOAD_ATTEMPTS``), a retry restarts the bytes count of that request.
    ``wait_processed(client, file_id, *, timeout=600.0, should_stop=None,
        poll_interval=0.5) -> FileObject`` — ApiError(kind="bad_request") if the file
        ends in status "error" (with its status_details).
    ``get_file(client, file_id) -> FileObject``; ``delete_file(client, file_id) -> bool``
    ``download_file(client, file_id, dest: Path | None = None) -> bytes | Path`` — ``dest``
        may be a folder (the provider-side name is kept); a missing folder or a failed
        write is ApiError("bad_request") and leaves no partial file.
    ``read_file_content(client, file_id) -> bytes`` — base64 bodies decoded.

``fttui.api.models``
    ``iter_models(client) -> Iterator[Model]``; ``get_model(client, model_id) -> Model``;
    ``delete_model(client, model_id) -> bool``; ``is_fine_tuned(model_id) -> bool``;
    ``base_of(model_id) -> str`` (``ft:davinci-002:org::id`` → ``davinci-002``);
    ``is_legacy_completion_model(model_id) -> bool`` (babbage-002/davinci-002 and their
    ``ft:`` descendants use the legacy completions endpoint).
    ``method_refusal(client, model_id, method) -> str | None`` — why the provider would
        refuse a ``method`` job on the model, naming the models that take it: OpenAI by
        ``OPENAI_METHOD_MODELS`` (reinforcement: o4-mini), others by the
        ``fine_tuning_methods`` of their model objects (``fttui serve``'s); None when it
        takes it or nothing says. ``create_job`` asks it before any upload.

``fttui.api.events``
    ``class EventFollower(client, job_id, *, page_size: int = 100, max_seen: int = 4096,
        cache_events: int = 1000)`` — ``poll(*, limit=None) -> list[FineTuningJobEvent]``
        new events since the last poll, oldest first, de-duplicated by id; memory bounded
        (keeps the last ``max_seen`` ids and page cursors; a backlog above
        ``cache_events`` is re-read page by page instead of held). ``.last_id``,
        ``.count`` (events yielded), ``.final_status`` (after ``follow`` ends).
        ``follow(*, interval=1.0, should_stop=None, get_status: Callable[[], str] | None =
        None, on_error: Callable[[ApiError, float], None] | None = None) ->
        Iterator[FineTuningJobEvent]`` — polls until the job is terminal (then drains),
        surviving transient errors with backoff (non-transient ones raise ApiError).
        Not shared between threads.
        ``iter_new(*, limit=None) -> Iterator[FineTuningJobEvent]`` — the lazy form of
        ``poll``; ``poll(limit=0)`` marks everything seen without returning it.
    ``iter_events(client, job_id, *, limit: int | None = None) -> Iterator[
        FineTuningJobEvent]`` — all (or the newest ``limit``) events oldest first.
    ``event_line(event) -> str`` — ``12:03:04 info  message`` for a terminal.

``fttui.api.metrics``
    ``SERIES`` = ("train_loss", "valid_loss", "train_mean_token_accuracy",
        "valid_mean_token_accuracy", "full_valid_loss", "full_valid_mean_token_accuracy")
    ``class MetricSeries`` — ``series: dict[str, list[tuple[int, float]]]`` (step, value),
        ``total_steps: int | None``, ``source`` ("events"/"result_file");
        ``add_event(event) -> bool`` (True if it was a metrics event; objects or dicts),
        ``add(name, step, value)``, ``add_events(iterable) -> int``, ``last(name)``, ``min(name)``,
        ``max(name)``, ``values(name) -> list[float]``, ``names() -> list[str]``,
        ``steps(name) -> int``, ``last_step()``, ``to_csv() -> str``, ``to_dict() -> dict``;
        falsy when empty.
    ``series_from_events(events) -> MetricSeries``
    ``parse_result_csv(content: bytes | str) -> MetricSeries`` — keyed on header names
        (OpenAI, Azure and legacy variants), base64 content detected and decoded.
    ``fetch_job_metrics(client, job: FineTuningJob | str, *, prefer="auto") ->
        MetricSeries`` — result CSV when the job has one, else its metrics events
        (``prefer``: "auto" | "events" | "result_file").
    ``sparkline(values: Sequence[float], width: int = 40) -> str``

``fttui.api.chat``
    ``class ChatResult`` — ``text``, ``finish_reason``, ``usage: dict | None``, ``model``,
        ``legacy: bool``, ``stopped: bool``; ``to_dict()``.
    ``stream_chat(client, model: str, prompt: str, *, system: str | None = None,
        messages: list[dict] | None = None, stop: Sequence[str] | None = None,
        temperature: float | None = None, max_tokens: int | None = None,
        legacy: bool | None = None, should_stop=None, seed: int | None = None)
        -> ChatStream`` — iterate it for
        text deltas (str); afterwards ``stream.result`` is the ChatResult. ``legacy=None``
        picks the legacy completions endpoint for prompt/completion models (there
        ``max_tokens`` defaults to ``LEGACY_DEFAULT_MAX_TOKENS`` = 256, not the endpoint's 16).
        ``stream.close()`` stops early; ``stream.collect() -> ChatResult``. Errors while
        streaming raise ApiError after the deltas already yielded (nothing is lost).
    ``complete(client, model, prompt, **kw) -> ChatResult`` — the non-streaming shortcut.
"""

from __future__ import annotations

from fttui.api.errors import (
    ApiConnectionError,
    ApiError,
    ApiTimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    LintError,
    NotFoundError,
    OperationCancelledError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    friendly,
)

__all__ = [
    "ApiConnectionError",
    "ApiError",
    "ApiTimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "LintError",
    "NotFoundError",
    "OperationCancelledError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "friendly",
]
