"""Hostile clients against the real process (embedded SmolLM2, keys configured).

Each attack must get its 4xx (or 503), never a 500, never hang; and a prober hitting
/health every 50 ms keeps getting answers meanwhile (the bound is wide on purpose: the
measured worst case is reported by benchmarks/hostile.py, not asserted here).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import hostile
from tests.support.hostile import Target
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def attack(hostile_server: tuple[LiveServer, Target, Path]) -> Iterator[Target]:
    """The target, with /health probed throughout the test (a hang bound: the worst
    latency per attack is measured by benchmarks/hostile.py, DESIGN rule 8)."""
    server, target, _ = hostile_server
    with hostile.watched(server, target) as watched:
        yield watched


def _all(outcome: hostile.Outcome, status: int, param: str | None = None) -> None:
    assert outcome.statuses == [status] * len(outcome.statuses), outcome
    if param is not None:
        assert outcome.params == [param] * len(outcome.params), outcome


def test_tools_with_huge_anyof_schemas(attack: Target) -> None:
    outcome = hostile.tools_anyof(attack)
    _all(outcome, 400)  # more JSON values than any real body: refused before parsing
    assert outcome.params == [None, None], outcome  # the body's; a parsed one names a tool


def test_detokenize_millions_of_ids(attack: Target) -> None:
    _all(hostile.detokenize_flood(attack), 400)


def test_completions_with_a_million_prompts(attack: Target) -> None:
    outcome = hostile.completion_prompt_flood(attack)
    _all(outcome, 400)
    assert outcome.params == [None] * 4, outcome  # the body's, before parsing (not `prompt`)


def test_deeply_nested_tool_call_arguments(attack: Target) -> None:
    _all(hostile.deep_tool_arguments(attack), 400, "messages[1].tool_calls[0].function.arguments")


def test_tool_schema_that_is_not_json_schema(attack: Target) -> None:
    _all(hostile.enum_schema_tool(attack), 400, "tools[0].function.parameters")


def test_early_answer_closes_a_trickling_connection(attack: Target) -> None:
    outcome = hostile.early_answer_then_trickle(attack)
    assert outcome.statuses == [401, 413], outcome
    assert outcome.notes == {"closed_nokey": True, "closed_user": True}


def test_path_cannot_forge_log_lines(
    attack: Target, hostile_server: tuple[LiveServer, Target, Path]
) -> None:
    server = hostile_server[0]
    outcome = hostile.log_injection(attack)
    assert outcome.statuses == [401, 404], outcome
    time.sleep(0.5)
    lines = server.log_path.read_text(errors="replace").splitlines()
    assert not [line for line in lines if line.startswith("FAKE-LINE")]
    logged = [line for line in lines if "FAKE-LINE" in line]
    assert len(logged) == 2 and all('path="/x\\nFAKE-LINE status=200"' in x for x in logged)


def test_request_chat_templates_are_stopped(attack: Target) -> None:
    outcome = hostile.request_template_loops(attack)
    # Each was stopped: the loops run for hours, and the client gives up after 120 s.
    _all(outcome, 400, "chat_template")


def test_prompts_times_n_is_bounded_before_tokenizing(attack: Target) -> None:
    _all(hostile.too_many_sequences(attack), 400, "prompt")


def test_deep_bodies(attack: Target) -> None:
    _all(hostile.deep_body(attack), 400)


def test_tpm_reservation_holds_whatever_the_concurrency(attack: Target) -> None:
    """A 1,000-tpm key gets at most 1,000 + one request's worth of tokens in a minute."""
    outcome = hostile.tpm_flood(attack)
    assert set(outcome.statuses) <= {200, 429}, outcome
    assert outcome.statuses.count(429) >= hostile.TPM_PARALLEL - 1
    assert set(c for s, c in zip(outcome.statuses, outcome.codes, strict=True) if s == 429) == {
        "tpm_limit_exceeded"
    }
    one_request = 64 + hostile.TPM_N * hostile.TPM_MAX_TOKENS  # a generous prompt + n × max
    assert 0 < outcome.notes["tokens_served"] <= 1000 + one_request, outcome
    again = attack.post("/v1/chat/completions", hostile.chat(), key="tpm")
    assert again.status_code == 429 and int(again.headers["retry-after"]) >= 1


def test_health_details_need_a_key_and_metrics_an_admin(attack: Target) -> None:
    anonymous = httpx.get(attack.base_url + "/health", timeout=10)
    assert anonymous.status_code == 200 and anonymous.json() == {"status": "ok"}
    detailed = httpx.get(attack.base_url + "/health", headers=attack.headers(), timeout=10)
    assert set(detailed.json()) == {"status", "models", "engine_unfinished_requests"}
    metrics = attack.base_url + "/metrics"
    assert httpx.get(metrics, timeout=10).status_code == 401
    denied = httpx.get(metrics, headers=attack.headers(), timeout=10)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "admin_scope_required"
    allowed = httpx.get(metrics, headers=attack.headers("ops"), timeout=10)
    assert allowed.status_code == 200 and "tera_requests_total" in allowed.text


def test_an_empty_keys_file_keeps_the_keys(
    attack: Target, hostile_server: tuple[LiveServer, Target, Path]
) -> None:
    keys_file = hostile_server[2]
    original = keys_file.read_text()
    try:
        keys_file.write_text("")  # an editor's truncate-then-write, caught in the middle
        time.sleep(2.5)  # the file is checked at most once a second
        ok = httpx.get(attack.base_url + "/v1/models", headers=attack.headers(), timeout=10)
        assert ok.status_code == 200
    finally:
        keys_file.write_text(original)
