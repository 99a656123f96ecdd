"""Where fttui keeps its files.

Everything lives under the platformdirs locations for "fttui", unless ``FTTUI_HOME`` is set:
then config, data and cache all live below that one folder (tests and demos use it to stay
isolated from the user's real state).
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "fttui"


def _home() -> Path | None:
    home = os.environ.get("FTTUI_HOME")
    return Path(home).expanduser() if home else None


def config_dir() -> Path:
    """Folder of ``config.toml`` (profiles, keymap)."""
    if home := _home():
        return home / "config"
    from platformdirs import user_config_path

    return user_config_path(APP_NAME)


def data_dir() -> Path:
    """Default data folder of ``fttui serve`` (SQLite store, uploaded files, job folders)."""
    if home := _home():
        return home / "data"
    from platformdirs import user_data_path

    return user_data_path(APP_NAME)


def cache_dir() -> Path:
    """Caches that can be thrown away: last job list, converted models."""
    if home := _home():
        return home / "cache"
    from platformdirs import user_cache_path

    return user_cache_path(APP_NAME)


def config_file() -> Path:
    """The user's TOML config file."""
    return config_dir() / "config.toml"
