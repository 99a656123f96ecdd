"""Usage errors are caught before any request (exit 2), and a refused connection is
reported at once instead of after layers of retries."""

from __future__ import annotations

import pytest

from support.cli import run_cli
from support.live_server import free_port


def _nothing_listens() -> list[str]:
    """Provider options for a loopback port where nothing listens: any request fails."""
    return ["--base-url", f"http://127.0.0.1:{free_port()}/v1", "--api-key", "sk-test"]


@pytest.mark.parametrize("status", ["bogus", "failed,runing", ","])
def test_jobs_list_with_an_unknown_status_is_a_usage_error_before_any_request(status, capsys):
    r = run_cli([*_nothing_listens(), "jobs", "list", "--status", status], capsys=capsys)
    assert r.code == 2
    assert "status" in r.err and "cannot reach" not in r.err
    if status != ",":
        assert "running" in r.err  # the known statuses are listed


def test_jobs_list_with_known_statuses_still_asks_the_provider(capsys):
    r = run_cli([*_nothing_listens(), "jobs", "list", "--status", "failed, running"], capsys=capsys)
    assert r.code == 1 and "cannot reach" in r.err


@pytest.mark.parametrize("option", ["--training-file", "--validation-file"])
def test_jobs_create_with_a_missing_local_file_is_a_usage_error_before_any_request(
    option, tmp_path, capsys
):
    missing = tmp_path / "nope.jsonl"
    train = tmp_path / "train.jsonl"
    train.write_text("{}\n")
    files = {"--training-file": str(train), option: str(missing)}
    argv = [*_nothing_listens(), "jobs", "create", "--model", "gpt-4o-mini-2024-07-18"]
    for flag, value in files.items():
        argv += [flag, value]
    r = run_cli(argv, capsys=capsys)
    assert r.code == 2
    assert "file not found" in r.err and str(missing) in r.err
    assert "cannot reach" not in r.err


def test_jobs_create_with_a_folder_as_training_file_is_a_usage_error(tmp_path, capsys):
    argv = [
        *_nothing_listens(),
        "jobs",
        "create",
        "--model",
        "gpt-4o-mini-2024-07-18",
        "--training-file",
        str(tmp_path),
    ]
    r = run_cli(argv, capsys=capsys)
    assert r.code == 2 and "is a folder" in r.err


def test_a_refused_connection_is_not_retried_on_top_of_the_sdk_retries():
    import openai

    from fttui.api.errors import ApiError, retry_call

    client = openai.OpenAI(
        base_url=f"http://127.0.0.1:{free_port()}/v1", api_key="sk-test", max_retries=0
    )
    calls = 0

    def list_jobs():
        nonlocal calls
        calls += 1
        return client.fine_tuning.jobs.list()

    with pytest.raises(ApiError) as info:
        retry_call(list_jobs, attempts=4, sleep=lambda s: None)
    assert info.value.kind == "network" and info.value.code == "connection_refused"
    assert calls == 1
