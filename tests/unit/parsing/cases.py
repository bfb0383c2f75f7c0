"""Realistic Qwen3 / Qwen3.5 / Qwen3-Coder outputs and the message each must become."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tera_serve.parsing.base import OutputParser
from tera_serve.parsing.hermes import HERMES
from tera_serve.parsing.qwen3_coder import QWEN3_CODER
from tera_serve.parsing.qwen3_reasoning import ThinkTokenIds
from tera_serve.parsing.tagged_chain import make_tagged_chain
from tests.fixtures.qwen3 import qwen3_tokenizer

WEATHER: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city"],
}
SEND_MESSAGE: dict[str, Any] = {
    "type": "object",
    "properties": {"to": {"type": "string"}, "text": {"type": "string"}},
}
PLAN_TRIP: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "days": {"type": "integer"},
        "budget": {"type": "number"},
        "refundable": {"type": "boolean"},
        "stops": {"type": "array", "items": {"type": "string"}},
        "options": {"type": "object"},
        "note": {"type": ["string", "null"]},
        "seats": {"type": ["integer", "null"]},
    },
}
WRITE_FILE: dict[str, Any] = {
    "type": "object",
    "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
}
SCHEMAS: dict[str, Any] = {
    "get_weather": WEATHER,
    "send_message": SEND_MESSAGE,
    "plan_trip": PLAN_TRIP,
    "write_file": WRITE_FILE,
    "get_time": {"type": "object", "properties": {}},
}


def hermes(name: str, arguments: str) -> str:
    return f'<tool_call>\n{{"name": "{name}", "arguments": {arguments}}}\n</tool_call>'


@dataclass(frozen=True)
class Case:
    id: str
    text: str
    reasoning: str = ""
    content: str = ""
    calls: tuple[tuple[str, str], ...] = ()
    """(name, arguments) of each reported call."""
    tokens: str = "none"
    """Expected reasoning tokens: none, block (<think> .. </think>), to_tool_call, all."""
    options: dict[str, Any] = field(default_factory=dict)
    eos: bool = True
    tags_in_content: bool = False
    """The content holds tag text on purpose (a botched call kept as written, say)."""

    def parser_factory(self) -> Callable[[], OutputParser]:
        options = {"reasoning": True, "tool_format": HERMES, **self.options}
        if options["tool_format"] is not None and "tool_names" not in options:
            options["tool_names"] = frozenset(SCHEMAS)
        think_ids = ThinkTokenIds.from_tokenizer(qwen3_tokenizer())

        def make() -> OutputParser:
            counter = itertools.count()  # deterministic ids: equal across feeding strategies
            return make_tagged_chain(
                tool_schemas=SCHEMAS,
                think_token_ids=think_ids,
                new_call_id=lambda: f"call_{next(counter):024d}",
                **options,
            )

        return make


PARIS = '{"city": "Paris", "unit": "celsius"}'
TRICKY = json.dumps(
    {"to": "anna", "text": 'Close it with </tool_call> or "<think>"; café ☕ 東京 🎉 \\n'},
    ensure_ascii=False,
)
PLAN_TRIP_XML = (
    "<tool_call>\n<function=plan_trip>\n"
    "<parameter=city>\nSan Francisco\n</parameter>\n"
    "<parameter=days>\n3\n</parameter>\n"
    "<parameter=budget>\n1250.50\n</parameter>\n"
    "<parameter=refundable>\nTrue\n</parameter>\n"
    '<parameter=stops>\n["Oakland", "Sausalito"]\n</parameter>\n'
    '<parameter=options>\n{"hotel": true, "stars": 4}\n</parameter>\n'
    "<parameter=note>\nnull\n</parameter>\n"
    "<parameter=seats>\nnull\n</parameter>\n"
    "<parameter=extra>\n[1, 2]\n</parameter>\n"
    "<parameter=comment>\nwindow seat, please\n</parameter>\n"
    "</function>\n</tool_call>"
)
PLAN_TRIP_ARGS = json.dumps(
    {
        "city": "San Francisco",
        "days": 3,
        "budget": 1250.5,
        "refundable": True,
        "stops": ["Oakland", "Sausalito"],
        "options": {"hotel": True, "stars": 4},
        "note": "null",
        "seats": None,
        "extra": [1, 2],
        "comment": "window seat, please",
    },
    ensure_ascii=False,
)
HTML = '<div class="note">\n  <p>Grüße — 你好 👋</p>\n</div>\n'
WRITE_FILE_XML = (
    "<tool_call>\n<function=write_file>\n<parameter=path>\nsite/index.html\n</parameter>\n"
    f"<parameter=content>\n{HTML}\n</parameter>\n</function>\n</tool_call>"
)
WRITE_FILE_ARGS = json.dumps({"path": "site/index.html", "content": HTML}, ensure_ascii=False)

CASES = [
    Case(
        "reasoning_model_opens",
        "<think>\nThe user asks for 6 × 7.\n\nThat is 42.\n</think>\n\nThe answer is **42**.",
        reasoning="The user asks for 6 × 7.\n\nThat is 42.",
        content="The answer is **42**.",
        tokens="block",
    ),
    Case(
        "reasoning_prompt_opened",
        "Paris is the capital of France; one word is enough.\n</think>\n\nParis.",
        reasoning="Paris is the capital of France; one word is enough.",
        content="Paris.",
        tokens="block",
        options={"thinking_open": True, "tool_format": None},
    ),
    Case(
        "thinking_disabled_empty_block",
        "<think>\n\n</think>\n\nHello! How can I help you today?",
        content="Hello! How can I help you today?",
        tokens="block",
        options={"thinking_disabled": True},
    ),
    Case(
        "thinking_disabled_plain",
        "Hello! How can I help you today?\n",
        content="Hello! How can I help you today?\n",
        options={"thinking_disabled": True},
    ),
    Case(
        "tool_call_in_unclosed_think",
        "<think>\nI need the weather in Paris first.\n" + hermes("get_weather", PARIS),
        reasoning="I need the weather in Paris first.",
        calls=(("get_weather", PARIS),),
        tokens="to_tool_call",
    ),
    Case(
        "max_tokens_inside_think",
        "<think>\nLet me think about this carefully.\nFirst, the user said <",
        reasoning="Let me think about this carefully.\nFirst, the user said <",
        tokens="all",
        eos=False,
    ),
    Case(
        "single_call",
        "<think>\nThe user wants the weather.\n</think>\n\n" + hermes("get_weather", PARIS),
        reasoning="The user wants the weather.",
        calls=(("get_weather", PARIS),),
        tokens="block",
    ),
    Case(
        "parallel_calls",
        "<think>\nTwo cities.\n</think>\n\n"
        + hermes("get_weather", '{"city": "Paris"}')
        + "\n"
        + hermes("get_weather", '{"city": "Tokyo", "unit": "fahrenheit"}'),
        reasoning="Two cities.",
        calls=(
            ("get_weather", '{"city": "Paris"}'),
            ("get_weather", '{"city": "Tokyo", "unit": "fahrenheit"}'),
        ),
        tokens="block",
    ),
    Case(
        "content_before_call",
        "Let me check the weather for you.\n\n" + hermes("get_weather", PARIS),
        content="Let me check the weather for you.",
        calls=(("get_weather", PARIS),),
        options={"reasoning": False},
    ),
    Case(
        "tricky_arguments",
        "<think>\nSend it.\n</think>\n\n" + hermes("send_message", TRICKY) + "\n\nDone — sent.",
        reasoning="Send it.",
        content="Done — sent.",
        calls=(("send_message", TRICKY),),
        tokens="block",
    ),
    Case(
        "malformed_not_json",
        'Let me call it.\n<tool_call>\nget_weather(city="Paris")\n</tool_call>',
        content='Let me call it.\n<tool_call>\nget_weather(city="Paris")\n</tool_call>',
        options={"reasoning": False},
        tags_in_content=True,
    ),
    Case(
        "malformed_unknown_tool",
        hermes("book_flight", '{"to": "Oslo"}'),
        content=hermes("book_flight", '{"to": "Oslo"}'),
        tags_in_content=True,
    ),
    Case(
        "malformed_cut_before_arguments",
        '<tool_call>\n{"name": "get_weat',
        content='<tool_call>\n{"name": "get_weat',
        tags_in_content=True,
        eos=False,
    ),
    Case(
        "missing_outer_brace",
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}\n</tool_call>',
        calls=(("get_weather", '{"city": "Paris"}'),),
    ),
    Case(
        "bad_arguments_after_report",
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": Paris}}\n</tool_call>',
        calls=(("get_weather", '{"city": Paris}'),),  # reported already: kept as streamed
    ),
    Case(
        "max_tokens_inside_arguments",
        '<think>\nOk.\n</think>\n\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Par',
        reasoning="Ok.",
        calls=(("get_weather", '{"city": "Par'),),
        tokens="block",
        eos=False,
    ),
    Case(
        "content_mentions_think_tags",
        "<think>\nExplain the format.\n</think>\n\nQwen wraps reasoning in <think> and </think>.",
        reasoning="Explain the format.",
        content="Qwen wraps reasoning in <think> and </think>.",
        tokens="block",
        tags_in_content=True,
    ),
    Case(
        "arguments_first_and_as_string",
        '<tool_call>\n{"arguments": {"city": "Oslo"}, "name": "get_weather"}\n</tool_call>\n'
        '<tool_call>\n{"name": "get_weather", "arguments": "{\\"city\\": \\"Rome\\"}"}\n'
        '</tool_call>\n<tool_call>\n{"name": "get_time"}\n</tool_call>',
        calls=(
            ("get_weather", '{"city": "Oslo"}'),
            ("get_weather", '{"city": "Rome"}'),
            ("get_time", "{}"),
        ),
    ),
    Case(
        "one_call_only",
        hermes("get_weather", '{"city": "Paris"}') + "\n" + hermes("get_time", "{}"),
        calls=(("get_weather", '{"city": "Paris"}'),),
        options={"parallel_tool_calls": False},
    ),
    Case(
        "coder_typed_parameters",
        "<think>\nI will plan the trip.\n</think>\n\n" + PLAN_TRIP_XML,
        reasoning="I will plan the trip.",
        calls=(("plan_trip", PLAN_TRIP_ARGS),),
        tokens="block",
        options={"tool_format": QWEN3_CODER},
    ),
    Case(
        "coder_in_unclosed_think_multiline",
        "<think>\nWrite the page.\n" + WRITE_FILE_XML + "\n" + WRITE_FILE_XML,
        reasoning="Write the page.",
        calls=(
            ("write_file", WRITE_FILE_ARGS),
            ("write_file", WRITE_FILE_ARGS),
        ),
        tokens="to_tool_call",
        options={"tool_format": QWEN3_CODER},
    ),
    Case(
        "coder_unknown_function",
        "Trying.\n<tool_call>\n<function=rm_rf>\n<parameter=path>\n/\n</parameter>\n"
        "</function>\n</tool_call>",
        content="Trying.\n<tool_call>\n<function=rm_rf>\n<parameter=path>\n/\n</parameter>\n"
        "</function>\n</tool_call>",
        tags_in_content=True,
        options={"tool_format": QWEN3_CODER, "reasoning": False},
    ),
]


def expected_reasoning_tokens(case: Case, ids: list[int], tags: dict[str, int]) -> int:
    start = 0 if case.options.get("thinking_open") else None
    if case.tokens == "none":
        return 0
    if start is None:
        start = ids.index(tags["<think>"])
    if case.tokens == "block":
        return ids.index(tags["</think>"]) + 1 - start
    if case.tokens == "to_tool_call":
        return ids.index(tags["<tool_call>"]) - start
    return len(ids) - start
