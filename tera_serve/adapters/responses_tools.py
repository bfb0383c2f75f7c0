"""Responses `tools` and `tool_choice` → the tools the model is offered, and back.

- `function` tools are offered as they are.
- `namespace` tools group functions and custom tools under one name, as OpenAI's models
  see them (harmony's `namespace crm { ... }`, called as `crm.lookup`): each member is
  offered as `namespace.name`, its description led by the namespace's. A call of
  `crm.lookup` comes back as a `function_call` with `namespace: "crm"`, `name: "lookup"`,
  and a replayed one goes back to `crm.lookup`. Names take no dots, so the split is exact.
- `custom` tools take free text: the model is offered a function of one string, `input`,
  and its call comes back as a `custom_tool_call` whose `input` is that string. A grammar
  (`lark` or `regex`) is enforced by guided decoding when tool_choice names the tool, and
  refused otherwise (service/tool_choice.py says why).
- Built-in tools tera-serve cannot run (`HOSTED_TOOL_TYPES`: web search, file search, code
  interpreter, ...) are left out of the prompt and named in the conversation's
  `omitted_tools` (the response's header says which); a tool_choice forcing one is a 400.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from tera_serve.core.conversation import FREEFORM_KEY, FreeformInput, ToolChoice, ToolSpec
from tera_serve.errors import InvalidRequestError
from tera_serve.protocol.responses import (
    HOSTED_TOOL_TYPES,
    CustomToolParam,
    FunctionToolChoice,
    FunctionToolParam,
    GrammarInputFormat,
    HostedToolParam,
    NamespaceToolParam,
    ToolParam,
)

NAMESPACE_SEPARATOR = "."


def _freeform_parameters() -> dict[str, Any]:
    """The one-string schema a freeform tool is offered with (a fresh dict: templates and
    schema checks take plain JSON values)."""
    return {
        "type": "object",
        "properties": {
            FREEFORM_KEY: {
                "type": "string",
                "description": "The tool's whole input, as plain text (not JSON).",
            }
        },
        "required": [FREEFORM_KEY],
        "additionalProperties": False,
    }


@dataclass(frozen=True)
class CallTarget:
    """What a model-visible tool name is on the wire."""

    kind: Literal["function", "custom"]
    name: str
    namespace: str | None = None


@dataclass(frozen=True)
class OfferedTools:
    specs: tuple[ToolSpec, ...] = ()
    omitted: tuple[str, ...] = ()
    """The built-in tools left out, by type, each once, in order."""
    targets: Mapping[str, CallTarget] = field(default_factory=dict)
    """Every offered tool by the name the model calls it."""

    def target(self, visible: str) -> CallTarget:
        """The wire form of a call; a name the client did not offer stays a function."""
        return self.targets.get(visible) or CallTarget("function", visible)


def visible_name(name: str, namespace: str | None) -> str:
    return f"{namespace}{NAMESPACE_SEPARATOR}{name}" if namespace else name


def _led_by(lead: str | None, description: str | None) -> str | None:
    if not lead:
        return description
    return f"{lead}\n\n{description}" if description else lead


def _function(
    tool: FunctionToolParam, namespace: NamespaceToolParam | None, where: str
) -> ToolSpec:
    return ToolSpec(
        name=visible_name(tool.name, namespace.name if namespace else None),
        description=_led_by(namespace.description if namespace else None, tool.description),
        parameters=tool.parameters,
        strict=tool.strict,
        schema_param=f"{where}.parameters",
    )


def _custom(tool: CustomToolParam, namespace: NamespaceToolParam | None, where: str) -> ToolSpec:
    fmt = tool.format
    description = tool.description
    freeform = FreeformInput(param=f"{where}.format")
    if isinstance(fmt, GrammarInputFormat):
        freeform = FreeformInput(fmt.syntax, fmt.definition, f"{where}.format")
        rule = f"The input must match this {fmt.syntax} grammar:\n{fmt.definition}"
        description = f"{description}\n\n{rule}" if description else rule
    return ToolSpec(
        name=visible_name(tool.name, namespace.name if namespace else None),
        description=_led_by(namespace.description if namespace else None, description),
        parameters=_freeform_parameters(),
        freeform=freeform,
        schema_param=where,  # the server's schema: the tool itself is the client's part
    )


def _member(
    tool: FunctionToolParam | CustomToolParam, namespace: NamespaceToolParam | None, where: str
) -> tuple[ToolSpec, CallTarget]:
    space = namespace.name if namespace else None
    if isinstance(tool, FunctionToolParam):
        return _function(tool, namespace, where), CallTarget("function", tool.name, space)
    return _custom(tool, namespace, where), CallTarget("custom", tool.name, space)


def offered_tools(tools: Sequence[ToolParam] | None) -> OfferedTools:
    specs: list[ToolSpec] = []
    omitted: list[str] = []
    targets: dict[str, CallTarget] = {}
    for index, tool in enumerate(tools or ()):
        where = f"tools[{index}]"
        if isinstance(tool, HostedToolParam):
            if tool.type not in omitted:
                omitted.append(tool.type)
            continue
        if isinstance(tool, NamespaceToolParam):
            members = [(m, f"{where}.tools[{i}]") for i, m in enumerate(tool.tools)]
            namespace: NamespaceToolParam | None = tool
        elif isinstance(tool, (FunctionToolParam, CustomToolParam)):
            members, namespace = [(tool, where)], None
        else:
            raise InvalidRequestError(
                f"`{tool.type}` is not a tool type of the Responses API; offer `function`, "
                "`custom` or `namespace` tools.",
                param=f"{where}.type",
            )
        for member, member_where in members:
            spec, target = _member(member, namespace, member_where)
            specs.append(spec)
            targets[spec.name] = target
    return OfferedTools(tuple(specs), tuple(omitted), MappingProxyType(targets))


_MODES: dict[str, Literal["auto", "none", "required"]] = {
    "auto": "auto",
    "none": "none",
    "required": "required",
}


def _resolve(name: str, kind: str, offered: OfferedTools) -> str:
    """The model-visible name a choice's `name` means: itself, or the one namespaced tool
    of that name (a tool_choice has no namespace field)."""
    matches = [name] if name in offered.targets else []
    if not matches:
        matches = [v for v, t in offered.targets.items() if t.namespace and t.name == name]
    if len(matches) != 1:
        return name  # unknown (or ambiguous): tool_choice's check names it
    target = offered.targets[matches[0]]
    if target.kind != kind:
        raise InvalidRequestError(
            f"`tool_choice` is of type `{kind}`, but '{name}' is a {target.kind} tool.",
            param="tool_choice.type",
        )
    return matches[0]


def responses_tool_choice(
    choice: str | FunctionToolChoice | None, offered: OfferedTools
) -> ToolChoice | None:
    if choice is None:
        return None
    if isinstance(choice, str):
        return ToolChoice(_MODES[choice])
    if choice.type in ("function", "custom"):
        if not choice.name:
            raise InvalidRequestError(
                f"`tool_choice.name` is required for a {choice.type} choice.",
                param="tool_choice.name",
            )
        return ToolChoice("named", _resolve(choice.name, choice.type, offered))
    if choice.type in HOSTED_TOOL_TYPES:
        raise InvalidRequestError(
            f"`tool_choice` forces the built-in tool `{choice.type}`, which this server "
            "does not run (it is left out of `tools`); use auto, none, required, a "
            "function or a custom tool.",
            param="tool_choice",
        )
    raise InvalidRequestError(
        f"`tool_choice` of type `{choice.type}` is not supported; use auto, none, required, "
        "a function or a custom tool.",
        param="tool_choice.type",
    )
