"""Every file in configs/ validates, and the catalog files say what Tera's catalog says."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tera_serve.config import load_deployment_file, server_config_from_mapping
from tera_serve.speech.engine import SpeechEngineArgs

CONFIGS = sorted((Path(__file__).parents[2] / "configs").glob("*.yaml"))

# Tera's self-hosted catalog (shared/spec/tera-behaviour.md, "Model ids").
CATALOG = {
    "Qwen/Qwen2.5-7B-Instruct": (8192, 4096, "bf16", None, "hermes"),
    "Qwen/Qwen3.5-4B": (262144, 4096, "bf16", "qwen3", "qwen3_coder"),
    "Qwen/Qwen3.5-27B": (8192, 4096, "fp8", "qwen3", "qwen3_coder"),
    "openai/gpt-oss-20b": (131072, 4096, "mxfp4", "openai_gptoss", "openai"),
    "openai/gpt-oss-120b": (131072, 4096, "mxfp4", "openai_gptoss", "openai"),
}


def engine_arg_names() -> set[str]:
    from tera_serve.runtime_env import prepare_vllm_environment

    prepare_vllm_environment()
    from vllm.engine.arg_utils import AsyncEngineArgs

    return {f.name for f in dataclasses.fields(AsyncEngineArgs)}


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_config_file_validates(path: Path) -> None:
    config = server_config_from_mapping(load_deployment_file(path))
    known = engine_arg_names()
    for model in config.models:
        if model.task == "speech":
            SpeechEngineArgs.from_mapping(model.engine_args, model.served_id)
            continue
        unknown = set(model.engine_args) - known
        assert not unknown, f"{path.name}: {model.served_id} has unknown engine args {unknown}"


def test_catalog_files_match_tera_catalog() -> None:
    seen = {}
    for path in CONFIGS:
        for model in server_config_from_mapping(load_deployment_file(path)).models:
            if model.served_id in CATALOG and path.name != "multi-model.yaml":
                reasoning = (
                    None if model.reasoning_parser in (None, "none") else model.reasoning_parser
                )
                seen[model.served_id] = (
                    model.context_length,
                    model.max_output_length,
                    model.quantization,
                    reasoning,
                    model.tool_call_parser,
                )
                assert model.engine_args.get("max_model_len") == model.context_length
    assert seen == CATALOG


def test_cpu_default_file_matches_the_no_argument_default(smollm_dir: Path) -> None:
    from tera_serve.cli import (
        embedded_default_model,
        embedded_embedding_models,
        embedded_speech_models,
        resolve_embedded,
    )

    path = Path(__file__).parents[2] / "configs" / "cpu-default.yaml"
    model, speech, embedding = server_config_from_mapping(load_deployment_file(path)).models
    assert (speech,) == embedded_speech_models()
    assert (embedding,) == embedded_embedding_models()
    model = resolve_embedded(model)
    builtin = embedded_default_model({})
    assert model.model == builtin["model"]
    assert model.served_id == builtin["served_model_name"]
    assert dict(model.engine_args) == builtin["engine_args"]
    assert dict(model.default_sampling) == builtin["default_sampling"]
    assert model.max_output_length == builtin["max_output_length"] == 4096


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("models: []", "non-empty"),
        ("models:\n  - {served_model_name: x}", "`model`"),
        ("models:\n  - {model: a, colour: blue}", "unknown keys"),
        ("models:\n  - {model: a}\n  - {model: a}", "served twice"),
        ("models:\n  - {model: a}\nlog_format: xml", "log_format"),
        ("models:\n  - {model: a, task: sing}", "task"),
        ("models:\n  - {model: a}\nallowed_media_domains: example.com", "list of host"),
        ("models:\n  - {model: a}\nmax_images_per_request: 0", "must be positive"),
        ("models:\n  - {model: a}\nresponses_store_max_bytes: 0", "responses_store_max_bytes"),
        ("models:\n  - {model: a}\nresponses_store_max_age_s: -1", "responses_store_max_age"),
        ("models:\n  - {model: a}\nresponses_store: ''", "responses_store"),
    ],
)
def test_bad_config_files_are_refused(tmp_path: Path, text: str, message: str) -> None:
    from tera_serve.errors import ConfigError

    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        server_config_from_mapping(load_deployment_file(path))


def test_an_unknown_parser_name_in_a_config_file_is_refused_at_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Parser names belong to the model families (a layer above config): the CLI checks
    them against the families' own before anything starts."""
    from tera_serve import cli

    path = tmp_path / "bad.yaml"
    path.write_text("models:\n  - {model: a, reasoning_parser: bogus}\n")
    assert cli.main(["--config", str(path)]) == 2
    assert "reasoning_parser must be one of" in capsys.readouterr().err


def test_media_flags_reach_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    from tera_serve import cli

    monkeypatch.setattr(cli, "embedded_default_model", lambda _args: {"model": "m"})
    parser = cli.build_parser()
    args = [
        "--allowed-media-domains",
        "images.example.com",
        "*.cdn.example.org",
        "--max-images-per-request",
        "2",
        "--max-image-pixels",
        "4000000",
    ]
    config = cli.resolve_config(parser.parse_args(args))
    assert config.allowed_media_domains == ("images.example.com", "*.cdn.example.org")
    assert (config.max_images_per_request, config.max_image_pixels) == (2, 4_000_000)
    cli.check_media_policy(config)
    default = cli.resolve_config(parser.parse_args([]))
    assert default.allowed_media_domains == ()  # URLs are off unless the operator allows


def test_a_malformed_media_domain_fails_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    from tera_serve import cli
    from tera_serve.errors import ConfigError

    monkeypatch.setattr(cli, "embedded_default_model", lambda _args: {"model": "m"})
    ns = cli.build_parser().parse_args(["--allowed-media-domains", "https://example.com/"])
    with pytest.raises(ConfigError):
        cli.check_media_policy(cli.resolve_config(ns))


def test_responses_store_flags() -> None:
    import argparse

    from tera_serve.cli_options import add_dataclass_flags
    from tera_serve.config import ServerConfig

    parser = argparse.ArgumentParser()
    add_dataclass_flags(parser, ServerConfig, skip=frozenset({"models"}))
    ns = parser.parse_args(
        [
            "--responses-store",
            ":memory:",
            "--responses-store-max-age-s",
            "60",
            "--responses-store-max-responses",
            "5",
            "--responses-store-max-bytes",
            "1000",
        ]
    )
    assert (ns.responses_store, ns.responses_store_max_age_s) == (":memory:", 60.0)
    assert (ns.responses_store_max_responses, ns.responses_store_max_bytes) == (5, 1000)
