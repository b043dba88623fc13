"""What Centrifugo's numeric codes mean for a client: reconnect, resubscribe, or stop.

Pure functions, so the rules are tested alone. Sources: the code tables at
https://centrifugal.dev/docs/server/codes and the client SDK specification at
https://centrifugal.dev/docs/transports/client_api (reconnect rules).
"""

from __future__ import annotations

from typing import Optional

__all__ = [
    "TOKEN_EXPIRED",
    "UNSUBSCRIBE_RESUBSCRIBE_FROM",
    "is_terminal_close",
    "should_resubscribe",
]

TOKEN_EXPIRED = 109
"""Reply error: the connection or subscription token expired; fetch a new one."""

CONNECTION_EXPIRED = 3005
"""Close code: the connection token expired and was not refreshed in time."""

STALE = 3502
"""Close code: no connect came within the server's ``client_stale_close_delay``."""

STATE_INVALIDATED = 3014
"""Close code: forget the token and every stream position, then reconnect."""

UNSUBSCRIBE_RESUBSCRIBE_FROM = 2500
"""Unsubscribe pushes with a code at or above this ask the client to subscribe again."""

POSITION_INVALIDATED = 2502
"""Unsubscribe push: drop the cached position and token before resubscribing."""


def is_terminal_close(code: Optional[int]) -> bool:
    """Whether a close code forbids reconnecting: 3500–3999 and 4500–4999.

    Everything else — 3000–3499, 4000–4499, 5000 and up, transport codes below 3000 and a
    close without a code (a TCP drop) — is followed by a reconnect with backoff.
    """
    if code is None:
        return False
    return 3500 <= code < 4000 or 4500 <= code < 5000


def should_resubscribe(unsubscribe_code: int) -> bool:
    """Whether an unsubscribe push asks for a new subscribe (codes ≥ 2500) rather than
    ending the subscription (codes below 2500)."""
    return unsubscribe_code >= UNSUBSCRIBE_RESUBSCRIBE_FROM
