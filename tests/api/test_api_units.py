"""Pure logic of the API layer: error mapping, retries, paging, event cursor, metrics
parsing, providers and config. HTTP goes through ``httpx2.MockTransport`` here only for
parsing; the command tests run against a live server (test_api_cli.py)."""

from __future__ import annotations

import base64
import json
import os
import stat
import threading
from pathlib import Path

import httpx2
import openai
import pytest

from fttui.api.errors import ApiError, backoff_delay, friendly, parse_retry_after, retry_call
from fttui.api.events import EventFollower
from fttui.api.keys import mask_key
from fttui.api.metrics import MetricSeries, parse_result_csv, series_from_events, sparkline
from fttui.api.providers import Provider, list_providers, make_client, resolve_provider
from fttui.config import (
    ConfigError,
    ProfileConfig,
    load_config,
    load_keymap,
    price_for,
    save_profile,
)

KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"


def mock_client(handler, **kw) -> openai.OpenAI:
    kw.setdefault("max_retries", 0)
    return openai.OpenAI(
        base_url="http://mock.test/v1",
        api_key=KEY,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
        **kw,
    )


def err_response(status: int, message: str = "boom", headers: dict | None = None):
    return httpx2.Response(
        status,
        json={"error": {"message": message, "type": "x", "code": None}},
        headers=headers or {},
    )


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, "auth"),
        (403, "permission"),
        (404, "not_found"),
        (409, "conflict"),
        (429, "rate_limit"),
        (400, "bad_request"),
        (422, "bad_request"),
        (500, "provider"),
        (503, "provider"),
    ],
)
def test_status_errors_map_to_kinds(status, kind):
    client = mock_client(lambda req: err_response(status, "nope", {"retry-after": "3"}))
    with pytest.raises(openai.APIStatusError) as info:
        client.models.list()
    err = friendly(info.value)
    assert err.kind == kind
    assert err.status == status
    assert "nope" in str(err) and "\n" not in str(err)
    if kind == "rate_limit":
        assert err.retry_after == 3
        assert err.transient
    assert err.transient == (kind == "rate_limit" or status >= 500)


def test_an_account_out_of_quota_is_not_retried():
    """OpenAI answers 429 `insufficient_quota` when the account has no credit: waiting does
    not cure it, so `--follow` and the TUI must stop, not retry for ever."""

    def no_credit(req):
        return httpx2.Response(
            429,
            json={
                "error": {
                    "message": "You exceeded your current quota",
                    "type": "insufficient_quota",
                    "code": "insufficient_quota",
                }
            },
        )

    with pytest.raises(openai.RateLimitError) as info:
        mock_client(no_credit).models.list()
    err = friendly(info.value)
    assert err.kind == "rate_limit" and err.code == "insufficient_quota"
    assert not err.transient


def test_an_error_not_from_the_provider_is_never_retried():
    """The SDK refuses an empty job id with a ValueError before any request: that was
    classed as a provider error with no status, i.e. retryable, and `jobs events "" -f`
    retried it for ever."""
    client = mock_client(lambda req: httpx2.Response(200, json={}))
    with pytest.raises(ValueError) as info:
        client.fine_tuning.jobs.retrieve("")
    err = friendly(info.value)
    assert err.kind == "bad_request" and not err.transient
    assert not friendly(RuntimeError("something odd")).transient


def test_network_and_timeout_errors():
    def refuse(req):
        raise httpx2.ConnectError("connection refused", request=req)

    with pytest.raises(openai.APIConnectionError) as info:
        mock_client(refuse).models.list()
    err = friendly(info.value)
    assert err.kind == "network" and err.transient and "mock.test" in str(err)

    def slow(req):
        raise httpx2.ReadTimeout("timed out", request=req)

    with pytest.raises(openai.APITimeoutError) as info:
        mock_client(slow).models.list()
    assert friendly(info.value).kind == "timeout"


def test_messages_never_carry_a_key():
    err = ApiError("auth", f"bad key {KEY} given")
    assert KEY not in str(err) and "sk-pr…" in str(err)
    client = mock_client(lambda req: err_response(401, f"Incorrect API key provided: {KEY}"))
    with pytest.raises(openai.AuthenticationError) as info:
        client.models.list()
    assert KEY not in str(friendly(info.value))


def test_retry_after_parsing():
    assert parse_retry_after({"retry-after": "2"}) == 2
    assert parse_retry_after({"retry-after-ms": "1500"}) == 1.5
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "soon"}) is None
    err = ApiError("rate_limit", "slow down", retry_after=1.0)
    assert backoff_delay(5, err) == 1.0
    assert 0 < backoff_delay(0) <= 0.5
    assert backoff_delay(30, cap=4) <= 4


def test_retry_call_honours_retry_after_and_gives_up_on_permanent():
    calls, sleeps = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ApiError("rate_limit", "429", retry_after=1.25)
        return "ok"

    assert retry_call(flaky, attempts=4, sleep=sleeps.append) == "ok"
    assert len(calls) == 3 and sum(sleeps) == pytest.approx(2.5)

    def broken():
        calls.append(1)
        raise ApiError("not_found", "no such job")

    calls.clear()
    with pytest.raises(ApiError) as info:
        retry_call(broken, attempts=5, sleep=sleeps.append)
    assert info.value.kind == "not_found" and len(calls) == 1

    stop = threading.Event()
    stop.set()
    with pytest.raises(ApiError) as info:
        retry_call(
            lambda: (_ for _ in ()).throw(ApiError("network", "down")),
            attempts=5,
            should_stop=stop.is_set,
        )
    assert info.value.kind == "cancelled"


# ----------------------------------------------------------------------------- events


def make_events(n: int, job: str = "ftjob-1") -> list[dict]:
    return [
        {
            "id": f"ftevent-{i:06d}",
            "object": "fine_tuning.job.event",
            "created_at": 1_700_000_000 + i,
            "level": "info",
            "message": f"event {i}",
            "type": "message",
            "data": {},
        }
        for i in range(n)
    ]


class EventServer:
    """Serves a growing event list newest first with ``after``/``limit`` like the API."""

    def __init__(self, events: list[dict]):
        self.events = events
        self.requests = 0
        self.fail_next = 0

    def __call__(self, req: httpx2.Request) -> httpx2.Response:
        self.requests += 1
        if self.fail_next:
            self.fail_next -= 1
            return err_response(500, "injected")
        limit = int(req.url.params.get("limit", 20))
        after = req.url.params.get("after")
        newest_first = list(reversed(self.events))
        start = 0
        if after:
            ids = [e["id"] for e in newest_first]
            start = ids.index(after) + 1
        page = newest_first[start : start + limit]
        return httpx2.Response(
            200,
            json={"object": "list", "data": page, "has_more": start + limit < len(newest_first)},
        )


def test_event_follower_orders_dedups_and_resumes():
    srv = EventServer(make_events(250))
    f = EventFollower(mock_client(srv), "ftjob-1", page_size=50)
    first = f.poll()
    assert [e.message for e in first] == [f"event {i}" for i in range(250)]
    assert f.poll() == []
    srv.events.extend(make_events(260)[250:])
    new = f.poll()
    assert [e.message for e in new] == [f"event {i}" for i in range(250, 260)]
    assert f.count == 260 and f.last_id == "ftevent-000259"


def test_event_follower_limit_and_transient_page_failure():
    srv = EventServer(make_events(120))
    f = EventFollower(mock_client(srv), "ftjob-1", page_size=50)
    assert [e.message for e in f.poll(limit=5)] == [f"event {i}" for i in range(115, 120)]
    srv.events.extend(make_events(125)[120:])
    srv.fail_next = 1  # one 500 on the next page: retried, nothing lost
    assert [e.message for e in f.poll()] == [f"event {i}" for i in range(120, 125)]


def test_event_follower_bounded_memory_on_a_long_backlog():
    srv = EventServer(make_events(10_000))
    f = EventFollower(mock_client(srv), "ftjob-1", page_size=100, max_seen=500, cache_events=300)
    seen_prev = -1
    n = 0
    for ev in f.iter_new():
        i = int(ev.id.split("-")[1])
        assert i == seen_prev + 1
        seen_prev = i
        n += 1
        assert len(f._seen) <= 500
    assert n == 10_000
    assert f.poll() == []


# ----------------------------------------------------------------------------- metrics

OPENAI_CSV = "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n1,2.0,0.5,,\n2,1.5,0.6,1.8,0.55\n3,1.0,0.7,,\n"
AZURE_CSV = (
    "step,train_loss,training_accuracy,train_mean_token_accuracy,valid_loss,valid_accuracy,"
    "validation_mean_token_accuracy\n1,2.0,0.1,0.5,2.1,0.2,0.45\n2,1.0,0.2,0.6,1.9,0.3,0.5\n"
)
LEGACY_CSV = (
    "step,elapsed_tokens,elapsed_examples,training_loss,training_sequence_accuracy,"
    "training_token_accuracy,validation_loss,validation_sequence_accuracy,"
    "validation_token_accuracy\n1,100,1,0.9,0.0,0.7,,,\n2,200,2,0.8,0.0,0.75,0.85,0.0,0.72\n"
)


def test_result_csv_variants():
    o = parse_result_csv(OPENAI_CSV)
    assert o.series["train_loss"] == [(1, 2.0), (2, 1.5), (3, 1.0)]
    assert o.series["train_mean_token_accuracy"][-1] == (3, 0.7)
    assert o.series["valid_loss"] == [(2, 1.8)]
    a = parse_result_csv(AZURE_CSV.encode())
    assert a.series["train_mean_token_accuracy"] == [(1, 0.5), (2, 0.6)]
    assert a.series["valid_mean_token_accuracy"] == [(1, 0.45), (2, 0.5)]
    leg = parse_result_csv(LEGACY_CSV)
    assert leg.series["train_loss"] == [(1, 0.9), (2, 0.8)]
    assert leg.series["valid_mean_token_accuracy"] == [(2, 0.72)]
    assert leg.total_steps == 2


def test_result_csv_base64_and_garbage():
    b64 = base64.b64encode(OPENAI_CSV.encode())
    assert parse_result_csv(b64).series == parse_result_csv(OPENAI_CSV).series
    assert parse_result_csv(json.dumps(b64.decode())).series["train_loss"][0] == (1, 2.0)
    assert not parse_result_csv(b"")
    assert not parse_result_csv("no,step,here\n1,2,3\n")
    assert not parse_result_csv(b"\xff\xfe garbage")


def test_metrics_from_events_and_csv_roundtrip():
    events = [{"type": "message", "data": {}}] + [
        {
            "type": "metrics",
            "data": {
                "step": s,
                "total_steps": 4,
                "train_loss": 2.0 / s,
                "train_mean_token_accuracy": 0.1 * s,
            },
        }
        for s in (2, 1, 3, 4, 4)
    ]
    ms = series_from_events(events)
    assert [p[0] for p in ms.series["train_loss"]] == [1, 2, 3, 4]
    assert ms.total_steps == 4 and ms.last("train_loss") == 0.5 and ms.min("train_loss") == 0.5
    again = parse_result_csv(ms.to_csv())
    assert again.series["train_loss"] == ms.series["train_loss"]
    assert isinstance(MetricSeries().to_dict(), dict)


def test_sparkline():
    assert sparkline([]) == ""
    line = sparkline([3, 2, 1, 0], width=10)
    assert line == "█▆▃▁"
    assert len(sparkline(list(range(1000)), width=40)) == 40
    assert sparkline([1, 1, 1]) == "▅▅▅"


# ----------------------------------------------------------------------------- providers


def test_resolution_precedence(tmp_path):
    cfg_path = tmp_path / "config.toml"
    cfg_path.write_text(
        'default_profile = "work"\n[profiles.work]\nkind = "custom"\n'
        'base_url = "http://work.test/v1"\napi_key_env = "WORK_KEY"\n'
    )
    cfg = load_config(cfg_path)
    env = {"WORK_KEY": KEY}
    assert resolve_provider(config=cfg, env={}).name == "work"
    assert resolve_provider(config=load_config(tmp_path / "none.toml"), env={}).kind == "local"
    p = resolve_provider(config=cfg, env={"OPENAI_API_KEY": KEY})
    assert (p.name, p.base_url) == ("env", "https://api.openai.com/v1")
    p = resolve_provider(
        config=cfg, env={"OPENAI_BASE_URL": "http://x.test/v1", "OPENAI_API_KEY": KEY}
    )
    assert (p.kind, p.base_url) == ("custom", "http://x.test/v1")
    p = resolve_provider("work", config=cfg, env=env)
    assert p.base_url == "http://work.test/v1" and p.key_source == "env WORK_KEY"
    p = resolve_provider(
        "work", base_url="http://other.test/v1", api_key="sk-other-12345678", config=cfg, env=env
    )
    assert p.base_url == "http://other.test/v1" and p.key_source == "--api-key"
    p = resolve_provider(base_url="http://cli.test/v1", api_key=KEY, config=cfg, env={})
    assert p.name == "cli" and p.base_url == "http://cli.test/v1"
    with pytest.raises(ApiError) as info:
        resolve_provider("nope", config=cfg, env={})
    assert info.value.kind == "config" and "work" in str(info.value)


def test_builtin_provider_urls():
    env = {
        "AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com/",
        "AZURE_OPENAI_API_KEY": KEY,
        "NEBIUS_API_KEY": KEY,
        "AWS_BEARER_TOKEN_BEDROCK": KEY,
        "AWS_REGION": "us-west-2",
    }
    from fttui.config import Config

    empty = Config()
    az = resolve_provider("azure", config=empty, env=env)
    assert az.base_url == "https://res.openai.azure.com/openai/v1/" and az.api_version is None
    az2 = resolve_provider(
        "azure", config=empty, env={**env, "OPENAI_API_VERSION": "2025-04-01-preview"}
    )
    assert az2.api_version == "2025-04-01-preview"
    assert isinstance(make_client(az2), openai.AzureOpenAI)
    assert (
        resolve_provider("bedrock", config=empty, env=env).base_url
        == "https://bedrock-mantle.us-west-2.api.aws/v1"
    )
    assert resolve_provider("nebius", config=empty, env=env).base_url.startswith(
        "https://api.tokenfactory.nebius.com"
    )
    oa_env = {"OPENAI_API_KEY": KEY, "OPENAI_ORG_ID": "org-x", "OPENAI_PROJECT_ID": "proj_y"}
    oa = make_client(resolve_provider("openai", config=empty, env=oa_env))
    assert (oa.organization, oa.project) == ("org-x", "proj_y")
    assert str(oa.base_url).rstrip("/") == "https://api.openai.com/v1"
    with pytest.raises(ApiError) as info:
        make_client(resolve_provider(base_url="ftp://x.test/v1", api_key=KEY, env={}))
    assert info.value.kind == "config" and "http://" in str(info.value)
    names = [p.name for p in list_providers(config=empty, env=env)]
    assert names == ["openai", "azure", "bedrock", "nebius", "local"]


def test_keys_are_masked_everywhere():
    p = resolve_provider(api_key=KEY, env={})
    for text in (repr(p), str(p), json.dumps(p.to_dict()), p.describe()):
        assert KEY not in text
    assert mask_key(KEY) == "sk-…6789"
    assert mask_key(None) == "(none)" and KEY not in mask_key(KEY[:10])


def test_make_client_timeouts_and_missing_key():
    p = resolve_provider(api_key=KEY, env={})
    c = make_client(p)
    assert c.max_retries == 2
    assert c.timeout.read == 30 and c.timeout.connect == 5
    with pytest.raises(ApiError) as info:
        make_client(resolve_provider("openai", env={}, config=load_config(Path("/nonexistent"))))
    assert info.value.kind == "config" and "OPENAI_API_KEY" in str(info.value)


def test_key_command(tmp_path):
    cfg_path = tmp_path / "config.toml"
    cfg_path.write_text(
        '[profiles.cmd]\nkind = "custom"\nbase_url = "http://c.test/v1"\n'
        f'api_key_command = "echo {KEY}"\n'
        '[profiles.bad]\nkind = "custom"\nbase_url = "http://c.test/v1"\n'
        'api_key_command = "false"\n'
    )
    cfg = load_config(cfg_path)
    assert resolve_provider("cmd", config=cfg, env={}).api_key == KEY
    bad = resolve_provider("bad", config=cfg, env={})
    with pytest.raises(ApiError) as info:
        make_client(bad)
    assert info.value.kind == "config" and "key command" in str(info.value)
    listed = {p.name: p for p in list_providers(config=cfg, env={})}
    assert listed["cmd"].masked_key == "(from command)"


# ----------------------------------------------------------------------------- config


def test_config_file_with_a_key_is_0600(tmp_path):
    path = tmp_path / "cfg" / "config.toml"
    save_profile(
        ProfileConfig(
            name="plain", kind="custom", base_url="http://p.test/v1", api_key_env="P_KEY"
        ),
        path,
    )
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    save_profile(ProfileConfig(name="secret", kind="openai", api_key=KEY), path, make_default=True)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    cfg = load_config(path)
    assert cfg.default_profile == "secret" and set(cfg.profiles) == {"plain", "secret"}
    assert KEY not in repr(cfg.profiles["secret"])


def test_config_errors_and_keymap(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[profiles.x\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert load_keymap(path) == {}
    path.write_text('[profiles.x]\nkind = "martian"\n')
    with pytest.raises(ConfigError):
        load_config(path)
    path.write_text('[keymap]\n"jobs.cancel" = "x,delete"\n"app.help" = ["?", "f1"]\n')
    assert load_keymap(path) == {"jobs.cancel": "x,delete", "app.help": "?,f1"}


def test_prices_table_gives_a_price_per_model(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(
        '[prices]\n"gpt-4o-mini" = 3\n"gpt-4o-mini-2024-07-18" = 2.5\n"gpt-4o" = 25.0\n'
    )
    cfg = load_config(path)
    assert cfg.price_for("gpt-4o-mini-2024-07-18") == 2.5  # its own entry first
    assert cfg.price_for("gpt-4o-mini-2099-01-01") == 3.0  # then the longest prefix
    assert cfg.price_for("gpt-4o-2024-08-06") == 25.0
    assert cfg.price_for("davinci-002") is None
    assert price_for("gpt-4o", path) == 25.0


@pytest.mark.parametrize("value", ['"3"', "-1", "nan", "inf", "true"])
def test_a_price_that_is_not_dollars_is_a_config_error(tmp_path, value):
    path = tmp_path / "config.toml"
    path.write_text(f'[prices]\n"gpt-4o" = {value}\n')
    with pytest.raises(ConfigError, match=r"\[prices\] gpt-4o must be a number of dollars"):
        load_config(path)
    assert price_for("gpt-4o", path) is None  # a lint never fails over it


def test_provider_is_frozen_and_safe_to_share():
    p = Provider(name="a", kind="custom", base_url="http://a.test/v1", api_key=KEY)
    with pytest.raises(AttributeError):
        p.name = "b"  # type: ignore[misc]


def test_the_readmes_config_examples_are_valid_config(tmp_path):
    """Every ```toml block in the README loads: a user copying one gets no ConfigError."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", readme, flags=re.S)
    assert len(blocks) >= 2
    path = tmp_path / "config.toml"
    for block in blocks:
        path.write_text(block)
        load_config(path)  # raises ConfigError on a bad example
    # the full example (profiles, prices, keymap), wherever other examples sit around it
    full = next(b for b in blocks if "[prices]" in b and "[keymap]" in b)
    path.write_text(full)
    cfg = load_config(path)
    assert cfg.price_for("gpt-4o-mini-2024-07-18") == 3.0 and cfg.keymap


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        (r"\n", "\n"),
        (r" END\n", " END\n"),
        (r"a\\b", "a\\b"),
        (r"C:\Users", r"C:\Users"),  # was "truncated \UXXXXXXXX escape", exit 1
        ("é\\n", "é\n"),  # was mangled to "Ã©\n": a stop that never matched
        ("###", "###"),
    ],
)
def test_ask_stop_escapes_are_the_shell_friendly_few(typed, meant):
    from fttui.cli.ask import _unescape

    assert _unescape(typed) == meant


@pytest.mark.parametrize(
    ("model", "legacy"),
    [
        ("davinci-002", True),
        ("ft:babbage-002:org:colours:abc123", True),
        ("gpt-3.5-turbo-instruct", True),  # completions only: `ask` must not send it to chat
        ("gpt-3.5-turbo-instruct-0914", True),
        ("gpt-3.5-turbo", False),
        ("ft:gpt-4o-mini-2024-07-18:org::x1", False),
    ],
)
def test_which_models_answer_on_the_completions_endpoint(model, legacy):
    from fttui.api.models import is_legacy_completion_model

    assert is_legacy_completion_model(model) is legacy
