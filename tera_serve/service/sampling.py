"""Request sampling fields → the engine's SamplingSpec, with max_tokens fitted to context."""

from __future__ import annotations

from collections.abc import Mapping

from tera_serve.core.conversation import Sampling
from tera_serve.engine.base import SamplingSpec, StructuredConstraint
from tera_serve.errors import ContextLengthExceededError, InvalidRequestError


def fit_max_tokens(
    requested: int | None,
    *,
    prompt_tokens: int,
    context_length: int,
    max_output_length: int,
    prompt_param: str = "messages",
) -> int:
    """Decide max_tokens, for every protocol: a ceiling, never a refusal (DESIGN rules 2, 11).

    Clients send `max_tokens` as a ceiling (Claude Code sends 32,000 to a model it does not
    know), so a value above the model's maximum output or what the context leaves is clamped
    to it. Only a prompt that leaves no room for even one token is `context_length_exceeded`.
    """
    room = context_length - prompt_tokens
    if room < 1:
        raise ContextLengthExceededError(
            f"This model's maximum context length is {context_length} tokens; the prompt has "
            f"{prompt_tokens} tokens, which leaves no room to generate.",
            param=prompt_param,
        )
    wanted = max_output_length if requested is None else min(requested, max_output_length)
    return min(wanted, room)


def parse_logit_bias(raw: Mapping[str, float] | None, vocab_size: int) -> dict[int, float] | None:
    if not raw:
        return None
    bias: dict[int, float] = {}
    for key, value in raw.items():
        try:
            token_id = int(key)
        except ValueError:
            raise InvalidRequestError(
                f"logit_bias keys must be token ids; {key!r} is not.", param="logit_bias"
            ) from None
        if not 0 <= token_id < vocab_size:
            raise InvalidRequestError(
                f"logit_bias token id {token_id} is outside the vocabulary.", param="logit_bias"
            )
        if not -100.0 <= value <= 100.0:
            raise InvalidRequestError(
                "logit_bias values must be between -100 and 100.", param="logit_bias"
            )
        bias[token_id] = value
    return bias


def build_sampling_spec(
    fields: Sampling,
    *,
    max_tokens: int,
    seed_offset: int,
    logprobs: int | None,
    logit_bias: dict[int, float] | None,
    prompt_logprobs: int | None = None,
    stop_token_ids: tuple[int, ...] = (),
    skip_special_tokens: bool = True,
    structured: StructuredConstraint | None = None,
    defaults: Mapping[str, float] | None = None,
    thinking_token_budget: int | None = None,
) -> SamplingSpec:
    """One choice's sampling settings; choice i of a seeded request uses seed + i.

    Fields the request leaves out take the model's defaults, then the OpenAI defaults.
    """
    model_defaults = defaults or {}

    def pick(name: str, fallback: float) -> float:
        value = getattr(fields, name)
        if value is not None:
            return float(value)
        return float(model_defaults.get(name, fallback))

    seed = None if fields.seed is None else (fields.seed + seed_offset) % (2**63)
    top_k = int(pick("top_k", 0))
    return SamplingSpec(
        max_tokens=max_tokens,
        temperature=pick("temperature", 1.0),
        top_p=pick("top_p", 1.0),
        top_k=0 if top_k == -1 else top_k,
        min_p=pick("min_p", 0.0),
        frequency_penalty=pick("frequency_penalty", 0.0),
        presence_penalty=pick("presence_penalty", 0.0),
        repetition_penalty=pick("repetition_penalty", 1.0),
        seed=seed,
        stop=fields.stop,
        stop_token_ids=stop_token_ids,
        ignore_eos=fields.ignore_eos,
        logprobs=logprobs,
        prompt_logprobs=prompt_logprobs,
        logit_bias=logit_bias,
        skip_special_tokens=skip_special_tokens,
        structured=structured,
        thinking_token_budget=thinking_token_budget,
    )
