"""Fuzzing: schemathesis against the server's own /openapi.json (through the real uvicorn
stack, keys on), and thousands of malformed raw bodies in-process.

Every answer must be below 500, arrive in time, and (when an error) have the contract's
shape; a body that breaks the published schema must be refused with a 4xx.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import negative_data_rejection, response_schema_conformance

from tests.support.fake_app import FAKE_MODEL_ID, fake_server
from tests.unit.security.support import bearer, is_route_error, make_keys_file, threaded_server

FUZZ_KEY = "fuzzer"
CHECKS = [not_a_server_error, negative_data_rejection, response_schema_conformance]
EXAMPLES_PER_OPERATION = 60


@pytest.fixture(scope="module")
def fuzz_target(smollm_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    keys_path = tmp_path_factory.mktemp("fuzz") / "keys.yaml"
    secrets = make_keys_file(keys_path, {FUZZ_KEY: {}})
    with threaded_server(smollm_dir, words=4, keys_file=str(keys_path)) as running:
        yield running, secrets[FUZZ_KEY]


def test_openapi_fuzz(fuzz_target: Any) -> None:
    running, secret = fuzz_target
    schema = schemathesis.openapi.from_url(
        running.base_url + "/openapi.json", headers=bearer(secret)
    )
    sent: Counter[str] = Counter()
    rng = random.Random(3)

    def check(case: Any, mode: GenerationMode) -> None:
        body = case.body
        # Half the positive cases name the served model, to reach tokenization and generation.
        positive = mode is GenerationMode.POSITIVE
        if positive and isinstance(body, dict) and "model" in body and rng.random() < 0.5:
            body["model"] = FAKE_MODEL_ID
        headers = {**(case.headers or {}), **bearer(secret)}
        response = case.call(base_url=running.base_url, headers=headers, timeout=15)
        sent[mode.value] += 1
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert is_route_error(case.path, response.json()), response.text
        case.validate_response(response, checks=CHECKS, headers=headers)

    def fuzz(operation: Any, mode: GenerationMode) -> None:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,  # the same cases on every run: CI is not a lottery
            phases=[Phase.generate],
        )
        def run(case: Any) -> None:
            check(case, mode)

        try:
            run()
        except Unsatisfiable:
            # Nothing to negate (GET routes without parameters): positive cases cover them.
            if mode is GenerationMode.POSITIVE:
                raise

    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz(operation, mode)
    assert sent["positive"] >= 250 and sent["negative"] >= 200, sent
    assert running.context.security.in_flight == 0


def _valid_chat() -> dict[str, Any]:
    return {
        "model": FAKE_MODEL_ID,
        "messages": [{"role": "user", "content": "hello"}],
        "max_tokens": 3,
        "stream": False,
    }


def _mutations(rng: random.Random) -> Iterator[bytes]:
    """Malformed bodies: broken JSON, wrong types at every field, hostile values."""
    valid = orjson.dumps(_valid_chat())
    hostile: list[Any] = [
        None, True, -1, 0, 2**70, -(2**70), 1e308, "", "x" * 5000, "\u0000", "\ud7ff",
        [], {}, [[[[[]]]]], {"a": {"b": {}}}, [None] * 50, "NaN", 3.5, "🙂" * 100,
    ]  # fmt: skip
    fields = ["model", "messages", "max_tokens", "n", "stop", "temperature", "top_p", "stream",
              "stream_options", "logprobs", "top_logprobs", "tools", "tool_choice", "seed",
              "response_format", "logit_bias", "max_completion_tokens", "chat_template_kwargs",
              "prompt"]  # fmt: skip
    message_fields = ["role", "content", "name", "tool_calls", "tool_call_id"]
    raw_cases = [
        b"", b" ", b"{", b"}", b"[]", b"null", b"1", b'"s"', b"{'a': 1}", b'{"model": }',
        b"\xff\xfe\x00", b"{" * 5000 + b"}" * 5000, b"[" * 100_000, b'{"a":' * 200 + b"1" + b"}" * 200,
        b'{"model": "x", "messages": [' + b"{}," * 3000 + b"{}]}", valid[:-1], valid + b"garbage",
        valid.replace(b"{", b"[", 1), b'{"model": NaN}', b'{"model": Infinity}',
        b'{"messages": "\\ud800"}', b"\x00" * 100,
    ]  # fmt: skip
    yield from raw_cases
    for _ in range(900):  # random byte damage to a valid body
        data = bytearray(valid)
        for _ in range(rng.randint(1, 6)):
            position = rng.randrange(len(data))
            choice = rng.random()
            if choice < 0.4:
                data[position] = rng.randrange(256)
            elif choice < 0.7:
                del data[position]
            else:
                data.insert(position, rng.choice(b'{}[]",:\\0-e.'))
        yield bytes(data)
        yield valid[: rng.randrange(len(valid))]
    for field in fields:
        for value in hostile:
            yield encode({**_valid_chat(), field: value})
    for field in message_fields:
        for value in hostile:
            yield encode(
                {**_valid_chat(), "messages": [{"role": "user", "content": "x", field: value}]}
            )
    for value in hostile:
        yield encode({**_valid_chat(), "messages": value})
        yield encode({**_valid_chat(), "messages": [value]})


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()  # the stdlib takes integers past 64 bits; orjson does not


async def test_malformed_raw_bodies(smollm_dir: Path) -> None:
    rng = random.Random(20240601)
    bodies = list(_mutations(rng))
    urls = [
        "/v1/chat/completions",
        "/v1/completions",
        "/tokenize",
        "/detokenize",
        "/v1/messages",
        "/v1/messages/count_tokens",
        "/v1/responses",
    ]
    statuses: dict[int, int] = {}
    async with fake_server(smollm_dir) as (client, engine, app):

        async def send(index: int, body: bytes) -> None:
            url = urls[index % len(urls)]
            content_type = "application/json" if index % 7 else "text/plain"
            response = await asyncio.wait_for(
                client.post(url, content=body, headers={"content-type": content_type}), 30
            )
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            assert response.status_code < 500, (url, body[:200], response.text)
            if response.status_code >= 400:
                assert is_route_error(url, response.json()), (url, body[:200], response.text)

        for start in range(0, len(bodies), 16):
            batch = bodies[start : start + 16]
            await asyncio.gather(*(send(start + i, b) for i, b in enumerate(batch)))
        assert app.state.context.security.in_flight == 0
        assert engine.unfinished_requests() == 0
    assert sum(statuses.values()) == len(bodies) >= 2000, statuses
    assert statuses.get(400, 0) > len(bodies) // 2
