"""/tokenize and /detokenize in vLLM's response shape."""

from __future__ import annotations

import asyncio
from typing import Any

from tera_serve.chat.template import message_to_template_dict
from tera_serve.errors import InvalidRequestError
from tera_serve.protocol.tokenize import DetokenizeRequest, TokenizeRequest
from tera_serve.service.registry import ServedModel


async def tokenize(request: TokenizeRequest, served: ServedModel) -> dict[str, Any]:
    if request.messages is not None:
        rendered = await served.renderer.render(
            [message_to_template_dict(m) for m in request.messages],
            add_generation_prompt=request.add_generation_prompt,
            template_kwargs=request.chat_template_kwargs,
        )
        tokens = list(rendered.token_ids)
    elif request.prompt is not None:
        prompt = request.prompt
        tokens = await asyncio.to_thread(
            served.tokenizer.encode, prompt, add_special_tokens=request.add_special_tokens
        )
    else:
        raise InvalidRequestError("Send `prompt` or `messages`.", param="prompt")
    return {"count": len(tokens), "max_model_len": served.context_length, "tokens": tokens}


async def detokenize(request: DetokenizeRequest, served: ServedModel) -> dict[str, Any]:
    vocab = len(served.tokenizer)
    if any(not 0 <= t < vocab for t in request.tokens):
        raise InvalidRequestError("Token ids outside the vocabulary.", param="tokens")
    text = await asyncio.to_thread(served.tokenizer.decode, request.tokens)
    return {"prompt": text}
