"""The scoreboard's cost column: each model's input and output tokens at the config's
``[inference_prices]`` (a name prefix covers dated snapshots and fine-tunes), in the text
table and in ``--json``; a model without a price is "—" and null, never a made-up figure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fttui.evals.session import cost_of
from support.live_server import FIXTURES

CHAT = FIXTURES / "chat_valid.jsonl"
BASE = "gpt-4o-mini-2024-07-18"
OTHER = "gpt-4.1-nano-2025-04-14"  # served by the sim server, priced by no entry
CONFIG = """
[inference_prices]
"gpt-4o-mini" = { input = 0.15, output = 0.60 }
"gpt-4o-mini-2024-07-18" = { input = 0.25, output = 2 }
"ft:gpt-4o-mini" = { input = 0.30, output = 1.20 }
"""


def eval_with_config(server, home: Path, *argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "FTTUI_HOME": str(home), "FTTUI_QUIET_LOCAL": "1"}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "fttui",
            "--base-url",
            server.base_url,
            "--api-key",
            server.api_key,
            "eval",
            str(CHAT),
            "--limit",
            "4",
            "--metric",
            "contains",
            *argv,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )


@pytest.fixture
def priced_home(tmp_path: Path) -> Path:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.toml").write_text(CONFIG)
    return tmp_path


def test_the_scoreboard_prices_each_models_tokens_and_leaves_unknown_prices_blank(
    sim_server, priced_home
):
    r = eval_with_config(sim_server, priced_home, "-m", BASE, "-m", OTHER, "--json")
    assert r.returncode == 0, r.stderr
    models = {m["model"]: m for m in json.loads(r.stdout)["models"]}
    base = models[BASE]
    assert base["prompt_tokens"] > 0 and base["completion_tokens"] > 0
    # the exact entry wins over the shorter prefix
    assert base["price"] == {"input": 0.25, "output": 2.0}
    want = (base["prompt_tokens"] * 0.25 + base["completion_tokens"] * 2) / 1_000_000
    assert base["cost"] == pytest.approx(want, rel=1e-6)
    other = models[OTHER]
    assert other["prompt_tokens"] > 0  # tokens counted, but no price for them
    assert other["price"] is None and other["cost"] is None

    text = eval_with_config(sim_server, priced_home, "-m", BASE, "-m", OTHER)
    header = next(line for line in text.stdout.splitlines() if line.startswith("model"))
    assert "cost" in header.split()
    lines = {line.split()[0]: line for line in text.stdout.splitlines() if line.strip()}
    assert f"${want:,.4f}" in lines[BASE]
    assert "—" in lines[OTHER] and "$" not in lines[OTHER]


def test_a_fine_tuned_model_takes_its_ft_price_not_its_bases(sim_server, priced_home):
    client = sim_server.client()
    with CHAT.open("rb") as fh:
        f = client.files.create(file=(CHAT.name, fh), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(
        model=BASE, training_file=f.id, metadata={"sim_seconds_per_step": "0.002"}
    )
    from support.live_server import wait_for

    wait_for(lambda: client.fine_tuning.jobs.retrieve(job.id).status == "succeeded", 60, "the job")
    tuned = client.fine_tuning.jobs.retrieve(job.id).fine_tuned_model
    r = eval_with_config(sim_server, priced_home, "-m", tuned, "--json")
    assert r.returncode == 0, r.stderr
    (m,) = json.loads(r.stdout)["models"]
    assert m["price"] == {"input": 0.30, "output": 1.20}
    want = (m["prompt_tokens"] * 0.30 + m["completion_tokens"] * 1.20) / 1_000_000
    assert m["cost"] == pytest.approx(want, rel=1e-6)


def test_without_a_config_every_cost_is_unknown(sim_server, tmp_path):
    r = eval_with_config(sim_server, tmp_path, "-m", BASE, "--json")
    assert r.returncode == 0, r.stderr
    (m,) = json.loads(r.stdout)["models"]
    assert m["price"] is None and m["cost"] is None


def test_a_cost_is_unknown_when_some_answer_reported_no_usage():
    summary = {"prompt_tokens": 1000, "completion_tokens": 500, "unmetered": 0}
    assert cost_of(summary, (1.0, 2.0)) == pytest.approx(0.002)
    assert cost_of(summary, None) is None
    assert cost_of({**summary, "unmetered": 1}, (1.0, 2.0)) is None  # an undercount otherwise
