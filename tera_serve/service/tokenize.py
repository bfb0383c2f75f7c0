"""/tokenize and /detokenize in vLLM's response shape.

Chat messages are rendered exactly as a chat request renders them (the family's renderer,
the server's default template kwargs), so the count equals that request's prompt_tokens.
"""

from __future__ import annotations

from typing import Any

from tera_serve.bounded_work import offload
from tera_serve.config import ServerConfig
from tera_serve.core.conversation import Conversation
from tera_serve.errors import InvalidRequestError
from tera_serve.service.prepare import render_request
from tera_serve.service.registry import ServedModel


def _body(tokens: list[int], served: ServedModel) -> dict[str, Any]:
    return {"count": len(tokens), "max_model_len": served.context_length, "tokens": tokens}


async def tokenize_conversation(
    conversation: Conversation, served: ServedModel, server: ServerConfig
) -> dict[str, Any]:
    rendered = await render_request(conversation, served, server)
    # As the engine runs it: each image placeholder repeated for its image's tokens.
    return _body(rendered.images.expand(rendered.prompt.token_ids), served)


async def tokenize_text(
    text: str, served: ServedModel, server: ServerConfig, *, add_special_tokens: bool
) -> dict[str, Any]:
    if len(text) > server.max_prompt_chars:
        raise InvalidRequestError(
            f"The prompt has more than {server.max_prompt_chars} characters.", param="prompt"
        )
    tokens = await offload(_encode, served.tokenizer, text, add_special_tokens, what="tokenizing")
    return _body(tokens, served)


def _encode(tokenizer: Any, prompt: str, add_special_tokens: bool) -> list[int]:
    return list(tokenizer.encode(prompt, add_special_tokens=add_special_tokens))


def _decode(tokenizer: Any, tokens: list[int]) -> str:
    vocab = len(tokenizer)
    if any(not 0 <= t < vocab for t in tokens):
        raise InvalidRequestError("Token ids outside the vocabulary.", param="tokens")
    return str(tokenizer.decode(tokens))


async def detokenize(tokens: list[int], served: ServedModel) -> dict[str, Any]:
    # The id list is bounded by the protocol (MAX_TOKEN_IDS); the walk and decode run off
    # the loop.
    text = await offload(_decode, served.tokenizer, tokens, what="detokenizing")
    return {"prompt": text}
