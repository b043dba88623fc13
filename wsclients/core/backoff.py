"""Reconnect delays as a value: exponential growth, full jitter, an optional attempt limit.

``Backoff`` never sleeps and owns no thread. The connection loop does
``backoff = backoff.increment(exc)`` after a failure, waits ``backoff.delay(rng)`` on its stop
event (so ``stop()`` cuts the wait short) and ``backoff = backoff.reset()`` once a connection
has stayed healthy. Every step makes a new object, so one configured value can be shared.
"""

from __future__ import annotations

import logging
import random
from typing import Optional

import attrs

from wsclients.errors import ConnectFailed

__all__ = ["Backoff"]

logger = logging.getLogger(__name__)


@attrs.frozen(kw_only=True)
class Backoff:
    """Exponential backoff with full jitter (AWS's "full jitter": uniform over [0, cap])."""

    min_delay: float = 0.5
    """Upper bound of the first delay, seconds."""
    max_delay: float = 30.0
    """No delay is ever longer than this."""
    factor: float = 2.0
    """How much the cap grows per consecutive failure."""
    max_attempts: Optional[int] = None
    """Consecutive failed attempts allowed before giving up; None = forever."""
    attempt: int = 0
    """Consecutive failures so far."""

    def cap(self) -> float:
        """The upper bound of the next delay: ``min_delay * factor**(attempt-1)``, capped."""
        if self.attempt <= 0:
            return 0.0
        # Compare in the exponent's domain so a long outage cannot overflow the float.
        exponent = self.attempt - 1
        if exponent > 64:
            return self.max_delay
        return float(min(self.max_delay, self.min_delay * self.factor**exponent))

    def delay(self, rng: random.Random) -> float:
        """The seconds to wait before the next attempt, drawn uniformly in [0, cap]."""
        return rng.uniform(0.0, self.cap())

    def is_exhausted(self) -> bool:
        """True once the attempt limit is used up."""
        return self.max_attempts is not None and self.attempt >= self.max_attempts

    def increment(self, error: Optional[BaseException] = None, *, url: str = "") -> Backoff:
        """One more failure.

        Raises:
            ConnectFailed: when this failure uses up the attempt limit, chained from ``error``.
        """
        new = attrs.evolve(self, attempt=self.attempt + 1)
        logger.debug("backoff %r after %r", new, error)
        if new.is_exhausted():
            code = getattr(error, "code", None)
            raise ConnectFailed(
                url,
                attempts=new.attempt,
                code=code if isinstance(code, int) else None,
                reason=str(error) if error is not None else "",
            ) from error
        return new

    def reset(self) -> Backoff:
        """Back to the first delay, after a connection stayed healthy."""
        return self if self.attempt == 0 else attrs.evolve(self, attempt=0)
