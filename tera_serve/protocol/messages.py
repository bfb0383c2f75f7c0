"""POST /v1/messages and /v1/messages/count_tokens bodies (the Anthropic Messages API)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Block(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TextBlock(_Block):
    type: Literal["text"]
    text: str


class Base64Source(_Block):
    type: Literal["base64"]
    media_type: str
    data: str


class UrlSource(_Block):
    type: Literal["url"]
    url: str


class ImageBlock(_Block):
    type: Literal["image"]
    source: Annotated[Base64Source | UrlSource, Field(discriminator="type")]


class ToolUseBlock(_Block):
    type: Literal["tool_use"]
    id: str
    name: str
    input: dict[str, Any]


class ToolResultBlock(_Block):
    type: Literal["tool_result"]
    tool_use_id: str
    content: str | list[Annotated[TextBlock | ImageBlock, Field(discriminator="type")]] = ""
    is_error: bool = False


class ThinkingBlock(_Block):
    type: Literal["thinking"]
    thinking: str
    signature: str = ""


class RedactedThinkingBlock(_Block):
    type: Literal["redacted_thinking"]
    data: str


ContentBlock = Annotated[
    TextBlock | ImageBlock | ToolUseBlock | ToolResultBlock | ThinkingBlock | RedactedThinkingBlock,
    Field(discriminator="type"),
]


class MessageParam(_Block):
    role: Literal["user", "assistant", "system", "developer"]
    """`system` and `developer` messages may stand anywhere (Claude Code sends a system
    message after the first user turn); they take text only."""
    content: str | list[ContentBlock]


class ToolParam(_Block):
    name: (
        Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+$")] | None
    ) = None
    """Required of client tools (adapters/messages_tools.py); `mcp_toolset` has none."""
    description: str | None = None
    input_schema: dict[str, Any] | None = None
    type: str | None = None
    """`custom` (or absent) for client tools; Anthropic's own tools (server tools and
    schema-less client tools) are left out and named in `X-Tera-Omitted-Tools`."""


class ToolChoiceParam(_Block):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: bool = False


class ThinkingEnabled(_Block):
    type: Literal["enabled"]
    budget_tokens: Annotated[int, Field(ge=1)]
    display: str | None = None
    """`omitted`: thinking blocks come back with empty text and their signature; any other
    value (`summarized`, the default) gives the text."""


class ThinkingDisabled(_Block):
    type: Literal["disabled"]


class ThinkingAdaptive(_Block):
    """The model decides how much to think: reasoning on, no budget."""

    type: Literal["adaptive"]
    display: str | None = None


class JsonOutputFormat(_Block):
    type: Literal["json_schema"]
    schema_: Annotated[dict[str, Any], Field(alias="schema")]


class OutputConfig(_Block):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    effort: Literal["low", "medium", "high", "xhigh", "max"] | None = None
    format: JsonOutputFormat | None = None


class Metadata(_Block):
    user_id: str | None = None
    """Accepted with no effect, as chat's `user`."""


class KeepCount(_Block):
    """A context edit's `keep`: `{"type": "thinking_turns", "value": 1}` and the like."""

    type: Annotated[str, Field(min_length=1)]
    value: Annotated[int, Field(ge=0)]


class ContextEdit(_Block):
    """One `context_management.edits[]` entry. `clear_thinking_20251015` is applied (the
    adapter checks its `keep`); other strategies are accepted with no effect."""

    type: Annotated[str, Field(min_length=1)]
    keep: Literal["all"] | KeepCount | None = None


class ContextManagement(_Block):
    edits: Annotated[list[ContextEdit], Field(max_length=16)] = []


class MessagesCountRequest(_Block):
    """The body of /v1/messages/count_tokens: a Messages request without `max_tokens`."""

    model: Annotated[str, Field(min_length=1)]
    messages: Annotated[list[MessageParam], Field(min_length=1)]
    system: str | list[TextBlock] | None = None
    tools: list[ToolParam] | None = None
    tool_choice: ToolChoiceParam | None = None
    thinking: (
        Annotated[
            ThinkingEnabled | ThinkingDisabled | ThinkingAdaptive, Field(discriminator="type")
        ]
        | None
    ) = None
    output_config: OutputConfig | None = None
    context_management: ContextManagement | None = None


class MessagesRequest(MessagesCountRequest):
    max_tokens: Annotated[int, Field(ge=1)]
    stop_sequences: list[Annotated[str, Field(min_length=1)]] | None = None
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] | None = None
    top_p: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    top_k: Annotated[int, Field(ge=0)] | None = None
    metadata: Metadata | None = None
    stream: bool = False
    ignore_eos: bool = False
    """tera-serve's extension (vLLM's, as on chat): keep generating past the end-of-sequence
    token until `max_tokens`, for benchmarks that need a fixed output length."""
