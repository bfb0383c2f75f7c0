"""What a model family provides: prompt rendering, the parser chain and its features."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from tera_serve.chat.prompt_types import ChatPrompt
from tera_serve.chat.template import ChatTemplateRenderer
from tera_serve.config import ModelConfig
from tera_serve.core.conversation import Conversation, ToolSpec
from tera_serve.engine.base import StructuredConstraint
from tera_serve.parsing.base import OutputParser


class ModelContext(Protocol):
    """The parts of a served model a family needs (the service's ServedModel has them)."""

    config: ModelConfig
    renderer: ChatTemplateRenderer

    @property
    def tokenizer(self) -> Any: ...


@dataclass(frozen=True)
class ParserSetup:
    """What one request tells the family's parser chain."""

    prompt: ChatPrompt
    tools: tuple[ToolSpec, ...]
    """The tools whose calls the chain reads from the output (empty: calls are content)."""
    parallel_tool_calls: bool


@dataclass(frozen=True)
class EngineConstraint:
    constraint: StructuredConstraint
    reasoning_ended: bool


class FamilyProfile(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def reasoning_parser(self) -> str | None:
        """vLLM's reasoning-parser name (it finds where reasoning ends for grammars)."""
        ...

    @property
    def tool_call_parser(self) -> str | None:
        """The tool-call format's vLLM name (hermes, qwen3_coder, openai); None: no tools."""
        ...

    @property
    def reasoning_field(self) -> str | None:
        """The chat message field reasoning goes to (None: the family has no reasoning)."""
        ...

    def detects(self, model_type: str, chat_template: str) -> bool:
        """Whether a model (its config's `model_type`, its chat template) is of this family."""
        ...

    def features(self) -> tuple[str, ...]:
        """Feature names for /v1/models' `supported_features`, beyond the common ones."""
        ...

    async def render(
        self, conversation: Conversation, model: ModelContext, *, open_reasoning: bool
    ) -> ChatPrompt:
        """The prompt's token ids. `open_reasoning`: the engine must see where reasoning
        starts (a grammar or thinking budget applies after it)."""
        ...

    def parser_factory(self, model: ModelContext, setup: ParserSetup) -> Callable[[], OutputParser]:
        """Makes one parser chain per choice."""
        ...

    def constrain(
        self, constraint: StructuredConstraint, prompt: ChatPrompt, backend: str
    ) -> EngineConstraint:
        """The grammar the engine enforces for a constrained answer, and whether it applies
        from the first token (`reasoning_ended`) or once the engine sees reasoning end."""
        ...
