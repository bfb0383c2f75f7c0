"""Request bounds (tera_serve/service/request_bounds.py): counts and tool schemas of a
translated request, each refusal naming the param where the client sent it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tera_serve.adapters.chat import chat_conversation
from tera_serve.adapters.completions import prompt_batch
from tera_serve.adapters.messages import messages_conversation
from tera_serve.adapters.responses import responses_conversation
from tera_serve.config import ModelConfig, ServerConfig
from tera_serve.core.conversation import Conversation
from tera_serve.errors import InvalidRequestError
from tera_serve.protocol.chat import ChatCompletionRequest
from tera_serve.protocol.completions import CompletionRequest
from tera_serve.protocol.messages import MessagesRequest
from tera_serve.protocol.responses import ResponsesRequest
from tera_serve.service.completions import check_batch_bounds
from tera_serve.service.request_bounds import batch_sequences, check_conversation_input
from tera_serve.service.schema_bounds import MAX_SCHEMA_NODES

SERVER = ServerConfig(models=(ModelConfig(model="m"),))


def chat(**extra: Any) -> Conversation:
    return chat_conversation(
        ChatCompletionRequest.model_validate(
            {"model": "m", "messages": [{"role": "user", "content": "hi"}], **extra}
        )
    )


def tool(parameters: Any, name: str = "f") -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "parameters": parameters}}


@pytest.mark.parametrize(
    ("tools", "param"),
    [
        ([tool({"anyOf": [{}] * (MAX_SCHEMA_NODES + 1)})], "tools[0].function.parameters"),
        ([tool({"type": "object"}), tool({"enum": 5})], "tools[1].function.parameters"),
        (
            [tool({"type": "object", "properties": {"x": {"enum": 5}}})],
            "tools[0].function.parameters",
        ),
        ([tool({"description": "x" * 60_000}, f"f{i}") for i in range(5)], "tools"),
        ([tool({"a": {"b": 2**70}})], "tools[0].function.parameters"),
    ],
)
def test_tool_schemas_are_bounded_and_valid(tools: list[dict[str, Any]], param: str) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        check_conversation_input(chat(tools=tools), SERVER)
    assert refused.value.param == param


def _messages(tools: list[dict[str, Any]]) -> Conversation:
    body = {"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
    return messages_conversation(MessagesRequest.model_validate({**body, "tools": tools}))


def _responses(tools: list[dict[str, Any]]) -> Conversation:
    body = {"model": "m", "input": "hi", "tools": tools}
    return responses_conversation(ResponsesRequest.model_validate(body))


BAD = {"enum": 5}
FN = {"type": "function", "name": "ok", "parameters": {"type": "object"}}


@pytest.mark.parametrize(
    ("conversation", "param"),
    [
        (lambda: _messages([{"type": "web_search_20250305", "name": "web_search"},
                            {"name": "Bash", "input_schema": BAD}]), "tools[1].input_schema"),
        (lambda: _responses([{"type": "web_search"}, {**FN, "parameters": BAD}]),
         "tools[1].parameters"),
        (lambda: _responses([{"type": "web_search"}, {"type": "namespace", "name": "crm",
                             "tools": [FN, {**FN, "name": "bad", "parameters": BAD}]}]),
         "tools[1].tools[1].parameters"),
    ],
)  # fmt: skip
def test_a_schema_error_names_the_tool_where_the_client_sent_it(
    conversation: Callable[[], Conversation], param: str
) -> None:
    """Left-out tools (a hosted web_search first) do not shift the index in the param."""
    with pytest.raises(InvalidRequestError) as refused:
        check_conversation_input(conversation(), SERVER)
    assert refused.value.param == param


def test_deep_tool_call_arguments_are_a_400_with_param() -> None:
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{}"}},
                                             {"function": {"name": "f", "arguments": "[" * 5000}}]},
    ]  # fmt: skip
    with pytest.raises(InvalidRequestError) as refused:
        check_conversation_input(chat(messages=messages), SERVER)
    assert refused.value.param == "messages[1].tool_calls[1].function.arguments"
    messages[1]["tool_calls"][1]["function"]["arguments"] = "not json ["  # type: ignore[index]
    check_conversation_input(chat(messages=messages), SERVER)  # the template gets the text


def test_completion_prompts_are_counted_before_tokenizing() -> None:
    def request(prompt: Any, n: int = 1) -> Any:
        return prompt_batch(
            CompletionRequest.model_validate({"model": "m", "prompt": prompt, "n": n})
        )

    assert batch_sequences(request(["a"] * 4, n=3)) == 12
    assert batch_sequences(request([1, 2, 3], n=2)) == 2
    check_batch_bounds(request(["a"] * 4, n=16), SERVER)
    for bad in (request(["a"] * 65), request(["a"] * 5, n=16), request([[1] * 200_000])):
        with pytest.raises(InvalidRequestError) as refused:
            check_batch_bounds(bad, SERVER)
        assert refused.value.param == "prompt"
    long_prompts = request(["x" * (SERVER.max_prompt_chars // 2 + 1)] * 2)
    with pytest.raises(InvalidRequestError, match="characters"):
        check_batch_bounds(long_prompts, SERVER)
