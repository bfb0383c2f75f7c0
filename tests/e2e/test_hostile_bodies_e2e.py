"""Conversation bodies as large as the server takes, 4 at once, on each conversation route
(issue 24, finding 3): each is a 400 in its route's shape, counted before pydantic and the
translation see it, and /health keeps answering meanwhile.

The /health bound is a hang bound, not a latency claim (DESIGN rule 8): the worst latency
is measured by benchmarks/hostile.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import hostile, hostile_bodies
from tests.support.hostile import Outcome, Target
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.e2e

HEALTH_HANG_BOUND_S = 5.0


@pytest.fixture
def attack(hostile_server: tuple[LiveServer, Target, Path]) -> Iterator[Target]:
    """The target, with /health probed throughout the test."""
    server, target, _ = hostile_server
    with hostile.watched(server, target, HEALTH_HANG_BOUND_S) as watched:
        yield watched


def _refused(outcome: Outcome, param: str | None, shape: tuple[str | None, str], says: str) -> None:
    assert outcome.statuses == [400] * hostile_bodies.PARALLEL, outcome
    assert outcome.params == [param] * hostile_bodies.PARALLEL, outcome
    assert outcome.notes["error_shapes"] == [shape], outcome
    # Refused by the count before pydantic and translation (after them, the refusal was
    # "At most 2048 messages are allowed.").
    [message] = outcome.notes["messages"]
    assert says in message, outcome
    # The largest body the server reads.
    assert outcome.notes["body_bytes"] > hostile_bodies.BODY_LIMIT - 1024
    assert outcome.notes["body_bytes"] <= hostile_bodies.BODY_LIMIT
    assert outcome.notes["items"] >= hostile_bodies.AT_THE_LIMIT


COUNTED = "holds more than 16384 turns, content parts and tool calls together"
MESSAGES = "At most 2048 messages are allowed."  # under the part count: after translation
ANTHROPIC = ("error", "invalid_request_error")  # Anthropic's error shape carries no `param`
OPENAI = (None, "invalid_request_error")


@pytest.mark.parametrize(
    ("name", "param", "shape", "says"),
    [
        ("messages_tool_results", None, ANTHROPIC, f"`messages` {COUNTED}"),
        ("messages_at_the_limit", None, ANTHROPIC, MESSAGES),
        ("responses_input_items", "input", OPENAI, f"`input` {COUNTED}"),
        ("responses_at_the_limit", "input", OPENAI, MESSAGES),
        ("chat_content_parts", "messages", OPENAI, f"`messages` {COUNTED}"),
        ("chat_at_the_limit", "messages", OPENAI, "characters; the limit is"),
        ("chat_messages", "messages", OPENAI, "items; the limit is 2048."),
    ],
)
def test_largest_bodies_are_refused_while_health_answers(
    attack: Target, name: str, param: str | None, shape: tuple[str | None, str], says: str
) -> None:
    _refused(hostile_bodies.BY_NAME[name](attack), param, shape, says)
