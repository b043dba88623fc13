"""Hostile venue data costs bounded time and memory: deep nesting and decompression bombs."""

from __future__ import annotations

import base64
import json
import tracemalloc
import zlib
from typing import Any

import pytest

from wsclients.core import codec
from wsclients.errors import (
    MessageTooLarge,
    ProtocolViolation,
    RequestFailed,
    SubscriptionRejected,
    bounded_repr,
    shorten,
)
from wsclients.models import ErrorEvent, Message, Trade
from wsclients.venues.hyperliquid import HyperliquidProtocol

pytestmark = pytest.mark.reliability


def deep(depth: int, kind: str) -> Any:
    """A value nested ``depth`` levels: lists or objects."""
    value: Any = 1
    for _ in range(depth):
        value = [value] if kind == "list" else {"a": value}
    return value


@pytest.mark.parametrize("kind", ["list", "dict"])
@pytest.mark.parametrize("depth", [1_000, 1_023, 100_000])
def test_shorten_and_bounded_repr_survive_deep_nesting(kind: str, depth: int) -> None:
    """Nesting the builtin repr cannot show (RecursionError) renders in a bounded string."""
    value = deep(depth, kind)
    with pytest.raises(RecursionError):
        repr(value)
    assert len(shorten(value)) <= 201
    assert len(bounded_repr(value)) < 400


def test_bounded_repr_limits_length_too() -> None:
    """A huge flat value is shown by its first items, not rendered whole first."""
    value = {"levels": [{"px": str(i), "sz": "1"} for i in range(1_000_000)], "s": "x" * 10**6}
    text = bounded_repr(value)
    assert len(text) < 3_000 and "..." in text
    assert len(shorten(value)) <= 201


def test_exceptions_holding_deep_data_have_bounded_reprs() -> None:
    """An exception whose arguments are deep venue data, and the ErrorEvent carrying it,
    can be shown (str and repr)."""
    value = deep(5_000, "dict")
    errors = [SubscriptionRejected(value, "rejected"), ProtocolViolation("bad", raw=value),
              RequestFailed(shorten(value))]
    for error in errors:
        assert len(str(error)) < 400 and len(repr(error)) < 600
        event = ErrorEvent.from_exception(error, venue="v", received_ns=1, raw=value)
        assert len(repr(event)) < 1_500


def test_message_repr_is_bounded() -> None:
    """A Message whose data is nested past the builtin repr's reach still has a repr."""
    message = Message(venue="v", channel="c", data=deep(1_020, "dict"), received_ns=1)
    text = repr(message)
    assert text.startswith("Message(venue='v', channel='c', data={'a': {") and len(text) < 600


def fast_asset_ctxs_frame(blob: bytes) -> str:
    return json.dumps({"channel": "fastAssetCtxs", "data": base64.b64encode(blob).decode()})


def test_hyperliquid_decompression_bomb_is_an_error_not_memory() -> None:
    """A 64 KiB fastAssetCtxs payload that would inflate to 64 MiB becomes a non-fatal
    ErrorEvent (MessageTooLarge as its cause); Python allocations peak near the 16 MiB bound,
    not at 64 MiB; the next frame is parsed."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(1 << 20)
    bomb = b"".join(compressor.compress(zeros) for _ in range(64)) + compressor.flush()
    assert len(bomb) < 100_000
    protocol = HyperliquidProtocol()
    tracemalloc.start()
    try:
        protocol.receive_text(fast_asset_ctxs_frame(bomb), received_ns=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < codec.MAX_INFLATED_SIZE + (4 << 20)
    (error,) = protocol.take_events()
    assert isinstance(error, ErrorEvent) and not error.fatal
    assert isinstance(error.exception, ProtocolViolation)
    assert isinstance(error.exception.__cause__, MessageTooLarge)
    protocol.receive_text(json.dumps({"channel": "trades", "data": [
        {"coin": "BTC", "side": "B", "px": "1", "sz": "1", "time": 1, "hash": "0x0", "tid": 1,
         "users": ["0x1", "0x2"]}]}), received_ns=2)
    assert isinstance(protocol.take_events()[0], Trade)
