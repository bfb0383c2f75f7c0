"""The playground page in a real headless Chromium (Debian's `chromium`, driven by
Playwright) against the real tera-serve process: the embedded model answering, stop
aborting the engine request, an API-key-protected server, reasoning and tool calls on the
tiny Qwen3 model, and model text that looks like HTML staying text.

One browser for the module, a fresh context (so a fresh sessionStorage) for each test.
`TERA_PLAYGROUND_SCREENSHOT=docs/playground.png` saves the README's screenshot.
"""

from __future__ import annotations

import base64
import json
import os
import struct
import time
import wave
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from tests.e2e.conftest import DEFAULT_MODEL
from tests.support.live_server import CPU_TEST_ENGINE_ARGS, LiveServer, live_server

pytestmark = pytest.mark.e2e

CHROMIUM = Path(os.environ.get("TERA_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
QWEN = "tera-test/tiny-qwen3"
KEY = "sk-tera-playground-e2e"
WEATHER = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "enum": ["Paris", "Rome", "Tokyo"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
    },
    "required": ["city", "days"],
    "additionalProperties": False,
}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}}]
ANSWER = "article.assistant"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: scripts/bootstrap.sh installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(60_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], errors  # no uncaught exception in the page's scripts


@pytest.fixture(scope="module")
def qwen_key_server(tiny_qwen3_dir: Path) -> Iterator[LiveServer]:
    """The tiny Qwen3 behind an API key: one server for the key, reasoning and tool tests."""
    args = ["--model", str(tiny_qwen3_dir), "--served-model-name", QWEN, "--api-key", KEY]
    with live_server([*args, *CPU_TEST_ENGINE_ARGS], "playground-qwen") as server:
        yield server


def open_page(page: Any, server: LiveServer, model: str | None = None) -> None:
    response = page.goto(server.base_url + "/")
    assert response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    if model is not None:
        page.wait_for_selector(f'#model option[value="{model}"]', state="attached")
        assert page.input_value("#model") == model


def use_key(page: Any, key: str) -> None:
    page.fill("#api-key", key)
    page.click("#key-save")


def ask(page: Any, question: str, state: str = "done") -> Any:
    page.fill("#prompt", question)
    page.press("#prompt", "Enter")
    answer = page.locator(ANSWER).last
    if state:
        page.wait_for_selector(f"{ANSWER}[data-state={state}]")
    return answer


# ---- the embedded default model -----------------------------------------------------------


def test_the_default_model_streams_paris(default_server: LiveServer, page: Any) -> None:
    open_page(page, default_server, DEFAULT_MODEL)
    answer = ask(page, "What is the capital of France?")
    assert "Paris" in answer.locator(".answer").text_content()
    # It arrived as a stream of deltas, and the page measured it.
    assert int(answer.locator(".answer").get_attribute("data-deltas")) > 1
    stats = answer.locator(".stats").text_content()
    assert "TTFT" in stats and "tokens/s" in stats and "usage: prompt" in stats, stats
    assert "finish: stop" in stats
    assert answer.locator(".reasoning").is_hidden()  # SmolLM2 does not reason
    target = os.environ.get("TERA_PLAYGROUND_SCREENSHOT")
    if target:
        page.screenshot(path=target)


def test_copy_as_curl_and_python_describe_the_request(
    default_server: LiveServer, page: Any
) -> None:
    open_page(page, default_server, DEFAULT_MODEL)
    page.fill("#temperature", "0.5")
    page.fill("#seed", "7")
    page.fill("#prompt", "Say 'hi'")
    page.click("#copy-curl")
    curl = page.text_content("#snippet")
    assert curl.startswith(f"curl {default_server.base_url}/v1/chat/completions")
    body = json.loads(curl.split("-d '", 1)[1].rsplit("'", 1)[0].replace("'\\''", "'"))
    assert body["messages"] == [{"role": "user", "content": "Say 'hi'"}]
    assert body["temperature"] == 0.5 and body["seed"] == 7 and body["stream"] is True
    page.click("#snippet-close")
    page.click("#copy-python")
    python = page.text_content("#snippet")
    assert "TERA_API_KEY" in python and "temperature=0.5," in python
    compile(python, "snippet.py", "exec")  # valid Python


def test_stop_aborts_the_engine_request(default_server: LiveServer, page: Any) -> None:
    open_page(page, default_server, DEFAULT_MODEL)
    page.fill("#max_tokens", "2000")
    page.fill("#extra", '{"ignore_eos": true}')  # only Stop can end it early
    answer = ask(page, "Count from 1 to 1000.", state="")
    page.wait_for_function(
        "() => Number(document.querySelector('article.assistant .answer')?.dataset.deltas) > 5"
    )
    assert default_server.unfinished_requests() == 1
    page.click("#stop")
    page.wait_for_selector(f"{ANSWER}[data-state=stopped]")
    deadline = time.monotonic() + 20
    while default_server.unfinished_requests() != 0:
        assert time.monotonic() < deadline, default_server.log_tail()
        time.sleep(0.1)
    assert "stopped after" in answer.locator(".stats").text_content()
    assert page.is_enabled("#send") and page.is_disabled("#stop")


def test_model_text_that_looks_like_html_stays_text(default_server: LiveServer, page: Any) -> None:
    """A crafted stream (Playwright stands in for the chat route: no model can be made to
    say this on demand): every field a model controls is shown as text, nothing runs."""
    script = "<script>window.__pwned = 1</script>"
    image = '<img src="x" onerror="window.__pwned = 2">'
    name = "<svg onload=window.__pwned=3>"
    arguments = json.dumps({"html": script + image})
    deltas: list[dict[str, Any]] = [
        {"role": "assistant", "reasoning_content": "thinking " + script},
        {"content": "Answer " + script + image + " `<b>x</b>`\n```\n" + script + "\n```\n"},
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }
            ]
        },
    ]
    chunks = [
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": d, "finish_reason": None}],
        }
        for d in deltas
    ]
    chunks.append({"id": "c", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 9}})
    body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"

    def fulfil(route: Any) -> None:
        route.fulfill(status=200, headers={"content-type": "text/event-stream"}, body=body)

    open_page(page, default_server, DEFAULT_MODEL)
    page.route("**/v1/chat/completions", fulfil)
    answer = ask(page, "Say something nasty.")
    assert script in answer.locator(".reasoning-text").text_content()
    text = answer.locator(".answer").text_content()
    assert script in text and image in text and "<b>x</b>" in text
    assert answer.locator(".tool-name").first.text_content() == name
    assert json.loads(answer.locator(".tool-args").text_content()) == {"html": script + image}
    found = page.evaluate(
        """() => ({
            pwned: window.__pwned ?? null,
            injected: document.querySelectorAll('#conversation script, #conversation img, #conversation svg, #conversation b').length,
            scripts: document.scripts.length,
        })"""
    )
    assert found == {"pwned": None, "injected": 0, "scripts": 1}
    # And the CSP would stop an inline script even if one were ever inserted.
    inline = page.evaluate(
        """() => { const s = document.createElement('script'); s.textContent = 'window.__inline = 1';
                   document.body.append(s); return window.__inline ?? null; }"""
    )
    assert inline is None


def test_image_and_speech_panels_follow_the_model_card(
    default_server: LiveServer, page: Any, tmp_path: Path
) -> None:
    """No one served model both takes images and speaks (the vision model's server is
    another process), so Playwright stands in for /v1/models (a card with both), the chat
    route and /v1/audio/speech: the page shows the image attach and the speech panel, and
    sends both in the API's shapes (tests/e2e/test_vision_e2e.py sends those shapes to the
    real vision model)."""
    card = {
        "id": "test/omni",
        "object": "model",
        "context_length": 4096,
        "max_output_length": 512,
        "input_modalities": ["text", "image"],
        "output_modalities": ["text", "audio"],
        "supported_features": [],
    }
    sent: dict[str, Any] = {}
    wav = tmp_path / "tone.wav"
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * 800)
    png = tmp_path / "dot.png"
    png.write_bytes(one_pixel_png())

    def models(route: Any) -> None:
        route.fulfill(json={"object": "list", "data": [card]})

    def chat(route: Any) -> None:
        sent["chat"] = json.loads(route.request.post_data)
        done = {
            "id": "c",
            "choices": [{"index": 0, "delta": {"content": "A dot."}, "finish_reason": "stop"}],
        }
        route.fulfill(
            headers={"content-type": "text/event-stream"},
            body=f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n",
        )

    def speech(route: Any) -> None:
        sent["speech"] = json.loads(route.request.post_data)
        route.fulfill(headers={"content-type": "audio/wav"}, body=wav.read_bytes())

    page.route("**/v1/models", models)
    page.route("**/v1/chat/completions", chat)
    page.route("**/v1/audio/speech", speech)
    open_page(page, default_server, "test/omni")
    assert page.is_visible("#image-row") and page.is_visible("#speech")
    page.set_input_files("#image", str(png))
    page.wait_for_selector("#attachments img.thumb")
    ask(page, "What is this?")
    (message,) = sent["chat"]["messages"]
    assert message["content"][0] == {"type": "text", "text": "What is this?"}
    image = message["content"][1]
    assert image["type"] == "image_url"
    assert (
        image["image_url"]["url"]
        == "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode()
    )
    assert page.locator("article.user img.thumb").count() == 1 and page.is_hidden("#attachments")
    page.fill("#speech-input", "Hello there.")
    page.fill("#voice", "af_heart")
    page.click("#speak")
    page.wait_for_selector("#audio:not([hidden])")
    assert sent["speech"] == {
        "model": "test/omni",
        "input": "Hello there.",
        "voice": "af_heart",
        "response_format": "wav",
    }
    assert page.get_attribute("#audio", "src").startswith("blob:")
    # A model without those modalities hides both again.
    page.unroute("**/v1/models")
    page.reload()
    page.wait_for_selector(f'#model option[value="{DEFAULT_MODEL}"]', state="attached")
    assert page.is_hidden("#image-row") and page.is_hidden("#speech")


# ---- the tiny Qwen3 behind an API key ------------------------------------------------------


def test_key_protected_server(qwen_key_server: LiveServer, page: Any) -> None:
    open_page(page, qwen_key_server)  # the page itself is public
    page.wait_for_selector("#status.error")
    assert "needs an API key" in page.text_content("#status")
    assert page.locator("#model option").count() == 0
    page.fill("#prompt", "hi")
    page.press("#prompt", "Enter")
    assert "Pick a model" in page.text_content("#status")  # nothing to call without a key
    use_key(page, "sk-tera-wrong")
    page.wait_for_function(
        "() => document.querySelector('#status').textContent.includes('refused')"
    )
    assert page.locator("#model option").count() == 0
    use_key(page, KEY)
    page.wait_for_selector(f'#model option[value="{QWEN}"]', state="attached")
    assert page.is_hidden("#status")
    # The key lives in this tab's sessionStorage only, and survives a reload of the tab.
    storage = page.evaluate(
        "() => [sessionStorage.getItem('tera-serve.api-key'), localStorage.length, document.cookie]"
    )
    assert storage == [KEY, 0, ""]
    page.reload()
    page.wait_for_selector(f'#model option[value="{QWEN}"]', state="attached")
    page.fill("#max_tokens", "4")
    answer = ask(page, "hi")
    assert answer.locator(".error").is_hidden()
    assert "usage: prompt" in answer.locator(".stats").text_content()
    # The snippet never carries the key itself.
    page.click("#copy-curl")
    assert "$TERA_API_KEY" in page.text_content("#snippet")
    assert KEY not in page.text_content("#snippet")


def test_qwen_reasoning_is_shown_apart(qwen_key_server: LiveServer, page: Any) -> None:
    open_page(page, qwen_key_server)
    use_key(page, KEY)
    page.wait_for_selector(f'#model option[value="{QWEN}"]', state="attached")
    assert page.is_visible("#reasoning-row")  # the card lists "reasoning"
    page.fill("#max_tokens", "24")
    page.fill("#seed", "1")
    page.fill("#extra", '{"thinking_token_budget": 8}')
    answer = ask(page, "think")
    body = {
        "model": QWEN,
        "messages": [{"role": "user", "content": "think"}],
        "max_tokens": 24,
        "seed": 1,
        "thinking_token_budget": 8,
    }
    reply = httpx.post(
        qwen_key_server.v1 + "/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=120,
    )
    message = reply.json()["choices"][0]["message"]
    reasoning = answer.locator(".reasoning-text").text_content()
    assert reasoning and reasoning == message["reasoning_content"]
    assert answer.locator(".answer").text_content() == (message["content"] or "")
    details = answer.locator("details.reasoning")
    if message["content"]:  # the answer started: the reasoning folded away, one click opens it
        assert details.get_attribute("open") is None
        details.locator("summary").click()
        assert details.get_attribute("open") is not None


def test_qwen_tool_calls_are_shown_with_their_arguments(
    qwen_key_server: LiveServer, page: Any
) -> None:
    open_page(page, qwen_key_server)
    use_key(page, KEY)
    page.wait_for_selector(f'#model option[value="{QWEN}"]', state="attached")
    page.fill("#tools", json.dumps(TOOLS, indent=2))
    page.wait_for_selector('#tool_choice option[value="get_weather"]', state="attached")
    page.select_option("#tool_choice", "required")
    page.select_option("#reasoning_effort", "none")
    page.fill("#temperature", "1")
    page.fill("#seed", "0")
    page.fill("#max_tokens", "400")
    answer = ask(page, "What is the weather in Paris?")
    calls = answer.locator(".tool-call")
    assert calls.count() >= 1  # a random model may call more than once (parallel calls)
    for i in range(calls.count()):
        call = calls.nth(i)
        assert call.locator(".tool-name").text_content() == "get_weather"
        assert call.locator(".tool-id").text_content().startswith("call_")
        jsonschema.validate(json.loads(call.locator(".tool-args").text_content()), WEATHER)
    assert "finish: tool_calls" in answer.locator(".stats").text_content()
    # Each call can be answered from the page; the model then continues (briefly, in text).
    page.select_option("#tool_choice", "none")
    page.fill("#max_tokens", "8")
    replies = answer.locator(".tool-reply")
    assert replies.count() == calls.count()
    for i in range(replies.count()):
        replies.nth(i).locator("input").fill('{"forecast": "sunny"}')
        replies.nth(i).locator("button").click()
    page.wait_for_selector("article.turn.tool")
    page.wait_for_function(
        "() => document.querySelectorAll('article.assistant').length >= 2"
        " && document.querySelectorAll('article.assistant')[1].dataset.state !== 'streaming'"
    )
    assert page.locator(ANSWER).count() == 2
    second = page.locator(ANSWER).last
    assert second.get_attribute("data-state") == "done", second.text_content()
    assert second.locator(".tool-call").count() == 0


def one_pixel_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x80\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )
