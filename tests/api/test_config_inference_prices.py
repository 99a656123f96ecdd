"""The config's ``[inference_prices]`` table: read by name prefix, a bad entry named in a
clear error, and kept as written when fttui edits another part of the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from fttui.config import ConfigError, ProfileConfig, load_config, save_profile

TABLE = """# mine
[inference_prices]
"gpt-4o-mini" = { input = 0.15, output = 0.60 }  # base
"ft:gpt-4o-mini" = { input = 0.3, output = 1.2 }
"""


def test_a_price_is_found_by_the_longest_prefix(tmp_path: Path) -> None:
    cfg_file = tmp_path / "config.toml"
    cfg_file.write_text(TABLE)
    cfg = load_config(cfg_file)
    assert cfg.inference_price_for("gpt-4o-mini-2024-07-18") == (0.15, 0.60)
    assert cfg.inference_price_for("ft:gpt-4o-mini-2024-07-18:org::abc:ckpt-step-9") == (0.3, 1.2)
    assert cfg.inference_price_for("gpt-4o-2024-08-06") is None


@pytest.mark.parametrize(
    "entry",
    [
        '"m" = 0.15',
        '"m" = { input = 0.15 }',
        '"m" = { input = 0.15, output = -1 }',
        '"m" = { input = true, output = 1 }',
        '"m" = { input = nan, output = 1 }',
        '"m" = { input = 1, output = 1, cached = 0.5 }',
    ],
)
def test_a_bad_entry_is_a_clear_error_naming_it(tmp_path: Path, entry: str) -> None:
    cfg_file = tmp_path / "config.toml"
    cfg_file.write_text(f"[inference_prices]\n{entry}\n")
    with pytest.raises(ConfigError) as info:
        load_config(cfg_file)
    assert "[inference_prices] m must be { input = …, output = … }" in str(info.value)


def test_editing_a_profile_keeps_the_table_as_written(tmp_path: Path) -> None:
    cfg_file = tmp_path / "config.toml"
    cfg_file.write_text(TABLE)
    save_profile(ProfileConfig(name="vllm", kind="custom", base_url="http://x/v1"), cfg_file)
    text = cfg_file.read_text()
    assert text.startswith(TABLE)
    assert load_config(cfg_file).inference_prices["ft:gpt-4o-mini"] == (0.3, 1.2)
