"""The user's TOML config: provider profiles, training prices and the TUI keymap.

Lives at ``fttui.paths.config_file()`` (``$FTTUI_HOME/config/config.toml`` in tests)::

    default_profile = "work"          # optional; used when no --profile/env key is given

    [profiles.work]
    kind = "openai"                   # openai | azure | bedrock | nebius | local | custom
    api_key_env = "WORK_OPENAI_KEY"   # where the key comes from (preferred) ...
    # api_key_command = "pass show openai"   # ... or a command printing it ...
    # api_key = "sk-..."              # ... or literally (the file is then kept 0600)
    organization = "org-..."
    project = "proj_..."

    [profiles.myazure]
    kind = "azure"
    azure_endpoint = "https://my-resource.openai.azure.com"
    api_version = "2025-04-01-preview"   # leave out to use the /openai/v1/ form

    [profiles.vllm]
    kind = "custom"
    base_url = "http://gpu-box:8000/v1"

    [prices]                          # $ per 1M training tokens, for cost estimates
    "gpt-4o-mini" = 3.00              # a name prefix covers its dated snapshots

    [keymap]                          # TUI binding id -> keys (comma separated)
    "jobs.cancel" = "x,delete"

No textual import here: the TUI reads ``load_keymap()`` and feeds it to ``App.set_keymap``.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from fttui import paths

PROFILE_KINDS = ("openai", "azure", "bedrock", "nebius", "local", "custom")


class ConfigError(ValueError):
    """The config file is malformed; the message names the file (and line when known)."""


@dataclass
class ProfileConfig:
    """One ``[profiles.NAME]`` table."""

    name: str
    kind: str = "openai"
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    api_key_env: str | None = None
    api_key_command: str | None = None
    organization: str | None = None
    project: str | None = None
    api_version: str | None = None
    azure_endpoint: str | None = None
    region: str | None = None
    timeout: float | None = None
    max_retries: int | None = None

    def to_toml(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "name":
                continue
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = value
        return out


@dataclass
class Config:
    """The parsed config file."""

    profiles: dict[str, ProfileConfig] = field(default_factory=dict)
    default_profile: str | None = None
    keymap: dict[str, str] = field(default_factory=dict)
    prices: dict[str, float] = field(default_factory=dict)
    path: Path | None = None

    def price_for(self, model: str) -> float | None:
        """The price per 1M training tokens for ``model``: its own entry, else the longest
        entry it starts with (``gpt-4o-mini`` covers ``gpt-4o-mini-2024-07-18``), else None."""
        if model in self.prices:
            return self.prices[model]
        prefixes = [name for name in self.prices if model.startswith(name)]
        return self.prices[max(prefixes, key=len)] if prefixes else None


_PROFILE_FIELDS = {f.name for f in fields(ProfileConfig)} - {"name"}


def _parse(data: dict[str, Any], where: Path) -> Config:
    cfg = Config(path=where)
    default = data.get("default_profile")
    if default is None and isinstance(data.get("defaults"), dict):
        default = data["defaults"].get("profile")
    if default is not None and not isinstance(default, str):
        raise ConfigError(f"{where}: default_profile must be a string")
    cfg.default_profile = default
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigError(f"{where}: [profiles] must be a table of tables")
    for name, table in profiles.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: [profiles.{name}] must be a table")
        unknown = set(table) - _PROFILE_FIELDS
        if unknown:
            raise ConfigError(
                f"{where}: [profiles.{name}] has unknown key(s) {', '.join(sorted(unknown))}"
            )
        kind = table.get("kind") or (name if name in PROFILE_KINDS else
                                     ("custom" if table.get("base_url") else "openai"))
        if kind not in PROFILE_KINDS:
            raise ConfigError(
                f"{where}: [profiles.{name}] kind {kind!r} is not one of {', '.join(PROFILE_KINDS)}"
            )
        kwargs = {k: v for k, v in table.items() if k != "kind"}
        for key in ("timeout",):
            if key in kwargs and not isinstance(kwargs[key], int | float):
                raise ConfigError(f"{where}: [profiles.{name}] {key} must be a number")
        if "max_retries" in kwargs and not isinstance(kwargs["max_retries"], int):
            raise ConfigError(f"{where}: [profiles.{name}] max_retries must be an integer")
        for key, value in kwargs.items():
            if key not in ("timeout", "max_retries") and not isinstance(value, str):
                raise ConfigError(f"{where}: [profiles.{name}] {key} must be a string")
        cfg.profiles[name] = ProfileConfig(name=name, kind=kind, **kwargs)
    keymap = data.get("keymap", {})
    if not isinstance(keymap, dict):
        raise ConfigError(f"{where}: [keymap] must be a table")
    for binding, keys in keymap.items():
        if isinstance(keys, list):
            keys = ",".join(str(k) for k in keys)
        if not isinstance(keys, str):
            raise ConfigError(f"{where}: [keymap] {binding} must be a string of keys")
        cfg.keymap[str(binding)] = keys
    prices = data.get("prices", {})
    if not isinstance(prices, dict):
        raise ConfigError(f"{where}: [prices] must be a table of model = dollars per 1M tokens")
    for model, price in prices.items():
        # bool is an int to Python, and nan/inf are valid TOML floats: none is a price
        if isinstance(price, bool) or not isinstance(price, int | float) or not (
            math.isfinite(price) and price >= 0
        ):
            raise ConfigError(
                f"{where}: [prices] {model} must be a number of dollars per 1M tokens, 0 or more"
            )
        cfg.prices[str(model)] = float(price)
    return cfg


def load_config(path: Path | None = None) -> Config:
    """Read the config file (an absent file is an empty config). Raises ConfigError."""
    where = Path(path) if path is not None else paths.config_file()
    try:
        raw = where.read_bytes()
    except FileNotFoundError:
        return Config(path=where)
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read ({exc.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return _parse(data, where)


def load_keymap(path: Path | None = None) -> dict[str, str]:
    """The ``[keymap]`` table (binding id → keys); empty on any problem. Never raises."""
    try:
        return dict(load_config(path).keymap)
    except Exception:
        return {}


def price_for(model: str, path: Path | None = None) -> float | None:
    """The configured price per 1M training tokens for ``model`` (see ``Config.price_for``);
    None when there is none or the config cannot be read. Never raises: a cost estimate is
    not worth failing a lint over (``fttui profiles`` reports a broken config)."""
    try:
        return load_config(path).price_for(model)
    except Exception:
        return None


def _dump(cfg: Config) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if cfg.default_profile:
        data["default_profile"] = cfg.default_profile
    if cfg.profiles:
        data["profiles"] = {name: p.to_toml() for name, p in cfg.profiles.items()}
    if cfg.prices:
        data["prices"] = dict(cfg.prices)
    if cfg.keymap:
        data["keymap"] = dict(cfg.keymap)
    return data


def save_config(cfg: Config, path: Path | None = None) -> Path:
    """Write ``cfg`` atomically. 0600 when any profile holds a literal key (else 0644)."""
    import tomli_w

    where = Path(path) if path is not None else (cfg.path or paths.config_file())
    where.parent.mkdir(parents=True, exist_ok=True)
    secret = any(p.api_key for p in cfg.profiles.values())
    mode = 0o600 if secret else 0o644
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=where.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            tomli_w.dump(_dump(cfg), fh)
        os.replace(tmp, where)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    os.chmod(where, mode)
    return where


def save_profile(profile: ProfileConfig, path: Path | None = None, *,
                 make_default: bool = False) -> Path:
    """Add or replace one profile in the config file (other content kept)."""
    cfg = load_config(path)
    cfg.profiles[profile.name] = profile
    if make_default:
        cfg.default_profile = profile.name
    return save_config(cfg, path)


def remove_profile(name: str, path: Path | None = None) -> bool:
    """Remove a profile; True if it existed."""
    cfg = load_config(path)
    if name not in cfg.profiles:
        return False
    del cfg.profiles[name]
    if cfg.default_profile == name:
        cfg.default_profile = None
    save_config(cfg, path)
    return True
