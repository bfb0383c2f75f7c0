"""/tokenize and /detokenize in vLLM's response shape."""

from __future__ import annotations

from typing import Any

from tera_serve.bounded_work import offload
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
        tokens = await offload(
            _encode, served.tokenizer, prompt, request.add_special_tokens, what="tokenizing"
        )
    else:
        raise InvalidRequestError("Send `prompt` or `messages`.", param="prompt")
    return {"count": len(tokens), "max_model_len": served.context_length, "tokens": tokens}


def _encode(tokenizer: Any, prompt: str, add_special_tokens: bool) -> list[int]:
    return list(tokenizer.encode(prompt, add_special_tokens=add_special_tokens))


def _decode(tokenizer: Any, tokens: list[int]) -> str:
    vocab = len(tokenizer)
    if any(not 0 <= t < vocab for t in tokens):
        raise InvalidRequestError("Token ids outside the vocabulary.", param="tokens")
    return str(tokenizer.decode(tokens))


async def detokenize(request: DetokenizeRequest, served: ServedModel) -> dict[str, Any]:
    # The id list is bounded by the protocol (MAX_TOKEN_IDS); the walk and decode run off
    # the loop.
    text = await offload(_decode, served.tokenizer, request.tokens, what="detokenizing")
    return {"prompt": text}
