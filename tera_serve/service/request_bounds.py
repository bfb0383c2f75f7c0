"""Bounds on a translated request (a Conversation or a PromptBatch), checked before any
tokenization: counts (n, stop strings, messages, characters, tools, logprobs, token ids),
the tools' schemas and the depth of replayed tool-call arguments.

Each is a cheap measurement, so the work that follows (in the CPU pool, bounded_work.py)
always ends soon (DESIGN rule 9). Every refusal is a 400 naming the offending `param`.
"""

from __future__ import annotations

from collections.abc import Sequence

from tera_serve.config import ServerConfig
from tera_serve.core.conversation import Conversation, Message, PromptBatch, Sampling
from tera_serve.errors import InvalidRequestError
from tera_serve.protocol.tokenize import MAX_TOKEN_IDS
from tera_serve.service.body_bounds import json_text_depth_exceeds
from tera_serve.service.schema_bounds import (
    MAX_TOTAL_SCHEMA_BYTES,
    MAX_TOTAL_SCHEMA_NODES,
    check_json_schema,
    check_schema_size,
    schema_bytes,
)
from tera_serve.service.structured import output_schema_param


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


def check_tool_schemas(conversation: Conversation) -> None:
    """Every tool's parameters: size bounds first, then a valid JSON Schema (so no parser
    meets a malformed schema after the stream has started)."""
    total_bytes = total_nodes = 0
    tools_param = conversation.param("tools")
    for index, tool in enumerate(conversation.tools):
        schema = tool.parameters
        if schema is None:
            continue
        param = conversation.tool_schema_param(index)
        total_bytes += schema_bytes(schema, param)
        if total_bytes > MAX_TOTAL_SCHEMA_BYTES:
            raise InvalidRequestError(
                f"The tools' schemas are more than {MAX_TOTAL_SCHEMA_BYTES} bytes together.",
                param=tools_param,
            )
        total_nodes += check_schema_size(schema, param)
        if total_nodes > MAX_TOTAL_SCHEMA_NODES:
            raise InvalidRequestError(
                f"The tools' schemas have more than {MAX_TOTAL_SCHEMA_NODES} values together.",
                param=tools_param,
            )
    for index, tool in enumerate(conversation.tools):
        if tool.parameters is not None:
            check_json_schema(dict(tool.parameters), conversation.tool_schema_param(index))
    fmt = conversation.output_format
    if fmt is not None and fmt.schema is not None:
        check_schema_size(fmt.schema, output_schema_param(conversation))


def check_tool_call_arguments(conversation: Conversation, max_depth: int) -> None:
    """Assistant tool-call arguments are decoded for the template: too deep is a 400 here,
    never a RecursionError there."""
    messages = conversation.param("messages")
    for i, message in enumerate(conversation.messages):
        for j, call in enumerate(message.tool_calls):
            param = f"{messages}[{i}].tool_calls[{j}].function.arguments"
            # Measured on the text: whatever the template's decoder makes of it, it never
            # meets more than max_depth levels (a RecursionError there would be a 500).
            if json_text_depth_exceeds(call.arguments.encode(errors="replace"), max_depth):
                raise InvalidRequestError(
                    f"The tool-call arguments are nested deeper than {max_depth} levels.",
                    param=param,
                )


def check_conversation_input(conversation: Conversation, server: ServerConfig) -> None:
    """Everything of a conversation that costs CPU in proportion to its size (run it in the
    CPU pool: the JSON Schema validation is bounded, not free)."""
    check_tool_call_arguments(conversation, server.max_json_depth)
    check_tool_schemas(conversation)


def batch_sequences(batch: PromptBatch) -> int:
    """Prompts × n: the engine sequences a completions request asks for."""
    return len(batch.prompts) * batch.n


def check_token_prompts(batch: PromptBatch) -> None:
    for prompt in batch.prompts:
        if not isinstance(prompt, str) and len(prompt) > MAX_TOKEN_IDS:
            raise InvalidRequestError(
                f"A token-id prompt may have at most {MAX_TOKEN_IDS} ids.", param="prompt"
            )
