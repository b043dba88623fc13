"""What a connection hands a recorder: the wire as it came, nothing parsed.

A ``Connection`` (and its client, for blocking-work answers) calls these hooks when a
``recorder`` is attached; with none attached the reader pays one attribute check per frame.
Every hook except ``status`` is called under the connection's protocol lock, so the order of
the calls is exactly the order in which the protocol saw things; a hook must therefore only
take note (append to a queue) and return — the writing happens on a thread of the
recorder's own. ``wsclients.recording`` implements it.
"""

from __future__ import annotations

from typing import Any, Optional, Protocol, Union

from wsclients.core.protocol import Job
from wsclients.models import Status

__all__ = ["RecordingSink"]


class RecordingSink(Protocol):
    """The hooks a recorder gives a connection; none may block or raise."""

    def frame(self, connection: Any, data: Union[str, bytes], received_ns: int) -> None:
        """A data frame was received (reader thread, before the protocol parses it)."""

    def status(self, connection: Any, status: Status) -> None:
        """The connection's state changed (the ``Status`` event it publishes)."""

    def opened(self, connection: Any, received_ns: int) -> None:
        """A fresh socket is open; the protocol's ``on_open`` runs next."""

    def closed(
        self, connection: Any, code: Optional[int], reason: str, received_ns: int
    ) -> None:
        """The socket is gone; the protocol's ``on_close`` runs next."""

    def command(self, connection: Any) -> None:
        """A command ran on the protocol (a subscription may have changed)."""

    def job(
        self, connection: Any, job: Job, result: Any, error: Optional[BaseException],
        received_ns: int,
    ) -> None:
        """Blocking work finished; ``job_done`` hands this answer to the protocol next."""
