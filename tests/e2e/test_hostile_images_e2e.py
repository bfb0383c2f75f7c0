"""Hostile images through the real process and vLLM on the CPU (the tiny Qwen3.5 vision
model), with /health probed throughout.

Small valid files the image processor cannot take (1×300, 300×1, 2×1000, 4000×3: an aspect
ratio over 200) were a 500 (issue 24); they are a 400 `invalid_image` naming the image on
every route that takes images, and the engine never sees them. Odd modes, EXIF rotations
and animated files of an ordinary size are counted and answered.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import QWEN35
from tests.support import hostile, hostile_images
from tests.support.hostile import Target
from tests.support.images import (
    CHAT_IMAGE_PARAM,
    animated,
    data_uri,
    file_data_uri,
    image_bytes,
    odd_mode_images,
    text_then_image,
    with_orientation,
)
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.e2e

ONE_BY_300 = hostile_images.extreme_images()["1×300 PNG"]
QUESTION = "What is in this picture?"


@contextlib.contextmanager
def probed(server: LiveServer) -> Iterator[Target]:
    """The vision server (no keys), with /health probed throughout.

    A context in the test, not a fixture: the shared server stops in the teardown of the
    last test that uses it, before function fixtures are finalized."""
    assert hostile_images.VISION_MODEL == QWEN35
    target = Target(server.base_url, {"user": "unused"})
    with hostile.probing(target) as prober:
        yield target
    assert prober.failures == 0, "the /health prober got an error"
    assert prober.samples > 0
    assert server.process.poll() is None


def _error(response: Any) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


def test_images_the_processor_refuses_are_400_naming_the_image(vision_server: LiveServer) -> None:
    with probed(vision_server) as target:
        outcome = hostile_images.extreme_aspect_images(target)
        count = len(outcome.notes["cases"])
        assert outcome.statuses == [400] * count, outcome
        assert outcome.params == [CHAT_IMAGE_PARAM] * count, outcome
        assert outcome.codes == ["invalid_image"] * count, outcome
        for case, message in zip(outcome.notes["cases"], outcome.notes["messages"], strict=True):
            assert "aspect ratio" in message and case.split(" ")[0] in message, (case, message)
        # The engine never saw them: an ordinary image is answered as before.
        fine = target.post(
            "/v1/chat/completions", hostile_images.image_chat(data_uri(image_bytes()))
        )
        assert fine.status_code == 200, fine.text


def test_tokenize_refuses_it_the_same_way(vision_server: LiveServer) -> None:
    with probed(vision_server) as target:
        body = {"model": QWEN35, "messages": text_then_image(ONE_BY_300)}
        error = _error(target.post("/tokenize", body))
        assert (error["param"], error["code"]) == (CHAT_IMAGE_PARAM, "invalid_image")


def test_messages_refuses_it_as_a_client_error(vision_server: LiveServer) -> None:
    with probed(vision_server) as target:
        payload = ONE_BY_300.split(",", 1)[1]
        image = {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": payload},
        }
        content = [{"type": "text", "text": QUESTION}, image]
        body = {
            "model": QWEN35,
            "max_tokens": 1,
            "messages": [{"role": "user", "content": content}],
        }
        for path in ("/v1/messages", "/v1/messages/count_tokens"):
            response = target.post(path, body)
            assert response.json()["type"] == "error", response.text
            error = _error(response)
            assert error["type"] == "invalid_request_error"
            assert "1×300" in error["message"] and "aspect ratio" in error["message"]


def test_responses_refuses_it_naming_the_image(vision_server: LiveServer) -> None:
    with probed(vision_server) as target:
        content = [
            {"type": "input_text", "text": QUESTION},
            {"type": "input_image", "image_url": ONE_BY_300, "detail": "auto"},
        ]
        body = {
            "model": QWEN35,
            "max_output_tokens": 1,
            "input": [{"role": "user", "content": content}],
        }
        error = _error(target.post("/v1/responses", body))
        assert (error["param"], error["code"]) == ("input[0].content[1].image_url", "invalid_image")
        assert "aspect ratio" in error["message"]


def test_odd_modes_orientations_and_frames_are_answered_and_counted(
    vision_server: LiveServer,
) -> None:
    """Each of these 40×30 files is one picture of the same size to the model: the same
    prompt length as a plain RGB PNG of 40×30, through vLLM's own processor."""
    with probed(vision_server) as target:
        files = {name: file_data_uri(data) for name, data in odd_mode_images(40, 30).items()}
        files |= {f"EXIF {o}": file_data_uri(with_orientation(o)) for o in range(1, 9)}
        files |= {
            f"animated {f}": file_data_uri(animated(f, 40, 30)) for f in ("GIF", "PNG", "WEBP")
        }
        reference = target.post(
            "/v1/chat/completions", hostile_images.image_chat(data_uri(image_bytes(40, 30)))
        )
        assert reference.status_code == 200, reference.text
        expected = reference.json()["usage"]["prompt_tokens"]
        prompt_tokens: dict[str, int] = {}
        for name, url in files.items():
            response = target.post("/v1/chat/completions", hostile_images.image_chat(url))
            assert response.status_code == 200, (name, response.text)
            prompt_tokens[name] = response.json()["usage"]["prompt_tokens"]
        assert prompt_tokens == dict.fromkeys(files, expected)
