"""Images in, through the real process and vLLM on the CPU: the tiny Qwen3.5 vision model
(real tokenizer, template and processor configs; random weights), with the OpenAI and
Anthropic SDKs."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.e2e.conftest import QWEN, QWEN35
from tests.support.hostile import HealthProber
from tests.support.images import CHAT_IMAGE_PARAM, data_uri, image_bytes, text_then_image
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.e2e

RED = image_bytes(96, 64, color=(200, 30, 30))
BLUE = image_bytes(96, 64, color=(30, 30, 200))
IMAGE_TOKENS_96x64 = 6  # (96/16 × 64/16) patches / merge 2²
QUESTION = "What is in this picture?"
GREEDY: dict[str, Any] = {"temperature": 0, "max_tokens": 8, "reasoning_effort": "none"}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def openai_client(server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.v1, api_key="unused", max_retries=0)


def image_message(*images: bytes, text: str = QUESTION) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [
        {"type": "image_url", "image_url": {"url": data_uri(image)}} for image in images
    ]
    return {"role": "user", "content": [*parts, {"type": "text", "text": text}]}


def chat(server: LiveServer, messages: list[dict[str, Any]], **extra: Any) -> Any:
    return openai_client(server).chat.completions.create(
        model=QWEN35,
        messages=messages,  # type: ignore[arg-type]
        **{**GREEDY, **extra},
    )


def post_chat(server: LiveServer, messages: list[dict[str, Any]]) -> httpx.Response:
    body = {"model": QWEN35, "messages": messages, **GREEDY}
    return httpx.post(server.v1 + "/chat/completions", json=body, timeout=120)


def processor_prompt_tokens(model_dir: Path, images: list[bytes], text: str) -> int:
    """The prompt length transformers' own Qwen3.5 processor gives (template + expansion)."""
    import io

    from PIL import Image
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(str(model_dir))
    content = [{"type": "image"} for _ in images] + [{"type": "text", "text": text}]
    prompt = processor.tokenizer.apply_chat_template(
        [{"role": "user", "content": content}],
        add_generation_prompt=True,
        tokenize=False,
        enable_thinking=False,
    )
    pictures = [Image.open(io.BytesIO(image)).convert("RGB") for image in images]
    encoded = processor(text=[prompt], images=pictures)
    return len(encoded["input_ids"][0])


# Two tests, one server each: a test that needs two model servers at once keeps both up
# (the suite's memory budget counts every server alive together).
def test_models_list_the_image_modality(vision_server: LiveServer) -> None:
    vision = openai_client(vision_server).models.retrieve(QWEN35).model_dump()
    assert vision["input_modalities"] == ["text", "image"]


def test_text_models_list_no_image_modality(qwen_server: LiveServer) -> None:
    text_only = openai_client(qwen_server).models.retrieve(QWEN).model_dump()
    assert text_only["input_modalities"] == ["text"]


def test_prompt_tokens_are_the_processors_expanded_count(
    vision_server: LiveServer, tiny_qwen35_dir: Path
) -> None:
    answer = chat(vision_server, [image_message(RED)])
    assert answer.choices[0].finish_reason == "length"
    expected = processor_prompt_tokens(tiny_qwen35_dir, [RED], QUESTION)
    assert answer.usage is not None and answer.usage.prompt_tokens == expected
    tokenized = httpx.post(
        vision_server.base_url + "/tokenize",
        json={
            "model": QWEN35,
            "messages": [image_message(RED)],
            "chat_template_kwargs": {"enable_thinking": False},
        },
        timeout=60,
    ).json()
    assert tokenized["count"] == expected
    assert tokenized["tokens"].count(248056) == IMAGE_TOKENS_96x64  # <|image_pad|>, expanded
    two = chat(vision_server, [image_message(RED, BLUE)])
    assert two.usage is not None
    assert two.usage.prompt_tokens == processor_prompt_tokens(
        tiny_qwen35_dir, [RED, BLUE], QUESTION
    )


def test_the_image_decides_the_greedy_output(vision_server: LiveServer) -> None:
    red = chat(vision_server, [image_message(RED)]).choices[0].message.content
    blue = chat(vision_server, [image_message(BLUE)]).choices[0].message.content
    red_again = chat(vision_server, [image_message(RED)]).choices[0].message.content
    assert red and blue
    assert red != blue
    assert red == red_again


def test_earlier_turns_images_render_again(vision_server: LiveServer) -> None:
    history = [
        image_message(RED),
        {"role": "assistant", "content": "A red picture."},
        {"role": "user", "content": "And the colour again?"},
    ]
    without_image = [{"role": "user", "content": QUESTION}, *history[1:]]
    with_image = chat(vision_server, history)
    plain = chat(vision_server, without_image)
    assert with_image.usage is not None and plain.usage is not None
    # <|vision_start|>, the image's 6 tokens, <|vision_end|>.
    assert with_image.usage.prompt_tokens - plain.usage.prompt_tokens == IMAGE_TOKENS_96x64 + 2


def test_prefix_caching_holds_for_image_prompts(vision_server: LiveServer) -> None:
    # Long enough for whole cache blocks: the hybrid model caches in large aligned blocks.
    long_text = "Describe the picture in detail, please. " * 200
    messages = [image_message(BLUE, text=long_text)]
    chat(vision_server, messages, max_tokens=1)
    again = chat(vision_server, messages, max_tokens=1)
    assert again.usage is not None and again.usage.prompt_tokens_details is not None
    assert (again.usage.prompt_tokens_details.cached_tokens or 0) >= 256


def test_image_tools_and_thinking_parse(vision_server: LiveServer) -> None:
    answer = openai_client(vision_server).chat.completions.create(
        model=QWEN35,
        messages=[image_message(RED, text="Where was this taken? Check the weather there.")],  # type: ignore[list-item]
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        temperature=0,
        max_tokens=48,
    )
    message = answer.choices[0].message.model_dump()
    # The template opened <think>: the random model's words are reasoning, in its own field.
    assert isinstance(message["reasoning_content"], str) and message["reasoning_content"]
    for field in ("content", "reasoning_content"):
        for tag in ("<think>", "</think>", "<tool_call>", "<function="):
            assert tag not in (message[field] or "")


def test_messages_and_responses_see_the_same_image_tokens(vision_server: LiveServer) -> None:
    reference = chat(vision_server, [image_message(RED)])
    text = reference.choices[0].message.content
    assert reference.usage is not None
    payload = data_uri(RED).split(",", 1)[1]
    message = anthropic.Anthropic(
        base_url=vision_server.base_url, api_key="unused", max_retries=0
    ).messages.create(
        model=QWEN35,
        max_tokens=8,
        thinking={"type": "disabled"},
        # This SDK release has no `temperature` argument; the API takes it.
        extra_body={"temperature": 0},
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": payload},
                    },
                    {"type": "text", "text": QUESTION},
                ],
            }
        ],
    )
    assert message.content[0].text == text  # type: ignore[union-attr]
    assert message.usage.input_tokens == reference.usage.prompt_tokens
    response = openai_client(vision_server).responses.create(
        model=QWEN35,
        max_output_tokens=8,
        temperature=0,
        reasoning={"effort": "none"},
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_image", "image_url": data_uri(RED), "detail": "auto"},
                    {"type": "input_text", "text": QUESTION},
                ],
            }
        ],
    )
    assert response.output_text == text
    assert response.usage is not None
    assert response.usage.input_tokens == reference.usage.prompt_tokens


_bad = text_then_image
PARAM = CHAT_IMAGE_PARAM
TRUNCATED = image_bytes(300, 200, fmt="JPEG")[:1500]
BAD_IMAGES: dict[str, tuple[list[dict[str, Any]], str]] = {
    "not an image": (_bad(data_uri(b"just some text", "image/png")), "not an image"),
    "truncated": (_bad(data_uri(TRUNCATED, "image/jpeg")), "truncated or corrupt"),
    "too many pixels": (_bad(data_uri(image_bytes(1200, 1000))), "1200×1000"),
    "not base64": (_bad("data:image/png;base64,%%%"), "not valid base64"),
    "a host not allowed": (_bad("https://images.example.com/cat.png"), "are not allowed"),
    "a private address": (_bad("http://localhost:9/cat.png"), "private or reserved address"),
}


@pytest.mark.parametrize("case", sorted(BAD_IMAGES))
def test_bad_images_are_400_with_param(vision_server: LiveServer, case: str) -> None:
    messages, expected = BAD_IMAGES[case]
    response = post_chat(vision_server, messages)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == PARAM
    assert expected in error["message"]


def test_too_many_images(vision_server: LiveServer) -> None:
    response = post_chat(vision_server, [image_message(RED, RED, BLUE, BLUE)])
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "messages[0].content[3].image_url"
    assert "limit is 3" in error["message"]


def test_images_to_a_text_model_name_the_model(qwen_server: LiveServer) -> None:
    body = {"model": QWEN, "messages": [image_message(RED)], "max_tokens": 4}
    response = httpx.post(qwen_server.v1 + "/chat/completions", json=body, timeout=60)
    assert response.status_code == 400
    error = response.json()["error"]
    assert QWEN in error["message"] and "image" in error["message"]
    assert error["param"] == "messages[0].content[0].image_url"


def test_bad_images_never_stall_others(vision_server: LiveServer) -> None:
    """Bad and large images in parallel while /health is probed: each answers, none blocks."""
    big_but_allowed = data_uri(image_bytes(1000, 1000))
    cases = [messages for messages, _ in BAD_IMAGES.values()] * 3
    cases += [_bad(big_but_allowed)] * 3
    with HealthProber(vision_server.base_url) as prober:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            statuses = [
                r.status_code for r in pool.map(lambda m: post_chat(vision_server, m), cases)
            ]
        good = chat(vision_server, [image_message(BLUE)])
    assert statuses.count(400) == len(BAD_IMAGES) * 3
    assert statuses.count(200) == 3
    assert good.choices[0].finish_reason == "length"
    assert prober.failures == 0 and prober.samples > 0
    # A bound against a frozen loop, not a latency claim (DESIGN rule 8).
    assert prober.worst_s < 10.0, f"/health took {prober.worst_s:.2f} s"
