"""Frozen configuration for the server and each served model.

Read once at start-up (from the command line and/or a YAML deployment file) and never
mutated; everything else receives these objects.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from tera_serve.errors import ConfigError

STRUCTURED_OUTPUT_BACKENDS = ("xgrammar", "guidance", "outlines")
QUANTIZATION_LABELS = ("bf16", "fp8", "fp32", "fp16", "int4", "mxfp4")
SAMPLING_DEFAULT_KEYS = (
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "repetition_penalty",
    "presence_penalty",
    "frequency_penalty",
)
MODEL_TASKS = ("chat", "speech", "embedding", "rerank")
POOLING_TASKS = ("embedding", "rerank")
"""Tasks run by vLLM's pooling runner (POST /v1/embeddings, /v1/rerank, /v1/score)."""
_POSITIVE_SERVER_FIELDS = (
    "max_running_per_model",
    "queue_timeout_s",
    "body_timeout_s",
    "header_timeout_s",
    "max_header_bytes",
    "drain_timeout_s",
    "cpu_work_timeout_s",
    "max_images_per_request",
    "max_image_bytes",
    "max_image_pixels",
    "media_fetch_timeout_s",
    "responses_store_max_age_s",
    "responses_store_max_responses",
    "responses_store_max_bytes",
    "max_embedding_inputs",
    "max_embedding_tokens",
)


@dataclass(frozen=True)
class Pricing:
    """USD per token, as decimal strings (the contract's shape)."""

    input: str = "0"
    output: str = "0"
    cache_read: str = "0"


@dataclass(frozen=True)
class ModelConfig:
    """One served model and the vLLM engine that runs it."""

    model: str
    """Hugging Face id or local folder that vLLM loads (for `task: speech`: `@kokoro`, the
    packaged Kokoro-82M, or a folder with its ONNX file and voices/)."""
    task: str = "chat"
    """`chat` (a vLLM engine: chat and text completions), `speech` (Kokoro-82M behind
    /v1/audio/speech; its engine_args are workers, intra_op_threads and providers),
    `embedding` (vLLM's pooling runner: /v1/embeddings, and /v1/rerank and /v1/score by
    cosine; `@minilm` is the packaged all-MiniLM-L6-v2) or `rerank` (a cross-encoder,
    `...ForSequenceClassification`, on the pooling runner: /v1/rerank and /v1/score)."""
    served_model_name: str | None = None
    """The id clients send in `model`; defaults to `model`."""
    aliases: tuple[str, ...] = ()
    """Extra ids that route to this model."""
    engine_args: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """vLLM engine arguments (AsyncEngineArgs field names), passed through unchanged."""
    tokenizer: str | None = None
    """Tokenizer folder or id; defaults to the model's."""
    context_length: int | None = None
    """Advertised context; defaults to the engine's max_model_len."""
    max_output_length: int | None = None
    """The ceiling on a request's `max_tokens` (larger values are clamped to it; Tera's
    catalog configs: 4,096); defaults to the context length, as `vllm serve`."""
    quantization: str | None = None
    """Label shown in /v1/models; derived from dtype/quantization when unset."""
    hugging_face_id: str | None = None
    reasoning_parser: str | None = None
    """vLLM's name of a family's reasoning parser (`qwen3`, `openai_gptoss`, ...) or `none`;
    detected from the model when unset (families/registry.py lists the names)."""
    tool_call_parser: str | None = None
    """vLLM's name of a family's tool-call parser (`hermes`, `qwen3_coder`, ...) or `none`;
    detected from the model when unset (families/registry.py lists the names)."""
    structured_output_backend: str = "xgrammar"
    """Guided-decoding backend for response_format and forced tool calls: xgrammar, guidance
    or outlines (default chosen by benchmarks/structured_backends.py; see README)."""
    chat_template: str | None = None
    """A Jinja chat template (file path or inline) replacing the tokenizer's."""
    default_chat_template_kwargs: Mapping[str, Any] = field(
        default_factory=lambda: MappingProxyType({})
    )
    """Server-side defaults for `chat_template_kwargs` (e.g. enable_thinking: false)."""
    default_sampling: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """Defaults for sampling fields a request leaves out (temperature, top_p, top_k, ...).

    Applied over the model's own generation_config.json, as `vllm serve` does."""
    pricing: Pricing = field(default_factory=Pricing)
    owned_by: str = "tera-serve"
    gpu_ids: tuple[int, ...] | None = None
    """GPUs this model's engine may use (CUDA_VISIBLE_DEVICES for its workers)."""
    warmup: bool = False
    """Send one short request through the engine before /health reports ready."""

    @property
    def served_id(self) -> str:
        return self.served_model_name or self.model

    @property
    def all_ids(self) -> tuple[str, ...]:
        return (self.served_id, *self.aliases)


@dataclass(frozen=True)
class ServerConfig:
    """The HTTP server and the models it serves."""

    models: tuple[ModelConfig, ...]
    host: str = "127.0.0.1"
    port: int = 8000
    request_timeout_s: float = 120.0
    """Server-side bound on one request, as Tera's default."""
    emit_both_reasoning_fields: bool = False
    """Send `reasoning` and `reasoning_content` both, for clients that read only one."""
    log_format: str = "text"
    """`text` (one human-readable line per request) or `json` (one JSON object per line)."""
    max_body_bytes: int = 8 * 1024 * 1024
    max_messages: int = 2048
    max_prompt_chars: int = 4 * 1024 * 1024
    max_n: int = 16
    max_sequences_per_request: int = 64
    """Most sequences one request may run: prompts × `n` on /v1/completions."""
    max_stop_sequences: int = 16
    max_stop_chars: int = 256
    max_top_logprobs: int = 20
    max_tools: int = 128
    max_json_depth: int = 64
    max_images_per_request: int = 8
    """Most images one request may carry (every turn counted)."""
    max_image_bytes: int = 10 * 1024 * 1024
    """Largest image file (a data URI's decoded bytes or a fetched body); data URIs are
    bounded by --max-body-bytes too."""
    max_image_pixels: int = 33_177_600
    """Most pixels (width × height) an image may have, checked before it is decoded."""
    allowed_media_domains: tuple[str, ...] = ()
    """Hosts image URLs may be fetched from (`images.example.com`, or `*.example.com` for
    its subdomains); empty: only data URIs. Private and loopback addresses are refused
    whatever the name."""
    media_fetch_timeout_s: float = 10.0
    """Longest one image URL may take to fetch, redirects included."""
    allow_request_chat_template: bool = False
    """Accept a `chat_template` in the request body (off: templates are code)."""
    api_key: str | None = field(default=None, repr=False)
    """One API key every request must send (the simple case; --keys-file for named keys).
    A command line is visible to every user of the machine in `ps`: prefer --api-key-file
    or the TERA_API_KEY environment variable."""
    api_key_file: str | None = None
    """A file holding the one API key (first line), instead of --api-key."""
    keys_file: str | None = None
    """API keys file (YAML or JSON, hashes only; `tera-serve keys create`). Re-read when it
    changes and on SIGHUP."""
    allow_unauthenticated: bool = False
    """Serve a non-loopback address without API keys."""
    max_running_per_model: int = 256
    """Requests one model works on at once; more wait in its queue."""
    max_queued_per_model: int = 1024
    """Requests that may wait for a model; past it, 503 with Retry-After."""
    queue_timeout_s: float = 30.0
    """Longest a request waits in a model's queue before a 503."""
    body_timeout_s: float = 30.0
    """A client must finish sending its request body within this time, or it gets a 408."""
    header_timeout_s: float = 10.0
    """A client must finish sending its request headers within this time of starting them."""
    max_header_bytes: int = 16 * 1024
    """Largest request line plus headers accepted."""
    drain_timeout_s: float = 30.0
    """On SIGTERM: how long in-flight requests may take to finish before the process exits."""
    playground: bool = True
    """Serve the browser playground at `/` (the page is public; its API calls need a key
    like any client's)."""
    embedded_speech: bool = True
    """With no --model and no --config: serve Kokoro-82M (hexgrad/Kokoro-82M) for
    /v1/audio/speech beside the embedded chat model, when its packages are installed."""
    embedded_embeddings: bool = True
    """With no --model and no --config: serve all-MiniLM-L6-v2
    (sentence-transformers/all-MiniLM-L6-v2) for /v1/embeddings beside the embedded chat
    model, when its package is installed."""
    max_embedding_inputs: int = 2048
    """Most inputs one /v1/embeddings request may carry (documents for /v1/rerank, pairs
    for /v1/score), checked before any work (OpenAI's limit)."""
    max_embedding_tokens: int = 300_000
    """Most tokens one pooling request may carry over all its inputs (OpenAI's limit)."""
    cpu_workers: int = 0
    """Threads for CPU work kept off the event loop (body parsing, schema checks,
    tokenization, templates); 0: one per core, at most 4."""
    cpu_queue: int = 64
    """CPU jobs that may wait for a thread; past it, 503 with Retry-After."""
    cpu_work_timeout_s: float = 10.0
    """Longest a CPU job may wait and run (a request's own chat template is then killed)."""
    responses_store: str | None = None
    """SQLite file of the Responses API's stored responses (`store: true`, for
    previous_response_id and GET /v1/responses/{id}); `:memory:` keeps them in this process
    only. Default: responses.sqlite3 in the cache folder ($TERA_SERVE_CACHE, else
    ~/.cache/tera-serve). Replicas on one host may share a file on a local disk, not on NFS."""
    reasoning_key_file: str | None = None
    """Key of the Responses API's `encrypted_content` on reasoning items (base64 of 32
    random bytes, e.g. `openssl rand -base64 32`; owner-only). Replicas serving one
    conversation need the same key. Default: reasoning.key beside the responses store,
    generated on first use (with a `:memory:` store, a key of this process only)."""
    responses_store_max_age_s: float = 24 * 3600.0
    """Seconds a stored response is kept after it was created."""
    responses_store_max_responses: int = 10_000
    """Most stored responses kept; past it the oldest go first."""
    responses_store_max_bytes: int = 512 * 1024 * 1024
    """Most bytes of stored responses (their JSON, input items and history) kept; past it
    the oldest go first."""

    def __post_init__(self) -> None:
        ids: set[str] = set()
        for model in self.models:
            for model_id in model.all_ids:
                if model_id in ids:
                    raise ConfigError(f"model id {model_id!r} is served twice")
                ids.add(model_id)
        if not self.models:
            raise ConfigError("no models configured")
        for name in _POSITIVE_SERVER_FIELDS:
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be positive")
        if self.cpu_workers < 0 or self.cpu_queue < 0:
            raise ConfigError("cpu_workers and cpu_queue must not be negative")
        if self.api_key is not None and self.api_key_file is not None:
            raise ConfigError("give --api-key or --api-key-file, not both")
        if self.max_queued_per_model < 0:
            raise ConfigError("max_queued_per_model must not be negative")
        if self.responses_store == "":
            raise ConfigError("responses_store must be a file path or :memory:")
        if self.reasoning_key_file == "":
            raise ConfigError("reasoning_key_file must be a file path")
        if self.log_format not in ("text", "json"):
            raise ConfigError(f"log_format must be text or json, not {self.log_format!r}")


def _freeze_mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a mapping")
    return MappingProxyType(dict(value))


def model_config_from_mapping(raw: Mapping[str, Any], where: str = "model") -> ModelConfig:
    """Build a ModelConfig from a YAML mapping, rejecting unknown keys by name."""
    known = {f.name for f in dataclasses.fields(ModelConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}; known keys are {sorted(known)}")
    if not isinstance(raw.get("model"), str) or not raw["model"]:
        raise ConfigError(f"{where}: `model` (a Hugging Face id or a folder) is required")
    values: dict[str, Any] = dict(raw)
    values["aliases"] = tuple(values.get("aliases") or ())
    if values.get("gpu_ids") is not None:
        gpu_ids = values["gpu_ids"]
        if not isinstance(gpu_ids, list) or not all(isinstance(g, int) and g >= 0 for g in gpu_ids):
            raise ConfigError(f"{where}.gpu_ids must be a list of GPU indexes")
        values["gpu_ids"] = tuple(gpu_ids)
    values["engine_args"] = _freeze_mapping(values.get("engine_args"), f"{where}.engine_args")
    values["default_sampling"] = _freeze_mapping(
        values.get("default_sampling"), f"{where}.default_sampling"
    )
    unknown_sampling = sorted(set(values["default_sampling"]) - set(SAMPLING_DEFAULT_KEYS))
    if unknown_sampling:
        raise ConfigError(
            f"{where}.default_sampling: unknown keys {unknown_sampling}; "
            f"known keys are {list(SAMPLING_DEFAULT_KEYS)}"
        )
    values["default_chat_template_kwargs"] = _freeze_mapping(
        values.get("default_chat_template_kwargs"), f"{where}.default_chat_template_kwargs"
    )
    pricing = values.get("pricing")
    if pricing is not None:
        if not isinstance(pricing, dict) or set(pricing) - {"input", "output", "cache_read"}:
            raise ConfigError(f"{where}.pricing takes input, output and cache_read")
        values["pricing"] = Pricing(**{k: str(v) for k, v in pricing.items()})
    _check_choice(values.get("task"), MODEL_TASKS, f"{where}.task")
    # reasoning_parser / tool_call_parser name model families, a layer above: the names
    # are checked against the families' own (families/registry.py, at start and at load).
    _check_choice(values.get("quantization"), QUANTIZATION_LABELS, f"{where}.quantization")
    _check_choice(
        values.get("structured_output_backend"),
        STRUCTURED_OUTPUT_BACKENDS,
        f"{where}.structured_output_backend",
    )
    for key in ("max_output_length", "context_length"):
        value = values.get(key)
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ConfigError(f"{where}.{key} must be a positive integer")
    return ModelConfig(**values)


def _check_choice(value: Any, choices: tuple[str, ...], where: str) -> None:
    if value is not None and value not in choices:
        raise ConfigError(f"{where} must be one of {list(choices)}, not {value!r}")


def load_deployment_file(path: Path) -> dict[str, Any]:
    """Read a deployment YAML: server keys at the top, `models:` a list of model mappings."""
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    models_raw = raw.get("models")
    if not isinstance(models_raw, list) or not models_raw:
        raise ConfigError(f"{path}: `models` must be a non-empty list")
    models = tuple(
        model_config_from_mapping(m, f"{path.name}: models[{i}]") if isinstance(m, dict) else None
        for i, m in enumerate(models_raw)
    )
    if any(m is None for m in models):
        raise ConfigError(f"{path}: every entry of `models` must be a mapping")
    server_keys = {f.name for f in dataclasses.fields(ServerConfig)} - {"models"}
    unknown = sorted(set(raw) - server_keys - {"models"})
    if unknown:
        raise ConfigError(f"{path}: unknown keys {unknown}")
    server = {k: v for k, v in raw.items() if k != "models"}
    server["models"] = models
    return server


def server_config_from_mapping(values: Mapping[str, Any]) -> ServerConfig:
    values = dict(values)
    domains = values.get("allowed_media_domains")
    if domains is not None:
        if isinstance(domains, str) or not all(isinstance(d, str) and d for d in domains):
            raise ConfigError("allowed_media_domains must be a list of host names")
        values["allowed_media_domains"] = tuple(domains)
    try:
        return ServerConfig(**values)
    except TypeError as exc:
        raise ConfigError(str(exc)) from exc
