"""Where a client's system and developer messages go in a Jinja-templated prompt.

Clients put instruction messages anywhere: Codex CLI sends two `developer` messages and no
`instructions`, Claude Code puts a `system` message after the first user turn, agents add
reminders between tool turns. ChatML-style templates know one role for them, `system`, and
differ on a later one: Qwen3's and SmolLM2's render it in place, Qwen3.5's raises "System
message must be at the beginning", others (Qwen3-VL's, gpt-oss's Jinja) drop it silently.

The rule, decided per template by the template itself (a probe render, once), never by the
client:
1. `developer` is `system`. ChatML has no developer role (Qwen3's template drops such a
   message without a word, Qwen3.5's raises, SmolLM2's writes a role its model never saw);
   OpenAI's developer role is its system role renamed.
2. The leading run of instruction messages becomes one system message, their texts joined
   by a blank line, in order: the shape these models are trained on and every such
   template accepts.
3. A later one stays where it stands when the template renders it there (its text in
   place, no error). Its position is its meaning ("from now on"), and everything before it
   stays byte-identical across agent turns, so the prefix cache keeps it.
4. Otherwise it joins the leading system message, after the texts already there, in order.
   vLLM's Responses path does this with developer input (vllm-project/vllm#43590), as do
   the fixes for Codex on Qwen3.5 in front of vLLM and SGLang (ai-dynamo/dynamo#10206,
   BerriAI/litellm#39282). The text keeps system authority; it loses its position, and
   the turn where such a message first appears is a prefix-cache miss. Folding it into a
   user turn instead would keep the position but hand the client's instructions to the
   user, whom the model weighs less.
A later message with images stays in place whatever the template (moving it would reorder
the images against their placeholders); the template then decides. A request-supplied
template is not probed (that would run the client's code once more per request): its
later instruction messages all follow rule 4.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from tera_serve.core.conversation import ContentPart, Message, TextPart

INSTRUCTION_ROLES = ("system", "developer")
_JOINER = "\n\n"
_PROBE_FIRST = "tera-probe-first-instructions"
_PROBE_ANSWER = "tera-probe-earlier-answer"
_PROBE_LATE = "tera-probe-later-instructions"
_PROBE_NEXT = "tera-probe-next-question"


def probe_messages() -> list[dict[str, Any]]:
    """A conversation with a system message after an assistant turn, as templates take it."""
    return [
        {"role": "system", "content": _PROBE_FIRST},
        {"role": "user", "content": "tera-probe-question"},
        {"role": "assistant", "content": _PROBE_ANSWER},
        {"role": "system", "content": _PROBE_LATE},
        {"role": "user", "content": _PROBE_NEXT},
    ]


def renders_late_system(render: Callable[[list[dict[str, Any]]], str]) -> bool:
    """Whether `render` (a template applied to messages) writes a later system message's
    text in place: after the turn before it and before the turn after it."""
    try:
        text = render(probe_messages())
    except Exception:  # a template that refuses the shape, whatever it raises, refuses it
        return False
    positions = [text.find(marker) for marker in (_PROBE_ANSWER, _PROBE_LATE, _PROBE_NEXT)]
    return -1 not in positions and positions == sorted(positions)


def place_instructions(messages: Sequence[Message], *, late_in_place: bool) -> tuple[Message, ...]:
    """The messages with system/developer ones placed by the rule above; `late_in_place`:
    the template renders a later system message where it stands."""
    as_system = [replace(m, role="system") if m.role == "developer" else m for m in messages]
    lead = 0
    while lead < len(as_system) and as_system[lead].role == "system":
        lead += 1
    leading = as_system[:lead]
    rest: list[Message] = []
    for message in as_system[lead:]:
        moved = message.role == "system" and not late_in_place and not message.images()
        (leading if moved else rest).append(message)
    head = leading if len(leading) <= 1 else [_merged(leading)]
    return (*head, *rest)


def _merged(messages: Sequence[Message]) -> Message:
    parts: list[ContentPart] = []
    for message in messages:
        if not message.text() and not message.images():
            continue
        if parts:
            parts.append(TextPart(_JOINER))
        parts.extend(message.parts)
    return Message(role="system", parts=tuple(parts))
