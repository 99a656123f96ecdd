"""The exceptions the API layer raises, and retry with backoff.

``friendly(exc)`` turns whatever the ``openai`` SDK or ``httpx2`` raised into an
:class:`ApiError` whose ``str()`` is one clear line (no traceback, no key). Each ``kind``
has its subclass, so a caller catches what it can handle by type and the rest as
``ApiError`` (httpx's ``_exceptions.py`` style)::

    ApiError
    ├── AuthenticationError      auth        401: the provider refused the key
    ├── PermissionDeniedError    permission  403
    ├── NotFoundError            not_found   404: no such job / file / model, or a wrong URL
    ├── ConflictError            conflict    409: not in a state that allows it
    ├── BadRequestError          bad_request other 4xx, a bad argument or local path
    ├── RateLimitError           rate_limit  429 (``retry_after``; transient unless out of quota)
    ├── ServerError              provider    5xx, an unexpected response or exception
    ├── ApiConnectionError       network     nobody answers at the base URL
    │   └── ApiTimeoutError      timeout     no answer in time (or a 408)
    ├── ConfigurationError       config      no API key (or its command failed), a bad profile
    ├── LintError                lint        the training file has errors (``report``)
    └── OperationCancelledError  cancelled   ``should_stop()`` ended the wait

``ApiError(kind, message, ...)`` itself builds the subclass of ``kind``, so every place
that raises one (``friendly()`` included) gives the caller the precise type.
"""

from __future__ import annotations

import email.utils
import random
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar, cast

if TYPE_CHECKING:  # the dataset checks load only when a training file is linted
    from fttui.datasets.findings import LintReport

T = TypeVar("T")

KINDS = (
    "auth",
    "permission",
    "not_found",
    "conflict",
    "rate_limit",
    "network",
    "timeout",
    "bad_request",
    "provider",
    "config",
    "lint",
    "cancelled",
)

_TRANSIENT = {"rate_limit", "network", "timeout"}

# Anything that looks like a bearer key is masked before it reaches a message.
_KEY_RE = re.compile(r"\b(sk-[A-Za-z0-9_\-]{2})[A-Za-z0-9_\-]{6,}")


def _scrub(text: str) -> str:
    text = " ".join(str(text).split())
    text = _KEY_RE.sub(r"\1…", text)
    return text if len(text) <= 300 else text[:297] + "..."


class ApiError(Exception):
    """A failure talking to a provider, with a ``kind`` and a one-line message."""

    #: the kind a subclass stands for (None on ApiError itself, which takes any)
    KIND: ClassVar[str | None] = None

    def __new__(cls, kind: str, *args: Any, **kwargs: Any) -> Self:
        klass = _KIND_CLASSES.get(kind, cls) if cls is ApiError else cls
        return cast(Self, super().__new__(klass))

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        code: str | None = None,
        report: Any = None,
        param: str | None = None,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown ApiError kind {kind!r}")
        if self.KIND is not None and kind != self.KIND:
            raise ValueError(f"{type(self).__name__} is kind {self.KIND!r}, not {kind!r}")
        self.kind = kind
        self.message = _scrub(message)
        self.status = status
        self.retry_after = retry_after
        self.code = code
        self.report = report
        #: the request field a refusal names (``model``, ``hyperparameters.n_epochs`` …), so
        #: a form can put the cursor on it
        self.param = param
        super().__init__(self.message)

    @property
    def transient(self) -> bool:
        """Worth retrying: rate limits, network trouble, timeouts and 5xx provider errors."""
        if self.kind == "rate_limit" and self.code == "insufficient_quota":
            return False  # a 429 that waiting does not cure: the account is out of credit
        if self.kind in _TRANSIENT:
            return True
        if self.code == "unexpected":
            return False  # not from the provider at all: retrying would loop for ever
        return self.kind == "provider" and (self.status is None or self.status >= 500)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(kind={self.kind!r}, message={self.message!r}, "
            f"status={self.status!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # pickled (a child process's failure) as its kind and fields, not ``args``: the
        # default would call ApiError(message) and lose the kind
        fields = {k: v for k, v in vars(self).items() if k not in ("kind", "message")}
        return (_rebuild, (self.kind, self.message, fields))


def _rebuild(kind: str, message: str, fields: dict[str, Any]) -> ApiError:
    err = ApiError(kind, message)
    vars(err).update(fields)
    return err


class AuthenticationError(ApiError):
    """The provider refused the key (401)."""

    KIND = "auth"


class PermissionDeniedError(ApiError):
    """The key may not do this (403)."""

    KIND = "permission"


class NotFoundError(ApiError):
    """No such job, file or model (404) — or, without an API error body, a wrong URL."""

    KIND = "not_found"


class ConflictError(ApiError):
    """The object is not in a state that allows it (409), e.g. pausing a finished job."""

    KIND = "conflict"


class BadRequestError(ApiError):
    """The request was refused as invalid (400, 422, other 4xx), or a local argument or
    path is bad before anything is sent."""

    KIND = "bad_request"


class RateLimitError(ApiError):
    """Rate limited (429): ``retry_after`` says when to try again; out of quota when
    ``code == "insufficient_quota"`` (then waiting does not help)."""

    KIND = "rate_limit"


class ServerError(ApiError):
    """The provider failed (5xx) or answered something unexpected; ``code ==
    "unexpected"`` marks an exception from no provider at all."""

    KIND = "provider"


class ApiConnectionError(ApiError):
    """Nobody answers at the base URL (``code == "connection_refused"`` when nothing
    listens there), or the connection broke."""

    KIND = "network"


class ApiTimeoutError(ApiConnectionError):
    """The provider did not answer in time (or answered 408)."""

    KIND = "timeout"


class ConfigurationError(ApiError):
    """No API key (or the command that prints it failed), an unknown profile or a
    malformed config: nothing was sent."""

    KIND = "config"


class LintError(ApiError):
    """A local training file has errors, so the job was not created; ``report`` holds the
    findings."""

    KIND = "lint"
    report: LintReport | None


class OperationCancelledError(ApiError):
    """``should_stop()`` turned true while waiting (to retry, for a file to be processed)."""

    KIND = "cancelled"


_KIND_CLASSES: dict[str, type[ApiError]] = {
    cls.KIND: cls
    for cls in (
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        ConflictError,
        BadRequestError,
        RateLimitError,
        ServerError,
        ApiConnectionError,
        ApiTimeoutError,
        ConfigurationError,
        LintError,
        OperationCancelledError,
    )
    if cls.KIND is not None
}


def parse_retry_after(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms`` / ``retry-after`` (number or HTTP date), or None."""
    if headers is None:
        return None
    try:
        value = headers.get("retry-after-ms")
        if value is not None:
            return max(0.0, float(value) / 1000.0)
        value = headers.get("retry-after")
    except Exception:
        return None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        pass
    try:
        when = email.utils.parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _body_message(body: Any, fallback: str) -> tuple[str, str | None]:
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            msg = err.get("message") or fallback
            code = err.get("code")
            return str(msg), (str(code) if code is not None else None)
        if isinstance(err, str):
            return err, None
    return fallback, None


def _body_param(body: Any) -> str | None:
    err = body.get("error", body) if isinstance(body, dict) else None
    param = err.get("param") if isinstance(err, dict) else None
    return str(param) if param else None


def friendly(exc: BaseException) -> ApiError:
    """Convert an openai / httpx2 / OS exception into an :class:`ApiError`."""
    if isinstance(exc, ApiError):
        return exc
    try:
        import openai
    except ImportError:  # pragma: no cover - openai is a dependency
        openai = None  # type: ignore[assignment]
    try:
        import httpx2
    except ImportError:  # pragma: no cover
        httpx2 = None  # type: ignore[assignment]

    if openai is not None:
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            msg, code = _body_message(exc.body, exc.message)
            headers = exc.response.headers if exc.response is not None else None
            retry_after = parse_retry_after(headers)
            if status == 401:
                return ApiError(
                    "auth",
                    f"authentication failed (401): {msg} — check the API key",
                    status=status,
                    code=code,
                )
            if status == 403:
                return ApiError(
                    "permission", f"permission denied (403): {msg}", status=status, code=code
                )
            if status == 404:
                if not isinstance(exc.body, dict):  # no API error body: likely the wrong URL
                    msg = f"{_request_url(exc)} — is the base URL right?"
                return ApiError("not_found", f"not found (404): {msg}", status=status, code=code)
            if status == 409:
                return ApiError("conflict", f"conflict (409): {msg}", status=status, code=code)
            if status == 429:
                wait = f" — retry in {retry_after:g}s" if retry_after is not None else ""
                return ApiError(
                    "rate_limit",
                    f"rate limited (429): {msg}{wait}",
                    status=status,
                    retry_after=retry_after,
                    code=code,
                )
            if status in (408,):
                return ApiError(
                    "timeout", f"request timed out (408): {msg}", status=status, code=code
                )
            if 400 <= status < 500:
                return ApiError(
                    "bad_request",
                    f"request refused ({status}): {msg}",
                    status=status,
                    code=code,
                    param=_body_param(exc.body),
                )
            return ApiError(
                "provider",
                f"provider error ({status}): {msg}",
                status=status,
                retry_after=retry_after,
                code=code,
            )
        if isinstance(exc, openai.APITimeoutError):
            return ApiError("timeout", f"request timed out: {_request_url(exc, path=False)}")
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc.__context__
            detail = f" ({_scrub(str(cause))})" if cause is not None and str(cause) else ""
            return ApiError(
                "network",
                f"cannot reach the provider at {_request_url(exc, path=False)}{detail}",
                code="connection_refused" if _refused(exc) else None,
            )
        if isinstance(exc, openai.APIResponseValidationError):
            return ApiError("provider", f"the provider sent an unexpected response: {exc.message}")
        if isinstance(exc, openai.APIError):
            msg, code = _body_message(exc.body, exc.message)
            return ApiError("provider", f"provider error: {msg}", code=code)
        if isinstance(exc, openai.OpenAIError):
            text = str(exc)
            if "api_key" in text.lower() or "api key" in text.lower():
                return ApiError(
                    "config", "no API key: set OPENAI_API_KEY, use --api-key or a profile"
                )
            return ApiError("config", text or type(exc).__name__)
    if httpx2 is not None:
        if isinstance(exc, httpx2.TimeoutException):
            return ApiError("timeout", f"request timed out ({type(exc).__name__})")
        if isinstance(exc, httpx2.TransportError):
            return ApiError("network", f"network error: {exc or type(exc).__name__}")
        if isinstance(exc, httpx2.HTTPStatusError):
            status = exc.response.status_code
            return friendly_status(status, exc.response.text[:200], exc.response.headers)
    if isinstance(exc, TimeoutError):
        return ApiError("timeout", str(exc) or "timed out")
    if isinstance(exc, ConnectionError):
        return ApiError("network", f"network error: {exc}")
    if isinstance(exc, FileNotFoundError):
        return ApiError("bad_request", f"no such file: {exc.filename or exc}")
    if isinstance(exc, OSError):
        return ApiError(
            "bad_request", f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc)
        )
    if isinstance(exc, ValueError | TypeError):  # e.g. the SDK refusing an empty job id
        return ApiError("bad_request", str(exc) or type(exc).__name__)
    return ApiError("provider", f"{type(exc).__name__}: {exc}", code="unexpected")


def friendly_status(status: int, text: str, headers: Any = None) -> ApiError:
    """An ApiError for a bare HTTP status (used where no SDK exception exists)."""
    kind = {
        401: "auth",
        403: "permission",
        404: "not_found",
        409: "conflict",
        429: "rate_limit",
        408: "timeout",
    }.get(status)
    if kind is None:
        kind = "bad_request" if 400 <= status < 500 else "provider"
    return ApiError(
        kind, f"HTTP {status}: {text}", status=status, retry_after=parse_retry_after(headers)
    )


def _request_url(exc: Any, *, path: bool = True) -> str:
    """The failed request's URL (no query, never a key), or only its origin."""
    try:
        url = exc.request.url
        origin = f"{url.scheme}://{url.host}{':' + str(url.port) if url.port else ''}"
        return origin + url.path if path else origin
    except Exception:
        return "the configured base URL"


def backoff_delay(
    attempt: int, err: ApiError | None = None, *, base: float = 0.5, cap: float = 20.0
) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based): Retry-After, else
    exponential backoff with up to 25% jitter, capped at ``cap``."""
    if err is not None and err.retry_after is not None:
        return min(max(err.retry_after, 0.0), 120.0)
    delay = min(cap, base * (2.0 ** max(0, attempt)))
    return delay * (1 - 0.25 * random.random())


def sleep_interruptibly(
    seconds: float,
    should_stop: Callable[[], bool] | None,
    sleep: Callable[[float], None] = time.sleep,
    step: float = 0.1,
) -> bool:
    """Sleep ``seconds`` in small steps; True if ``should_stop()`` turned true."""
    if should_stop is None:
        sleep(seconds)
        return False
    deadline = time.monotonic() + seconds
    while True:
        if should_stop():
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        sleep(min(step, left))


def _refused(exc: BaseException) -> bool:
    """Whether a connection error is a refused connect (nothing listens at that address)."""
    seen: BaseException | None = exc
    for _ in range(8):  # the SDK wraps httpx, which wraps httpcore, which wraps the OSError
        if seen is None:
            return False
        if isinstance(seen, ConnectionRefusedError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def retry_call(
    fn: Callable[[], T],
    *,
    attempts: int = 4,
    base_delay: float = 0.5,
    max_delay: float = 20.0,
    should_stop: Callable[[], bool] | None = None,
    on_retry: Callable[[ApiError, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``fn``; retry transient failures (honouring Retry-After). Raises ApiError."""
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as exc:
            err = friendly(exc)
            attempt += 1
            # A refused connect was already retried by the SDK (max_retries, with backoff):
            # retrying it again here only multiplies the wait before the user hears that
            # nothing listens at that address (6 s for `jobs list` against a stopped server).
            if not err.transient or attempt >= attempts or err.code == "connection_refused":
                raise err from None
            delay = backoff_delay(attempt - 1, err, base=base_delay, cap=max_delay)
            if on_retry is not None:
                on_retry(err, delay)
            if sleep_interruptibly(delay, should_stop, sleep):
                raise ApiError("cancelled", "stopped while waiting to retry") from None
