"""redis-py for the Redis tests; importing this skips the importing module, with the reason,
when it is not installed."""

from __future__ import annotations

import pytest

NO_REDIS_PY = "redis-py is not installed (pip install 'wsclients[redis]')"

redis = pytest.importorskip("redis", reason=NO_REDIS_PY)

__all__ = ["NO_REDIS_PY", "redis"]
