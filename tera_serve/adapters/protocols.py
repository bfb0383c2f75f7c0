"""The one table of wire protocols: for each, its routes' error shape and, for its
generation endpoints, how a body is read, translated and answered.

Routes and the error mapping read this table; nothing below the adapters knows a protocol
by name. Adding a protocol is its adapter modules, its route module, and entries here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel

from tera_serve.adapters.chat import chat_conversation
from tera_serve.adapters.chat_output import ChatChunkEncoder, ChatFolder, ChatOptions
from tera_serve.adapters.completions_output import (
    CompletionChunkEncoder,
    CompletionFolder,
    CompletionOptions,
)
from tera_serve.adapters.messages import messages_conversation, thinking_omitted
from tera_serve.adapters.messages_errors import anthropic_error_body
from tera_serve.adapters.messages_output import (
    MessagesFolder,
    MessagesOptions,
    MessagesStreamEncoder,
)
from tera_serve.adapters.openai_extras import with_fold_extras, with_stream_extras
from tera_serve.adapters.openai_stream import StreamOptions
from tera_serve.config import ServerConfig
from tera_serve.core.conversation import Conversation
from tera_serve.core.encoding import Folder, StreamEncoder
from tera_serve.core.prepared import PreparedAnswer
from tera_serve.errors import TeraError
from tera_serve.protocol.chat import ChatCompletionRequest
from tera_serve.protocol.completions import CompletionRequest
from tera_serve.protocol.messages import MessagesRequest
from tera_serve.service.registry import ServedModel


@dataclass(frozen=True)
class WireProtocol:
    name: str
    path_prefixes: tuple[str, ...]
    """Requests under these paths (routed or not) get this protocol's error shape."""
    error_body: Callable[[TeraError], dict[str, Any]]
    error_schema: str
    """The OpenAPI component of its error body."""


def _tera_error_body(error: TeraError) -> dict[str, Any]:
    return error.to_body()


TERA = WireProtocol("tera", ("/",), _tera_error_body, "ErrorResponse")
"""The Tera API (OpenAI's shape): Chat Completions, Completions, Responses, and the rest."""
ANTHROPIC = WireProtocol(
    "anthropic-messages", ("/v1/messages",), anthropic_error_body, "AnthropicErrorResponse"
)
PROTOCOLS: tuple[WireProtocol, ...] = (ANTHROPIC, TERA)


def protocol_for_path(path: str) -> WireProtocol:
    """The protocol whose longest path prefix the path starts with (Tera's by default)."""
    best, length = TERA, -1
    for protocol in PROTOCOLS:
        for prefix in protocol.path_prefixes:
            if path.startswith(prefix) and len(prefix) > length:
                best, length = protocol, len(prefix)
    return best


def error_json(error: TeraError, path: str) -> bytes:
    """An error's wire bytes for a request path (errors.ErrorRenderer): HTTP bodies and
    the refusals written before routing (keys, limits, malformed heads)."""
    return orjson.dumps(protocol_for_path(path).error_body(error))


BodyT = TypeVar("BodyT", bound=BaseModel)
OptionsT = TypeVar("OptionsT")


@dataclass(frozen=True)
class ConversationEndpoint(Generic[BodyT, OptionsT]):
    """A generation route whose body translates into one Conversation."""

    protocol: WireProtocol
    path: str
    body: type[BodyT]
    translate: Callable[[BodyT], Conversation]
    """Runs in the CPU pool (the body's size bounds the work)."""
    options: Callable[[BodyT, ServedModel, ServerConfig], OptionsT]
    encoder: Callable[[PreparedAnswer, OptionsT], StreamEncoder]
    folder: Callable[[PreparedAnswer, OptionsT], Folder]


def reasoning_fields(served: ServedModel, server: ServerConfig) -> tuple[str, ...]:
    own = served.family.reasoning_field
    if own is None:
        return ()
    if server.emit_both_reasoning_fields:
        return ("reasoning", "reasoning_content")
    return (own,)


def stream_options(body: ChatCompletionRequest | CompletionRequest) -> StreamOptions:
    options = body.stream_options
    return StreamOptions(
        include_usage=bool(options and options.include_usage),
        continuous_usage=bool(options and options.continuous_usage_stats),
    )


def _chat_options(
    body: ChatCompletionRequest, served: ServedModel, server: ServerConfig
) -> ChatOptions:
    return ChatOptions(reasoning_fields(served, server), stream_options(body))


def _chat_encoder(answer: PreparedAnswer, options: ChatOptions) -> StreamEncoder:
    return with_stream_extras(ChatChunkEncoder(answer, options), answer, options.stream)


def _chat_folder(answer: PreparedAnswer, options: ChatOptions) -> Folder:
    return with_fold_extras(ChatFolder(answer, options), answer, chat=True)


def _messages_options(
    body: MessagesRequest, served: ServedModel, server: ServerConfig
) -> MessagesOptions:
    return MessagesOptions(omit_thinking=thinking_omitted(body))


CHAT_COMPLETIONS: ConversationEndpoint[ChatCompletionRequest, ChatOptions] = ConversationEndpoint(
    TERA,
    "/v1/chat/completions",
    ChatCompletionRequest,
    chat_conversation,
    _chat_options,
    _chat_encoder,
    _chat_folder,
)
MESSAGES: ConversationEndpoint[MessagesRequest, MessagesOptions] = ConversationEndpoint(
    ANTHROPIC,
    "/v1/messages",
    MessagesRequest,
    messages_conversation,
    _messages_options,
    MessagesStreamEncoder,
    MessagesFolder,
)


def completion_encoder(answer: PreparedAnswer, options: CompletionOptions) -> StreamEncoder:
    return with_stream_extras(CompletionChunkEncoder(answer, options), answer, options.stream)


def completion_folder(answer: PreparedAnswer, options: CompletionOptions) -> Folder:
    return with_fold_extras(CompletionFolder(answer, options), answer, chat=False)
