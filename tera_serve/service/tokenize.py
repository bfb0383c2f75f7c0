"""/tokenize and /detokenize in vLLM's response shape.

Chat messages are rendered exactly as a chat request renders them (the family's renderer,
the server's default template kwargs), so the count equals that request's prompt_tokens.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tera_serve.core.conversation import Conversation
from tera_serve.errors import InvalidRequestError
from tera_serve.service.registry import ServedModel


def _body(tokens: list[int], served: ServedModel) -> dict[str, Any]:
    return {"count": len(tokens), "max_model_len": served.context_length, "tokens": tokens}


async def tokenize_conversation(conversation: Conversation, served: ServedModel) -> dict[str, Any]:
    prompt = await served.family.render(conversation, served, open_reasoning=False)
    return _body(list(prompt.token_ids), served)


async def tokenize_text(
    text: str, served: ServedModel, *, add_special_tokens: bool
) -> dict[str, Any]:
    tokens = await asyncio.to_thread(
        served.tokenizer.encode, text, add_special_tokens=add_special_tokens
    )
    return _body(list(tokens), served)


async def detokenize(tokens: list[int], served: ServedModel) -> dict[str, Any]:
    vocab = len(served.tokenizer)
    if any(not 0 <= t < vocab for t in tokens):
        raise InvalidRequestError("Token ids outside the vocabulary.", param="tokens")
    text = await asyncio.to_thread(served.tokenizer.decode, tokens)
    return {"prompt": text}
