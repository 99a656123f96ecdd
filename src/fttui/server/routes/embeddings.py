"""``POST /v1/embeddings``: one vector per input text, from the executor's own model.

The sim executor gives deterministic hashed-trigram vectors (similar texts point closer);
the torch executor mean-pools the model's last hidden state, with the fine-tune's adapter
when the model is one. ``dimensions`` keeps the first N components, normalised again, as
OpenAI's shortened embeddings do; ``encoding_format: base64`` (what the SDK asks for) is the
little-endian float32 bytes.
"""

from __future__ import annotations

import base64
import math
import struct
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from fttui.server.errors import bad_request, json_response
from fttui.server.executors.base import Embeddings
from fttui.server.generation import embed_texts
from fttui.server.routes.deps import body_doc, services, typed_body
from fttui.server.schemas import EmbeddingRequest

#: inputs one request may hold, as OpenAI allows
MAX_INPUTS = 2048

router = APIRouter(tags=["embeddings"])


def texts_of(body: EmbeddingRequest) -> list[str]:
    """The input as texts; token ids and empty strings are a 400 naming the input."""
    inputs = [body.input] if isinstance(body.input, str) else list(body.input)
    if len(inputs) > MAX_INPUTS:
        raise bad_request(
            f"Invalid 'input': at most {MAX_INPUTS} inputs per request, got {len(inputs)}.",
            param="input",
            code="invalid_value",
        )
    texts: list[str] = []
    for i, value in enumerate(inputs):
        where = "input" if isinstance(body.input, str) else f"input[{i}]"
        if not isinstance(value, str):
            raise bad_request(
                f"Invalid '{where}': token ids are not taken here (this server tokenizes "
                "per model); send the text.",
                param=where,
                code="invalid_value",
            )
        if not value:
            raise bad_request(
                f"Invalid '{where}': an empty string cannot be embedded.",
                param=where,
                code="invalid_value",
            )
        texts.append(value)
    return texts


def shorten(vector: list[float], dimensions: int | None) -> list[float]:
    if dimensions is None or dimensions >= len(vector):
        return vector
    head = vector[:dimensions]
    norm = math.sqrt(sum(v * v for v in head))
    return [v / norm for v in head] if norm else head


def _encode(vector: list[float], encoding: str | None) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
    return vector


def _respond(body: EmbeddingRequest, out: Embeddings) -> dict[str, Any]:
    native = len(out.vectors[0]) if out.vectors else 0
    if body.dimensions is not None and body.dimensions > native:
        raise bad_request(
            f"Invalid 'dimensions': {body.dimensions}; {body.model} gives at most {native}.",
            param="dimensions",
            code="invalid_value",
        )
    return {
        "object": "list",
        "data": [
            {
                "object": "embedding",
                "index": i,
                "embedding": _encode(shorten(v, body.dimensions), body.encoding_format),
            }
            for i, v in enumerate(out.vectors)
        ],
        "model": body.model,
        "usage": {"prompt_tokens": out.prompt_tokens, "total_tokens": out.prompt_tokens},
    }


@router.post("/embeddings", openapi_extra=body_doc(EmbeddingRequest))
async def embeddings(
    request: Request,
    body: Annotated[EmbeddingRequest, Depends(typed_body(EmbeddingRequest))],
) -> Response:
    texts = texts_of(body)
    s = services(request)
    out = await run_in_threadpool(embed_texts, s.models, s.executor, body.model, texts)
    return json_response(_respond(body, out))
