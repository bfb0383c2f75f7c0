"""The OpenAI Responses API through the official `openai` SDK (and the `openai-agents` SDK)
against the real process: SmolLM2 for text and state, the tiny Qwen3 and gpt-oss models for
reasoning, tools and structured outputs."""

from __future__ import annotations

import json
import sqlite3
from typing import Annotated, Any, Literal

import agents
import jsonschema
import openai
import pytest
from openai.types.shared import Reasoning
from pydantic import BaseModel, Field

from tests.e2e.conftest import DEFAULT_MODEL, OSS, QWEN
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.e2e

QUESTION = "What is the capital of France?"
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "enum": ["Paris", "Rome"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
    },
    "required": ["city", "days"],
    "additionalProperties": False,
}
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather forecast for a city",
    "parameters": WEATHER_SCHEMA,
    "strict": True,
}
NO_THINKING: dict[str, Any] = {"effort": "none"}


def client_for(server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.v1, api_key="unused", max_retries=0)


def test_text_response(default_server: LiveServer) -> None:
    response = client_for(default_server).responses.create(
        model=DEFAULT_MODEL, input=QUESTION, max_output_tokens=40, temperature=0.0
    )
    assert response.object == "response" and response.id.startswith("resp_")
    assert response.status == "completed" and response.incomplete_details is None
    assert [item.type for item in response.output] == ["message"]
    assert response.output[0].id.startswith("msg_")
    assert "Paris" in response.output_text
    usage = response.usage
    assert usage is not None and usage.input_tokens > 0 and usage.output_tokens > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert usage.output_tokens_details.reasoning_tokens == 0
    assert response.model == DEFAULT_MODEL and response.temperature == 0.0
    assert response.max_output_tokens == 40 and response.store is True


def test_stream_events_in_order_join_to_the_text(default_server: LiveServer) -> None:
    client = client_for(default_server)
    body: dict[str, Any] = {
        "model": DEFAULT_MODEL,
        "input": QUESTION,
        "max_output_tokens": 40,
        "temperature": 0.0,
    }
    whole = client.responses.create(**body)
    with client.responses.stream(**body) as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [event.type for event in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert set(kinds[4:-4]) == {"response.output_text.delta"}
    assert [event.sequence_number for event in events] == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == final.output_text == whole.output_text
    assert final.usage == whole.usage and final.status == "completed"
    raw = list(client.responses.create(**body, stream=True))
    assert raw[-1].type == "response.completed"


def test_incomplete_on_max_output_tokens(default_server: LiveServer) -> None:
    response = client_for(default_server).responses.create(
        model=DEFAULT_MODEL, input=QUESTION, max_output_tokens=3
    )
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.usage is not None and response.usage.output_tokens == 3


def test_previous_response_id_continues_and_the_store_answers(default_server: LiveServer) -> None:
    client = client_for(default_server)
    first = client.responses.create(
        model=DEFAULT_MODEL,
        input=QUESTION,
        instructions="Answer in one sentence.",
        max_output_tokens=20,
        temperature=0.0,
    )
    second = client.responses.create(
        model=DEFAULT_MODEL,
        input="And of Italy?",
        previous_response_id=first.id,
        max_output_tokens=20,
        temperature=0.0,
    )
    assert first.usage is not None and second.usage is not None
    # The earlier question and answer are in the prompt (the instructions are not).
    assert second.usage.input_tokens > first.usage.output_tokens + 5
    assert second.previous_response_id == first.id
    assert client.responses.retrieve(second.id).output_text == second.output_text
    items = client.responses.input_items.list(second.id)
    assert [item.type for item in items.data] == ["message"]
    # Both are rows of the server's SQLite file (a test's temporary one), read as another
    # replica on the host would.
    assert default_server.responses_store is not None
    with sqlite3.connect(f"file:{default_server.responses_store}?mode=ro", uri=True) as db:
        rows = {row[0] for row in db.execute("SELECT id FROM responses")}
    assert {first.id, second.id} <= rows
    client.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(first.id)
    with pytest.raises(openai.NotFoundError) as gone:
        client.responses.create(model=DEFAULT_MODEL, input="x", previous_response_id=first.id)
    assert gone.value.body["param"] == "previous_response_id"  # type: ignore[index]


def test_hosted_tools_are_left_out_and_images_are_400s(default_server: LiveServer) -> None:
    client = client_for(default_server)
    # A hosted tool tera-serve cannot run is left out and named (Codex sends web_search on
    # every request); forcing it is a 400.
    left_out = client.responses.with_raw_response.create(
        model=DEFAULT_MODEL, input="x", max_output_tokens=4, tools=[{"type": "web_search"}]
    )
    assert left_out.headers["x-tera-omitted-tools"] == "web_search"
    with pytest.raises(openai.BadRequestError) as tool:
        client.responses.create(
            model=DEFAULT_MODEL,
            input="x",
            tools=[{"type": "web_search"}],
            tool_choice={"type": "web_search"},  # type: ignore[typeddict-item]
        )
    assert "web_search" in tool.value.message
    assert tool.value.body["param"] == "tool_choice"  # type: ignore[index]
    image = {"type": "input_image", "image_url": "data:image/png;base64,AA==", "detail": "auto"}
    with pytest.raises(openai.BadRequestError) as vision:
        client.responses.create(model=DEFAULT_MODEL, input=[{"role": "user", "content": [image]}])
    assert "image" in vision.value.message


class Weather(BaseModel):
    city: Literal["Paris", "Rome"]
    days: Annotated[int, Field(ge=1, le=7)]


def test_parse_gives_a_valid_object(qwen_server: LiveServer) -> None:
    parsed = client_for(qwen_server).responses.parse(
        model=QWEN,
        input="Weather in Paris for 3 days, as JSON",
        text_format=Weather,
        max_output_tokens=200,
        reasoning=NO_THINKING,  # type: ignore[arg-type]
    )
    assert parsed.status == "completed"
    assert isinstance(parsed.output_parsed, Weather)
    assert parsed.text is not None and parsed.text.format is not None
    assert parsed.text.format.type == "json_schema"


@pytest.mark.parametrize(("fixture", "model"), [("qwen_server", QWEN), ("oss_server", OSS)])
def test_forced_tool_validates_and_streams_the_same_arguments(
    request: pytest.FixtureRequest, fixture: str, model: str
) -> None:
    client = client_for(request.getfixturevalue(fixture))
    body: dict[str, Any] = {
        "model": model,
        "input": "Weather in Paris?",
        "max_output_tokens": 300,
        "temperature": 0.0,
        "tools": [WEATHER_TOOL],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "reasoning": NO_THINKING,
    }
    response = client.responses.create(**body)
    calls = [item for item in response.output if item.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather"
    assert calls[0].call_id and calls[0].id and calls[0].id.startswith("fc_")
    jsonschema.validate(json.loads(calls[0].arguments), WEATHER_SCHEMA)
    assert response.tool_choice.type == "function"  # type: ignore[union-attr]
    with client.responses.stream(**body) as stream:
        deltas = [e.delta for e in stream if e.type == "response.function_call_arguments.delta"]
        final = stream.get_final_response()
    assert json.loads("".join(deltas)) == json.loads(calls[0].arguments)
    assert [item.type for item in final.output] == [item.type for item in response.output]


@pytest.mark.parametrize(("fixture", "model"), [("qwen_server", QWEN), ("oss_server", OSS)])
def test_function_call_output_round_trip(
    request: pytest.FixtureRequest, fixture: str, model: str
) -> None:
    client = client_for(request.getfixturevalue(fixture))
    history: list[Any] = [
        {"role": "user", "content": "Weather in Paris for 2 days?"},
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": '{"city": "Paris", "days": 2}',
        },
        {"type": "function_call_output", "call_id": "call_1", "output": "Sunny, 21 C."},
    ]
    short = client.responses.create(model=model, input=history[:1], max_output_tokens=2)
    answer = client.responses.create(
        model=model, input=history, tools=[WEATHER_TOOL], max_output_tokens=16
    )
    assert answer.status in ("completed", "incomplete")
    assert answer.usage is not None and short.usage is not None
    assert answer.usage.input_tokens > short.usage.input_tokens


def test_qwen_reasoning_item_comes_first_and_streams_the_same(qwen_server: LiveServer) -> None:
    # A structured output opens Qwen's `<think>` in the prompt (reasoning stays on), so even
    # random weights reason first; the grammar applies once the reasoning ends.
    client = client_for(qwen_server)
    body: dict[str, Any] = {
        "model": QWEN,
        "input": "Think, then give the weather in Paris as JSON.",
        "max_output_tokens": 24,
        "text": {"format": {"type": "json_schema", "name": "weather", "schema": WEATHER_SCHEMA}},
    }
    response = client.responses.create(**body)
    assert response.output and response.output[0].type == "reasoning"
    reasoning = response.output[0]
    assert reasoning.id.startswith("rs_") and reasoning.content
    assert reasoning.content[0].type == "reasoning_text" and reasoning.content[0].text
    assert "<think>" not in reasoning.content[0].text
    assert "<think>" not in response.output_text and "</think>" not in response.output_text
    assert response.usage is not None
    assert response.usage.output_tokens_details.reasoning_tokens > 0
    with client.responses.stream(**body) as stream:
        events = list(stream)
    deltas = [e.delta for e in events if e.type == "response.reasoning_text.delta"]
    done = [e for e in events if e.type == "response.reasoning_text.done"]
    assert events[-1].type in ("response.completed", "response.incomplete")
    final = events[-1].response.output[0]  # type: ignore[union-attr]
    assert final.type == "reasoning" and final.content  # sampled anew: its own text
    assert "".join(deltas) == done[0].text == final.content[0].text


def test_gpt_oss_items_never_carry_harmony_markers(oss_server: LiveServer) -> None:
    for effort in ("low", "high"):
        response = client_for(oss_server).responses.create(
            model=OSS, input="2+2?", max_output_tokens=24, reasoning={"effort": effort}
        )
        assert response.reasoning is not None and response.reasoning.effort == effort
        for item in response.output:
            if item.type == "reasoning":
                assert item.content and "<|" not in item.content[0].text
            if item.type == "message":
                assert "<|" not in item.content[0].text  # type: ignore[union-attr]


def test_openai_agents_sdk_runs_a_tool(qwen_server: LiveServer) -> None:
    agents.set_tracing_disabled(True)
    client = openai.AsyncOpenAI(base_url=qwen_server.v1, api_key="unused", max_retries=0)
    agents.set_default_openai_client(client, use_for_tracing=False)
    agents.set_default_openai_api("responses")
    calls: list[str] = []

    @agents.function_tool
    def get_weather(city: Literal["Paris", "Rome"]) -> str:
        """Weather forecast for a city."""
        calls.append(city)
        return f"Sunny in {city}."

    agent = agents.Agent(
        name="forecaster",
        instructions="Answer with the weather.",
        # The SDK's Responses model (a model name with a `/` would be read as a provider prefix).
        model=agents.OpenAIResponsesModel(model=QWEN, openai_client=client),
        tools=[get_weather],
        # Random weights never end free text: the run ends with the tool's answer.
        tool_use_behavior="stop_on_first_tool",
        model_settings=agents.ModelSettings(
            tool_choice="get_weather", max_tokens=64, reasoning=Reasoning(effort="none")
        ),
    )
    result = agents.Runner.run_sync(agent, "Weather in Paris?", max_turns=4)
    assert len(calls) == 1
    kinds = [item.type for item in result.new_items]
    assert kinds[:2] == ["tool_call_item", "tool_call_output_item"], kinds
    assert result.final_output == f"Sunny in {calls[0]}."
