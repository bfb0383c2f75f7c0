"""Hermes and qwen3_coder details the replay cases do not pin down: logs, ids, limits."""

from __future__ import annotations

import logging
import re

import pytest

from tera_serve.parsing.base import ParsedDelta, new_tool_call_id
from tera_serve.parsing.hermes import HERMES, HermesToolParser
from tera_serve.parsing.qwen3_coder import Qwen3CoderToolParser
from tera_serve.parsing.tagged_chain import make_tagged_chain
from tera_serve.parsing.tool_base import ContentSink, TaggedToolParser
from tests.unit.parsing.cases import SCHEMAS


def _fold(parser: TaggedToolParser, *chunks: str) -> ParsedDelta:
    out = ParsedDelta()
    for chunk in chunks:
        out.extend(parser.feed([], chunk))
    out.extend(parser.finish())
    return out


def test_call_ids_look_like_openai_ids() -> None:
    ids = {new_tool_call_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"call_[A-Za-z0-9]{24}", i) for i in ids)


def test_botched_call_is_content_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    parser = HermesToolParser({"get_weather"})
    with caplog.at_level(logging.WARNING):
        out = _fold(parser, "<tool_call>\n{'name': 'get_weather'}\n</tool_call>")
    assert out.content == "<tool_call>\n{'name': 'get_weather'}\n</tool_call>"
    assert out.tool_calls == []
    assert "not a valid call (expected a key)" in caplog.text


def test_unknown_tool_reason_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    parser = HermesToolParser({"get_weather"})
    with caplog.at_level(logging.WARNING):
        _fold(parser, '<tool_call>{"name": "rm", "arguments": {}}</tool_call>')
    assert "'rm' is not one of the offered tools" in caplog.text


def test_invalid_arguments_after_report_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    parser = HermesToolParser({"get_weather"})
    with caplog.at_level(logging.WARNING):
        out = _fold(parser, '<tool_call>{"name": "get_weather", "arguments": {"a": tru}}\n')
    assert out.tool_calls
    assert out.tool_calls[0].arguments == '{"a": tru}'
    assert "arguments are not valid JSON" in caplog.text  # complete, only </tool_call> missing
    assert "ended inside" not in caplog.text


def test_stray_text_after_the_object_is_dropped(caplog: pytest.LogCaptureFixture) -> None:
    parser = HermesToolParser({"get_weather"})
    with caplog.at_level(logging.WARNING):
        out = _fold(parser, '<tool_call>{"name": "get_weather", "arguments": {}}}\n</tool_call>')
    assert out.content == ""
    assert out.tool_calls[0].arguments == "{}"
    assert "text after its JSON was dropped" in caplog.text


def test_one_call_limit_drops_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    parser = HERMES.stage({"get_weather"}, parallel_tool_calls=False)
    call = '<tool_call>{"name": "get_weather", "arguments": {"city": "X"}}</tool_call>'
    with caplog.at_level(logging.WARNING):
        out = _fold(parser, call, "\n", call, "\n", "<tool_call>not json</tool_call>")
    assert [c.index for c in out.tool_calls] == [0]
    assert out.content == ""
    assert "parallel_tool_calls is false" in caplog.text


def test_first_delta_of_a_call_carries_id_and_name() -> None:
    parser = HermesToolParser({"get_weather"}, new_call_id=lambda: "call_fixed")
    first = parser.feed([], '<tool_call>\n{"name": "get_weather", "arguments": {"ci')
    assert [(c.index, c.id, c.name, c.arguments) for c in first.tool_calls] == [
        (0, "call_fixed", "get_weather", '{"ci')
    ]
    later = parser.feed([], 'ty": "Paris"}}\n</tool_call>')
    assert [(c.id, c.name, c.arguments) for c in later.tool_calls] == [
        (None, None, 'ty": "Paris"}')
    ]


def test_no_tools_offered_means_no_tool_parsing() -> None:
    parser = make_tagged_chain(reasoning=False, tool_format=HERMES, tool_names=())
    text = '<tool_call>{"name": "f", "arguments": {}}</tool_call>'
    out = parser.feed([], text)
    out.extend(parser.finish())
    assert out.content == text


def test_coder_value_newlines_and_missing_closing_tags() -> None:
    parser = Qwen3CoderToolParser({"write_file"}, tool_schemas=SCHEMAS)
    out = _fold(
        parser,
        "<tool_call>\n<function=write_file>\n<parameter=path>\na.txt\n",
        "<parameter=content>\n\nline one\n\n\n</tool_call>",
    )
    assert out.tool_calls[0].name == "write_file"
    args = "".join(c.arguments for c in out.tool_calls)
    assert args == '{"path": "a.txt", "content": "\\nline one\\n\\n"}'


def test_coder_junk_between_parameters_is_dropped(caplog: pytest.LogCaptureFixture) -> None:
    parser = Qwen3CoderToolParser({"get_time"}, tool_schemas=SCHEMAS)
    with caplog.at_level(logging.WARNING):
        out = _fold(parser, "<tool_call><function=get_time>\nhmm\n</function></tool_call>")
    assert "".join(c.arguments for c in out.tool_calls) == "{}"
    assert "text outside its parameters was dropped" in caplog.text


def test_coder_output_cut_inside_a_value_leaves_arguments_open() -> None:
    parser = Qwen3CoderToolParser({"write_file"}, tool_schemas=SCHEMAS)
    out = _fold(parser, "<tool_call>\n<function=write_file>\n<parameter=content>\nabc\n")
    # Not closed on purpose: a truncated write must not look like a complete one.
    assert "".join(c.arguments for c in out.tool_calls) == '{"content": "abc'


def test_content_sink_whitespace_rules() -> None:
    sink = ContentSink()
    sink.text("Sure.  \n")
    assert sink.take() == "Sure."
    assert sink.begin_call() == "  \n"
    sink.end_call()
    sink.text("\n\n")
    sink.text(" Done.\n")
    sink.flush()
    assert sink.take() == "Done.\n"
