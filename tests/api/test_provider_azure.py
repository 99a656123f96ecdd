"""Azure profiles: where the real ``openai`` client sends requests (an explicit base URL
beats ``azure_endpoint``; classic Azure gets ``api-version`` and an ``api-key`` header),
and a missing key's hint names the variable the profile really reads."""

from __future__ import annotations

import httpx2
import openai
import pytest

from fttui import paths
from fttui.api.errors import ApiError
from fttui.api.providers import connect, resolve_provider
from support.cli import run_cli

KEY = "azk-abcdefghijklmnopqrstuvwxyz0123456789"
ENDPOINT = "https://my-resource.openai.azure.com"
GATEWAY = "https://gw.example.com/openai"
VERSION = "2025-04-01-preview"


@pytest.fixture(autouse=True)
def _azure_env(fttui_home, monkeypatch):
    for var in ("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT", "OPENAI_API_VERSION", "AZK"):
        monkeypatch.delenv(var, raising=False)
    return fttui_home


def write_config(text: str) -> None:
    path = paths.config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def list_jobs(profile: str, base_url: str | None = None) -> tuple[object, httpx2.Request]:
    """Connect through the project's resolution and send one real request; return it."""
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json={"object": "list", "data": [], "has_more": False})

    provider, client = connect(
        profile,
        base_url,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
        max_retries=0,
    )
    client.fine_tuning.jobs.list(limit=1)
    assert len(seen) == 1
    return (provider, client), seen[0]


def test_explicit_base_url_beats_azure_endpoint(monkeypatch):
    monkeypatch.setenv("AZK", KEY)
    write_config(
        f'[profiles.az]\nkind = "azure"\nazure_endpoint = "{ENDPOINT}"\n'
        f'api_version = "{VERSION}"\napi_key_env = "AZK"\n'
        f'[profiles.gw]\nkind = "azure"\nazure_endpoint = "{ENDPOINT}"\n'
        f'api_version = "{VERSION}"\napi_key_env = "AZK"\nbase_url = "{GATEWAY}"\n'
    )
    # derived from the endpoint: requests go there, as before
    (provider, client), req = list_jobs("az")
    assert isinstance(client, openai.AzureOpenAI)
    assert provider.base_url == f"{ENDPOINT}/openai"
    assert (req.url.host, req.url.path) == (
        "my-resource.openai.azure.com",
        "/openai/fine_tuning/jobs",
    )
    assert req.url.params["api-version"] == VERSION and req.headers["api-key"] == KEY

    # --base-url on the command line, and base_url in the profile: the gateway, not the endpoint
    for profile, cli_url in (("az", GATEWAY), ("gw", None)):
        (provider, client), req = list_jobs(profile, cli_url)
        assert isinstance(client, openai.AzureOpenAI)
        assert provider.base_url == GATEWAY
        assert str(client.base_url).rstrip("/") == GATEWAY
        assert (req.url.host, req.url.path) == ("gw.example.com", "/openai/fine_tuning/jobs")
        assert req.url.params["api-version"] == VERSION
        assert req.headers["api-key"] == KEY and "authorization" not in req.headers


def test_profiles_current_shows_where_requests_go(monkeypatch, capsys):
    monkeypatch.setenv("AZK", KEY)
    write_config(
        f'[profiles.az]\nkind = "azure"\nazure_endpoint = "{ENDPOINT}"\n'
        f'api_version = "{VERSION}"\napi_key_env = "AZK"\n'
    )
    r = run_cli(["--profile", "az", "--base-url", GATEWAY, "profiles", "current"], capsys=capsys)
    assert r.code == 0, r.err
    assert GATEWAY in r.out
    (_, client), req = list_jobs("az", GATEWAY)
    assert str(req.url).startswith(GATEWAY + "/")
    assert client._custom_query == {"api-version": VERSION}


def test_base_url_with_api_version_and_no_endpoint_is_classic_azure(monkeypatch):
    monkeypatch.setenv("AZK", KEY)
    write_config(
        f'[profiles.gw]\nkind = "azure"\nbase_url = "{GATEWAY}"\n'
        f'api_version = "{VERSION}"\napi_key_env = "AZK"\n'
        # the /openai/v1/ form takes no api-version and stays a plain OpenAI client
        f'[profiles.v1]\nkind = "azure"\nbase_url = "{GATEWAY}/v1/"\n'
        f'api_version = "{VERSION}"\napi_key_env = "AZK"\n'
        f'[profiles.envver]\nkind = "azure"\nbase_url = "{GATEWAY}"\napi_key_env = "AZK"\n'
    )
    (_, client), req = list_jobs("gw")
    assert isinstance(client, openai.AzureOpenAI)
    assert client._custom_query == {"api-version": VERSION}
    assert (req.url.host, req.url.path) == ("gw.example.com", "/openai/fine_tuning/jobs")
    assert req.url.params["api-version"] == VERSION
    assert req.headers["api-key"] == KEY and "authorization" not in req.headers

    (_, client), req = list_jobs("v1")
    assert not isinstance(client, openai.AzureOpenAI)
    assert req.url.path == "/openai/v1/fine_tuning/jobs" and "api-version" not in req.url.params
    assert req.headers["authorization"] == f"Bearer {KEY}"

    monkeypatch.setenv("OPENAI_API_VERSION", VERSION)  # the version from the environment
    (_, client), req = list_jobs("envver")
    assert isinstance(client, openai.AzureOpenAI)
    assert req.url.params["api-version"] == VERSION and req.headers["api-key"] == KEY


def test_missing_key_hint_names_the_profiles_own_variable(monkeypatch, capsys):
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", ENDPOINT)
    write_config(
        f'[profiles.az]\nkind = "azure"\nazure_endpoint = "{ENDPOINT}"\n'
        f'api_version = "{VERSION}"\napi_key_env = "AZK"\n'
    )
    with pytest.raises(ApiError) as info:
        connect("az")
    msg = str(info.value)
    assert info.value.kind == "config" and "set AZK" in msg
    assert "AZURE_OPENAI_API_KEY" not in msg

    r = run_cli(["--profile", "az", "jobs", "list"], capsys=capsys)
    assert r.code != 0 and "set AZK" in r.err and "AZURE_OPENAI_API_KEY" not in r.err

    # the built-in profile (no api_key_env) still points at the kind's default variable
    with pytest.raises(ApiError) as info:
        connect("azure")
    assert "set AZURE_OPENAI_API_KEY" in str(info.value)
    assert resolve_provider("az").key_source == "env AZK"
