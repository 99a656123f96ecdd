"""Every failure the API layer reports is a subclass of ApiError for its kind, so a caller
catches what it can handle by type — each one made for real against a live ``fttui serve``
(the sim executor; ``--faults`` for the rate limits, 5xx, slow answers and dropped
connections), and ``except ApiError`` still catches them all."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path

import httpx2
import openai
import pytest

from fttui.api import errors
from fttui.api.errors import (
    KINDS,
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
from fttui.api.files import iter_files, upload_file
from fttui.api.jobs import create_job, get_job, list_jobs
from fttui.api.models import delete_model
from fttui.api.paging import read_call
from fttui.api.providers import make_client, resolve_provider
from fttui.config import load_config
from support.cli import CHAT, CHAT_ERRORS, LiveServer, make_server
from support.live_server import free_port

MODEL = "gpt-4o-mini-2024-07-18"


@pytest.fixture(autouse=True)
def _home(fttui_home):
    return fttui_home


@pytest.fixture
def client(api_server: LiveServer) -> openai.OpenAI:
    return api_server.client()


def faulty_server(home, fault: str) -> LiveServer:
    """A sim server whose every API request (not /health) gets ``fault``."""
    return make_server(home, "--faults", f"{fault}=1.0").start()


@pytest.fixture
def rate_limited(tmp_path) -> Iterator[LiveServer]:
    server = faulty_server(tmp_path, "429")
    try:
        yield server
    finally:
        server.stop()


# ----------------------------------------------------------------------------- live server


def test_a_wrong_key_is_an_authentication_error(api_server):
    wrong = openai.OpenAI(base_url=api_server.base_url, api_key="sk-wrong-key", max_retries=0)
    with pytest.raises(AuthenticationError) as info:
        list_jobs(wrong, limit=1)
    err = info.value
    assert err.kind == "auth" and err.status == 401 and not err.transient
    assert isinstance(err, ApiError)
    assert "check the API key" in str(err) and "sk-wrong-key" not in str(err)


def test_deleting_a_base_model_is_a_permission_denied_error(client):
    with pytest.raises(PermissionDeniedError) as info:
        delete_model(client, MODEL)
    assert info.value.status == 403 and info.value.kind == "permission"
    assert "cannot be deleted" in str(info.value)


def test_an_unknown_job_is_a_not_found_error(client):
    with pytest.raises(NotFoundError) as info:
        get_job(client, "ftjob-doesnotexist")
    assert info.value.status == 404 and "ftjob-doesnotexist" in str(info.value)


def test_a_base_model_the_server_does_not_serve_is_a_bad_request_error(client):
    uploaded = upload_file(client, CHAT)
    with pytest.raises(BadRequestError) as info:
        create_job(client, model="no-such-base-model", training_file=uploaded.id)
    err = info.value
    assert err.status == 400 and err.kind == "bad_request"
    assert "no-such-base-model" in str(err)


def test_a_training_file_with_errors_is_a_lint_error_with_its_report(client):
    before = {f.id for f in iter_files(client)}
    with pytest.raises(LintError) as info:
        create_job(client, model=MODEL, training_file=str(CHAT_ERRORS))
    report = info.value.report
    assert report is not None and report.has_errors
    assert report.file.endswith("chat_errors.jsonl")
    assert {f.id for f in iter_files(client)} == before  # refused before uploading


def test_nothing_listening_at_the_base_url_is_an_api_connection_error(api_server):
    nobody = openai.OpenAI(
        base_url=f"http://127.0.0.1:{free_port()}/v1", api_key=api_server.api_key, max_retries=0
    )
    with pytest.raises(ApiConnectionError) as info:
        list_jobs(nobody, limit=1)
    err = info.value
    assert type(err) is ApiConnectionError  # refused at once: not a timeout
    assert err.kind == "network" and err.code == "connection_refused"


def test_a_dropped_connection_is_an_api_connection_error(tmp_path):
    server = faulty_server(tmp_path, "drop")
    try:
        with pytest.raises(ApiConnectionError) as info:
            list_jobs(server.client(), limit=1)
        assert info.value.kind == "network" and info.value.transient
    finally:
        server.stop()


def test_a_server_slower_than_the_timeout_is_an_api_timeout_error(tmp_path):
    server = faulty_server(tmp_path, "slow")  # about 2 s before every answer
    try:
        with pytest.raises(ApiTimeoutError) as info:
            list_jobs(server.client(timeout=0.5), limit=1)
        err = info.value
        assert err.kind == "timeout" and err.transient
        assert isinstance(err, ApiConnectionError)  # as the SDK's APITimeoutError is
    finally:
        server.stop()


def test_a_429_is_a_rate_limit_error_with_its_retry_after(rate_limited):
    with pytest.raises(RateLimitError) as info:
        read_call(lambda: rate_limited.client().fine_tuning.jobs.list(limit=1), attempts=1)
    err = info.value
    assert err.status == 429 and err.retry_after == 1 and err.transient
    assert "retry in 1s" in str(err)


def test_stopping_while_waiting_to_retry_is_an_operation_cancelled_error(rate_limited):
    with pytest.raises(OperationCancelledError) as info:
        read_call(
            lambda: rate_limited.client().fine_tuning.jobs.list(limit=1),
            attempts=3,
            should_stop=lambda: True,
        )
    assert info.value.kind == "cancelled" and not info.value.transient


def test_a_500_is_a_server_error(tmp_path):
    server = faulty_server(tmp_path, "500")
    try:
        with pytest.raises(ServerError) as info:
            read_call(lambda: server.client().fine_tuning.jobs.list(limit=1), attempts=1)
        err = info.value
        assert err.status == 500 and err.kind == "provider" and err.transient
    finally:
        server.stop()


# ----------------------------------------------------------------------------- no server


def test_no_api_key_is_a_configuration_error():
    provider = resolve_provider("openai", env={}, config=load_config(Path("/nonexistent")))
    with pytest.raises(ConfigurationError) as info:
        make_client(provider)
    assert info.value.kind == "config" and "OPENAI_API_KEY" in str(info.value)


def test_a_409_is_a_conflict_error():
    """fttui serve never answers 409 (OpenAI's API does, for a job in the wrong state)."""
    http = httpx2.Client(
        transport=httpx2.MockTransport(
            lambda req: httpx2.Response(409, json={"error": {"message": "job is running"}})
        )
    )
    client = openai.OpenAI(
        base_url="http://mock.test/v1", api_key="sk-x", http_client=http, max_retries=0
    )
    with pytest.raises(openai.ConflictError) as info:
        client.fine_tuning.jobs.pause("ftjob-1")
    err = friendly(info.value)
    assert isinstance(err, ConflictError) and err.status == 409


@pytest.mark.parametrize("kind", KINDS)
def test_an_api_error_built_by_kind_is_its_subclass_and_survives_pickling(kind):
    err = ApiError(kind, "what happened", status=418, retry_after=2.5, code="c1")
    cls = type(err)
    assert cls is not ApiError and kind == cls.KIND and issubclass(cls, ApiError)
    assert cls is getattr(errors, cls.__name__)  # importable by its name
    copy = pickle.loads(pickle.dumps(err))  # e.g. sent back from a child process
    assert type(copy) is cls
    assert (copy.kind, str(copy), copy.status, copy.retry_after, copy.code) == (
        kind,
        "what happened",
        418,
        2.5,
        "c1",
    )


def test_a_subclass_refuses_another_kind():
    assert type(NotFoundError("not_found", "gone")) is NotFoundError
    with pytest.raises(ValueError, match="NotFoundError is kind 'not_found', not 'auth'"):
        NotFoundError("auth", "wrong")
