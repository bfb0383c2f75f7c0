"""Messages through the real route: an Anthropic server tool is left out, the answer is
served, and the response names the tool in X-Tera-Omitted-Tools, as on Responses."""

from __future__ import annotations

from pathlib import Path

import pytest

from tera_serve.http.route_support import OMITTED_TOOLS_HEADER
from tests.fixtures.qwen3 import build_tiny_qwen3, qwen3_tokenizer
from tests.support.fake_app import FAKE_MODEL_ID, fake_server, scripted_text

BASH = {"name": "Bash", "description": "Run a command.", "input_schema": {"type": "object"}}
BODY = {
    "model": FAKE_MODEL_ID,
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "Look it up."}],
    "tools": [BASH, {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}],
}


@pytest.fixture(scope="module")
def qwen_dir() -> Path:
    return build_tiny_qwen3()


@pytest.mark.parametrize("stream", [False, True])
async def test_a_server_tool_is_left_out_and_named(qwen_dir: Path, stream: bool) -> None:
    script = scripted_text(qwen3_tokenizer(), "<think>\nNo search here.\n</think>\n\nDone.")
    async with fake_server(qwen_dir, script) as (client, engine, _):
        answer = await client.post("/v1/messages", json={**BODY, "stream": stream})
        assert answer.status_code == 200, answer.text
        assert answer.headers[OMITTED_TOOLS_HEADER] == "web_search_20250305"
        prompt = qwen3_tokenizer().decode(engine.requests[-1].prompt_token_ids)
    assert '"name": "Bash"' in prompt and "web_search" not in prompt
    if not stream:
        assert answer.json()["content"][-1] == {"type": "text", "text": "Done."}


async def test_forcing_a_server_tool_is_a_400(qwen_dir: Path) -> None:
    async with fake_server(qwen_dir, scripted_text(qwen3_tokenizer(), "x")) as (client, _, _):
        body = {**BODY, "tool_choice": {"type": "tool", "name": "web_search"}}
        refused = await client.post("/v1/messages", json=body)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["type"] == "invalid_request_error"
        assert "web_search" in refused.json()["error"]["message"]
