"""POST /v1/responses body (the OpenAI Responses API)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag


class _Item(BaseModel):
    model_config = ConfigDict(extra="ignore")


class InputText(_Item):
    type: Literal["input_text", "output_text"]
    """`output_text` is an earlier assistant message's text, replayed."""
    text: str


class InputImage(_Item):
    type: Literal["input_image"]
    image_url: str | None = None
    file_id: str | None = None
    detail: str | None = None


class Refusal(_Item):
    type: Literal["refusal"]
    refusal: str


MessagePart = Annotated[InputText | InputImage | Refusal, Field(discriminator="type")]


class MessageItem(_Item):
    type: Literal["message"] = "message"
    role: Literal["user", "system", "developer", "assistant"]
    content: str | list[MessagePart]
    id: str | None = None
    status: str | None = None


class FunctionCallItem(_Item):
    type: Literal["function_call"]
    call_id: str
    name: str
    arguments: str
    id: str | None = None
    status: str | None = None


class FunctionCallOutputItem(_Item):
    type: Literal["function_call_output"]
    call_id: str
    output: str | list[MessagePart]
    id: str | None = None
    status: str | None = None


class ReasoningText(_Item):
    type: Literal["reasoning_text", "summary_text"]
    text: str


class ReasoningItem(_Item):
    type: Literal["reasoning"]
    id: str | None = None
    summary: list[ReasoningText] = []
    content: list[ReasoningText] | None = None
    encrypted_content: str | None = None


class OtherItem(_Item):
    """Item types tera-serve does not take (item references, built-in tool calls): a 400."""

    model_config = ConfigDict(extra="allow")
    type: str


def _item_kind(value: Any) -> str:
    kind = value.get("type", "message") if isinstance(value, dict) else getattr(value, "type", "")
    known = ("message", "function_call", "function_call_output", "reasoning")
    return f"item[{kind if kind in known else 'other'}]"


# Tags in brackets: `validation.param_from_location` leaves them out of error `param`s.
InputItem = Annotated[
    Annotated[MessageItem, Tag("item[message]")]
    | Annotated[FunctionCallItem, Tag("item[function_call]")]
    | Annotated[FunctionCallOutputItem, Tag("item[function_call_output]")]
    | Annotated[ReasoningItem, Tag("item[reasoning]")]
    | Annotated[OtherItem, Tag("item[other]")],
    Discriminator(_item_kind),
]


def _input_kind(value: Any) -> str:
    return "str" if isinstance(value, str) else "list[...]"


Input = Annotated[
    Annotated[str, Tag("str")] | Annotated[list[InputItem], Tag("list[...]")],
    Discriminator(_input_kind),
]


class ToolParam(_Item):
    """`function` tools are served; any other type (web_search, file_search, ...) is a 400."""

    model_config = ConfigDict(extra="allow")
    type: str
    name: (
        Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")] | None
    ) = None
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class FunctionToolChoice(_Item):
    model_config = ConfigDict(extra="allow")
    type: str
    name: str | None = None


class TextFormat(_Item):
    type: Literal["text", "json_object", "json_schema"]
    name: str | None = None
    schema_: Annotated[dict[str, Any] | None, Field(alias="schema")] = None
    description: str | None = None
    strict: bool | None = None


class TextConfig(_Item):
    format: TextFormat | None = None
    verbosity: Literal["low", "medium", "high"] | None = None


class ReasoningConfig(_Item):
    effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    summary: Literal["auto", "concise", "detailed"] | None = None
    """Accepted for clients that always send it; reasoning comes back as full
    `reasoning_text` content, never summarised."""
    generate_summary: Literal["auto", "concise", "detailed"] | None = None


class ResponsesRequest(_Item):
    model: Annotated[str, Field(min_length=1)]
    input: Input
    instructions: str | None = None
    tools: list[ToolParam] | None = None
    tool_choice: Literal["auto", "none", "required"] | FunctionToolChoice | None = None
    parallel_tool_calls: bool | None = None
    text: TextConfig | None = None
    reasoning: ReasoningConfig | None = None
    max_output_tokens: Annotated[int, Field(ge=1)] | None = None
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] | None = None
    top_p: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    stream: bool = False
    store: bool = True
    previous_response_id: str | None = None
    metadata: dict[str, str] | None = None
    user: str | None = None
    truncation: Literal["disabled"] | None = None
    """`auto` (drop the oldest items to fit) is not offered: an over-long input is a 400."""
    background: Literal[False] | None = None
    include: list[str] | None = None
    # Refused when set (not silently dropped): server-side conversations and prompt
    # templates are OpenAI's stores, and output logprobs are not offered on this route yet.
    conversation: None = None
    prompt: None = None
    top_logprobs: Literal[0] | None = None
    ignore_eos: bool = False
    """tera-serve's extension (vLLM's, as on chat): keep generating past the end-of-sequence
    token until `max_output_tokens`, for benchmarks that need a fixed output length."""
