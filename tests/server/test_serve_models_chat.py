"""Models, chat completions and legacy completions of `fttui serve --executor sim`."""

from __future__ import annotations

import openai
import pytest

from fttui.server.executors.base import TokenDelta
from fttui.server.generation import StopCutter

MODEL = "gpt-4o-mini-2024-07-18"
USER = [{"role": "user", "content": "What is the capital of France?"}]


def _answer(client, model, **kwargs):
    return client.chat.completions.create(model=model, messages=USER, **kwargs)


def test_models_list_retrieve_delete(shared_client, finished_job, train_file, wait_job, openapi):
    models = shared_client.models.list()
    openapi.check(models, "ListModelsResponse")
    by_id = {m.id: m for m in models.data}
    assert by_id[MODEL].owned_by == "fttui-sim"
    assert {"babbage-002", "davinci-002", "SmolLM2-135M-Instruct"} <= set(by_id)
    assert finished_job.fine_tuned_model in by_id
    got = shared_client.models.retrieve(finished_job.fine_tuned_model)  # colons in the path
    openapi.check(got, "Model")
    assert got.id == finished_job.fine_tuned_model
    # OpenAI's Model has shutdown_date (null: none announced); so does every model here
    assert got.to_dict()["shutdown_date"] is None
    assert all(m.to_dict().get("shutdown_date", "absent") is None for m in models.data)
    ckpt = shared_client.fine_tuning.jobs.checkpoints.list(finished_job.id).data[-1]
    assert (
        shared_client.models.retrieve(ckpt.fine_tuned_model_checkpoint).id
        == ckpt.fine_tuned_model_checkpoint
    )
    with pytest.raises(openai.NotFoundError) as err:
        shared_client.models.retrieve("ft:nope:x::y")
    assert err.value.body["code"] == "model_not_found"
    with pytest.raises(openai.PermissionDeniedError):
        shared_client.models.delete(MODEL)

    # a model of its own to delete, so the shared one stays
    job = shared_client.fine_tuning.jobs.create(
        model=MODEL, training_file=train_file.id, metadata={"sim_seconds_per_step": "0"}
    )
    job = wait_job(shared_client, job.id)
    deleted = shared_client.models.delete(job.fine_tuned_model)
    openapi.check(deleted, "DeleteModelResponse")
    assert deleted.deleted
    with pytest.raises(openai.NotFoundError):
        shared_client.models.retrieve(job.fine_tuned_model)
    with pytest.raises(openai.NotFoundError):
        _answer(shared_client, job.fine_tuned_model)


def test_fine_tuned_model_and_checkpoints_answer(shared_client, finished_job, openapi):
    answer = _answer(shared_client, finished_job.fine_tuned_model)
    openapi.check(answer, "CreateChatCompletionResponse")
    text = answer.choices[0].message.content
    assert text.startswith("[simulated]") and "Paris" in text  # from the training data
    assert answer.model == finished_job.fine_tuned_model
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens
    for ckpt in shared_client.fine_tuning.jobs.checkpoints.list(finished_job.id).data:
        assert (
            "Paris"
            in _answer(shared_client, ckpt.fine_tuned_model_checkpoint).choices[0].message.content
        )

    # continue training from the fine-tuned model
    job = shared_client.fine_tuning.jobs.create(
        model=finished_job.fine_tuned_model, training_file=finished_job.training_file
    )
    assert job.model == finished_job.fine_tuned_model
    shared_client.fine_tuning.jobs.cancel(job.id)


def test_stop_sequences(shared_client, finished_job):
    model = finished_job.fine_tuned_model
    full = _answer(shared_client, model, temperature=0).choices[0].message.content
    assert full == "[simulated] Paris."
    cut = _answer(shared_client, model, stop=["d] Pa", "zzz"])  # spans two tokens
    assert cut.choices[0].message.content == "[simulate"
    assert cut.choices[0].finish_reason == "stop"
    assert _answer(shared_client, model, stop=".").choices[0].message.content == "[simulated] Paris"
    with pytest.raises(openai.BadRequestError) as err:
        _answer(shared_client, model, stop=["a", "b", "c", "d", "e"])
    assert err.value.body["param"] == "stop"


def test_n_max_tokens_and_logprobs(shared_client, openapi):
    answer = _answer(
        shared_client, MODEL, n=3, max_completion_tokens=4, seed=1, logprobs=True, top_logprobs=2
    )
    openapi.check(answer, "CreateChatCompletionResponse")
    assert [c.index for c in answer.choices] == [0, 1, 2]
    for choice in answer.choices:
        assert choice.finish_reason == "length"
        assert choice.message.content.startswith("[simulated]")
        assert len(choice.logprobs.content) == 4
        assert all(len(t.top_logprobs) == 2 and t.logprob <= 0 for t in choice.logprobs.content)
        assert "".join(t.token for t in choice.logprobs.content) == choice.message.content
    assert answer.usage.completion_tokens == 12
    legacy_max = _answer(shared_client, MODEL, max_tokens=2).choices[0]
    assert legacy_max.finish_reason == "length"


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"temperature": 3}, "temperature"),
        ({"n": 0}, "n"),
        ({"max_completion_tokens": 0}, "max_completion_tokens"),
        ({"top_logprobs": 3}, "top_logprobs"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "user"}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({"top_p": 1.5}, "top_p"),
    ],
)
def test_chat_refusals(shared_client, kwargs, param):
    body = {"model": MODEL, "messages": USER, **kwargs}
    with pytest.raises(openai.BadRequestError) as err:
        shared_client.chat.completions.create(**body)
    assert err.value.body["param"] == param


def test_unknown_model_is_404(shared_client):
    with pytest.raises(openai.NotFoundError) as err:
        _answer(shared_client, "gpt-nope")
    assert err.value.body["code"] == "model_not_found"


def test_streaming_matches_non_streaming(shared_client, finished_job, openapi):
    model = finished_job.fine_tuned_model
    plain = _answer(shared_client, model, n=2, stop=["s."])
    chunks = list(
        _answer(
            shared_client,
            model,
            n=2,
            stop=["s."],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    for chunk in chunks:
        openapi.check(chunk, "CreateChatCompletionStreamResponse")
    assert len({c.id for c in chunks}) == 1
    texts = {0: "", 1: ""}
    finish = {}
    for chunk in chunks:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
            if choice.finish_reason:
                finish[choice.index] = choice.finish_reason
    assert texts == {i: plain.choices[i].message.content for i in (0, 1)}
    assert texts[0] == "[simulated] Pari"
    assert finish == {0: "stop", 1: "stop"}
    assert chunks[-1].choices == [] and chunks[-1].usage == plain.usage


def test_legacy_completions(shared_client, openapi):
    done = shared_client.completions.create(
        model="babbage-002", prompt="Hello ->", max_tokens=3, logprobs=2, echo=True
    )
    openapi.check(done, "CreateCompletionResponse")
    choice = done.choices[0]
    assert choice.text.startswith("Hello ->[simulated]") and choice.finish_reason == "length"
    assert len(choice.logprobs.tokens) == 3 and choice.logprobs.text_offset[0] == len("Hello ->")
    assert done.usage.completion_tokens == 3

    cut = shared_client.completions.create(
        model="babbage-002", prompt=["a", "b"], n=2, stop=[" is"], max_tokens=50
    )
    assert [c.index for c in cut.choices] == [0, 1, 2, 3]
    assert all(c.text == "[simulated] This" and c.finish_reason == "stop" for c in cut.choices)

    streamed = list(
        shared_client.completions.create(model="babbage-002", prompt="x", max_tokens=4, stream=True)
    )
    openapi.check(streamed[-1], "CreateCompletionResponse")  # the others have no finish_reason yet
    assert "".join(c.choices[0].text for c in streamed) == "[simulated] This is babbage-002"
    assert streamed[-1].choices[0].finish_reason == "length"


def test_stop_cutter_holds_back_only_what_could_be_a_stop():
    cutter = StopCutter(0, ["END", "\n\n"])
    out = []
    for text in ["He", "llo E", "N", "D", " never"]:
        piece = cutter.feed(TokenDelta(0, text))
        if piece:
            out.append((piece.text, piece.finish_reason))
        if cutter.done:
            break
    assert out == [("He", None), ("llo ", "stop")]
    assert cutter.tokens == 4

    plain = StopCutter(0, [])
    assert plain.feed(TokenDelta(0, "a")).text == "a"
    assert plain.feed(TokenDelta(0, "", finish_reason="length")).finish_reason == "length"


def test_a_token_that_completes_no_character_is_still_counted_and_keeps_its_logprob():
    """An emoji is several tokens; the first ones decode to no text yet. They were not
    counted in completion_tokens (usage too low) and their logprobs were dropped."""
    cutter = StopCutter(0, [])
    pieces = [
        cutter.feed(TokenDelta(0, "", logprob=-0.5)),  # first half of "🙂"
        cutter.feed(TokenDelta(0, "🙂", logprob=-0.25)),
        cutter.feed(TokenDelta(0, "", finish_reason="stop")),  # an end marker, not a token
    ]
    released = [t for p in pieces if p for t in p.tokens]
    assert cutter.tokens == 2
    assert [t.logprob for t in released] == [-0.5, -0.25]
    assert "".join(p.text for p in pieces if p) == "🙂"
