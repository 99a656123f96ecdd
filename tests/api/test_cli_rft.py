"""`fttui jobs create --method reinforcement --grader G.json` and the reward metrics, against
a live `fttui serve --executor sim` (in-process CLI calls, as the other API command tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest

from fttui.api.errors import ApiError
from fttui.api.jobs import create_job
from fttui.api.models import is_openai, listed_method_refusal, openai_method_refusal
from support.cli import CHAT, FAST, run_cli
from support.openapi import load_shapes

GRADER = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "{{item.reference_answer}}",
    "operation": "ilike",
}


@pytest.fixture(autouse=True)
def _home(fttui_home):
    return fttui_home


def write_rft(path: Path, n: int = 12, **drop: Any) -> Path:
    rows = [
        {
            "messages": [{"role": "user", "content": f"Capital of country {i}?"}],
            "reference_answer": f"City {i}",
        }
        for i in range(n)
    ]
    for line in drop.get("without_reference", ()):
        del rows[line - 1]["reference_answer"]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def grader_file(tmp_path: Path, grader: Any = GRADER) -> str:
    path = tmp_path / "grader.json"
    path.write_text(json.dumps(grader))
    return str(path)


def create(server, capsys, *args: str):
    argv = ["jobs", "create", "--model", "gpt-4o-mini-2024-07-18", *FAST, *args]
    return run_cli(argv, server, capsys=capsys)


def test_an_rft_job_is_created_from_the_cli_and_its_rewards_are_the_metrics(
    api_server, capsys, tmp_path
):
    data = write_rft(tmp_path / "rft.jsonl")
    r = create(
        api_server, capsys,
        "--training-file", str(data), "--grader", grader_file(tmp_path),
        "--reasoning-effort", "low", "--eval-interval", "3", "--epochs", "2",
        "--wait", "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    job = json.loads(r.out)
    assert job["status"] == "succeeded"
    client = api_server.client()
    full = client.fine_tuning.jobs.retrieve(job["id"])
    assert full.method.type == "reinforcement"
    assert full.method.reinforcement.grader.reference == "{{item.reference_answer}}"
    hp = full.method.reinforcement.hyperparameters
    assert (hp.reasoning_effort, hp.eval_interval, hp.n_epochs) == ("low", 3, 2)

    r = run_cli(
        ["jobs", "metrics", job["id"], "--json", "--source", "events"], api_server, capsys=capsys
    )
    assert r.code == 0, r.err
    series = json.loads(r.out)["series"]
    assert next(iter(series)) == "train_reward_mean"  # rewards first, no loss for RFT
    assert "train_loss" not in series
    rewards = [v for _, v in series["train_reward_mean"]]
    assert len(rewards) == 24 and rewards[-1] > rewards[0]
    r = run_cli(["jobs", "metrics", job["id"]], api_server, capsys=capsys)
    assert "train_reward_mean" in r.out and "max" in r.out  # a reward's best is its max


def test_rft_data_missing_a_grader_field_is_refused_before_any_upload(api_server, capsys, tmp_path):
    client = api_server.client()
    before = {f.id for f in client.files.list()}
    data = write_rft(tmp_path / "rft.jsonl", without_reference=[4])
    r = create(api_server, capsys, "--training-file", str(data), "--grader", grader_file(tmp_path))
    assert r.code == 1
    assert "rft_grader_field_missing" in r.err and "line 4" in r.err
    assert {f.id for f in client.files.list()} == before  # nothing uploaded


def test_a_dpo_job_on_chat_data_is_refused_before_any_upload(api_server, capsys):
    client = api_server.client()
    before = {f.id for f in client.files.list()}
    r = create(api_server, capsys, "--training-file", str(CHAT), "--method", "dpo")
    assert r.code == 1 and "method_format_mismatch" in r.err
    assert {f.id for f in client.files.list()} == before


@pytest.mark.parametrize(
    ("args", "says", "code"),
    [
        (["--method", "reinforcement"], "needs a grader", 1),
        (["--grader", "GRADER", "--method", "dpo"], "reinforcement", 1),
        (["--eval-samples", "2"], "--method reinforcement", 1),
        (["--grader", "GRADER", "--compute-multiplier", "20"], "compute multiplier", 1),
        (["--extra-body", "[1]"], "--extra-body must be a JSON object", 2),
        (["--extra-body", "{nope"], "--extra-body is not valid JSON", 2),
    ],
)
def test_rft_usage_errors_are_one_line_before_anything_is_sent(
    api_server, capsys, tmp_path, args, says, code
):
    data = write_rft(tmp_path / "rft.jsonl")
    args = [grader_file(tmp_path) if a == "GRADER" else a for a in args]
    r = create(api_server, capsys, "--training-file", str(data), *args)
    assert r.code == code, (r.out, r.err)
    assert says in r.err and len(r.err.strip().splitlines()) == 1, r.err


def test_extra_body_reaches_the_provider(api_server, capsys, tmp_path):
    """A provider-defined field passes through as it is: here the local server's own
    `metadata` (which it would otherwise not get from this command line)."""
    data = write_rft(tmp_path / "rft.jsonl")
    r = create(
        api_server, capsys,
        "--training-file", str(data), "--grader", grader_file(tmp_path),
        "--extra-body", json.dumps({"metadata": {"team": "search"}}), "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    job = api_server.client().fine_tuning.jobs.retrieve(json.loads(r.out)["id"])
    assert job.metadata == {"team": "search"}


def test_a_copy_of_an_rft_job_keeps_its_grader_and_rft_hyperparameters(
    api_server, capsys, tmp_path
):
    data = write_rft(tmp_path / "rft.jsonl")
    r = create(
        api_server, capsys,
        "--training-file", str(data), "--grader", grader_file(tmp_path),
        "--reasoning-effort", "high", "--eval-samples", "2", "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    source = json.loads(r.out)["id"]
    r = run_cli(
        ["jobs", "create", "--from", source, "--epochs", "3", "--json"], api_server, capsys=capsys
    )
    assert r.code == 0, r.err
    copy = api_server.client().fine_tuning.jobs.retrieve(json.loads(r.out)["id"])
    assert copy.method.type == "reinforcement"
    assert copy.method.reinforcement.grader.reference == "{{item.reference_answer}}"
    hp = copy.method.reinforcement.hyperparameters
    assert (hp.reasoning_effort, hp.eval_samples, hp.n_epochs) == ("high", 2, 3)


def method_of(args: list[str]) -> str:
    return "dpo" if "dpo" in args or "--beta" in args else "reinforcement"


@pytest.mark.parametrize(
    ("model", "args"),
    [
        ("babbage-002", ["--method", "reinforcement", "--grader", "GRADER"]),
        ("davinci-002", ["--grader", "GRADER"]),  # a grader means reinforcement
        ("babbage-002", ["--method", "dpo"]),
        ("davinci-002", ["--beta", "0.2"]),  # a beta means DPO
    ],
    ids=["rft", "rft-by-grader", "dpo", "dpo-by-beta"],
)
def test_a_model_the_provider_cannot_fine_tune_so_is_refused_before_any_upload(
    api_server, capsys, tmp_path, model, args
):
    """The server lists each model's `fine_tuning_methods`; the client reads them before
    it uploads anything, and names the models that take the method."""
    client = api_server.client()
    # training files only: an earlier test's job that finishes meanwhile adds its result file
    files = {f.id for f in client.files.list(purpose="fine-tune")}
    jobs = len(client.fine_tuning.jobs.list().data)
    data = write_rft(tmp_path / "rft.jsonl")
    args = [grader_file(tmp_path) if a == "GRADER" else a for a in args]
    argv = ["jobs", "create", "--model", model, *FAST, "--training-file", str(data), *args]
    r = run_cli(argv, api_server, capsys=capsys)
    assert r.code == 1, (r.out, r.err)
    method = method_of(args)
    assert f"{model} cannot be fine-tuned with {method}" in r.err, r.err
    assert "it takes supervised" in r.err and "gpt-4o-mini-2024-07-18" in r.err, r.err
    assert len(r.err.strip().splitlines()) == 1, r.err
    assert {f.id for f in client.files.list(purpose="fine-tune")} == files  # nothing uploaded
    assert len(client.fine_tuning.jobs.list().data) == jobs


def test_openai_takes_rft_on_o4_mini_only_and_is_told_so_before_any_request(tmp_path):
    """OpenAI's /v1/models says nothing of fine-tuning: its documented table decides, with
    no request at all (the client's hook would see one and refuse to send it)."""
    sent: list[str] = []

    def no_network(request: httpx2.Request) -> None:
        sent.append(f"{request.method} {request.url}")
        raise RuntimeError("a test sends nothing to OpenAI")

    openai_client = openai.OpenAI(
        api_key="sk-test",
        max_retries=0,
        http_client=httpx2.Client(event_hooks={"request": [no_network]}),
    )
    assert is_openai(openai_client)
    data = write_rft(tmp_path / "rft.jsonl")
    with pytest.raises(ApiError) as err:
        create_job(
            openai_client, model="gpt-4o-mini-2024-07-18", training_file=str(data), grader=GRADER
        )
    assert err.value.kind == "bad_request" and err.value.param == "model"
    assert "on o4-mini" in err.value.message and "gpt-4o-mini-2024-07-18" in err.value.message
    assert "--force" in err.value.message
    assert sent == []
    # --force leaves it to OpenAI (its table may be newer than ours): the create goes on
    with pytest.raises(Exception) as forced:
        create_job(
            openai_client,
            model="gpt-4o-mini-2024-07-18",
            training_file=str(data),
            grader=GRADER,
            force=True,
        )
    assert "on o4-mini" not in str(forced.value) and sent, (forced.value, sent)
    for able in ("o4-mini", "o4-mini-2025-04-16", "ft:o4-mini-2025-04-16:acme:rft:abc123"):
        assert openai_method_refusal(able, "reinforcement") is None
    for other in ("supervised", "dpo"):  # not in the table: OpenAI's own answer decides
        assert openai_method_refusal("gpt-4o-mini-2024-07-18", other) is None


def test_a_provider_whose_models_list_no_methods_decides_itself():
    """No local refusal where the model list does not say (most providers' objects), or
    does not list the model: the provider's own answer to the create decides."""
    plain = [{"id": "their-model", "object": "model", "owned_by": "them"}]
    assert listed_method_refusal(plain, "their-model", "reinforcement") is None
    listed = [{"id": "a", "fine_tuning_methods": ["supervised", "reinforcement"]}]
    assert listed_method_refusal(listed, "b", "reinforcement") is None  # not listed
    assert listed_method_refusal(listed, "a", "reinforcement") is None
    assert "models that take dpo" not in (listed_method_refusal(listed, "a", "dpo") or "")
    assert "no model takes dpo" in (listed_method_refusal(listed, "a", "dpo") or "")
    assert not is_openai(openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="sk-test"))


@pytest.mark.parametrize(
    "grader",
    [
        GRADER,
        {
            "type": "text_similarity",
            "name": "close",
            "input": "{{sample.output_text}}",
            "reference": "{{item.reference_answer}}",
            "evaluation_metric": "fuzzy_match",
        },
    ],
    ids=["string_check", "text_similarity"],
)
def test_the_rft_create_body_is_the_official_spec_s_fine_tune_reinforcement_method(
    api_server, tmp_path, grader
):
    """The body fttui's client puts on the wire (as the server received it, read off the
    SDK's own HTTP client) is OpenAI's CreateFineTuningJobRequest, its method a
    FineTuneReinforcementMethod with the grader and every RFT hyperparameter in it."""
    bodies: list[dict[str, Any]] = []

    def record(request: httpx2.Request) -> None:
        if request.method == "POST" and request.url.path.endswith("/fine_tuning/jobs"):
            bodies.append(json.loads(request.read()))

    client = openai.OpenAI(
        base_url=api_server.base_url, api_key=api_server.api_key, max_retries=0,
        http_client=httpx2.Client(event_hooks={"request": [record]}),
    )  # fmt: skip
    rft_hp = {
        "reasoning_effort": "low", "compute_multiplier": 2.0, "eval_interval": 3,
        "eval_samples": 2,
    }  # fmt: skip
    job = create_job(
        client, model="gpt-4o-mini-2024-07-18",
        training_file=str(write_rft(tmp_path / "train.jsonl")),
        validation_file=str(write_rft(tmp_path / "valid.jsonl", n=10)),
        grader=grader, n_epochs=2, batch_size=4, learning_rate_multiplier=0.5,
        rft_hyperparameters=rft_hp, suffix="rft", seed=7,
    )  # fmt: skip
    assert len(bodies) == 1
    body = bodies[0]
    shapes = load_shapes()
    shapes.check(body, "CreateFineTuningJobRequest")
    shapes.check(body["method"], "FineTuneMethod")
    shapes.check(body["method"]["reinforcement"], "FineTuneReinforcementMethod")
    assert body["method"]["type"] == "reinforcement" and set(body["method"]) == {
        "type",
        "reinforcement",
    }
    conf = body["method"]["reinforcement"]
    assert conf["grader"] == grader
    assert conf["hyperparameters"] == {
        "n_epochs": 2, "batch_size": 4, "learning_rate_multiplier": 0.5, **rft_hp
    }  # fmt: skip
    assert "hyperparameters" not in body  # the deprecated top level: all under the method
    # the checks have teeth: the same method, wrong, does not pass
    assert shapes.errors(
        {"hyperparameters": conf["hyperparameters"]}, "FineTuneReinforcementMethod"
    )
    bad = {**conf, "hyperparameters": {**conf["hyperparameters"], "reasoning_effort": "max"}}
    assert shapes.errors(bad, "FineTuneReinforcementMethod")
    assert shapes.errors(
        {**conf, "grader": {"type": "string_check"}}, "FineTuneReinforcementMethod"
    )
    assert (
        job.method.type == "reinforcement"
        and job.method.reinforcement.grader.type == grader["type"]
    )
