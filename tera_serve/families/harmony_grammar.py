"""A constrained gpt-oss answer, governed end to end by one structural tag.

The whole harmony output may be only: an optional analysis message (any tokens but the
structural ones: the reasoning), then the final channel whose message is the constrained
JSON. Nothing else can come before the JSON, so `content` is exactly the constrained value.
The harmony markers are matched as their special tokens, by id (a model must not spell
`<|channel|>` out of ordinary tokens; ids, because vLLM checks the tag without a
tokenizer). xgrammar's structural-tag format, built as plain JSON so only the engine module
imports vLLM and its backends.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import orjson

from tera_serve.chat.harmony import harmony_encoding

CHANNEL, MESSAGE, END, START = "<|channel|>", "<|message|>", "<|end|>", "<|start|>"
STRUCTURAL_TOKENS = (
    CHANNEL,
    MESSAGE,
    END,
    START,
    "<|return|>",
    "<|call|>",
    "<|constrain|>",
    "<|endoftext|>",
)
"""Never inside the analysis text: each would start or end a message."""
ANY_OBJECT: Mapping[str, Any] = {"type": "object"}


@functools.cache
def token_id(token: str) -> int:
    """A harmony special token's id in the gpt-oss vocabulary."""
    (only,) = harmony_encoding().encode(token, allowed_special="all")
    return int(only)


def _token(token: str) -> dict[str, Any]:
    return {"type": "token", "token": token_id(token)}


def _text(value: str) -> dict[str, Any]:
    return {"type": "const_string", "value": value}


def _header(channel: str) -> list[dict[str, Any]]:
    return [_token(CHANNEL), _text(channel), _token(MESSAGE)]


def final_json_tag(schema: Mapping[str, Any] | None) -> str:
    """The structural tag (the engine's JSON string) for a JSON answer on gpt-oss."""
    analysis = {
        "type": "optional",
        "content": {
            "type": "sequence",
            "elements": [
                *_header("analysis"),
                {"type": "any_tokens", "exclude_tokens": [token_id(t) for t in STRUCTURAL_TOKENS]},
                _token(END),
                _token(START),
                _text("assistant"),
            ],
        },
    }
    answer = {"type": "json_schema", "json_schema": dict(schema or ANY_OBJECT)}
    elements = [analysis, *_header("final"), answer]
    tag = {"type": "structural_tag", "format": {"type": "sequence", "elements": elements}}
    return orjson.dumps(tag).decode()
