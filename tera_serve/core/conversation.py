"""One internal request for every wire protocol: a conversation of typed parts.

Chat Completions, Anthropic Messages and OpenAI Responses bodies are each translated into a
`Conversation` by their adapter; everything after that (bounds, prompt rendering, sampling,
structured outputs, generation) reads only this. Types only, no logic (but the freeform
call's one encoding, beside its key): this module sits at the bottom of the layering,
beside `errors`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "developer", "user", "assistant", "tool"]


@dataclass(frozen=True)
class TextPart:
    text: str


@dataclass(frozen=True)
class ImagePart:
    """An image as the client sent it (a data URI or an http(s) URL)."""

    url: str
    detail: str | None = None
    param: str = "messages"
    """Where the image sits in the wire body, for error messages."""


ContentPart = TextPart | ImagePart


@dataclass(frozen=True)
class ToolCallPart:
    """A tool call the assistant made earlier in the conversation."""

    id: str | None
    name: str
    arguments: str
    """The arguments as JSON text, as the client sent them."""


@dataclass(frozen=True)
class Message:
    role: Role
    parts: tuple[ContentPart, ...] = ()
    name: str | None = None
    tool_call_id: str | None = None
    """For `tool` messages: the call this result answers."""
    tool_calls: tuple[ToolCallPart, ...] = ()
    reasoning: str | None = None
    """An assistant turn's earlier reasoning, replayed by the client."""

    def text(self) -> str:
        """The text parts joined (images left out)."""
        return "".join(part.text for part in self.parts if isinstance(part, TextPart))

    def images(self) -> tuple[ImagePart, ...]:
        return tuple(part for part in self.parts if isinstance(part, ImagePart))


@dataclass(frozen=True)
class FreeformInput:
    """A tool whose input is free text rather than JSON arguments (Responses' `custom`
    tools). The model sees it as a function of one string, `input`."""

    syntax: Literal["text", "lark", "regex"] = "text"
    definition: str = ""
    """The grammar (lark or regex) the input must match; empty for `text`."""
    param: str = "tools"
    """Where the tool's format sits in the wire body, for error messages."""

    @property
    def has_grammar(self) -> bool:
        return self.syntax != "text"


FREEFORM_KEY = "input"
"""The one argument a freeform tool's call carries its text in."""
FREEFORM_OPEN = '{"' + FREEFORM_KEY + '": "'
"""A freeform call's arguments up to its text (`freeform_arguments`'s head)..."""
FREEFORM_CLOSE = '"}'
"""...and after it."""


def freeform_escaped(text: str) -> str:
    """`text` as it stands inside the arguments' JSON string. Escaping is per character,
    so pieces escaped alone join to the escaped whole (a forced answer streams so)."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


def freeform_arguments(text: str) -> str:
    """A freeform tool's input as its call's arguments, `{"input": "<text>"}` (what
    json.dumps makes of that object)."""
    return FREEFORM_OPEN + freeform_escaped(text) + FREEFORM_CLOSE


def freeform_text(arguments: str) -> str | None:
    """The input of complete arguments (their `input` string), or None when they are not
    a JSON object with one."""
    try:
        value = json.loads(arguments)
    except ValueError:
        return None
    if isinstance(value, dict) and isinstance(value.get(FREEFORM_KEY), str):
        return str(value[FREEFORM_KEY])
    return None


@dataclass(frozen=True)
class ToolSpec:
    name: str
    """The name the model sees and calls (a namespaced tool's is `namespace.name`)."""
    description: str | None = None
    parameters: Mapping[str, Any] | None = None
    strict: bool | None = None
    freeform: FreeformInput | None = None
    schema_param: str | None = None
    """Where its `parameters` are on the wire, for errors (`tools[1].input_schema`): set
    by a protocol that leaves tools out or nests them, where its place here is not the
    client's; None: the conversation's `tool_parameters` at its index."""

    def as_openai_tool(self) -> dict[str, Any]:
        """The OpenAI `tools[]` entry chat templates expect."""
        function: dict[str, Any] = {"name": self.name}
        if self.description is not None:
            function["description"] = self.description
        if self.parameters is not None:
            function["parameters"] = dict(self.parameters)
        if self.strict is not None:
            function["strict"] = self.strict
        return {"type": "function", "function": function}


@dataclass(frozen=True)
class ToolChoice:
    mode: Literal["auto", "none", "required", "named"]
    name: str | None = None
    """The function a `named` choice forces."""


@dataclass(frozen=True)
class OutputFormat:
    kind: Literal["text", "json_object", "json_schema"]
    schema: Any = None


@dataclass(frozen=True)
class Sampling:
    """Sampling fields as the client sent them; None means the model's default."""

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    repetition_penalty: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()
    ignore_eos: bool = False
    logit_bias: Mapping[str, float] | None = None


_DEFAULT_PARAMS = {"tool_parameters": "tools[{index}].function.parameters"}


@dataclass(frozen=True)
class Conversation:
    model: str
    messages: tuple[Message, ...]
    sampling: Sampling = field(default_factory=Sampling)
    max_tokens: int | None = None
    n: int = 1
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool = True
    output_format: OutputFormat | None = None
    logprobs: int | None = None
    """None: no logprobs; k >= 0: the sampled token's logprob and k alternatives."""
    prompt_logprobs: int | None = None
    """vLLM's extension: the prompt tokens' logprobs with this many alternatives."""
    reasoning_effort: str | None = None
    """`none` turns reasoning off; `minimal`..`high` where the family has levels."""
    thinking_budget: int | None = None
    template_kwargs: Mapping[str, Any] | None = None
    chat_template: str | None = None
    add_generation_prompt: bool = True
    skip_special_tokens: bool = True
    thinking_budget_required: bool = True
    """False: a thinking budget the engine cannot enforce is dropped (Messages' `thinking`
    must carry one); True: such a budget is a 400 (Chat's explicit extension)."""
    omitted_tools: tuple[str, ...] = ()
    """Hosted tools the client offered that this server cannot run (web search, code
    execution, ...): left out of the prompt, and named in the response's header."""
    params: Mapping[str, str] = field(default_factory=dict)
    """Wire names of fields whose protocol spells them differently, for error `param`s
    (keys: max_tokens, messages, tools, tool_parameters, tool_choice, response_format,
    top_logprobs, thinking_token_budget); the defaults are Chat Completions' names."""

    def param(self, name: str) -> str:
        return self.params.get(name, _DEFAULT_PARAMS.get(name, name))

    def tool_schema_param(self, index: int) -> str:
        """The wire `param` of `tools[index]`'s parameters (the client's place for it)."""
        tool = self.tools[index]
        if tool.schema_param is not None:
            return tool.schema_param
        return self.param("tool_parameters").format(index=index, name=tool.name)

    def tools_offered(self) -> bool:
        """Tools go into the prompt unless the client turned them off."""
        return bool(self.tools) and not (
            self.tool_choice is not None and self.tool_choice.mode == "none"
        )


@dataclass(frozen=True)
class PromptBatch:
    """A raw-prompt request (legacy completions): each prompt is text or token ids."""

    model: str
    prompts: tuple[str | tuple[int, ...], ...]
    sampling: Sampling = field(default_factory=Sampling)
    max_tokens: int | None = None
    n: int = 1
    logprobs: int | None = None
    echo: bool = False
    """Each choice starts with its prompt (and, with `logprobs`, the prompt's logprobs)."""
    prompt_logprobs: int | None = None
    """vLLM's extension: the prompt tokens' logprobs with this many alternatives."""

    def engine_prompt_logprobs(self) -> int | None:
        """Prompt logprobs the engine computes: asked for, or needed to echo `logprobs`."""
        if self.prompt_logprobs is not None:
            return self.prompt_logprobs
        return self.logprobs if self.echo else None
