"""Responses tools as Codex sends them: namespaces, custom (freeform) tools, built-in tools
left out and named; tool_choice over them; replayed calls and sealed reasoning."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tera_serve.adapters.responses import responses_conversation
from tera_serve.core.conversation import FREEFORM_KEY, ToolCallPart, ToolChoice
from tera_serve.errors import InvalidRequestError
from tera_serve.protocol.responses import HOSTED_TOOL_TYPES, ResponsesRequest
from tera_serve.service.reasoning_seal import SealError

CODEX = json.loads(
    (Path(__file__).parents[2] / "fixtures/wire/codex-0.171.0-first-turn.json").read_text()
)["body"]
PATCH_GRAMMAR = (
    'start: "*** Begin Patch" LF hunk+ "*** End Patch"\nhunk: /.+/ LF\n%import common.LF'
)
NAMESPACE = {
    "type": "namespace",
    "name": "crm",
    "description": "Customer records.",
    "tools": [
        {"type": "function", "name": "lookup", "description": "Find one.", "parameters": {}},
        {"type": "custom", "name": "note", "description": "Write a note."},
    ],
}
PATCH = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Edit files.",
    "format": {"type": "grammar", "syntax": "lark", "definition": PATCH_GRAMMAR},
}


def _convert(**fields: Any) -> Any:
    body = {"model": "m", "input": "hi", **fields}
    return responses_conversation(ResponsesRequest.model_validate(body))


def test_codex_first_turn_offers_its_functions_and_leaves_web_search_out() -> None:
    conversation = responses_conversation(ResponsesRequest.model_validate(CODEX))
    names = [tool.name for tool in conversation.tools]
    assert "exec_command" in names and "multi_agent_v1.close_agent" in names
    assert not any(name.startswith("web_search") for name in names)
    assert conversation.omitted_tools == ("web_search",)
    namespaced = next(t for t in conversation.tools if t.name == "multi_agent_v1.close_agent")
    assert namespaced.description is not None
    assert namespaced.description.startswith("Tools for spawning and managing sub-agents.\n\n")
    # Two developer messages and no instructions: both reach the conversation, in order.
    assert [m.role for m in conversation.messages] == ["developer", "developer", "user", "user"]
    assert conversation.messages[-1].text() == "say hello"


def test_namespace_members_are_offered_as_namespace_dot_name() -> None:
    conversation = _convert(tools=[NAMESPACE])
    lookup, note = conversation.tools
    assert (lookup.name, lookup.description) == ("crm.lookup", "Customer records.\n\nFind one.")
    assert lookup.freeform is None and note.name == "crm.note" and note.freeform is not None
    assert note.freeform.param == "tools[0].tools[1].format"


def test_a_custom_tool_is_a_function_of_one_string() -> None:
    (text,) = _convert(tools=[{"type": "custom", "name": "run", "description": "Run."}]).tools
    assert text.freeform is not None and not text.freeform.has_grammar
    assert text.parameters is not None
    assert text.parameters["required"] == [FREEFORM_KEY]
    assert text.parameters["properties"][FREEFORM_KEY]["type"] == "string"
    (patch,) = _convert(tools=[PATCH], tool_choice={"type": "custom", "name": "apply_patch"}).tools
    assert patch.freeform is not None
    assert (patch.freeform.syntax, patch.freeform.definition) == ("lark", PATCH_GRAMMAR)
    assert patch.freeform.param == "tools[0].format"
    # The model is shown the grammar it is held to.
    assert patch.description is not None and PATCH_GRAMMAR in patch.description


@pytest.mark.parametrize("kind", sorted(HOSTED_TOOL_TYPES))
def test_every_built_in_tool_is_left_out_and_named_once(kind: str) -> None:
    tool = {"type": kind, "server_label": "x", "container": {"type": "auto"}}
    conversation = _convert(tools=[tool, {"type": "function", "name": "f"}, tool])
    assert [t.name for t in conversation.tools] == ["f"]
    assert conversation.omitted_tools == (kind,)


@pytest.mark.parametrize(
    "choice",
    [
        {"type": "web_search_preview"},
        {"type": "file_search"},
        {"type": "code_interpreter"},
        {"type": "image_generation"},
        {"type": "computer_use_preview"},
        {"type": "mcp", "server_label": "deepwiki"},
        {"type": "shell"},
        {"type": "apply_patch"},
    ],
)
def test_a_tool_choice_forcing_a_built_in_tool_is_a_400(choice: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        _convert(tools=[{"type": "web_search"}], tool_choice=choice)
    assert caught.value.param == "tool_choice"
    assert choice["type"] in caught.value.message


def test_tool_choice_names_a_namespaced_or_custom_tool() -> None:
    choice = _convert(tools=[NAMESPACE], tool_choice={"type": "function", "name": "lookup"})
    assert choice.tool_choice == ToolChoice("named", "crm.lookup")
    dotted = _convert(tools=[NAMESPACE], tool_choice={"type": "function", "name": "crm.lookup"})
    assert dotted.tool_choice == ToolChoice("named", "crm.lookup")
    custom = _convert(tools=[NAMESPACE], tool_choice={"type": "custom", "name": "note"})
    assert custom.tool_choice == ToolChoice("named", "crm.note")
    with pytest.raises(InvalidRequestError) as caught:
        _convert(tools=[NAMESPACE], tool_choice={"type": "custom", "name": "lookup"})
    assert caught.value.param == "tool_choice.type"


@pytest.mark.parametrize(
    ("tool", "param"),
    [
        ({"type": "namespace", "name": "a.b", "tools": [{"type": "function", "name": "f"}]}, "tools[0].name"),
        ({"type": "namespace", "name": "ns", "tools": []}, "tools[0].tools"),
        ({"type": "namespace", "name": "ns", "tools": [{"type": "web_search"}]}, "tools[0].tools[0]"),
        ({"type": "custom", "name": "c", "format": {"type": "grammar", "syntax": "ebnf", "definition": "x"}}, "tools[0].format.syntax"),
        ({"type": "custom", "name": "c", "format": {"type": "grammar", "syntax": "lark", "definition": ""}}, "tools[0].format.definition"),
        ({"type": "function", "name": "has.dot"}, "tools[0].name"),
    ],
)  # fmt: skip
def test_malformed_tools_are_refused_by_the_body_model(tool: dict[str, Any], param: str) -> None:
    from tera_serve.http.validation import validate_body

    with pytest.raises(InvalidRequestError) as caught:
        validate_body(ResponsesRequest, {"model": "m", "input": "hi", "tools": [tool]})
    assert caught.value.param is not None and caught.value.param.startswith(param)


REPLAY = [
    {"role": "user", "content": "go"},
    {"type": "function_call", "call_id": "c1", "namespace": "crm", "name": "lookup",
     "arguments": '{"id": 1}'},
    {"type": "function_call_output", "call_id": "c1", "output": "found"},
    {"type": "custom_tool_call", "call_id": "c2", "name": "apply_patch",
     "input": '*** Begin Patch\n"quoted"\n*** End Patch'},
    {"type": "custom_tool_call_output", "call_id": "c2", "output": "Done!"},
]  # fmt: skip


def test_replayed_namespaced_and_custom_calls_map_back() -> None:
    messages = _convert(input=REPLAY, tools=[NAMESPACE]).messages
    assert [m.role for m in messages] == ["user", "assistant", "tool", "assistant", "tool"]
    assert messages[1].tool_calls == (ToolCallPart("c1", "crm.lookup", '{"id": 1}'),)
    (patch,) = messages[3].tool_calls
    assert (patch.id, patch.name) == ("c2", "apply_patch")
    assert json.loads(patch.arguments) == {FREEFORM_KEY: REPLAY[3]["input"]}
    assert (messages[4].tool_call_id, messages[4].text()) == ("c2", "Done!")


def _reasoning_input(blob: str) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "go"},
        {"type": "reasoning", "summary": [], "encrypted_content": blob},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "ok"},
    ]


def test_sealed_reasoning_is_opened_into_its_turn() -> None:
    def unseal(blob: str) -> str:
        if blob != "sealed":
            raise SealError("altered")
        return "I should call f."

    body = ResponsesRequest.model_validate(
        {"model": "m", "input": _reasoning_input("sealed"), "store": False}
    )
    turn = responses_conversation(body, (), unseal).messages[1]
    assert turn.role == "assistant" and turn.reasoning == "I should call f."
    assert turn.tool_calls[0].name == "f"
    forged = ResponsesRequest.model_validate({"model": "m", "input": _reasoning_input("forged")})
    with pytest.raises(InvalidRequestError) as caught:
        responses_conversation(forged, (), unseal)
    assert caught.value.param == "input[1].encrypted_content"
    assert caught.value.code == "invalid_encrypted_content"
    # Without a seal (no server key at hand) a blob is refused the same way, never a 500.
    with pytest.raises(InvalidRequestError) as unsealed:
        responses_conversation(forged)
    assert unsealed.value.param == "input[1].encrypted_content"
