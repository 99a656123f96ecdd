"""Inference for ``fttui serve``: chat template, sampling, logprobs, streamed deltas.

Runs in the server process (the executor calls it from the server's worker threads). A
small LRU keeps the last base models loaded; fine-tuned models and checkpoints are peft
adapters loaded onto their base model by name (a few kept per base), switched per request.
One lock per loaded model serialises generations on it; the token loop is a plain Python
generator, so when the server closes the iterator (a stop sequence, a client gone) the
work stops at the next token and the lock is released.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import nullcontext
from typing import Any

import torch

from fttui.server.executors.base import (
    Embeddings,
    EmbedRequest,
    Generation,
    GenerationRequest,
    TokenDelta,
)
from fttui.server.trainer.data import clean_messages, render
from fttui.server.trainer.weights import (
    is_adapter,
    load_model,
    load_tokenizer,
    local_weights,
    pick_device,
    resolve,
)

#: end-of-turn tokens of common chat templates, used as stop tokens when in the vocabulary
END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>")
DEFAULT_CONTEXT = 2048


class PromptTooLong(ValueError):
    pass


class LoadedModel:
    """A base model (with the adapters loaded onto it) and its tokenizer."""

    def __init__(self, weights: str, device: str, max_adapters: int):
        precision = "bf16" if device == "cuda" else "fp32"
        self.base = load_model(weights, precision=precision, device=device)
        self.model: Any = self.base
        self.tokenizer = load_tokenizer(weights)
        self.device = device
        self.lock = threading.Lock()
        self.adapters: OrderedDict[str, str] = OrderedDict()  # name → path
        self.max_adapters = max_adapters
        config = self.base.config
        self.context = int(getattr(config, "max_position_embeddings", 0) or DEFAULT_CONTEXT)
        vocab = self.tokenizer.get_vocab()
        ids: set[int] = {i for t in END_OF_TURN if (i := vocab.get(t)) is not None}
        for source in (
            self.tokenizer.eos_token_id,
            getattr(self.base.generation_config, "eos_token_id", None),
        ):
            if isinstance(source, int):
                ids.add(source)
            elif isinstance(source, list):
                ids.update(source)
        self.stop_ids = ids

    def use(self, adapter: str | None):
        """Make ``adapter`` (or the bare base model) active; call with ``lock`` held.

        Returns a context manager to generate under.
        """
        from peft import PeftModel

        if adapter is None:
            return (
                self.model.disable_adapter() if isinstance(self.model, PeftModel) else nullcontext()
            )
        name = "a" + hashlib.sha1(adapter.encode()).hexdigest()[:16]
        if name in self.adapters:
            self.adapters.move_to_end(name)
        else:
            if isinstance(self.model, PeftModel):
                self.model.load_adapter(adapter, adapter_name=name)
            else:
                self.model = PeftModel.from_pretrained(self.base, adapter, adapter_name=name)
            self.model.eval()
            self.adapters[name] = adapter
        self.model.set_adapter(name)
        while len(self.adapters) > self.max_adapters:
            old = next(iter(self.adapters))
            self.model.delete_adapter(old)
            del self.adapters[old]
        return nullcontext()


class ModelPool:
    """The last ``max_models`` base models used, loaded once each."""

    def __init__(
        self, extra: dict[str, str] | None = None, max_models: int = 2, max_adapters: int = 8
    ):
        self.extra = extra or {}
        self.max_models = max_models
        self.max_adapters = max_adapters
        self._models: OrderedDict[str, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()
        self._device: str | None = None

    def get(self, weights: str) -> LoadedModel:
        with self._lock:
            if weights in self._models:
                self._models.move_to_end(weights)
                return self._models[weights]
            if self._device is None:
                torch.set_flush_denormal(True)
                self._device = pick_device("auto")
            loaded = LoadedModel(weights, self._device, self.max_adapters)
            self._models[weights] = loaded
            while len(self._models) > self.max_models:
                self._models.popitem(last=False)  # freed once no generation holds it
            return loaded

    def _weights(self, request: GenerationRequest | EmbedRequest) -> tuple[str, str | None]:
        """(the base weights to load, the adapter to put on them or None)."""
        adapter = request.adapter_path
        if adapter and not is_adapter(adapter):  # a full fine-tune: a model of its own
            return adapter, None
        return local_weights(resolve(request.base_model, request.model_path, self.extra)), adapter

    def embed(self, request: EmbedRequest) -> Embeddings:
        """Each text's embedding: the model's last hidden state, mean-pooled over the
        text's tokens and L2-normalised — a causal LM is no trained embedder, but texts
        it reads alike come out close, and a fine-tune's own adapter is the one used."""
        weights, adapter = self._weights(request)
        loaded = self.get(weights)
        tokenizer = loaded.tokenizer
        batches = [tokenizer(t, add_special_tokens=True)["input_ids"] for t in request.texts]
        for ids in batches:
            if len(ids) > loaded.context:
                raise PromptTooLong(
                    f"an input is {len(ids)} tokens; {request.model} reads at most {loaded.context}"
                )
        vectors: list[list[float]] = []
        # one text at a time: no padding token to choose (SmolLM2 has none), and the
        # grader embeds two short texts per call
        with loaded.lock, loaded.use(adapter), torch.inference_mode():
            for ids in batches:
                out = loaded.model(
                    input_ids=torch.tensor([ids or [0]], device=loaded.device),
                    output_hidden_states=True,
                    use_cache=False,
                )
                pooled = out.hidden_states[-1][0].float().mean(dim=0)
                pooled = pooled / pooled.norm().clamp_min(1e-12)
                vectors.append(pooled.cpu().tolist())
        return Embeddings(vectors=vectors, prompt_tokens=sum(len(ids) for ids in batches))

    def generate(self, request: GenerationRequest) -> Generation:
        """Tokenise the prompt now (so errors come before the stream), generate lazily."""
        weights, adapter = self._weights(request)
        loaded = self.get(weights)
        tokenizer = loaded.tokenizer
        if request.messages is not None:
            text = render(tokenizer, clean_messages(request.messages), generation_prompt=True)
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        else:
            ids = tokenizer(request.prompt or "", add_special_tokens=True)["input_ids"]
        if len(ids) >= loaded.context:
            raise PromptTooLong(
                f"the prompt is {len(ids)} tokens; {request.model} reads at most {loaded.context}"
            )
        return Generation(prompt_tokens=len(ids), deltas=_stream(loaded, adapter, ids, request))


class _Decoder:
    """Incremental detokenisation: text grows only by complete characters."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.text = ""

    def _decode(self) -> str:
        return self.tokenizer.decode(
            self.ids, skip_special_tokens=True, clean_up_tokenization_spaces=False
        )

    def add(self, token: int) -> str:
        self.ids.append(token)
        text = self._decode()
        if text.endswith("\ufffd"):  # half a UTF-8 character: wait for the rest
            return ""
        delta, self.text = text[len(self.text) :], text
        return delta

    def flush(self) -> str:
        text = self._decode()
        delta, self.text = text[len(self.text) :], text
        return delta


def _choose(
    logits: torch.Tensor, temperature: float, top_p: float, gen: torch.Generator
) -> torch.Tensor:
    """Next token per row: greedy at temperature 0, else nucleus sampling."""
    if temperature <= 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        drop = sorted_probs.cumsum(-1) - sorted_probs > top_p  # keep the smallest set ≥ top_p
        sorted_probs[drop] = 0.0
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
    return torch.multinomial(probs.cpu(), 1, generator=gen).squeeze(-1).to(logits.device)


def _stream(
    loaded: LoadedModel, adapter: str | None, ids: list[int], request: GenerationRequest
) -> Iterator[TokenDelta]:
    n = max(1, request.n)
    tokenizer = loaded.tokenizer
    gen = torch.Generator()
    if request.seed is not None:
        gen.manual_seed(request.seed)
    else:
        gen.seed()
    max_new = max(0, min(request.max_tokens, loaded.context - len(ids)))
    with loaded.lock, loaded.use(adapter), torch.inference_mode():
        model = loaded.model
        cur = torch.tensor([ids] * n, device=loaded.device)
        past = None
        decoders = [_Decoder(tokenizer) for _ in range(n)]
        done = [False] * n
        for _ in range(max_new):
            out = model(input_ids=cur, past_key_values=past, use_cache=True)
            past = out.past_key_values
            logits = out.logits[:, -1, :].float()
            chosen = _choose(logits, request.temperature, request.top_p, gen)
            logps = torch.log_softmax(logits, dim=-1) if request.logprobs else None
            for i in range(n):
                if done[i]:
                    continue
                token = int(chosen[i])
                if token in loaded.stop_ids:
                    done[i] = True
                    yield TokenDelta(i, decoders[i].flush(), finish_reason="stop")
                    continue
                text = decoders[i].add(token)
                logprob, top = None, None
                if logps is not None:
                    logprob = float(logps[i, token])
                    if request.top_logprobs:
                        values, top_ids = logps[i].topk(request.top_logprobs)
                        top = [
                            (tokenizer.decode([int(t)]), float(v))
                            for t, v in zip(top_ids, values, strict=True)
                        ]
                yield TokenDelta(i, text, logprob=logprob, top_logprobs=top)
            if all(done):
                return
            cur = chosen[:, None]
        for i in range(n):
            if not done[i]:
                yield TokenDelta(i, decoders[i].flush(), finish_reason="length")
