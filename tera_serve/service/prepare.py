"""Decide everything about a conversation before generation (DESIGN rule 1).

Bounds, the family's prompt, the structured-output constraint, max_tokens fitted to the
context, and one engine request per choice. Every 4xx is raised here, before any byte of a
response, whatever wire protocol the conversation came from.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from tera_serve.bounded_work import offload
from tera_serve.chat.prompt_types import ChatPrompt
from tera_serve.config import ServerConfig
from tera_serve.core.conversation import Conversation
from tera_serve.core.prepared import PreparedAnswer, new_request_id
from tera_serve.engine.base import EngineRequest, StructuredConstraint
from tera_serve.errors import InvalidRequestError
from tera_serve.families.base import ParserSetup
from tera_serve.parsing.base import OutputParser
from tera_serve.parsing.chain import ParserChain
from tera_serve.parsing.forced_tools import ForcedToolCallParser
from tera_serve.service.images import PromptImages, check_image_count, load_prompt_images
from tera_serve.service.prepared import PreparedGeneration
from tera_serve.service.prompt_scoring import check_prompt_logprobs
from tera_serve.service.registry import ServedModel
from tera_serve.service.request_bounds import check_conversation_bounds, check_conversation_input
from tera_serve.service.sampling import build_sampling_spec, fit_max_tokens, parse_logit_bias
from tera_serve.service.structured import (
    check_engine_accepts,
    output_schema_param,
    response_format_constraint,
)
from tera_serve.service.tool_choice import ForcedTools, forced_tools


def _check_template_allowed(conversation: Conversation, server: ServerConfig) -> None:
    if conversation.chat_template is not None and not server.allow_request_chat_template:
        raise InvalidRequestError(
            "A request-supplied `chat_template` is disabled on this server.",
            param="chat_template",
        )


def _constraint(
    conversation: Conversation, backend: str
) -> tuple[ForcedTools | None, StructuredConstraint | None]:
    forced = forced_tools(conversation, backend)
    if forced is not None:
        return forced, forced.constraint
    return None, response_format_constraint(conversation, backend)


@dataclass(frozen=True)
class RenderedRequest:
    forced: ForcedTools | None
    structured: StructuredConstraint | None
    prompt: ChatPrompt
    images: PromptImages

    @property
    def prompt_tokens(self) -> int:
        """The prompt's length as the engine runs it, image tokens included."""
        return self.images.expanded_length(self.prompt.token_ids)


async def render_request(
    conversation: Conversation, served: ServedModel, server: ServerConfig
) -> RenderedRequest:
    """Bounds, the output constraint, the prompt and its images: all a request's prompt
    tokens depend on (count_tokens and /tokenize use this too, so their counts are the
    request's)."""
    check_conversation_bounds(conversation, server)
    check_image_count(conversation, served, server)
    _check_template_allowed(conversation, server)
    await offload(check_conversation_input, conversation, server, what="checking the request")
    forced, structured = await offload(
        _constraint,
        conversation,
        served.config.structured_output_backend,
        what="checking the tools and output format",
    )
    prompt = await served.family.render(
        conversation,
        served,
        open_reasoning=structured is not None or conversation.thinking_budget is not None,
    )
    images = await load_prompt_images(conversation, prompt.token_ids, served, server)
    return RenderedRequest(forced, structured, prompt, images)


def _engine_requests(
    conversation: Conversation,
    served: ServedModel,
    rendered: RenderedRequest,
    request_id: str,
    max_tokens: int,
) -> tuple[EngineRequest, ...]:
    """One engine request per choice; all share the prompt, the constraint and the limits."""
    prompt = rendered.prompt
    bias = parse_logit_bias(conversation.sampling.logit_bias, len(served.tokenizer))
    engine_constraint = (
        served.family.constrain(
            rendered.structured, prompt, served.config.structured_output_backend
        )
        if rendered.structured is not None
        else None
    )
    budget = thinking_budget(conversation, served)
    return tuple(
        EngineRequest(
            request_id=f"{request_id}-{index}",
            prompt_token_ids=prompt.token_ids,
            images=rendered.images.pictures,
            sampling=build_sampling_spec(
                conversation.sampling,
                max_tokens=max_tokens,
                seed_offset=index,
                logprobs=conversation.logprobs,
                prompt_logprobs=conversation.prompt_logprobs,
                logit_bias=bias,
                defaults=served.sampling_defaults,
                thinking_token_budget=budget,
                stop_token_ids=prompt.stop_token_ids,
                skip_special_tokens=prompt.skip_special_tokens and conversation.skip_special_tokens,
                structured=engine_constraint.constraint if engine_constraint else None,
            ),
            reasoning_ended=engine_constraint.reasoning_ended if engine_constraint else None,
        )
        for index in range(conversation.n)
    )


def _parser_factory(
    conversation: Conversation, served: ServedModel, rendered: RenderedRequest
) -> Callable[[], OutputParser]:
    """The family's parser chain; a forced call's constrained JSON is read by the last stage."""
    forced = rendered.forced
    parsed_tools = conversation.tools if conversation.tools_offered() and not forced else ()
    make_parser = served.family.parser_factory(
        served,
        ParserSetup(
            prompt=rendered.prompt,
            tools=parsed_tools,
            parallel_tool_calls=conversation.parallel_tool_calls,
        ),
    )
    if forced is None:
        return make_parser
    return functools.partial(forced_chain, make_parser, forced.function_name, forced.freeform)


async def prepare(
    conversation: Conversation,
    served: ServedModel,
    server: ServerConfig,
    request_id: str | None = None,
    *,
    stream: bool = False,
) -> PreparedGeneration:
    check_prompt_logprobs(conversation.prompt_logprobs, stream, server)
    rendered = await render_request(conversation, served, server)
    if rendered.images.pictures and conversation.prompt_logprobs is not None:
        raise InvalidRequestError(
            "Prompt logprobs are not available for prompts with images.",
            param=conversation.param("prompt_logprobs"),
        )
    max_tokens = fit_max_tokens(
        conversation.max_tokens,
        prompt_tokens=rendered.prompt_tokens,
        context_length=served.context_length,
        max_output_length=served.max_output_length,
        prompt_param=conversation.param("messages"),
    )
    request_id = request_id or new_request_id()
    engine_requests = _engine_requests(conversation, served, rendered, request_id, max_tokens)
    forced = rendered.forced
    if rendered.structured is not None:
        param = output_schema_param(conversation)
        if forced is not None:
            param = forced.param or conversation.param("tools")
        await check_engine_accepts(
            served, engine_requests[0], param, served.config.structured_output_backend
        )
    answer = PreparedAnswer(
        request_id=request_id,
        model_id=conversation.model,
        prompt_tokens=rendered.prompt_tokens,
        choice_prompt_tokens=(len(rendered.prompt.token_ids),) * conversation.n,
        stream=stream,
        choices_per_prompt=conversation.n,
        logprobs=conversation.logprobs is not None,
        prompt_logprobs=conversation.prompt_logprobs,
        forced_tool=forced is not None and forced.function_name is not None,
        omitted_tools=conversation.omitted_tools,
    )
    return PreparedGeneration(
        answer, engine_requests, _parser_factory(conversation, served, rendered)
    )


def forced_chain(
    make_inner: Callable[[], OutputParser],
    function_name: str | None,
    freeform: bool = False,
) -> OutputParser:
    forced = ForcedToolCallParser(function_name, freeform=freeform)
    return ParserChain((make_inner(), forced))


def thinking_budget(conversation: Conversation, served: ServedModel) -> int | None:
    if conversation.thinking_budget is None:
        return None
    if served.family.reasoning_parser is None or not served.engine.info.supports_thinking_budget:
        if not conversation.thinking_budget_required:
            return None
        raise InvalidRequestError(
            "`thinking_token_budget` is not supported by this model.",
            param=conversation.param("thinking_token_budget"),
        )
    return conversation.thinking_budget


async def count_prompt_tokens(
    conversation: Conversation, served: ServedModel, server: ServerConfig
) -> int:
    """The prompt tokens this conversation would be charged as a request."""
    return (await render_request(conversation, served, server)).prompt_tokens
