"""The one mapping from engine failures to client-visible errors (HTTP and stream alike)."""

from __future__ import annotations

from tera_serve.engine.base import EngineDeadError, EngineRequestError
from tera_serve.errors import InvalidRequestError, ServerError, TeraError


def engine_finish_error(engine_reason: str) -> TeraError | None:
    """The error an engine's own finish reason stands for (None: a normal finish)."""
    if engine_reason == "abort":
        return ServerError("The engine aborted the request.", code="engine_abort")
    if engine_reason == "error":
        return ServerError(
            "The engine could not run this request (for example, its grammar did not compile "
            "in time).",
            code="engine_error",
        )
    return None


def as_tera_error(exc: BaseException, *, param: str | None = None) -> TeraError:
    """Any failure during preparation or generation, as the client sees it."""
    if isinstance(exc, TeraError):
        return exc
    if isinstance(exc, EngineRequestError):
        return InvalidRequestError(f"The engine refused this request: {exc}", param=param)
    if isinstance(exc, EngineDeadError):
        return ServerError(
            "The inference engine stopped; the server is restarting.", code="engine_dead"
        )
    return ServerError("Generation failed.", code="generation_failed")


def is_expected(exc: BaseException) -> bool:
    """Failures that are the request's, not a bug (not logged with a traceback)."""
    return isinstance(exc, TeraError | EngineRequestError)
