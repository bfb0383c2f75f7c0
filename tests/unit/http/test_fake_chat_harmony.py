"""gpt-oss through the HTTP app and the scripted engine, with the tiny gpt-oss tokenizer.

The engine replays realistic harmony outputs; the prompt it received must be harmony's.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson

from tera_serve.engine.base import EngineRequest
from tests.support.fake_app import FAKE_MODEL_ID, fake_server
from tests.support.harmony_outputs import CALL, RETURN, assistant, call, completion, encoding

THINK = "The user wants the weather in Paris: call get_weather."
ARGS = '{"city": "Paris"}'
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
GPT_OSS = {"hf_config": SimpleNamespace(model_type="gpt_oss")}


def _replay(*outputs: Sequence[int]) -> Any:
    """Answers the requests with the given outputs, in order."""
    remaining = list(outputs)

    def script(request: EngineRequest) -> Sequence[int]:
        return remaining.pop(0)

    return script


async def test_gpt_oss_chat_through_the_app(tiny_gpt_oss_dir: Path) -> None:
    # One app for both requests: loading the 200k-token tokenizer is the slow part.
    answer = completion(assistant(THINK, "analysis"), assistant("Hi there!", "final"), last=RETURN)
    tool_call = completion(assistant(THINK, "analysis"), call("get_weather", ARGS))
    script = _replay(answer, tool_call)
    async with fake_server(tiny_gpt_oss_dir, script, engine_kwargs=GPT_OSS) as (client, engine, _):
        await _check_reasoning_and_answer(client, engine)
        await _check_streamed_tool_call(client)


async def _check_reasoning_and_answer(client: Any, engine: Any) -> None:
    r = await client.post(
        "/v1/chat/completions",
        json={
            "model": FAKE_MODEL_ID,
            "messages": [{"role": "user", "content": "Hi"}],
            "reasoning_effort": "low",
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    message = body["choices"][0]["message"]
    assert message["reasoning"] == THINK
    assert message["content"] == "Hi there!"
    assert body["choices"][0]["finish_reason"] == "stop"
    details = body["usage"]["completion_tokens_details"]
    assert details["reasoning_tokens"] == len(completion(assistant(THINK, "analysis")))
    sent = engine.requests[0]
    prompt_text = encoding().decode(list(sent.prompt_token_ids))
    assert "Reasoning: low" in prompt_text
    assert prompt_text.endswith("<|start|>user<|message|>Hi<|end|><|start|>assistant")
    assert sorted(sent.sampling.stop_token_ids) == [RETURN, CALL]
    assert sent.sampling.skip_special_tokens is False


async def _check_streamed_tool_call(client: Any) -> None:
    r = await client.post(
        "/v1/chat/completions",
        json={
            "model": FAKE_MODEL_ID,
            "messages": [{"role": "user", "content": "Weather in Paris?"}],
            "tools": [WEATHER_TOOL],
            "stream": True,
        },
    )
    frames = [f for f in r.text.split("\n\n") if f]
    assert frames[-1] == "data: [DONE]"
    chunks = [orjson.loads(f.removeprefix("data: ")) for f in frames[:-1]]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    reasoning = "".join(d.get("reasoning", "") for d in deltas)
    calls = [tc for d in deltas for tc in d.get("tool_calls", [])]
    assert reasoning == THINK
    assert not any(d.get("content") for d in deltas)
    assert calls[0]["id"].startswith("call_")
    assert calls[0]["function"]["name"] == "get_weather"
    assert "".join(tc["function"]["arguments"] for tc in calls) == ARGS
    assert {tc["index"] for tc in calls} == {0}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
