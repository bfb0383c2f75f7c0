"""The Responses API's `response` object: the request's echoed settings, usage, errors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tera_serve.adapters.responses_tools import OfferedTools
from tera_serve.core.events import Usage
from tera_serve.errors import TeraError
from tera_serve.protocol.responses import FunctionToolParam, ResponsesRequest


def echoed_settings(request: ResponsesRequest) -> dict[str, Any]:
    """The request's settings as OpenAI returns them in the response object (null where
    the client left a sampling field to the model's default)."""
    fmt = request.text.format if request.text else None
    text_format: dict[str, Any] = {"type": "text"}
    if fmt is not None and fmt.type == "json_schema":
        text_format = {
            "type": "json_schema",
            "name": fmt.name,
            "schema": fmt.schema_,
            "description": fmt.description,
            "strict": fmt.strict,
        }
    elif fmt is not None:
        text_format = {"type": fmt.type}
    choice = request.tool_choice
    reasoning = request.reasoning
    return {
        "instructions": request.instructions,
        "max_output_tokens": request.max_output_tokens,
        "metadata": request.metadata or {},
        "parallel_tool_calls": request.parallel_tool_calls is not False,
        "previous_response_id": request.previous_response_id,
        "reasoning": {
            "effort": reasoning.effort if reasoning else None,
            "summary": (reasoning.summary or reasoning.generate_summary) if reasoning else None,
        },
        "store": request.store,
        "temperature": request.temperature,
        "text": {"format": text_format, "verbosity": "medium"},
        "tool_choice": choice.model_dump()
        if choice is not None and not isinstance(choice, str)
        else (choice or "auto"),
        "tools": [_echoed_tool(tool) for tool in request.tools or ()],
        "top_p": request.top_p,
        "truncation": "disabled",
        "user": request.user,
    }


def _echoed_tool(tool: Any) -> dict[str, Any]:
    if isinstance(tool, FunctionToolParam):
        return {
            "type": "function",
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
            "strict": tool.strict,
        }
    # Custom, namespace and built-in tools (those left out too) as the client sent them.
    echoed: dict[str, Any] = tool.model_dump(mode="json", by_alias=True, exclude_none=True)
    return echoed


@dataclass(frozen=True)
class OutputRules:
    """How the output items read the model's calls and reasoning."""

    tools: OfferedTools = field(default_factory=OfferedTools)
    """The offered tools by the name the model calls them: a call's kind (a freeform
    tool's is a `custom_tool_call`), namespace and wire name; a name the client never
    offered stays whole."""
    seal: Callable[[str], str] | None = None
    """Seals a reasoning item's text as its `encrypted_content` (when the request asked
    for `reasoning.encrypted_content`)."""


@dataclass(frozen=True)
class ResponseHead:
    """What the response object says before any output: its id, time, model and echo."""

    response_id: str
    created_at: int
    model: str
    settings: dict[str, Any]
    rules: OutputRules = field(default_factory=OutputRules)

    def body(
        self,
        status: str,
        output: list[dict[str, Any]],
        usage: Usage | None,
        *,
        incomplete_reason: str | None = None,
        error: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return {
            "id": self.response_id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "error": error,
            "incomplete_details": (
                {"reason": incomplete_reason} if incomplete_reason is not None else None
            ),
            "model": self.model,
            "output": output,
            "usage": usage_body(usage) if usage is not None else None,
            **self.settings,
        }


def usage_body(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens, "cache_write_tokens": 0},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }


def response_error(error: TeraError) -> dict[str, Any]:
    """A failure after the response started (`response.failed`'s `error`)."""
    code = "rate_limit_exceeded" if error.status == 429 else "server_error"
    return {"code": code, "message": error.message}
