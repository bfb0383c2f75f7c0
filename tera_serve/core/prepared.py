"""What every wire encoder knows about an answer before its first event: neutral facts only.

The engine's side of a prepared request (engine requests, parsers) is the service's
`PreparedGeneration`; what a wire protocol adds (field names, id prefixes, stream options)
is in each adapter's own options.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field


def new_request_id() -> str:
    return secrets.token_hex(16)


def now() -> int:
    return int(time.time())


@dataclass(frozen=True)
class PreparedAnswer:
    request_id: str
    """The request's id (X-Tera-Request-ID); each protocol's response id is built on it."""
    model_id: str
    """The model as the request named it."""
    prompt_tokens: int
    """All prompts together, as the engine runs them (each counted once, image tokens too)."""
    choice_prompt_tokens: tuple[int, ...]
    """Per choice: the tokens of the prompt it continues."""
    stream: bool = False
    choices_per_prompt: int = 1
    """`n`: choices i*n .. i*n+n-1 share prompt i."""
    logprobs: bool = False
    """The request asked for the output tokens' logprobs."""
    prompt_logprobs: int | None = None
    """The request asked for the prompt's logprobs (vLLM's field), with this many
    alternatives."""
    forced_tool: bool = False
    """The request's tool choice named one function, so its call is the whole answer."""
    omitted_tools: tuple[str, ...] = ()
    """Hosted tools left out of the prompt (the conversation's), for the response header."""
    created: int = field(default_factory=now)

    @property
    def choices(self) -> int:
        return len(self.choice_prompt_tokens)
