"""A PreparedGeneration without an engine, for encoder and fold tests."""

from __future__ import annotations

from typing import Any

from tera_serve.parsing.base import PlainParser
from tera_serve.service.prepared import PreparedGeneration


def scripted_prepared(**fields: Any) -> PreparedGeneration:
    values: dict[str, Any] = {
        "request_id": "r1",
        "response_id": "chatcmpl-r1",
        "model_id": "m",
        "created": 1_700_000_000,
        "prompt_tokens": 3,
        "engine_requests": (),
        "make_parser": PlainParser,
        "stream": True,
        "include_usage": True,
        "logprobs": False,
        "reasoning_fields": (),
    }
    return PreparedGeneration(**{**values, **fields})
