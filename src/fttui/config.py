"""The user's TOML config: provider profiles, training and inference prices, the TUI keymap.

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

    [inference_prices]                # $ per 1M input / output tokens, for fttui eval's cost
    "gpt-4o-mini" = { input = 0.15, output = 0.60 }
    "ft:gpt-4o-mini" = { input = 0.30, output = 1.20 }   # fine-tuned models and checkpoints

    [keymap]                          # TUI binding id -> keys (comma separated)
    "jobs.cancel" = "x,delete"

    [notifications]                   # when a job the app watches ends
    toast = true
    bell = true
    desktop = "auto"                  # auto | osc9 | osc777 | off (true = auto, false = off)

No textual import here: the TUI reads ``load_keymap()`` and feeds it to ``App.set_keymap``.
"""

from __future__ import annotations

import contextlib
import math
import os
import stat
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


#: How a desktop notification is written to the terminal: OSC 9 (iTerm2, WezTerm, kitty,
#: Windows Terminal, ghostty), OSC 777 (urxvt, foot, VTE terminals), auto (by $TERM), off.
DESKTOP_NOTIFY = ("auto", "osc9", "osc777", "off")


@dataclass
class Notifications:
    """The ``[notifications]`` table: what the app does when a job it watches ends."""

    toast: bool = True
    bell: bool = True
    desktop: str = "auto"


@dataclass
class Config:
    """The parsed config file."""

    profiles: dict[str, ProfileConfig] = field(default_factory=dict)
    default_profile: str | None = None
    keymap: dict[str, str] = field(default_factory=dict)
    prices: dict[str, float] = field(default_factory=dict)
    #: model → ($ per 1M input tokens, $ per 1M output tokens)
    inference_prices: dict[str, tuple[float, float]] = field(default_factory=dict)
    notifications: Notifications = field(default_factory=Notifications)
    path: Path | None = None

    def price_for(self, model: str) -> float | None:
        """The price per 1M training tokens for ``model``: its own entry, else the longest
        entry it starts with (``gpt-4o-mini`` covers ``gpt-4o-mini-2024-07-18``), else None."""
        return _by_prefix(self.prices, model)

    def inference_price_for(self, model: str) -> tuple[float, float] | None:
        """($ per 1M input tokens, $ per 1M output tokens) for ``model``, matched as
        :meth:`price_for` matches (``ft:gpt-4o-mini`` covers its fine-tunes and their
        checkpoints, which OpenAI prices apart from the base model), else None."""
        return _by_prefix(self.inference_prices, model)


def _by_prefix(table: dict[str, Any], model: str) -> Any:
    if model in table:
        return table[model]
    prefixes = [name for name in table if model.startswith(name)]
    return table[max(prefixes, key=len)] if prefixes else None


_PROFILE_FIELDS = {f.name for f in fields(ProfileConfig)} - {"name"}


def _parse_notifications(table: Any, where: Path) -> Notifications:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [notifications] must be a table")
    unknown = set(table) - {"toast", "bell", "desktop"}
    if unknown:
        raise ConfigError(
            f"{where}: [notifications] has unknown key(s) {', '.join(sorted(unknown))}"
        )
    out = Notifications()
    for key in ("toast", "bell"):
        if key in table:
            if not isinstance(table[key], bool):
                raise ConfigError(f"{where}: [notifications] {key} must be true or false")
            setattr(out, key, table[key])
    desktop = table.get("desktop", "auto")
    if isinstance(desktop, bool):
        desktop = "auto" if desktop else "off"
    if desktop not in DESKTOP_NOTIFY:
        raise ConfigError(
            f"{where}: [notifications] desktop must be one of {', '.join(DESKTOP_NOTIFY)}"
        )
    out.desktop = desktop
    return out


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
        kind = table.get("kind") or (
            name if name in PROFILE_KINDS else ("custom" if table.get("base_url") else "openai")
        )
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
        if (
            isinstance(price, bool)
            or not isinstance(price, int | float)
            or not (math.isfinite(price) and price >= 0)
        ):
            raise ConfigError(
                f"{where}: [prices] {model} must be a number of dollars per 1M tokens, 0 or more"
            )
        cfg.prices[str(model)] = float(price)
    cfg.inference_prices = _parse_inference_prices(data.get("inference_prices", {}), where)
    cfg.notifications = _parse_notifications(data.get("notifications", {}), where)
    return cfg


def _is_price(value: Any) -> bool:
    # bool is an int to Python, and nan/inf are valid TOML floats: none is a price
    return (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and value >= 0
    )


def _parse_inference_prices(table: Any, where: Path) -> dict[str, tuple[float, float]]:
    shape = "model = { input = $ per 1M input tokens, output = $ per 1M output tokens }"
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [inference_prices] must be a table of {shape}")
    out: dict[str, tuple[float, float]] = {}
    for model, entry in table.items():
        if (
            not isinstance(entry, dict)
            or set(entry) != {"input", "output"}
            or not all(_is_price(v) for v in entry.values())
        ):
            raise ConfigError(
                f"{where}: [inference_prices] {model} must be {{ input = …, output = … }}, "
                "each a number of dollars per 1M tokens, 0 or more"
            )
        out[str(model)] = (float(entry["input"]), float(entry["output"]))
    return out


def _read(where: Path) -> bytes | None:
    """The file's bytes; None when it does not exist. Raises ConfigError."""
    try:
        return where.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read ({exc.strerror})") from None


def _decode(raw: bytes, where: Path) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: not UTF-8 text") from None


def _parse_text(text: str, where: Path) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return _parse(data, where)


def load_config(path: Path | None = None) -> Config:
    """Read the config file (an absent file is an empty config). Raises ConfigError."""
    where = Path(path) if path is not None else paths.config_file()
    raw = _read(where)
    if raw is None:
        return Config(path=where)
    return _parse_text(_decode(raw, where), where)


def load_keymap(path: Path | None = None) -> dict[str, str]:
    """The ``[keymap]`` table (binding id → keys); empty on any problem. Never raises."""
    try:
        return dict(load_config(path).keymap)
    except Exception:
        return {}


def load_notifications(path: Path | None = None) -> Notifications:
    """The ``[notifications]`` settings; the defaults on any problem. Never raises: a
    broken config must not stop the app (``fttui profiles`` reports it)."""
    try:
        return load_config(path).notifications
    except Exception:
        return Notifications()


def inference_price_for(model: str, path: Path | None = None) -> tuple[float, float] | None:
    """The configured ($ per 1M input, $ per 1M output tokens) for ``model``; None when
    there is none or the config cannot be read (never raises, as :func:`price_for`)."""
    try:
        return load_config(path).inference_price_for(model)
    except Exception:
        return None


def price_for(model: str, path: Path | None = None) -> float | None:
    """The configured price per 1M training tokens for ``model`` (see ``Config.price_for``);
    None when there is none or the config cannot be read. Never raises: a cost estimate is
    not worth failing a lint over (``fttui profiles`` reports a broken config)."""
    try:
        return load_config(path).price_for(model)
    except Exception:
        return None


# Writing edits the user's file in place with tomlkit: only what changed is touched, so
# comments, key order, formatting and tables fttui does not know survive a save.


def _new_table(values: dict[str, Any], inline: bool) -> Any:
    import tomlkit

    table = tomlkit.inline_table() if inline else tomlkit.table()
    for key, value in values.items():
        table[key] = value
    if not inline:
        table.add(tomlkit.nl())  # a blank line before whatever table follows
    return table


def _sync_items(table: Any, values: dict[str, Any], same: Any) -> None:
    """Make the (tomlkit) ``table`` hold exactly ``values``, touching only what differs."""
    for key in [k for k in table if k not in values]:
        del table[key]
    for key, value in values.items():
        if key not in table or not same(table[key], value):
            table[key] = value


def _section(doc: Any, key: str, create: bool) -> Any:
    import tomlkit

    if key not in doc:
        if not create:
            return None
        doc.append(key, tomlkit.table(is_super_table=key == "profiles"))
    section = doc[key]
    if not isinstance(section, dict):
        raise ConfigError(f"[{key}] must be a table")
    return section


def _same_keys(current: Any, wanted: str) -> bool:
    if isinstance(current, list):
        current = ",".join(str(k) for k in current)
    return current == wanted


def _same_price(current: Any, wanted: float) -> bool:
    return isinstance(current, int | float) and float(current) == wanted


def _apply(doc: Any, old: Config, new: Config) -> None:
    """Edit the tomlkit document ``doc`` (parsed as ``old``) so that it reads as ``new``."""
    if old.default_profile != new.default_profile:
        defaults = doc.get("defaults")
        in_defaults = (
            "default_profile" not in doc and isinstance(defaults, dict) and "profile" in defaults
        )
        if new.default_profile is None:
            if "default_profile" in doc:
                del doc["default_profile"]
            if isinstance(defaults, dict) and "profile" in defaults:
                del defaults["profile"]
        elif in_defaults:
            defaults["profile"] = new.default_profile
        else:
            doc["default_profile"] = new.default_profile
    if old.profiles != new.profiles:
        import tomlkit.items

        profiles = _section(doc, "profiles", create=bool(new.profiles))
        for name in old.profiles:
            if name not in new.profiles and profiles is not None and name in profiles:
                del profiles[name]
        for name, profile in new.profiles.items():
            if old.profiles.get(name) == profile:
                continue
            values = profile.to_toml()
            if name in profiles:
                _sync_items(profiles[name], values, lambda a, b: a == b)
            else:
                profiles[name] = _new_table(
                    values, inline=isinstance(profiles, tomlkit.items.InlineTable)
                )
    for key, same in (("prices", _same_price), ("keymap", _same_keys)):
        wanted = getattr(new, key)
        if getattr(old, key) != wanted:
            section = _section(doc, key, create=bool(wanted))
            if section is not None:
                _sync_items(section, wanted, same)


def _file_mode(target: Path, secret: bool) -> int:
    """The mode to write: the file's own (never loosened), 0600 at most when it holds a
    literal key; a new file gets 0600 with a key, else 0644."""
    try:
        current = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        return 0o600 if secret else 0o644
    return current & 0o600 if secret else current


def _write_atomic(where: Path, text: str, secret: bool) -> None:
    where.parent.mkdir(parents=True, exist_ok=True)
    target = Path(os.path.realpath(where))  # a symlinked config (dotfiles) stays a symlink
    mode = _file_mode(target, secret)
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=target.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def save_config(cfg: Config, path: Path | None = None) -> Path:
    """Write ``cfg`` atomically, editing the existing file in place: comments, order,
    formatting and tables fttui does not know are kept; only what differs is rewritten.
    The file keeps its mode (never loosened); 0600 when any profile holds a literal key;
    a new file without one is 0644."""
    import tomlkit

    where = Path(path) if path is not None else (cfg.path or paths.config_file())
    raw = _read(where)
    old_text = _decode(raw, where) if raw is not None else ""
    old = _parse_text(old_text, where)
    doc = tomlkit.parse(old_text)
    try:
        _apply(doc, old, cfg)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    text = tomlkit.dumps(doc)
    if text.endswith("\n\n") and not old_text.endswith("\n\n"):
        text = text.rstrip("\n") + "\n"  # no blank line left at the end by a new table
    if text.startswith("\n") and not old_text.startswith("\n"):
        text = text.lstrip("\n")  # nor at the top by a removed default_profile
    _parse_text(text, where)  # never write a file that would not read back
    secret = any(p.api_key for p in cfg.profiles.values())
    _write_atomic(where, text, secret)
    return where


def save_profile(
    profile: ProfileConfig, path: Path | None = None, *, make_default: bool = False
) -> Path:
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
