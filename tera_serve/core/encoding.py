"""What a wire protocol provides to answer: a stream encoder and a folder of the same steps.

Declared once, here; the driver (service/driver.py) runs either against the engine.
"""

from __future__ import annotations

from typing import Any, Protocol

from tera_serve.core.events import Step, Usage
from tera_serve.errors import TeraError


class StreamEncoder(Protocol):
    """Steps → the protocol's stream frames."""

    def start_frames(self) -> list[bytes]:
        """Frames sent before the first step (e.g. Anthropic's message_start)."""
        ...

    def frames(self, step: Step) -> list[bytes]: ...

    def end_frames(self, usage: Usage) -> list[bytes]:
        """Frames after the last step (usage, the protocol's terminator)."""
        ...

    def error_frames(self, error: TeraError) -> list[bytes]:
        """How this protocol reports a failure after the 200 (then the stream ends)."""
        ...

    async def complete(self) -> None:
        """Awaited once the whole answer is known, before the client can read its end (the
        Responses store keeps it then, so a client that chains at once finds it)."""
        ...


class Folder(Protocol):
    """Steps → the protocol's one response body."""

    def add(self, step: Step) -> None: ...

    def response(self, usage: Usage) -> dict[str, Any]: ...

    async def complete(self) -> None:
        """As StreamEncoder.complete, after `response`."""
        ...


class NothingToComplete:
    """For encoders and folders that keep nothing once the answer is known."""

    async def complete(self) -> None:
        return None
