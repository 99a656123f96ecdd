"""`fttui profiles add/remove` (and ``save_config``) edit the user's config.toml in place:
comments, key order, formatting, the [prices]/[keymap] tables, tables fttui does not know
and the file's mode all survive; only the profile being added or removed changes."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import pytest

from fttui import paths
from fttui.cli import main
from fttui.config import load_config, save_config

HEAD = (
    "# fttui config, hand written\n"
    "# (keep these comments)\n"
    'default_profile = "work"   # the usual one\n'
    "\n"
)
WORK = (
    "[profiles.work]   # my employer's account\n"
    'kind = "openai"\n'
    'api_key_env = "WORK_OPENAI_KEY"  # from the shell\n'
    '# organization = "org-xyz"\n'
    "\n"
)
OTHER = '[profiles.other]\nkind = "custom"\nbase_url = "http://x/v1"\napi_key_env = "X"\n\n'
REST = (
    "[prices]                          # $ per 1M training tokens\n"
    '"gpt-4o-mini" = 3                 # an int on purpose\n'
    '"gpt-4o"      = 25.0\n'
    "\n"
    "[keymap]\n"
    '"jobs.cancel" = "x,delete"\n'
    '"app.help" = ["?", "f1"]         # a list form\n'
    "\n"
    "# a table fttui does not know about\n"
    "[my_notes]\n"
    'zeta = "last"\n'
    'alpha = "first"\n'
)
ADD_OTHER = [
    "profiles",
    "add",
    "other",
    "--kind",
    "custom",
    "--base-url",
    "http://x/v1",
    "--api-key-env",
    "X",
]


@pytest.fixture
def cfg_file(fttui_home: Path) -> Path:
    path = paths.config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _write(path: Path, text: str, mode: int) -> None:
    path.write_text(text)
    os.chmod(path, mode)


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _check_parses(path: Path, profiles: set[str]) -> None:
    cfg = load_config(path)
    assert set(cfg.profiles) == profiles
    assert cfg.prices == {"gpt-4o-mini": 3.0, "gpt-4o": 25.0}
    assert cfg.keymap == {"jobs.cancel": "x,delete", "app.help": "?,f1"}


def test_profiles_add_keeps_comments_tables_order_and_mode(cfg_file, capsys):
    _write(cfg_file, HEAD + WORK + REST, 0o600)
    assert main(ADD_OTHER) == 0
    text = cfg_file.read_text()
    # everything the user wrote is there byte for byte, the new table goes in between
    assert text.startswith(HEAD + WORK), text
    assert text.endswith(REST), text
    added = text[len(HEAD + WORK) : len(text) - len(REST)]
    assert tomllib.loads(added) == {
        "profiles": {"other": {"kind": "custom", "base_url": "http://x/v1", "api_key_env": "X"}}
    }
    assert added.endswith("\n\n")  # a blank line still separates it from [prices]
    assert _mode(cfg_file) == 0o600  # the user's chmod 600 is kept
    _check_parses(cfg_file, {"work", "other"})
    assert load_config(cfg_file).default_profile == "work"


def test_profiles_add_keeps_a_group_readable_mode(cfg_file, capsys):
    _write(cfg_file, HEAD + WORK + REST, 0o640)
    assert main(ADD_OTHER) == 0
    assert _mode(cfg_file) == 0o640  # not reset to 0644
    assert cfg_file.read_text().endswith(REST)


def test_profiles_remove_leaves_everything_else_byte_for_byte(cfg_file, capsys):
    _write(cfg_file, HEAD + WORK + OTHER + REST, 0o600)
    assert main(["profiles", "remove", "other"]) == 0
    assert cfg_file.read_text() == HEAD + WORK + REST
    assert _mode(cfg_file) == 0o600
    _check_parses(cfg_file, {"work"})


def test_profiles_remove_the_default_drops_only_its_line(cfg_file, capsys):
    _write(cfg_file, HEAD + WORK + OTHER + REST, 0o600)
    assert main(["profiles", "remove", "work"]) == 0
    head = HEAD.replace('default_profile = "work"   # the usual one\n', "")
    assert cfg_file.read_text() == head + OTHER + REST
    assert _mode(cfg_file) == 0o600
    _check_parses(cfg_file, {"other"})
    assert load_config(cfg_file).default_profile is None


def test_add_then_remove_gives_back_the_same_bytes(cfg_file, capsys):
    original = HEAD + WORK + REST
    _write(cfg_file, original, 0o600)
    assert main(ADD_OTHER) == 0
    assert main(["profiles", "remove", "other"]) == 0
    assert cfg_file.read_text() == original
    assert _mode(cfg_file) == 0o600


def test_a_literal_key_forces_0600_and_keeps_the_comments(cfg_file, capsys):
    _write(cfg_file, HEAD + WORK + REST, 0o644)
    argv = ["profiles", "add", "lit", "--kind", "openai", "--api-key", "sk-literal-abcdefgh"]
    assert main(argv) == 0
    assert _mode(cfg_file) == 0o600
    text = cfg_file.read_text()
    assert text.startswith(HEAD + WORK) and text.endswith(REST), text
    _check_parses(cfg_file, {"work", "lit"})
    assert load_config(cfg_file).profiles["lit"].api_key == "sk-literal-abcdefgh"
    # removing the key again never loosens the file
    assert main(["profiles", "remove", "lit"]) == 0
    assert _mode(cfg_file) == 0o600
    assert cfg_file.read_text() == HEAD + WORK + REST


def test_a_new_file_is_0644_and_later_edits_keep_what_the_user_added(cfg_file, capsys):
    assert not cfg_file.exists()
    assert main(["profiles", "add", "first", "--base-url", "http://a/v1", "--default"]) == 0
    assert _mode(cfg_file) == 0o644
    assert load_config(cfg_file).default_profile == "first"
    # the user annotates the file and locks it down; the next add keeps both
    _write(cfg_file, "# mine, do not lose\n" + cfg_file.read_text() + "\n" + REST, 0o600)
    before = cfg_file.read_text()
    assert main(ADD_OTHER) == 0
    text = cfg_file.read_text()
    assert text.startswith("# mine, do not lose\n") and text.endswith(REST), text
    assert _mode(cfg_file) == 0o600
    assert set(load_config(cfg_file).profiles) == {"first", "other"}
    assert main(["profiles", "remove", "other"]) == 0
    assert cfg_file.read_text() == before


def test_a_symlinked_config_stays_a_symlink(cfg_file, tmp_path, capsys):
    real = tmp_path / "dotfiles" / "fttui.toml"
    real.parent.mkdir()
    _write(real, HEAD + WORK + REST, 0o600)
    cfg_file.symlink_to(real)
    assert main(ADD_OTHER) == 0
    assert cfg_file.is_symlink() and cfg_file.resolve() == real.resolve()
    assert real.read_text().endswith(REST) and _mode(real) == 0o600
    assert set(load_config(cfg_file).profiles) == {"work", "other"}


def test_save_config_rewrites_only_what_changed(cfg_file):
    _write(cfg_file, HEAD + WORK + REST, 0o600)
    cfg = load_config(cfg_file)
    cfg.prices["gpt-4o"] = 20.0
    save_config(cfg, cfg_file)
    assert cfg_file.read_text() == HEAD + WORK + REST.replace(
        '"gpt-4o"      = 25.0\n', '"gpt-4o"      = 20.0\n'
    )
    assert _mode(cfg_file) == 0o600
