"""A request-supplied chat template, rendered in a killable worker process.

A template from the request is code: Jinja's sandbox stops it from touching the server,
but not from looping (`range()` nested in `range()`) or allocating (`"x" * 10**10`)
without end. So it runs in a fresh process (tera_serve.bounded_work.KillableRunner) with
a deadline and an address-space limit, with transformers' own renderer, and its output
is capped before it comes back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tera_serve.bounded_work import run_sandboxed

SANDBOX_PRELOAD = ("tera_serve.chat.template_sandbox", "transformers.utils.chat_template_utils")
"""Imported once by the forkserver, so each render forks with them loaded."""


def render_in_child(
    template: str,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None,
    add_generation_prompt: bool,
    kwargs: dict[str, Any],
    max_chars: int,
) -> str:
    """Runs in the worker process."""
    from transformers.utils.chat_template_utils import render_jinja_template

    rendered = render_jinja_template(
        conversations=[messages],
        tools=tools,
        chat_template=template,
        add_generation_prompt=add_generation_prompt,
        **kwargs,
    )
    text = rendered[0][0] if isinstance(rendered, tuple) else rendered[0]
    if len(text) > max_chars:
        raise ValueError(f"it rendered {len(text)} characters; the limit is {max_chars}")
    return str(text)


def special_tokens(tokenizer: Any) -> dict[str, Any]:
    """What transformers gives every template (bos_token, eos_token, ...), as plain strings."""
    mapping = getattr(tokenizer, "special_tokens_map", None)
    if not isinstance(mapping, Mapping):
        return {}
    return {str(k): v for k, v in mapping.items() if isinstance(v, str | list)}


async def render_request_template(
    tokenizer: Any,
    template: str,
    messages: list[dict[str, Any]],
    *,
    tools: list[dict[str, Any]] | None,
    add_generation_prompt: bool,
    template_kwargs: Mapping[str, Any] | None,
    max_chars: int,
) -> str:
    kwargs = {**special_tokens(tokenizer), **dict(template_kwargs or {})}
    return await run_sandboxed(
        render_in_child,
        template,
        messages,
        tools or None,
        add_generation_prompt,
        kwargs,
        max_chars,
        what="The request's chat template",
        param="chat_template",
    )
