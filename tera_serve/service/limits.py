"""Request bounds checked before any tokenization work (each violation is a 400 with param)."""

from __future__ import annotations

from tera_serve.config import ServerConfig
from tera_serve.errors import InvalidRequestError
from tera_serve.protocol.chat import ChatCompletionRequest
from tera_serve.protocol.common import SamplingFields


def check_common_bounds(request: SamplingFields, server: ServerConfig) -> None:
    if request.n > server.max_n:
        raise InvalidRequestError(f"`n` must be at most {server.max_n}.", param="n")
    stops = request.stop_list()
    if len(stops) > server.max_stop_sequences:
        raise InvalidRequestError(
            f"At most {server.max_stop_sequences} stop sequences are allowed.", param="stop"
        )
    if any(len(s) > server.max_stop_chars for s in stops):
        raise InvalidRequestError(
            f"Each stop sequence may have at most {server.max_stop_chars} characters.",
            param="stop",
        )


def check_chat_bounds(request: ChatCompletionRequest, server: ServerConfig) -> None:
    check_common_bounds(request, server)
    if len(request.messages) > server.max_messages:
        raise InvalidRequestError(
            f"At most {server.max_messages} messages are allowed.", param="messages"
        )
    total_chars = sum(len(m.text()) for m in request.messages)
    if total_chars > server.max_prompt_chars:
        raise InvalidRequestError(
            f"The messages have {total_chars} characters; the limit is {server.max_prompt_chars}.",
            param="messages",
        )
    if request.top_logprobs is not None and request.top_logprobs > server.max_top_logprobs:
        raise InvalidRequestError(
            f"`top_logprobs` must be at most {server.max_top_logprobs}.", param="top_logprobs"
        )
    if request.tools and len(request.tools) > server.max_tools:
        raise InvalidRequestError(f"At most {server.max_tools} tools are allowed.", param="tools")


def json_depth_exceeds(value: object, limit: int) -> bool:
    """Iterative depth check (no recursion, so a deep body cannot blow the stack)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth > limit:
                return True
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            if depth > limit:
                return True
            stack.extend((v, depth + 1) for v in item)
    return False
