"""Request bounds checked before any tokenization work (each violation is a 400 with param)."""

from __future__ import annotations

from collections.abc import Sequence

from tera_serve.config import ServerConfig
from tera_serve.core.conversation import Conversation, Message, Sampling
from tera_serve.errors import InvalidRequestError


def check_common_bounds(n: int, sampling: Sampling, server: ServerConfig) -> None:
    if n > server.max_n:
        raise InvalidRequestError(f"`n` must be at most {server.max_n}.", param="n")
    stops = sampling.stop
    if len(stops) > server.max_stop_sequences:
        raise InvalidRequestError(
            f"At most {server.max_stop_sequences} stop sequences are allowed.", param="stop"
        )
    if any(len(s) > server.max_stop_chars for s in stops):
        raise InvalidRequestError(
            f"Each stop sequence may have at most {server.max_stop_chars} characters.",
            param="stop",
        )


def message_chars(messages: Sequence[Message]) -> int:
    """Characters of the messages' text, replayed reasoning and tool-call arguments."""
    total = 0
    for message in messages:
        total += len(message.text()) + len(message.reasoning or "")
        for call in message.tool_calls:
            total += len(call.arguments) + len(call.name)
    return total


def check_conversation_bounds(conversation: Conversation, server: ServerConfig) -> None:
    check_common_bounds(conversation.n, conversation.sampling, server)
    messages = conversation.param("messages")
    if len(conversation.messages) > server.max_messages:
        raise InvalidRequestError(
            f"At most {server.max_messages} messages are allowed.", param=messages
        )
    total_chars = message_chars(conversation.messages)
    if total_chars > server.max_prompt_chars:
        raise InvalidRequestError(
            f"The messages have {total_chars} characters; the limit is {server.max_prompt_chars}.",
            param=messages,
        )
    logprobs = conversation.logprobs
    if logprobs is not None and logprobs > server.max_top_logprobs:
        raise InvalidRequestError(
            f"`top_logprobs` must be at most {server.max_top_logprobs}.",
            param=conversation.param("top_logprobs"),
        )
    if len(conversation.tools) > server.max_tools:
        raise InvalidRequestError(
            f"At most {server.max_tools} tools are allowed.", param=conversation.param("tools")
        )


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
