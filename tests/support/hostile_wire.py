"""The wire, as a stranger writes it (issue 24, findings 4 to 6): client errors on the
Anthropic routes and the types they carry, HEAD on the playground, and whether a speech
file tells its decoder how long it is.

Shaped like tests/support/hostile.py's attacks (each returns an Outcome), for
tests/e2e/test_hostile_wire_e2e.py to assert and benchmarks/hostile.py to report. Raw
sockets where an HTTP library would not send the request (heads in pieces, stalled bodies)
or would hide the bytes (a HEAD's body).
"""

from __future__ import annotations

import base64
import concurrent.futures
import re
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from tests.support.audio import flac_total_samples, pyav_samples, soundfile_samples
from tests.support.hostile import MODEL, Outcome, Target, _timed
from tests.support.raw_http import exchange, json_of, request_head, split_response

MESSAGES = "/v1/messages"
SPEECH_MODEL = "hexgrad/Kokoro-82M"
SPEECH_RATE = 24_000
SPEECH_TEXT = "Hello there. The weather is lovely today, and the birds are singing."
HEADER_LIMIT = 16 * 1024
"""The hostile server's head limit (the default --max-header-bytes)."""
PLAYGROUND_PATHS = ("/", "/playground/app.js")
PER_RESPONSE_HEADERS = {"date", "x-tera-request-id"}


def _message(**extra: Any) -> dict[str, Any]:
    body = {"model": MODEL, "max_tokens": 4, "messages": [{"role": "user", "content": "hi"}]}
    return {**body, **extra}


def _add_raw(outcome: Outcome, raw: bytes) -> None:
    """A raw answer into the outcome: its status, and its error's shape and type in notes."""
    if not raw.startswith(b"HTTP/1.1 "):
        outcome.statuses.append(0)
        _note_error(outcome, None)
        return
    status, _, body = split_response(raw)
    outcome.statuses.append(status)
    try:
        _note_error(outcome, json_of(body))
    except orjson.JSONDecodeError:
        _note_error(outcome, None)


def _add(outcome: Outcome, response: httpx.Response) -> None:
    outcome.add(response)
    try:
        _note_error(outcome, response.json())
    except ValueError:
        _note_error(outcome, None)


def _note_error(outcome: Outcome, body: Any) -> None:
    """notes["shapes"]: the body's top-level `type` ("error" is Anthropic's shape, None
    OpenAI's); notes["types"]: its error's `type`."""
    error = body.get("error") if isinstance(body, dict) else None
    outcome.notes.setdefault("shapes", []).append(body.get("type") if error else "no error")
    outcome.notes.setdefault("types", []).append(
        error.get("type") if isinstance(error, dict) else None
    )


def _keyed(target: Target, **extra: str) -> dict[str, str]:
    return {**target.headers(), "Content-Type": "application/json", **extra}


@_timed
def anthropic_big_head(target: Target) -> Outcome:
    """/v1/messages with a 20 kB header, whole, and in pieces that never end it (431 each)."""
    outcome = Outcome([])
    body = orjson.dumps(_message())
    head = request_head(
        "POST",
        MESSAGES,
        _keyed(target, **{"X-Big": "a" * 20_000, "Content-Length": str(len(body))}),
    )
    _add_raw(outcome, exchange(target.base_url, head + body))
    # In pieces, the blank line never sent: h11 holds the head and stops past the limit.
    _add_raw(outcome, exchange(target.base_url, head[:2000], head[2000:-2]))
    return outcome


def _run_all(calls: list[Callable[[], bytes]]) -> list[bytes]:
    """Raw exchanges at once (two of them wait out the server's body timeout)."""
    with concurrent.futures.ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


@_timed
def anthropic_client_errors(target: Target) -> Outcome:
    """/v1/messages: no key, GET, a schema error, a 1 GB Content-Length, a stalled body, a
    malformed head (401, 405, 400, 413, 408, 400)."""
    outcome = Outcome([])
    url = target.base_url + MESSAGES
    _add(outcome, httpx.post(url, json=_message(), timeout=30))
    _add(outcome, httpx.get(url, headers=target.headers(), timeout=30))
    _add(outcome, target.post(MESSAGES, _message(messages="hi")))
    too_big = request_head("POST", MESSAGES, _keyed(target, **{"Content-Length": "999999999"}))
    stalled = request_head("POST", MESSAGES, _keyed(target, **{"Content-Length": "500"}))
    malformed = f"POST {MESSAGES} HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n".encode()
    base = target.base_url
    for raw in _run_all(
        [
            lambda: exchange(base, too_big, b"{", within_s=30),
            lambda: exchange(base, stalled, b'{"model": ', within_s=30),
            lambda: exchange(base, malformed, within_s=30),
        ]
    ):
        _add_raw(outcome, raw)
    return outcome


def _wire_answer(target: Target, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    raw = exchange(target.base_url, request_head(method, path, {"Connection": "close"}))
    status, headers, body = split_response(raw)
    return status, {k: v for k, v in headers.items() if k not in PER_RESPONSE_HEADERS}, body


@_timed
def playground_head(target: Target) -> Outcome:
    """GET then HEAD on / and /playground/app.js, no key (the playground is public)."""
    outcome = Outcome([])
    same_headers, head_bytes, lengths_match = True, 0, True
    for path in PLAYGROUND_PATHS:
        get_status, get_headers, get_body = _wire_answer(target, "GET", path)
        head_status, head_headers, head_body = _wire_answer(target, "HEAD", path)
        outcome.statuses += [get_status, head_status]
        same_headers = same_headers and get_headers == head_headers
        head_bytes += len(head_body)
        lengths_match = lengths_match and head_headers.get("content-length") == str(len(get_body))
    outcome.notes.update(
        same_headers=same_headers, head_body_bytes=head_bytes, lengths_match=lengths_match
    )
    return outcome


_AUDIO_SECONDS = re.compile(
    r'^tera_speech_audio_seconds_total\{model="' + re.escape(SPEECH_MODEL) + r'"\} (\S+)$', re.M
)


def _synthesized_s(target: Target) -> float:
    metrics = httpx.get(target.base_url + "/metrics", headers=target.headers("ops"), timeout=30)
    metrics.raise_for_status()
    return sum(float(value) for value in _AUDIO_SECONDS.findall(metrics.text))


def _decoded(fmt: str, data: bytes, decode: Callable[[str, bytes], tuple[int, int]]) -> Any:
    try:
        samples, rate = decode(fmt, data)
    except Exception as exc:  # what a decoder says about a broken file is the finding
        return f"{type(exc).__name__}: {exc}"[:120]
    return round(samples / rate, 5)


def _speak(target: Target, fmt: str, stream_format: str) -> tuple[httpx.Response, bytes]:
    body = {
        "model": SPEECH_MODEL,
        "voice": "af_heart",
        "input": SPEECH_TEXT,
        "response_format": fmt,
        "stream_format": stream_format,
    }
    response = target.post("/v1/audio/speech", body)
    data = response.content
    if stream_format == "sse" and response.status_code == 200:
        events = [
            orjson.loads(line[6:])
            for line in response.text.splitlines()
            if line.startswith("data:")
        ]
        data = b"".join(base64.b64decode(e["audio"]) for e in events if "audio" in e)
    return response, data


@_timed
def speech_lengths(target: Target) -> Outcome:
    """Speech as flac and wav (whole) and flac as sse: soundfile and PyAV decode each, beside
    the seconds synthesized (tera_speech_audio_seconds_total) and FLAC's STREAMINFO total."""
    outcome = Outcome([])
    for fmt, stream_format in (("flac", "audio"), ("wav", "audio"), ("flac", "sse")):
        before = _synthesized_s(target)
        response, data = _speak(target, fmt, stream_format)
        outcome.add(response)
        case: dict[str, Any] = {
            "synthesized_s": round(_synthesized_s(target) - before, 5),
            "soundfile_s": _decoded(fmt, data, soundfile_samples),
            "pyav_s": _decoded(fmt, data, pyav_samples),
        }
        if fmt == "flac":
            case["streaminfo_s"] = round(flac_total_samples(data) / SPEECH_RATE, 5)
        outcome.notes[f"{fmt}_{stream_format}"] = case
    return outcome


ATTACKS: tuple[Callable[[Target], Outcome], ...] = (
    anthropic_big_head,
    anthropic_client_errors,
    playground_head,
    speech_lengths,
)
