"""Which provider to talk to, with which key, and a client with deliberate timeouts.

Precedence (``resolve_provider``): ``--profile`` (explicit ``--base-url``/``--api-key``
override its values) > ``--base-url``/``--api-key`` alone > ``OPENAI_BASE_URL`` /
``OPENAI_API_KEY`` > the config's ``default_profile`` > ``local`` (our ``fttui serve``,
started on demand). Keys never appear in ``repr``, logs or messages: ``masked_key`` only.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from fttui import paths
from fttui.api.errors import ApiError
from fttui.api.keys import mask_key
from fttui.api.local_server import (
    LocalServer,
    ensure_local_server,
    recorded_server,
)
from fttui.config import PROFILE_KINDS, Config, ConfigError, ProfileConfig, load_config

__all__ = [
    "Provider",
    "connect",
    "list_providers",
    "make_client",
    "provider_for_local",
    "resolve_provider",
]

OPENAI_BASE_URL = "https://api.openai.com/v1"
NEBIUS_BASE_URL = "https://api.tokenfactory.nebius.com/v1/"
BEDROCK_BASE_URL = "https://bedrock-mantle.{region}.api.aws/v1"

#: Default connect / read timeouts (seconds) — the SDK's default read timeout is 600 s.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
MAX_RETRIES = 2

#: Environment variables a built-in profile reads its key from, in order.
KEY_ENVS: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY",),
    "azure": ("AZURE_OPENAI_API_KEY",),
    "bedrock": ("AWS_BEARER_TOKEN_BEDROCK", "BEDROCK_API_KEY"),
    "nebius": ("NEBIUS_API_KEY",),
    "custom": ("OPENAI_API_KEY",),
    "local": (),
}


@dataclass(frozen=True)
class Provider:
    """A resolved provider: where to send requests and how (the key is held privately)."""

    name: str
    kind: str
    base_url: str | None
    masked_key: str = "(none)"
    key_source: str = ""
    organization: str | None = None
    project: str | None = None
    api_version: str | None = None
    azure_endpoint: str | None = None
    executor: str | None = None
    timeout: float = READ_TIMEOUT
    max_retries: int = MAX_RETRIES
    auto_start: bool = False
    api_key: str | None = field(default=None, repr=False, compare=False)
    key_error: str | None = field(default=None, repr=False, compare=False)

    @property
    def is_local(self) -> bool:
        return self.kind == "local"

    @property
    def needs_local_server(self) -> bool:
        """True for the ``local`` provider we start ourselves (no configured base URL)."""
        return self.kind == "local" and self.auto_start

    @property
    def has_key(self) -> bool:
        return bool(self.api_key)

    def describe(self) -> str:
        """One line for a status bar: ``local (sim) · http://127.0.0.1:8765/v1 · sk-…abcd``."""
        kind = f"{self.kind} ({self.executor})" if self.executor else self.kind
        name = kind if self.name == self.kind else f"{self.name} [{kind}]"
        where = self.base_url or ("starts on demand" if self.is_local else "(no base URL)")
        return f"{name} · {where} · key {self.masked_key}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, key masked."""
        return {
            "name": self.name,
            "kind": self.kind,
            "base_url": self.base_url,
            "key": self.masked_key,
            "key_source": self.key_source,
            "organization": self.organization,
            "project": self.project,
            "api_version": self.api_version,
            "executor": self.executor,
        }

    def __str__(self) -> str:
        return self.describe()


# --------------------------------------------------------------------------- resolution


def _builtin(name: str) -> ProfileConfig:
    return ProfileConfig(name=name, kind=name)


def _run_key_command(command: str, profile: str) -> str:
    try:
        out = subprocess.run(
            shlex.split(command),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        raise ApiError(
            "config", f"profile {profile!r}: key command failed: {type(exc).__name__}"
        ) from None
    if out.returncode != 0 or not out.stdout.strip():
        raise ApiError(
            "config", f"profile {profile!r}: key command exited {out.returncode} without a key"
        )
    return out.stdout.strip().splitlines()[0].strip()


def _profile_key(
    p: ProfileConfig, env: Mapping[str, str], *, run_command: bool
) -> tuple[str | None, str]:
    if p.api_key_command:
        if not run_command:
            return None, "command"
        return _run_key_command(p.api_key_command, p.name), "command"
    if p.api_key_env:
        value = env.get(p.api_key_env)
        return (value or None), f"env {p.api_key_env}"
    if p.api_key:
        return p.api_key, "config"
    for var in KEY_ENVS.get(p.kind, ()):
        if env.get(var):
            return env[var], f"env {var}"
    first = KEY_ENVS.get(p.kind, ())
    return None, (f"env {first[0]}" if first else "")


def _profile_base_url(p: ProfileConfig, env: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(base_url, azure_endpoint) for a profile; azure_endpoint only when base_url is derived
    from it (a profile's own ``base_url`` is used as given)."""
    if p.kind == "local":
        return p.base_url, None
    if p.kind == "azure":
        if p.base_url:
            return p.base_url, None
        endpoint = p.azure_endpoint or env.get("AZURE_OPENAI_ENDPOINT")
        if not endpoint:
            return None, None
        endpoint = endpoint.rstrip("/")
        api_version = p.api_version or env.get("OPENAI_API_VERSION")
        if api_version:
            return f"{endpoint}/openai", endpoint
        return f"{endpoint}/openai/v1/", endpoint
    if p.base_url:
        return p.base_url, None
    if p.kind == "openai":
        return OPENAI_BASE_URL, None
    if p.kind == "nebius":
        return NEBIUS_BASE_URL, None
    if p.kind == "bedrock":
        region = p.region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
        return BEDROCK_BASE_URL.format(region=region), None
    return None, None


def _from_profile(
    p: ProfileConfig,
    env: Mapping[str, str],
    *,
    base_url: str | None,
    api_key: str | None,
    run_command: bool = True,
) -> Provider:
    key_error: str | None = None
    key: str | None
    if api_key:
        key, source = api_key, "--api-key"
    else:
        try:
            key, source = _profile_key(p, env, run_command=run_command)
        except ApiError as exc:
            key, source, key_error = None, "command", str(exc)
    url, endpoint = _profile_base_url(p, env)
    if base_url:
        url, endpoint = base_url, None  # an explicit --base-url wins over the endpoint
    api_version = p.api_version or (env.get("OPENAI_API_VERSION") if p.kind == "azure" else None)
    if p.kind == "azure" and url and url.rstrip("/").endswith("/v1"):
        api_version = None
    masked = (
        mask_key(key)
        if key
        else ("(from command)" if source == "command" and not key_error else "(none)")
    )
    auto_start = p.kind == "local" and not url
    executor = None
    if auto_start:
        masked, source = "(generated)", "local server"
        running = recorded_server(paths.data_dir())
        if running is not None:  # shown only; make_client still checks that it answers
            url, executor = running
    return Provider(
        name=p.name,
        kind=p.kind,
        base_url=url,
        masked_key=masked,
        key_source=source,
        organization=p.organization or (env.get("OPENAI_ORG_ID") if p.kind == "openai" else None),
        project=p.project or (env.get("OPENAI_PROJECT_ID") if p.kind == "openai" else None),
        api_version=api_version,
        azure_endpoint=endpoint,
        timeout=float(p.timeout) if p.timeout else READ_TIMEOUT,
        max_retries=int(p.max_retries) if p.max_retries is not None else MAX_RETRIES,
        executor=executor,
        auto_start=auto_start,
        api_key=key,
        key_error=key_error,
    )


def _load(config: Config | None) -> Config:
    if config is not None:
        return config
    try:
        return load_config()
    except ConfigError as exc:
        raise ApiError("config", str(exc)) from None


def _find_profile(name: str, cfg: Config) -> ProfileConfig:
    if name in cfg.profiles:
        return cfg.profiles[name]
    if name in PROFILE_KINDS and name != "custom":
        return _builtin(name)
    known = sorted(set(cfg.profiles) | (set(PROFILE_KINDS) - {"custom"}))
    raise ApiError("config", f"unknown profile {name!r} (known: {', '.join(known)})")


def resolve_provider(
    profile: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    *,
    config: Config | None = None,
    env: Mapping[str, str] | None = None,
) -> Provider:
    """Pick the provider from the explicit options, the environment and the config."""
    env = os.environ if env is None else env
    if profile:
        cfg = _load(config)
        return _from_profile(_find_profile(profile, cfg), env, base_url=base_url, api_key=api_key)
    if base_url or api_key:
        url = base_url or env.get("OPENAI_BASE_URL") or OPENAI_BASE_URL
        key = api_key or env.get("OPENAI_API_KEY")
        source = "--api-key" if api_key else ("env OPENAI_API_KEY" if key else "")
        kind = "openai" if url.rstrip("/") == OPENAI_BASE_URL else "custom"
        return Provider(
            name="cli",
            kind=kind,
            base_url=url,
            masked_key=mask_key(key),
            key_source=source,
            organization=env.get("OPENAI_ORG_ID") if kind == "openai" else None,
            project=env.get("OPENAI_PROJECT_ID") if kind == "openai" else None,
            api_key=key,
        )
    env_url = env.get("OPENAI_BASE_URL")
    env_key = env.get("OPENAI_API_KEY")
    if env_url or env_key:
        url = env_url or OPENAI_BASE_URL
        kind = "openai" if url.rstrip("/") == OPENAI_BASE_URL else "custom"
        return Provider(
            name="env",
            kind=kind,
            base_url=url,
            masked_key=mask_key(env_key),
            key_source="env OPENAI_API_KEY" if env_key else "",
            organization=env.get("OPENAI_ORG_ID") if kind == "openai" else None,
            project=env.get("OPENAI_PROJECT_ID") if kind == "openai" else None,
            api_key=env_key,
        )
    cfg = _load(config)
    if cfg.default_profile:
        return _from_profile(
            _find_profile(cfg.default_profile, cfg), env, base_url=None, api_key=None
        )
    return _from_profile(_builtin("local"), env, base_url=None, api_key=None)


def list_providers(
    *, config: Config | None = None, env: Mapping[str, str] | None = None
) -> list[Provider]:
    """Built-in profiles plus configured ones (configured first), without running key commands."""
    env = os.environ if env is None else env
    cfg = _load(config)
    out: list[Provider] = []
    for p in cfg.profiles.values():
        out.append(_from_profile(p, env, base_url=None, api_key=None, run_command=False))
    for kind in PROFILE_KINDS:
        if kind == "custom" or kind in cfg.profiles:
            continue
        out.append(
            _from_profile(_builtin(kind), env, base_url=None, api_key=None, run_command=False)
        )
    return out


# --------------------------------------------------------------------------- clients


def _key_hint(provider: Provider) -> str:
    """What to do about a missing key, from where this provider reads it."""
    source = provider.key_source
    if source.startswith("env "):
        return f"set {source[4:]}"
    if source == "command":
        return "check the profile's api_key_command"
    envs = KEY_ENVS.get(provider.kind, ())
    return f"set {envs[0]}" if envs else "set a key"


def make_client(
    provider: Provider,
    *,
    timeout: float | None = None,
    max_retries: int | None = None,
    http_client: Any = None,
    start_local: bool = True,
) -> Any:
    """An ``openai.OpenAI`` (or ``AzureOpenAI``) client for ``provider``.

    Deliberate timeouts (connect 5 s, read ``timeout``/30 s) and ``max_retries`` (2): the
    SDK's retry honours Retry-After. For ``local`` without a base URL, starts the server.
    """
    if provider.needs_local_server:
        if not start_local:
            raise ApiError("network", "the local server is not running")
        provider = provider_for_local(ensure_local_server(), provider)
    if provider.key_error:
        raise ApiError("config", provider.key_error)
    import httpx2
    import openai

    read = float(timeout if timeout is not None else provider.timeout)
    tmo = httpx2.Timeout(read, connect=min(CONNECT_TIMEOUT, read))
    retries = int(max_retries if max_retries is not None else provider.max_retries)
    key = provider.api_key
    if not key:
        if provider.kind in ("custom",) or (provider.base_url or "").startswith(
            ("http://127.", "http://localhost")
        ):
            key = "no-key"  # many self-hosted servers take any key
        else:
            raise ApiError(
                "config",
                f"no API key for provider {provider.name!r}: {_key_hint(provider)}, "
                "use --api-key, or configure a profile",
            )
    if not provider.base_url:
        if provider.kind == "azure":
            raise ApiError(
                "config",
                f"profile {provider.name!r}: set azure_endpoint (or AZURE_OPENAI_ENDPOINT)",
            )
        raise ApiError("config", f"profile {provider.name!r}: no base_url")
    if not provider.base_url.lower().startswith(("http://", "https://")):
        # httpx would only say "missing protocol" at the first request
        raise ApiError(
            "config", f"base URL {provider.base_url!r} must start with http:// or https://"
        )
    common: dict[str, Any] = {"timeout": tmo, "max_retries": retries}
    if http_client is not None:
        common["http_client"] = http_client
    try:
        if provider.kind == "azure" and provider.api_version:
            # classic Azure: api-version query + api-key header, at the endpoint only when
            # the base URL was derived from it, else at the base URL given (a gateway)
            endpoint = provider.azure_endpoint
            derived = endpoint and provider.base_url.rstrip("/") == endpoint.rstrip("/") + "/openai"
            where = {"azure_endpoint": endpoint} if derived else {"base_url": provider.base_url}
            return openai.AzureOpenAI(
                **where,
                api_version=provider.api_version,
                api_key=key,
                **common,
            )
        return openai.OpenAI(
            base_url=provider.base_url,
            api_key=key,
            organization=provider.organization,
            project=provider.project,
            **common,
        )
    except openai.OpenAIError as exc:
        raise ApiError("config", f"cannot configure the client: {exc}") from None


def connect(
    profile: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    **make_client_kwargs: Any,
) -> tuple[Provider, Any]:
    """Resolve the provider, start the local server if needed, and make a client."""
    provider = resolve_provider(profile, base_url, api_key)
    if provider.needs_local_server:
        provider = provider_for_local(ensure_local_server(), provider)
    return provider, make_client(provider, **make_client_kwargs)


# --------------------------------------------------------------------------- local server
# (finding, starting and stopping it: ``local_server``)


def provider_for_local(server: LocalServer, base: Provider | None = None) -> Provider:
    """The ``local`` Provider pointing at a running server."""
    base = base or _from_profile(_builtin("local"), os.environ, base_url=None, api_key=None)
    return replace(
        base,
        base_url=server.base_url,
        api_key=server.api_key,
        masked_key=server.masked_key,
        key_source="local server",
        executor=server.executor,
        auto_start=False,
    )
