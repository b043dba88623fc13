"""The events a Centrifugo client adds to the common ones: both are ``Message``s.

A ``Publication`` is a ``Message`` (it reaches ``on_message`` and ``kinds={"message"}``)
that also carries the publication's stream position, so a consumer can see what the client
used to deliver each publication exactly once. ``RecoveryFailed`` tells a consumer that the
server could not fill the gap after a reconnect (``recovered: false``,
https://centrifugal.dev/docs/server/history_and_recovery): publications were missed and the
state built from them must be reloaded.
"""

from __future__ import annotations

from typing import Any, Optional

import attrs

from wsclients.models import Message

__all__ = ["Publication", "RecoveryFailed"]


@attrs.frozen(kw_only=True)
class Publication(Message):
    """A publication in a channel; ``data`` is its JSON payload, decoded."""

    offset: Optional[int] = None
    """The publication's position in the channel's stream (recoverable channels only)."""
    epoch: Optional[str] = None
    """The stream's epoch this offset belongs to, as the client last learnt it."""
    tags: Optional[dict[str, str]] = None
    """The publication's tags, when it has any."""
    info: Optional[dict[str, Any]] = None
    """Who published it (``user``, ``client``, …), for client-side publishes."""


@attrs.frozen(kw_only=True)
class RecoveryFailed(Message):
    """After a reconnect the server could not replay what this channel missed.

    ``data`` is ``{"epoch": …, "offset": …}``: the stream's current position, from which
    delivery goes on. Publications between the last one delivered and this position are lost:
    reload whatever state was built from the channel (for an order book, take a snapshot).
    """

    @property
    def epoch(self) -> Optional[str]:
        """The stream's current epoch."""
        value = self.data.get("epoch") if isinstance(self.data, dict) else None
        return value if isinstance(value, str) else None

    @property
    def offset(self) -> Optional[int]:
        """The stream's current offset."""
        value = self.data.get("offset") if isinstance(self.data, dict) else None
        return value if isinstance(value, int) else None
