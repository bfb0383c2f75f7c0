"""A conversation's messages as plain JSON values, and back, exactly.

The response store keeps each stored response's history (`core.Message`s of typed parts) in
SQLite, where it outlives the process that wrote it: the encoding is versioned by the
store's schema, leaves out fields at their defaults (histories are stored once per turn, so
size matters), and decoding checks every value so that a damaged row fails loudly rather
than reaching a prompt half-read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, get_args

from tera_serve.core.conversation import (
    ContentPart,
    ImagePart,
    Message,
    Role,
    TextPart,
    ToolCallPart,
)

_ROLES: frozenset[str] = frozenset(get_args(Role))
_IMAGE_DEFAULT_PARAM = ImagePart(url="").param


class CodecError(ValueError):
    """A stored value that is not an encoded message."""


def messages_to_json(messages: Iterable[Message]) -> list[dict[str, Any]]:
    return [message_to_json(message) for message in messages]


def messages_from_json(value: Any) -> tuple[Message, ...]:
    if not isinstance(value, list):
        raise CodecError("a history is a list of messages")
    return tuple(message_from_json(item) for item in value)


def message_to_json(message: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role}
    if message.parts:
        out["parts"] = [_part_to_json(part) for part in message.parts]
    if message.name is not None:
        out["name"] = message.name
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    if message.tool_calls:
        out["tool_calls"] = [
            {"id": call.id, "name": call.name, "arguments": call.arguments}
            for call in message.tool_calls
        ]
    if message.reasoning is not None:
        out["reasoning"] = message.reasoning
    return out


def message_from_json(value: Any) -> Message:
    fields = _mapping(value, "message")
    role = fields.get("role")
    if role not in _ROLES:
        raise CodecError(f"unknown role {role!r}")
    _only(fields, {"role", "parts", "name", "tool_call_id", "tool_calls", "reasoning"}, "message")
    return Message(
        role=role,
        parts=tuple(_part_from_json(part) for part in _list(fields.get("parts", []), "parts")),
        name=_optional_str(fields, "name"),
        tool_call_id=_optional_str(fields, "tool_call_id"),
        tool_calls=tuple(
            _call_from_json(call) for call in _list(fields.get("tool_calls", []), "tool_calls")
        ),
        reasoning=_optional_str(fields, "reasoning"),
    )


def _part_to_json(part: ContentPart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    out: dict[str, Any] = {"type": "image", "url": part.url}
    if part.detail is not None:
        out["detail"] = part.detail
    if part.param != _IMAGE_DEFAULT_PARAM:
        out["param"] = part.param
    return out


def _part_from_json(value: Any) -> ContentPart:
    fields = _mapping(value, "part")
    kind = fields.get("type")
    if kind == "text":
        _only(fields, {"type", "text"}, "text part")
        return TextPart(_str(fields, "text"))
    if kind == "image":
        _only(fields, {"type", "url", "detail", "param"}, "image part")
        param = fields.get("param", _IMAGE_DEFAULT_PARAM)
        if not isinstance(param, str):
            raise CodecError("an image part's param is a string")
        return ImagePart(
            url=_str(fields, "url"), detail=_optional_str(fields, "detail"), param=param
        )
    raise CodecError(f"unknown part type {kind!r}")


def _call_from_json(value: Any) -> ToolCallPart:
    fields = _mapping(value, "tool call")
    _only(fields, {"id", "name", "arguments"}, "tool call")
    return ToolCallPart(
        id=_optional_str(fields, "id"),
        name=_str(fields, "name"),
        arguments=_str(fields, "arguments"),
    )


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise CodecError(f"a {what} is an object")
    return value


def _list(value: Any, what: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise CodecError(f"{what} is a list")
    return value


def _only(fields: Mapping[str, Any], known: set[str], what: str) -> None:
    unknown = set(fields) - known
    if unknown:
        raise CodecError(f"a {what} has unknown fields {sorted(unknown)}")


def _str(fields: Mapping[str, Any], key: str) -> str:
    value = fields.get(key)
    if not isinstance(value, str):
        raise CodecError(f"{key} is a string")
    return value


def _optional_str(fields: Mapping[str, Any], key: str) -> str | None:
    value = fields.get(key)
    if value is not None and not isinstance(value, str):
        raise CodecError(f"{key} is a string or absent")
    return value
