"""The family of a pooling model: it renders no chat, so every text route refuses it by name.

Chat, Messages and Responses render the prompt through the model's family before any
other work; this one answers that a pooling model serves /v1/embeddings (or /v1/rerank and
/v1/score) instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tera_serve.chat.prompt_types import ChatPrompt
from tera_serve.core.conversation import Conversation
from tera_serve.engine.base import StructuredConstraint
from tera_serve.errors import InvalidRequestError
from tera_serve.families.base import EngineConstraint, ModelContext, ParserSetup
from tera_serve.parsing.base import OutputParser


def not_generative(model_id: str, task: str) -> InvalidRequestError:
    routes = "POST /v1/embeddings" if task == "embedding" else "POST /v1/rerank or /v1/score"
    kind = "an embedding model" if task == "embedding" else "a reranking (cross-encoder) model"
    return InvalidRequestError(
        f"The model '{model_id}' is {kind}; it generates no text. Use {routes}.",
        param="model",
        code="model_not_supported",
    )


@dataclass(frozen=True)
class PoolingFamily:
    task: str
    """The model's task (`embedding` or `rerank`), named in the refusal."""

    @property
    def name(self) -> str:
        return "pooling"

    @property
    def reasoning_parser(self) -> str | None:
        return None

    @property
    def tool_call_parser(self) -> str | None:
        return None

    @property
    def reasoning_field(self) -> str | None:
        return None

    def detects(self, model_type: str, chat_template: str) -> bool:
        return False

    def features(self) -> tuple[str, ...]:
        return ()

    async def render(
        self, conversation: Conversation, model: ModelContext, *, open_reasoning: bool
    ) -> ChatPrompt:
        raise not_generative(conversation.model, self.task)

    def parser_factory(self, model: ModelContext, setup: ParserSetup) -> Callable[[], OutputParser]:
        raise not_generative(model.config.served_id, self.task)

    def constrain(
        self, constraint: StructuredConstraint, prompt: ChatPrompt, backend: str
    ) -> EngineConstraint:
        raise InvalidRequestError("A pooling model takes no output constraint.", param="model")
