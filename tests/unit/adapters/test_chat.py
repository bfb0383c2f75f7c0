"""Chat Completions bodies → the core conversation: image parts keep their order and param."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tera_serve.adapters.chat import chat_conversation
from tera_serve.core.conversation import ImagePart, TextPart
from tera_serve.protocol.chat import ChatCompletionRequest


def _convert(content: Any) -> Any:
    body = {
        "model": "m",
        "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": content}],
    }
    return chat_conversation(ChatCompletionRequest.model_validate(body))


def test_image_parts_keep_their_order_detail_and_param() -> None:
    conversation = _convert(
        [
            {"type": "text", "text": "compare "},
            {
                "type": "image_url",
                "image_url": {"url": "data:image/png;base64,AA==", "detail": "low"},
            },
            {"type": "text", "text": "with"},
            {"type": "image_url", "image_url": {"url": "https://x.example/a.png"}},
        ]
    )
    user = conversation.messages[1]
    assert user.parts == (
        TextPart("compare "),
        ImagePart("data:image/png;base64,AA==", "low", "messages[1].content[1].image_url"),
        TextPart("with"),
        ImagePart("https://x.example/a.png", None, "messages[1].content[3].image_url"),
    )
    assert user.text() == "compare with"


def test_text_only_parts_are_one_text() -> None:
    conversation = _convert([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}])
    assert conversation.messages[1].parts == (TextPart("ab"),)


@pytest.mark.parametrize(
    "part",
    [
        {"type": "image_url", "image_url": {"url": "data:,", "detail": "ultra"}},
        {"type": "image_url"},
        {"type": "input_audio", "input_audio": {"data": "", "format": "wav"}},
    ],
)
def test_malformed_parts_are_refused(part: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        _convert([part])
