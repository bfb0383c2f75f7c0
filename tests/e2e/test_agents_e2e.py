"""The real coding agents from npm against the real process: two turns each, one tool call.

Claude Code (Messages), Codex CLI (Responses) and Qwen Code (Chat Completions), each set up
exactly as the README's "Agents" section says and nothing more. For each, the scripted model
(tests/fixtures/scripted.py) calls that agent's own read-only tool until a tool result comes
back, then answers: so the first turn is a tool round trip, and the second (the agent's
resume) answers from the replayed history. Every request an agent sends must get a 2xx: a
4xx it retries around still fails the test. One server per agent, one at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.agents import Agents, install_agents
from tests.fixtures.scripted import ANSWER, build_scripted_qwen3, tool_call_text
from tests.support.agents import AGENTS, Agent, Session, requests_during, run_turn
from tests.support.live_server import LiveServer, live_server

pytestmark = pytest.mark.e2e

MODEL = "tera-test/scripted"
KEY = "sk-tera-agents-e2e"


@pytest.fixture(scope="module")
def agents() -> Agents:
    return install_agents()


@pytest.fixture(scope="module", params=AGENTS, ids=[agent.name for agent in AGENTS])
def agent_server(request: pytest.FixtureRequest) -> Iterator[tuple[Agent, LiveServer]]:
    agent: Agent = request.param
    model = build_scripted_qwen3(tool_call=tool_call_text(agent.tool, agent.arguments))
    args = ["--model", str(model), "--served-model-name", MODEL, "--api-key", KEY,
            "--dtype", "float32", "--enforce-eager", "--max-model-len", "32768"]  # fmt: skip
    with live_server(args, f"agent-{agent.name}") as server:
        yield agent, server


def test_two_turns_with_a_tool_call(
    agents: Agents, agent_server: tuple[Agent, LiveServer], tmp_path: Path
) -> None:
    agent, server = agent_server
    session = Session(server, KEY, MODEL, tmp_path / "home", tmp_path / "work")
    session.home.mkdir()
    session.work.mkdir()
    (session.work / "notes.txt").write_text("a file for the agent's tool to find\n")
    agent.setup(session)

    with requests_during(server) as first_requests:
        first = run_turn(agent, agents, session, "List the files here, then say hello.", False)
    assert first.answer == ANSWER, first.output
    # The tool call, its result sent back, the answer: at least two model requests.
    assert len([r for r in first_requests if r.method == "POST"]) >= 2, first_requests

    with requests_during(server) as second_requests:
        second = run_turn(agent, agents, session, "Say it once more.", True)
    assert second.answer == ANSWER, second.output

    refused = [r for r in first_requests + second_requests if not 200 <= r.status < 300]
    assert refused == [], refused
    if second.cached_tokens is not None:
        # The long, stable prompt (behind any per-request header line) is served from cache.
        assert second.cached_tokens > 0, second.output
