"""The vLLM adapter over `AsyncLLM`. The only module in tera-serve that imports vllm."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from vllm import SamplingParams
from vllm.config import StructuredOutputsConfig
from vllm.engine.arg_utils import AsyncEngineArgs
from vllm.exceptions import VLLMValidationError
from vllm.inputs import TokensPrompt
from vllm.sampling_params import RequestOutputKind, StructuredOutputsParams
from vllm.utils.argparse_utils import FlexibleArgumentParser
from vllm.v1.engine.async_llm import AsyncLLM
from vllm.v1.engine.exceptions import EngineDeadError as VllmEngineDeadError

from tera_serve.core.logprobs import PositionLogprobs, TokenLogprob
from tera_serve.engine.base import (
    EngineDeadError,
    EngineDelta,
    EngineInfo,
    EngineRequest,
    EngineRequestError,
    SamplingSpec,
    StructuredConstraint,
)

logger = logging.getLogger(__name__)

# Engine arguments that tera-serve itself sets from its own flags; not user-facing twice.
_OWNED_BY_TERA = frozenset({"model", "served_model_name"})


def add_engine_args(parser: argparse.ArgumentParser) -> frozenset[str]:
    """Add vLLM's own engine arguments (their definitions, help and defaults) to `parser`.

    Returns the destinations added; flags tera-serve defines itself keep tera-serve's meaning.
    """
    engine_group = FlexibleArgumentParser(add_help=False)
    AsyncEngineArgs.add_cli_args(engine_group)
    added: set[str] = set()
    for action in engine_group._actions:
        if action.dest in ("help",) or not action.option_strings:
            continue
        if any(opt in parser._option_string_actions for opt in action.option_strings):
            continue
        parser._add_action(action)
        added.add(action.dest)
    return frozenset(added)


class _TeraArgumentParser(FlexibleArgumentParser):  # type: ignore[misc]
    """vLLM's parser (JSON-valued and `--a.b` flags), but `--config` is tera-serve's own
    deployment file, not a file of vLLM arguments."""

    def _pull_args_from_config(self, args: list[str]) -> list[str]:
        return args


def new_cli_parser(**kwargs: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = _TeraArgumentParser(**kwargs)
    return parser


def explicit_engine_args(namespace: argparse.Namespace, dests: frozenset[str]) -> dict[str, Any]:
    """The engine arguments the user set on the command line (differing from defaults)."""
    defaults = AsyncEngineArgs.add_cli_args(FlexibleArgumentParser(add_help=False)).parse_args([])
    explicit: dict[str, Any] = {}
    for name, default in vars(defaults).items():
        if name in _OWNED_BY_TERA or name not in dests or not hasattr(namespace, name):
            continue
        value = getattr(namespace, name)
        if value != default:
            explicit[name] = value
    return explicit


@contextlib.contextmanager
def visible_gpus(gpu_ids: tuple[int, ...] | None) -> Iterator[None]:
    """Pin the engine's worker processes (spawned now) to these GPUs.

    Models load one after another, so setting the variable around one engine's start is
    enough to give each model its own devices.
    """
    if gpu_ids is None:
        yield
        return
    previous = os.environ.get("CUDA_VISIBLE_DEVICES")
    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in gpu_ids)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = previous


def structured_outputs_config(given: Any, backend: str) -> StructuredOutputsConfig:
    """The engine's guided-decoding settings: our backend choice unless the user set one.

    Compact JSON (no free whitespace) where the backend supports it: valid JSON either way,
    fewer tokens, and a weak model cannot pad the output with whitespace until max_tokens.
    """
    if isinstance(given, StructuredOutputsConfig):
        return given
    values: dict[str, Any] = {
        "backend": backend,
        "disable_any_whitespace": backend in ("xgrammar", "guidance"),
    }
    if isinstance(given, Mapping):
        values.update(given)
    return StructuredOutputsConfig(**values)


def _structured_params(constraint: StructuredConstraint) -> StructuredOutputsParams:
    if constraint.json_schema is not None:
        return StructuredOutputsParams(json=json.dumps(constraint.json_schema))
    if constraint.json_object:
        return StructuredOutputsParams(json_object=True)
    if constraint.regex is not None:
        return StructuredOutputsParams(regex=constraint.regex)
    if constraint.grammar is not None:
        return StructuredOutputsParams(grammar=constraint.grammar)
    return StructuredOutputsParams(structural_tag=constraint.structural_tag)


def to_sampling_params(spec: SamplingSpec) -> SamplingParams:
    return SamplingParams(
        n=1,
        # vLLM generates at least one token; a scoring request (0) drops it (`generate`).
        max_tokens=max(spec.max_tokens, 1),
        temperature=spec.temperature,
        top_p=spec.top_p,
        top_k=spec.top_k,
        min_p=spec.min_p,
        frequency_penalty=spec.frequency_penalty,
        presence_penalty=spec.presence_penalty,
        repetition_penalty=spec.repetition_penalty,
        seed=spec.seed,
        stop=list(spec.stop) or None,
        stop_token_ids=list(spec.stop_token_ids) or None,
        ignore_eos=spec.ignore_eos,
        logprobs=spec.logprobs,
        prompt_logprobs=spec.prompt_logprobs,
        logit_bias=dict(spec.logit_bias) if spec.logit_bias else None,
        skip_special_tokens=spec.skip_special_tokens,
        structured_outputs=_structured_params(spec.structured) if spec.structured else None,
        thinking_token_budget=spec.thinking_token_budget,
        output_kind=RequestOutputKind.DELTA,
    )


def _position(by_token: Any, token_id: int, top_k: int) -> PositionLogprobs:
    """vLLM's {token id: Logprob} at one position → the token's logprob and the top k."""
    entries = []
    chosen: TokenLogprob | None = None
    for candidate_id, lp in by_token.items():
        text = lp.decoded_token if lp.decoded_token is not None else ""
        entry = TokenLogprob(
            token=text,
            logprob=max(float(lp.logprob), -9999.0),
            token_bytes=tuple(text.encode("utf-8")),
            token_id=int(candidate_id),
            rank=lp.rank,
        )
        if candidate_id == token_id:
            chosen = entry
        if lp.rank is not None and lp.rank <= top_k:
            entries.append((lp.rank, entry))
    entries.sort(key=lambda pair: pair[0])
    if chosen is None:
        chosen = entries[0][1] if entries else TokenLogprob("", -9999.0, ())
    return PositionLogprobs(chosen=chosen, top=tuple(e for _, e in entries))


def _to_logprobs(raw: Any, token_ids: list[int], top_k: int) -> list[PositionLogprobs]:
    return [
        _position(by_token, token_id, top_k)
        for token_id, by_token in zip(token_ids, raw, strict=False)
        if by_token is not None
    ]


def _to_prompt_logprobs(
    raw: Any, prompt_ids: tuple[int, ...], top_k: int
) -> list[PositionLogprobs | None]:
    """One entry per prompt token; None where vLLM has none (the first token)."""
    return [
        None if by_token is None else _position(by_token, token_id, top_k)
        for token_id, by_token in zip(prompt_ids, raw, strict=False)
    ]


def _engine_prompt(request: EngineRequest) -> TokensPrompt:
    prompt = TokensPrompt(prompt_token_ids=list(request.prompt_token_ids))
    if request.images:
        # One placeholder per image in the ids; vLLM's processor expands each.
        prompt["multi_modal_data"] = {"image": list(request.images)}
    return prompt


def _completion_delta(
    completion: Any, finished: bool, sampling: SamplingSpec
) -> EngineDelta | None:
    """One vLLM completion output as a delta; None while a scoring request (max_tokens 0)
    runs, whose one generated token is dropped (vLLM always generates at least one)."""
    if sampling.max_tokens == 0:
        if not finished:
            return None
        reason = completion.finish_reason
        return EngineDelta(
            token_ids=[],
            text="",
            finish_reason="length" if reason in ("stop", "length") else reason,
        )
    token_ids = list(completion.token_ids)
    logprobs = (
        _to_logprobs(completion.logprobs, token_ids, sampling.logprobs or 0)
        if completion.logprobs is not None
        else None
    )
    return EngineDelta(
        token_ids=token_ids,
        text=completion.text,
        logprobs=logprobs,
        finish_reason=completion.finish_reason if finished else None,
        stop_reason=completion.stop_reason,
    )


class _PromptFacts:
    """Prefix-cache hits and prompt logprobs, read from the outputs until the first delta is
    yielded, which then carries them."""

    def __init__(self, request: EngineRequest) -> None:
        self._request = request
        self._pending = True
        self._cached_tokens: int | None = None
        self._prompt_logprobs: list[PositionLogprobs | None] | None = None

    def note(self, output: Any) -> None:
        if not self._pending:
            return
        if self._cached_tokens is None:
            self._cached_tokens = output.num_cached_tokens
        if output.prompt_logprobs and self._prompt_logprobs is None:
            self._prompt_logprobs = _to_prompt_logprobs(
                output.prompt_logprobs,
                self._request.prompt_token_ids,
                self._request.sampling.prompt_logprobs or 0,
            )

    def attach(self, delta: EngineDelta) -> EngineDelta:
        if self._pending:
            self._pending = False
            delta.cached_tokens = self._cached_tokens
            delta.prompt_logprobs = self._prompt_logprobs
        return delta


class AsyncLLMLifecycle:
    """What every engine over one AsyncLLM answers alike: abort, health, load, shutdown
    (the generating engine below and the pooling one, engine/vllm_pooling.py)."""

    _engine: AsyncLLM

    async def abort(self, request_id: str) -> None:
        await self._engine.abort(request_id)

    def is_healthy(self) -> bool:
        return not self._engine.errored

    def unfinished_requests(self) -> int:
        return int(self._engine.output_processor.get_num_unfinished_requests())

    async def close(self) -> None:
        self._engine.shutdown()


class VllmEngine(AsyncLLMLifecycle):
    """One vLLM AsyncLLM (with its engine-core process) serving one model."""

    def __init__(self, engine: AsyncLLM, info: EngineInfo) -> None:
        self._engine = engine
        self.info = info

    @classmethod
    def start(
        cls,
        model: str,
        engine_args: Mapping[str, Any],
        tokenizer: str | None,
        *,
        structured_output_backend: str = "xgrammar",
        reasoning_parser: str | None = None,
        gpu_ids: tuple[int, ...] | None = None,
    ) -> VllmEngine:
        values = dict(engine_args)
        values["structured_outputs_config"] = structured_outputs_config(
            values.get("structured_outputs_config"), structured_output_backend
        )
        if reasoning_parser and not values.get("reasoning_parser"):
            # vLLM's parser of the same name tells its grammar engine where reasoning ends.
            values["reasoning_parser"] = reasoning_parser
        args = AsyncEngineArgs(model=model, tokenizer=tokenizer, **values)
        with visible_gpus(gpu_ids):
            engine = AsyncLLM.from_engine_args(args)
        config = engine.model_config
        info = EngineInfo(
            model_path=model,
            max_model_len=int(config.max_model_len),
            dtype=str(config.dtype).removeprefix("torch."),
            quantization=config.quantization,
            hf_config=config.hf_config,
            supports_thinking_budget=bool(
                engine.vllm_config.reasoning_config is not None
                and engine.vllm_config.reasoning_config.enabled
            ),
        )
        return cls(engine, info)

    async def generate(self, request: EngineRequest) -> AsyncIterator[EngineDelta]:
        params = to_sampling_params(request.sampling)
        kwargs: dict[str, Any] = {}
        if request.reasoning_ended is not None:
            kwargs["reasoning_ended"] = request.reasoning_ended
        stream = self._engine.generate(
            _engine_prompt(request), params, request.request_id, **kwargs
        )
        facts = _PromptFacts(request)
        finished = False
        try:
            async for output in stream:
                facts.note(output)
                for completion in output.outputs:
                    finished = output.finished
                    delta = _completion_delta(completion, finished, request.sampling)
                    if delta is not None:
                        yield facts.attach(delta)
        except VllmEngineDeadError as exc:
            raise EngineDeadError(str(exc)) from exc
        except VLLMValidationError as exc:
            raise EngineRequestError(str(exc)) from exc
        finally:
            if not finished:
                # Cancellation (client gone, timeout) arrives here: free the engine slot.
                await asyncio.shield(self._engine.abort(request.request_id))

    def validate(self, request: EngineRequest) -> None:
        """Run the checks vLLM runs when a request is added, before anything is sent.

        A schema the chosen grammar backend cannot handle is then a 400, not a failure
        after the response has started.
        """
        params = to_sampling_params(request.sampling)
        config = self._engine.vllm_config
        try:
            params.verify(
                config.model_config,
                config.speculative_config,
                config.structured_outputs_config,
                self._engine.get_tokenizer(),
            )
        except (VLLMValidationError, ValueError, TypeError, KeyError, RuntimeError) as exc:
            raise EngineRequestError(str(exc)) from exc
