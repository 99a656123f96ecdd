"""The request bodies of ``fttui serve``, typed as OpenAI's OpenAPI spec types them.

The routes parse each JSON body into one of these models before anything else looks at it,
so a wrong type (``presence_penalty: "x"``, ``tools: "x"``, ``integrations: [1]``) is a 400
naming the field, never a value the server stores or trips over later. The models check
types and the spec's ranges; what needs the server's state (does the file exist, is the
model known, which hyperparameters this executor takes) is checked further in, by the
services, with the messages and codes they always had. The same models are the request
bodies of the OpenAPI document the server serves at ``/openapi.json``.

Strict: a string is not a number and 0 is not a boolean, as in OpenAI's API. Unknown fields
are accepted and kept (OpenAI accepts them too, and newer SDKs send fields this server does
not know yet).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _whole(value: Any) -> Any:
    """2.0 is the integer 2, as JSON Schema has it (and OpenAI takes it); 2.5 stays wrong."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


Int = Annotated[int, BeforeValidator(_whole)]
Number = Annotated[float, Field(allow_inf_nan=False)]
Penalty = Annotated[float, Field(ge=-2, le=2, allow_inf_nan=False)]
#: a token id (as a string, JSON has no integer keys) → a bias from -100 to 100
LogitBias = dict[str, Annotated[Int, Field(ge=-100, le=100)]]
Metadata = dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=512)]]


class Body(BaseModel):
    """A request body: strict types, unknown fields kept."""

    model_config = ConfigDict(strict=True, extra="allow")


# -- generation ---------------------------------------------------------------------------
class StreamOptions(Body):
    include_usage: bool | None = None


class ResponseFormat(Body):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: dict[str, Any] | None = None


class FunctionDefinition(Body):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(Body):
    type: Literal["function", "custom"]
    function: FunctionDefinition | None = None
    custom: dict[str, Any] | None = None


Role = Literal["system", "developer", "user", "assistant", "tool", "function"]


class ChatMessage(Body):
    """One message. Content may be absent (an assistant turn that called tools): which
    roles may omit it is checked by the route, with the message it always had."""

    role: Role
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


class GenerationBody(Body):
    """What chat and legacy completions share."""

    model: Annotated[str, Field(min_length=1, examples=["gpt-4o-mini-2024-07-18"])]
    frequency_penalty: Penalty | None = None
    presence_penalty: Penalty | None = None
    logit_bias: LogitBias | None = None
    max_tokens: Annotated[Int, Field(ge=0)] | None = None
    n: Annotated[Int, Field(ge=1, le=128)] | None = None
    seed: Int | None = None
    stop: str | Annotated[list[str], Field(max_length=4)] | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    temperature: Annotated[Number, Field(ge=0, le=2)] | None = None
    top_p: Annotated[Number, Field(ge=0, le=1)] | None = None
    user: str | None = None


class ChatCompletionRequest(GenerationBody):
    """``POST /v1/chat/completions`` (CreateChatCompletionRequest)."""

    messages: Annotated[
        list[ChatMessage],
        Field(min_length=1, examples=[[{"role": "user", "content": "Hello!"}]]),
    ]
    max_completion_tokens: Annotated[Int, Field(ge=0)] | None = None
    logprobs: bool | None = None
    top_logprobs: Annotated[Int, Field(ge=0, le=20)] | None = None
    tools: list[Tool] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    store: bool | None = None
    metadata: Metadata | None = None
    modalities: list[str] | None = None
    reasoning_effort: str | None = None
    service_tier: str | None = None

    def max_output(self) -> int | None:
        """The per-choice token limit the request asks for (None: the server's default)."""
        if self.max_completion_tokens is not None:
            return self.max_completion_tokens
        return self.max_tokens


class CompletionRequest(GenerationBody):
    """``POST /v1/completions`` (CreateCompletionRequest). Prompts are text: token-id
    prompts (lists of integers) are refused, as this server tokenizes per base model."""

    prompt: Annotated[str | list[str], Field(examples=["Hello ->"])]
    best_of: Annotated[Int, Field(ge=0, le=20)] | None = None
    echo: bool | None = None
    logprobs: Annotated[Int, Field(ge=0, le=5)] | None = None
    suffix: str | None = None


# -- embeddings ---------------------------------------------------------------------------
class EmbeddingRequest(Body):
    """``POST /v1/embeddings`` (CreateEmbeddingRequest). Token-id inputs (lists of
    integers) pass the types and are refused by the route with their own message: this
    server tokenizes per model, so ids from another tokenizer would mean other text."""

    input: str | Annotated[list[str] | list[int] | list[list[int]], Field(min_length=1)]
    model: Annotated[str, Field(min_length=1, examples=["text-embedding-3-small"])]
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: Annotated[Int, Field(ge=1)] | None = None
    user: str | None = None


# -- fine-tuning jobs -----------------------------------------------------------------------
Auto = Literal["auto"]


class Hyperparameters(Body):
    """Types only: the ranges are checked with the method's own names in the errors."""

    n_epochs: Auto | Int | None = None
    batch_size: Auto | Int | None = None
    learning_rate_multiplier: Auto | Number | None = None
    beta: Auto | Number | None = None


class MethodConfig(Body):
    hyperparameters: Hyperparameters | None = None


class Method(Body):
    type: Literal["supervised", "dpo", "reinforcement"] = "supervised"
    supervised: MethodConfig | None = None
    dpo: MethodConfig | None = None
    reinforcement: dict[str, Any] | None = None


class WandbSettings(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")

    project: Annotated[str, Field(min_length=1)]
    name: str | None = None
    entity: str | None = None
    tags: list[str] = Field(default_factory=list)


class Integration(BaseModel):
    """FineTuningIntegration. Extra fields are dropped: the job echoes this object, and
    every read of the job must match the spec's schema."""

    model_config = ConfigDict(strict=True, extra="ignore")

    type: Literal["wandb"]
    wandb: WandbSettings


class FineTuningJobRequest(Body):
    """``POST /v1/fine_tuning/jobs`` (CreateFineTuningJobRequest)."""

    model: Annotated[str, Field(min_length=1)]
    training_file: Annotated[str, Field(min_length=1)]
    validation_file: str | None = None
    hyperparameters: Hyperparameters | None = None
    method: Method | None = None
    suffix: str | None = None
    seed: Int | None = None
    metadata: Metadata | None = None
    integrations: Annotated[list[Integration], Field(max_length=5)] | None = None


# -- uploads ----------------------------------------------------------------------------------
class UploadRequest(Body):
    """``POST /v1/uploads`` (CreateUploadRequest)."""

    bytes: Annotated[Int, Field(ge=0)]
    filename: Annotated[str, Field(min_length=1)]
    mime_type: str
    purpose: str
    #: the anchor and the seconds are checked by the file service
    expires_after: dict[str, Any] | None = None


class CompleteUploadRequest(Body):
    """``POST /v1/uploads/{upload_id}/complete`` (CompleteUploadRequest)."""

    part_ids: list[str]
    md5: str | None = None


#: every body model, for the components of the served OpenAPI document
BODIES: tuple[type[BaseModel], ...] = (
    ChatCompletionRequest,
    CompletionRequest,
    EmbeddingRequest,
    FineTuningJobRequest,
    UploadRequest,
    CompleteUploadRequest,
)
