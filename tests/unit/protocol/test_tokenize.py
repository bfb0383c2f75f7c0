"""/tokenize and /detokenize bodies (tera_serve/protocol/tokenize.py), in vLLM's shape."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tera_serve.protocol.tokenize import MAX_TOKEN_IDS, DetokenizeRequest, TokenizeRequest


def test_tokenize_takes_a_prompt_or_chat_messages() -> None:
    plain = TokenizeRequest.model_validate({"prompt": "hi", "return_token_strs": True})
    assert plain.add_special_tokens and plain.model is None
    chat = TokenizeRequest.model_validate({"messages": [{"role": "user", "content": "hi"}]})
    assert chat.messages is not None and chat.add_generation_prompt
    with pytest.raises(ValidationError):  # the chat message rules hold here too
        TokenizeRequest.model_validate({"messages": [{"role": "user"}]})


def test_detokenize_takes_integer_ids_only() -> None:
    assert DetokenizeRequest.model_validate({"tokens": [1, 2]}).tokens == [1, 2]
    for tokens in ([1, True], ["1"], [1.0]):
        with pytest.raises(ValidationError):
            DetokenizeRequest.model_validate({"tokens": tokens})


def test_detokenize_ids_are_bounded() -> None:
    DetokenizeRequest.model_validate({"tokens": [0] * MAX_TOKEN_IDS})
    with pytest.raises(ValidationError) as failure:
        DetokenizeRequest.model_validate({"tokens": [0] * (MAX_TOKEN_IDS + 1)})
    assert failure.value.errors()[0]["loc"] == ("tokens",)
