"""The wire against the real process (issue 24, findings 4 to 6): every 4xx on /v1/messages
carries a client error type in Anthropic's shape (a 431 was `api_error`, a 408
`timeout_error`, h11's refusals OpenAI's shape); HEAD on the playground answers as GET
without a body (it was 405); a non-streamed FLAC from /v1/audio/speech carries its length
(its STREAMINFO said "unknown" and libsndfile could not read it).

/health is probed throughout; its bound is a hang bound (DESIGN rule 8): the worst latency
is measured by benchmarks/hostile.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import hostile, hostile_wire
from tests.support.hostile import Target
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.e2e

ANTHROPIC_SHAPE = "error"  # the body's top-level `type` in Anthropic's error shape
ONE_SAMPLE_S = 1 / hostile_wire.SPEECH_RATE


@pytest.fixture
def attack(hostile_server: tuple[LiveServer, Target, Path]) -> Iterator[Target]:
    """The target, with /health probed throughout the test (a hang bound)."""
    server, target, _ = hostile_server
    with hostile.watched(server, target) as watched:
        yield watched


def test_an_oversized_head_on_messages_is_a_client_error(attack: Target) -> None:
    outcome = hostile_wire.anthropic_big_head(attack)
    assert outcome.statuses == [431, 431], outcome
    assert outcome.notes["shapes"] == [ANTHROPIC_SHAPE] * 2, outcome
    assert outcome.notes["types"] == ["invalid_request_error"] * 2, outcome


def test_each_client_error_on_messages_has_a_client_type(attack: Target) -> None:
    outcome = hostile_wire.anthropic_client_errors(attack)
    assert outcome.statuses == [401, 405, 400, 413, 408, 400], outcome
    assert outcome.notes["shapes"] == [ANTHROPIC_SHAPE] * 6, outcome
    assert outcome.notes["types"] == [
        "authentication_error",
        "invalid_request_error",
        "invalid_request_error",  # a schema error: 400, never 422
        "request_too_large",
        "invalid_request_error",  # the client's body stalled: not the server's timeout
        "invalid_request_error",
    ], outcome


def test_head_on_the_playground_is_get_without_a_body(attack: Target) -> None:
    outcome = hostile_wire.playground_head(attack)
    assert outcome.statuses == [200] * 4, outcome
    assert outcome.notes == {"same_headers": True, "head_body_bytes": 0, "lengths_match": True}


def test_a_whole_speech_file_decodes_to_its_length(attack: Target) -> None:
    outcome = hostile_wire.speech_lengths(attack)
    assert outcome.statuses == [200] * 3, outcome
    for case in ("flac_audio", "wav_audio"):
        lengths = outcome.notes[case]
        synthesized = lengths["synthesized_s"]
        assert synthesized > 2.0, outcome  # a sentence and a half of speech
        for decoder in ("soundfile_s", "pyav_s"):
            assert lengths[decoder] == pytest.approx(synthesized, abs=ONE_SAMPLE_S), (case, outcome)
    assert outcome.notes["flac_audio"]["streaminfo_s"] == pytest.approx(
        outcome.notes["flac_audio"]["synthesized_s"], abs=ONE_SAMPLE_S
    )
    # Streamed by request (sse), a FLAC cannot know its total: STREAMINFO says unknown (0),
    # and FFmpeg still reads every frame.
    streamed = outcome.notes["flac_sse"]
    assert streamed["streaminfo_s"] == 0.0, outcome
    assert streamed["pyav_s"] == pytest.approx(streamed["synthesized_s"], abs=ONE_SAMPLE_S)
