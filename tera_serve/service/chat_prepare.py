"""Decide everything about a chat request before generation (DESIGN rule 1)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from tera_serve.bounded_work import offload
from tera_serve.config import ServerConfig
from tera_serve.engine.base import EngineRequest
from tera_serve.errors import InvalidRequestError
from tera_serve.parsing.base import OutputParser
from tera_serve.parsing.forced_tools import ForcedToolCallParser
from tera_serve.protocol.chat import ChatCompletionRequest
from tera_serve.service.limits import check_chat_bounds
from tera_serve.service.parser_choice import make_parser_factory
from tera_serve.service.prepared import PreparedGeneration, new_request_id
from tera_serve.service.prompt import build_chat_prompt
from tera_serve.service.registry import ServedModel
from tera_serve.service.request_bounds import check_chat_input
from tera_serve.service.sampling import build_sampling_spec, fit_max_tokens, parse_logit_bias
from tera_serve.service.structured import check_engine_accepts, response_format_constraint
from tera_serve.service.tool_choice import forced_tools


def reasoning_fields(served: ServedModel, server: ServerConfig) -> tuple[str, ...]:
    own = served.family.reasoning_field
    if own is None:
        return ()
    if server.emit_both_reasoning_fields:
        return ("reasoning", "reasoning_content")
    return (own,)


async def prepare_chat(
    request: ChatCompletionRequest,
    served: ServedModel,
    server: ServerConfig,
    request_id: str | None = None,
) -> PreparedGeneration:
    check_chat_bounds(request, server)
    if request.chat_template is not None and not server.allow_request_chat_template:
        raise InvalidRequestError(
            "A request-supplied `chat_template` is disabled on this server.",
            param="chat_template",
        )
    await offload(check_chat_input, request, server, what="checking the request")
    backend = served.config.structured_output_backend
    forced = await offload(forced_tools, request, backend, what="checking the tools")
    structured = (
        forced.constraint
        if forced
        else await offload(
            response_format_constraint, request, backend, what="checking the response format"
        )
    )
    prompt = await build_chat_prompt(
        request,
        served,
        open_reasoning=structured is not None or request.thinking_token_budget is not None,
    )
    max_tokens = fit_max_tokens(
        request.requested_max_tokens(),
        prompt_tokens=len(prompt.token_ids),
        context_length=served.context_length,
        max_output_length=served.config.max_output_length,
        param="max_completion_tokens" if request.max_completion_tokens else "max_tokens",
    )
    logprobs: int | None = None
    if request.logprobs:
        logprobs = request.top_logprobs or 0
    bias = parse_logit_bias(request.logit_bias, len(served.tokenizer))
    request_id = request_id or new_request_id()
    engine_requests = tuple(
        EngineRequest(
            request_id=f"{request_id}-{index}",
            prompt_token_ids=prompt.token_ids,
            sampling=build_sampling_spec(
                request,
                max_tokens=max_tokens,
                seed_offset=index,
                logprobs=logprobs,
                logit_bias=bias,
                defaults=served.sampling_defaults,
                thinking_token_budget=thinking_budget(request, served),
                stop_token_ids=prompt.stop_token_ids,
                skip_special_tokens=prompt.skip_special_tokens and request.skip_special_tokens,
                structured=structured,
            ),
            reasoning_ended=prompt.thinking_disabled if structured is not None else None,
        )
        for index in range(request.n)
    )
    if structured is not None:
        param = "tools" if forced else "response_format"
        await check_engine_accepts(served, engine_requests[0], param, backend)
    tool_names: tuple[str, ...] = ()
    tools_schema: dict[str, Any] = {}
    if request.tools and request.tool_choice != "none" and forced is None:
        tool_names = tuple(tool.function.name for tool in request.tools)
        tools_schema = {t.function.name: t.function.parameters or {} for t in request.tools}
    make_parser = make_parser_factory(
        served,
        prompt=prompt,
        tool_names=tool_names,
        tool_schemas=tools_schema,
        parallel_tool_calls=request.parallel_tool_calls,
    )
    if forced is not None:
        make_parser = functools.partial(forced_parser, make_parser, forced.function_name)
    return PreparedGeneration(
        request_id=request_id,
        response_id=f"chatcmpl-{request_id}",
        model_id=request.model,
        created=PreparedGeneration.now(),
        prompt_tokens=len(prompt.token_ids),
        engine_requests=engine_requests,
        make_parser=make_parser,
        stream=request.stream,
        include_usage=bool(request.stream_options and request.stream_options.include_usage),
        logprobs=request.logprobs,
        reasoning_fields=reasoning_fields(served, server),
    )


def forced_parser(
    make_inner: Callable[[], OutputParser], function_name: str | None
) -> OutputParser:
    return ForcedToolCallParser(make_inner(), function_name)


def thinking_budget(request: ChatCompletionRequest, served: ServedModel) -> int | None:
    if request.thinking_token_budget is None:
        return None
    if served.family.reasoning_parser is None or not served.engine.info.supports_thinking_budget:
        raise InvalidRequestError(
            "`thinking_token_budget` is not supported by this model.",
            param="thinking_token_budget",
        )
    return request.thinking_token_budget
