"""The real coding agents against a live tera-serve, set up as a user sets them up.

Each agent's environment and config here are the README's "Agents" section, word for word:
a test that needs anything more has found a bug in the server, not in the setup. Each turn
returns the agent's final answer and, where the agent reports it, the prompt tokens the
server's prefix cache served.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fixtures.agents import Agents
from tests.support.live_server import LiveServer

AGENT_TIMEOUT_S = 300  # a hang bound: a turn on the scripted model takes seconds
_ACCESS = re.compile(r"tera_serve\.access: .*? method=(\S+) path=(\S+) .*?status=(\d+)")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    status: int


@contextmanager
def requests_during(server: LiveServer) -> Iterator[list[Request]]:
    """The requests the server logged while the block ran (its access log lines)."""
    start = server.log_path.stat().st_size
    seen: list[Request] = []
    yield seen
    with server.log_path.open("rb") as log:
        log.seek(start)
        text = log.read().decode(errors="replace")
    seen.extend(Request(m[1], m[2], int(m[3])) for m in _ACCESS.finditer(text))


@dataclass(frozen=True)
class Session:
    """One user's agent session: its HOME, its project folder, the server and key."""

    server: LiveServer
    key: str
    model: str
    home: Path
    work: Path


@dataclass(frozen=True)
class Turn:
    answer: str
    cached_tokens: int | None
    """Prompt tokens served from the prefix cache, as the agent reports them (None: it
    reports none)."""
    output: str


@dataclass(frozen=True)
class Agent:
    name: str
    tool: str
    """The tool the scripted model calls (the agent's own name for it) ..."""
    arguments: dict[str, Any]
    """... and its arguments: a read-only command each agent runs without asking."""
    setup: Callable[[Session], None]
    command: Callable[[Agents, Session, str, bool], list[str | Path]]
    env: Callable[[Session], dict[str, str]]
    read: Callable[[Session, str], Turn]


def _user_env(session: Session) -> dict[str, str]:
    """A clean user: its own HOME, nothing from the developer's own setup."""
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR", "TERM")
    return {**{k: os.environ[k] for k in keep if k in os.environ}, "HOME": str(session.home)}


# Claude Code on the Messages API.
def claude_env(session: Session) -> dict[str, str]:
    model = session.model
    return {
        **_user_env(session),
        "ANTHROPIC_BASE_URL": session.server.base_url,
        "ANTHROPIC_API_KEY": session.key,
        "ANTHROPIC_MODEL": model,
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": model,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }


def _claude_command(agents: Agents, _: Session, prompt: str, resume: bool) -> list[str | Path]:
    return [agents.claude, "-p", "--output-format", "json", *(["--continue"] * resume), prompt]


def _claude_read(_: Session, stdout: str) -> Turn:
    result = json.loads(stdout)
    if result.get("is_error"):
        raise AssertionError(f"Claude Code reported an error: {stdout}")
    return Turn(result["result"].strip(), result["usage"]["cache_read_input_tokens"], stdout)


# Codex CLI on the Responses API.
def codex_config(session: Session) -> str:
    """`~/.codex/config.toml` for tera-serve."""
    return (
        f'model = "{session.model}"\n'
        'model_provider = "tera"\n\n'
        "[model_providers.tera]\n"
        'name = "tera-serve"\n'
        f'base_url = "{session.server.v1}"\n'
        'env_key = "TERA_API_KEY"\n'
        'wire_api = "responses"\n'
    )


def _codex_setup(session: Session) -> None:
    (session.home / ".codex").mkdir(parents=True, exist_ok=True)
    (session.home / ".codex" / "config.toml").write_text(codex_config(session))


def _codex_env(session: Session) -> dict[str, str]:
    return {**_user_env(session), "TERA_API_KEY": session.key}


def _codex_command(agents: Agents, s: Session, prompt: str, resume: bool) -> list[str | Path]:
    head: list[str | Path] = [agents.codex, "exec", *(["resume", "--last"] * resume)]
    answer = s.home / "codex-answer.txt"
    return [*head, "--json", "--skip-git-repo-check", "-o", str(answer), prompt]


def _codex_read(session: Session, stdout: str) -> Turn:
    cached: int | None = None
    for line in stdout.splitlines():
        event = json.loads(line) if line.startswith("{") else {}
        if event.get("type") == "turn.failed" or event.get("type") == "error":
            raise AssertionError(f"Codex reported an error: {line}")
        if event.get("type") == "turn.completed":
            cached = int(event["usage"].get("cached_input_tokens", 0))
    return Turn((session.home / "codex-answer.txt").read_text().strip(), cached, stdout)


# Qwen Code on Chat Completions.
def _qwen_env(session: Session) -> dict[str, str]:
    return {
        **_user_env(session),
        "OPENAI_BASE_URL": session.server.v1,
        "OPENAI_API_KEY": session.key,
        "OPENAI_MODEL": session.model,
    }


def _qwen_command(agents: Agents, _: Session, prompt: str, resume: bool) -> list[str | Path]:
    return [agents.qwen, "--output-format", "json", *(["--continue"] * resume), prompt]


def _qwen_read(_: Session, stdout: str) -> Turn:
    events = json.loads(stdout)
    results = [e for e in events if isinstance(e, dict) and e.get("type") == "result"]
    if not results or results[-1].get("is_error"):
        raise AssertionError(f"Qwen Code reported an error: {stdout[-2000:]}")
    usage = results[-1].get("usage") or {}
    cached = usage.get("cache_read_input_tokens")
    return Turn(str(results[-1]["result"]).strip(), cached, stdout)


def _no_setup(_: Session) -> None:
    return None


AGENTS = (
    Agent("claude-code", "Bash", {"command": "ls"}, _no_setup, _claude_command, claude_env,
          _claude_read),
    Agent("codex", "exec_command", {"cmd": "ls"}, _codex_setup, _codex_command, _codex_env,
          _codex_read),
    Agent("qwen-code", "glob", {"pattern": "*"}, _no_setup, _qwen_command, _qwen_env,
          _qwen_read),
)  # fmt: skip


def run_turn(agent: Agent, agents: Agents, session: Session, prompt: str, resume: bool) -> Turn:
    """One turn, as the user types it; fails with the agent's output if it does not exit 0."""
    done = subprocess.run(
        [str(part) for part in agent.command(agents, session, prompt, resume)],
        env=agent.env(session),
        cwd=session.work,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=AGENT_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(
            f"{agent.name} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return agent.read(session, done.stdout)
