"""The speech engine's options, cancellation handle, and the embedded default's speech model."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import pytest

from tera_serve.errors import ConfigError
from tera_serve.speech.assets import ensure_kokoro
from tera_serve.speech.engine import KokoroEngine, SpeechEngineArgs, Synthesis
from tera_serve.speech.text import to_tokens


def test_engine_args_are_checked_by_name() -> None:
    args = SpeechEngineArgs.from_mapping({"workers": 2, "providers": ["CPUExecutionProvider"]}, "m")
    assert (args.workers, args.providers) == (2, ("CPUExecutionProvider",))
    with pytest.raises(ConfigError, match="unknown keys"):
        SpeechEngineArgs.from_mapping({"dtype": "float32"}, "m")
    with pytest.raises(ConfigError, match="workers"):
        SpeechEngineArgs.from_mapping({"workers": 0}, "m")
    with pytest.raises(ConfigError, match="providers"):
        SpeechEngineArgs.from_mapping({"providers": "CUDA"}, "m")


def test_cancel_terminates_runs_in_flight_and_later_ones() -> None:
    synthesis = Synthesis()
    running = SimpleNamespace(terminate=False)
    synthesis.track(running)
    synthesis.cancel()
    assert running.terminate
    later = SimpleNamespace(terminate=False)
    synthesis.track(later)
    assert later.terminate


async def test_a_cancelled_request_stops_synthesizing() -> None:
    engine = KokoroEngine.start(ensure_kokoro(), {}, "test")
    voice = engine.voices.choose("af_heart", None).voice
    tokens = to_tokens(engine.phonemize(["A fairly long sentence to speak, " * 8], "en-us")[0])[
        :500
    ]
    synthesis = Synthesis()
    task = asyncio.create_task(engine.synthesize(tokens, voice, 1.0, synthesis, len))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert synthesis.cancelled
    # The worker is free again: the next chunk runs (rather than queueing behind the old one).
    audio, size = await engine.synthesize(tokens[:5], voice, 1.0, Synthesis(), len)
    assert size == audio.shape[0] > 0
    await engine.close()


def test_no_model_serves_kokoro_beside_smollm2_unless_turned_off(smollm_dir: Path) -> None:
    from tera_serve.cli import build_parser, resolve_config

    parser = build_parser()
    no_embeddings = ["--no-embedded-embeddings"]
    served = [m.served_id for m in resolve_config(parser.parse_args(no_embeddings)).models]
    assert served == ["HuggingFaceTB/SmolLM2-135M-Instruct", "hexgrad/Kokoro-82M"]
    off = resolve_config(parser.parse_args(["--no-embedded-speech", *no_embeddings])).models
    assert [m.served_id for m in off] == ["HuggingFaceTB/SmolLM2-135M-Instruct"]
    with_model = resolve_config(parser.parse_args(["--model", str(smollm_dir)])).models
    assert [m.task for m in with_model] == ["chat"]
