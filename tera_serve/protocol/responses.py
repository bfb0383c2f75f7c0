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
    namespace: str | None = None
    """The namespace tool the function belongs to (None: a top-level function)."""
    id: str | None = None
    status: str | None = None


class CustomToolCallItem(_Item):
    """A replayed call of a `custom` (freeform) tool."""

    type: Literal["custom_tool_call"]
    call_id: str
    name: str
    input: str
    namespace: str | None = None
    id: str | None = None


class FunctionCallOutputItem(_Item):
    type: Literal["function_call_output", "custom_tool_call_output"]
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
    known = ("message", "function_call", "function_call_output", "reasoning", "custom_tool_call")
    if kind == "custom_tool_call_output":
        kind = "function_call_output"  # the same shape: a tool result for its call_id
    return f"item[{kind if kind in known else 'other'}]"


# Tags in brackets: `validation.param_from_location` leaves them out of error `param`s.
InputItem = Annotated[
    Annotated[MessageItem, Tag("item[message]")]
    | Annotated[FunctionCallItem, Tag("item[function_call]")]
    | Annotated[FunctionCallOutputItem, Tag("item[function_call_output]")]
    | Annotated[CustomToolCallItem, Tag("item[custom_tool_call]")]
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


ToolName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]
MAX_NAMESPACE_TOOLS = 128


class FunctionToolParam(_Item):
    type: Literal["function"]
    name: ToolName
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None
    defer_loading: bool | None = None
    """Accepted: the function is offered at once (there is no tool search to defer to)."""


class TextInputFormat(_Item):
    type: Literal["text"]


class GrammarInputFormat(_Item):
    type: Literal["grammar"]
    syntax: Literal["lark", "regex"]
    definition: Annotated[str, Field(min_length=1)]


def _type_tag(value: Any) -> str:
    """`type` in brackets: `validation.param_from_location` leaves such tags out of params."""
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return f"[{kind}]"


InputFormat = Annotated[
    Annotated[TextInputFormat, Tag("[text]")] | Annotated[GrammarInputFormat, Tag("[grammar]")],
    Discriminator(_type_tag),
]


class CustomToolParam(_Item):
    """A freeform tool: the model writes its input as text (under `format`'s grammar)."""

    type: Literal["custom"]
    name: ToolName
    description: str | None = None
    format: InputFormat | None = None
    defer_loading: bool | None = None


NamespaceMember = Annotated[
    Annotated[FunctionToolParam, Tag("[function]")] | Annotated[CustomToolParam, Tag("[custom]")],
    Discriminator(_type_tag),
]


class NamespaceToolParam(_Item):
    """Function and custom tools grouped under one name; the model sees `namespace.name`."""

    type: Literal["namespace"]
    name: ToolName
    description: str | None = None
    tools: Annotated[list[NamespaceMember], Field(min_length=1, max_length=MAX_NAMESPACE_TOOLS)]


HOSTED_TOOL_TYPES = frozenset(
    {
        # Run by OpenAI's servers.
        "web_search",
        "web_search_2025_08_26",
        "web_search_preview",
        "web_search_preview_2025_03_11",
        "file_search",
        "code_interpreter",
        "image_generation",
        "mcp",
        "tool_search",  # or run by the client (`execution: "client"`), in tool_search_call items
        "programmatic_tool_calling",
        # Run by the client, but called in item types of OpenAI's own models
        # (computer_call, local_shell_call, shell_call, apply_patch_call) with no schema
        # given: no other model can be offered them.
        "computer",
        "computer_use",
        "computer_use_preview",
        "local_shell",
        "shell",
        "apply_patch",
    }
)
"""Built-in tools tera-serve cannot run: left out of the prompt and named in the response's
`X-Tera-Omitted-Tools` header (a `tool_choice` forcing one is a 400)."""


class HostedToolParam(_Item):
    model_config = ConfigDict(extra="allow")
    type: str


class OtherToolParam(_Item):
    """A tool type no OpenAI release has: a 400 naming it."""

    model_config = ConfigDict(extra="allow")
    type: str


def _tool_kind(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    if kind in ("function", "custom", "namespace"):
        return f"tool[{kind}]"
    return "tool[hosted]" if kind in HOSTED_TOOL_TYPES else "tool[other]"


ToolParam = Annotated[
    Annotated[FunctionToolParam, Tag("tool[function]")]
    | Annotated[CustomToolParam, Tag("tool[custom]")]
    | Annotated[NamespaceToolParam, Tag("tool[namespace]")]
    | Annotated[HostedToolParam, Tag("tool[hosted]")]
    | Annotated[OtherToolParam, Tag("tool[other]")],
    Discriminator(_tool_kind),
]


class FunctionToolChoice(_Item):
    """`{"type": "function" | "custom", "name": ...}` forces that tool; a built-in tool's
    type (`web_search_preview`, `mcp`, ...) forces a tool this server does not run (400)."""

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
    prompt_cache_key: Annotated[str, Field(max_length=1024)] | None = None
    """Accepted with no effect: the engine's prefix cache serves every request's shared
    prefix whatever its key."""
    client_metadata: dict[str, Any] | None = None
    """Codex's request metadata: accepted with no effect, never logged."""
    # Refused when set (not silently dropped): server-side conversations and prompt
    # templates are OpenAI's stores, and output logprobs are not offered on this route yet.
    conversation: None = None
    prompt: None = None
    top_logprobs: Literal[0] | None = None
    ignore_eos: bool = False
    """tera-serve's extension (vLLM's, as on chat): keep generating past the end-of-sequence
    token until `max_output_tokens`, for benchmarks that need a fixed output length."""
