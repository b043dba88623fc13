"""Events to compact JSON and back, exactly: the wire format of ``wsclients.sinks``.

One event is one JSON object whose keys are the event's field names plus ``"kind"``.
Prices and sizes travel as decimal strings (``"0.00012300"`` comes back as the same
``Decimal``, exponent and trailing zeros included); nanosecond times as JSON integers; enums
by value (``"buy"``, ``"connected"``); book levels as ``[price, size, count]`` arrays, best
first. A decoded event is equal (``==``) to the one encoded, so a consumer in another
process sees exactly what the feed process saw. Any language can read the format.

What does not travel:

- ``raw`` (the venue's own item) is left out by default: it is most of the bytes and is
  excluded from equality anyway. ``include_raw=True`` adds it under ``"raw"``, kept as
  exactly as ``Message.data`` is (below); a value JSON cannot carry becomes its ``str``.
- ``ErrorEvent.exception``: an exception object cannot cross a process boundary, so it
  arrives as None (it is excluded from equality too); ``message`` and ``code`` carry what
  it said.

``Message.data`` is the venue's decoded payload: JSON values, plus the tuples and Decimals
some parsers build (Vega's snapshot pages are tuples). So that it comes back equal, a tuple
is written ``{"__tuple__": [...]}``, a Decimal ``{"__decimal__": "1.5"}``, and a dict that
happens to have one of those as its only key is wrapped as ``{"__dict__": {...}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Optional, Union

from wsclients.core import codec as json
from wsclients.errors import ProtocolViolation
from wsclients.models import (
    Book,
    BookLevel,
    ConnectionState,
    ErrorEvent,
    Event,
    Message,
    Side,
    Status,
    Trade,
)

__all__ = ["decode_event", "encode_event"]

_TUPLE = "__tuple__"
_DECIMAL = "__decimal__"
_DICT = "__dict__"
_TAGS = frozenset({_TUPLE, _DECIMAL, _DICT})
_PLAIN = (str, int, float, bool, type(None))


def encode_event(event: Event, *, include_raw: bool = False) -> str:
    """One event as one compact JSON document (see the module docstring for the format).

    Raises:
        TypeError: ``event`` is not one of the five event classes.
    """
    kind = event.kind
    fields: dict[str, Any]
    if isinstance(event, Trade):
        fields = {
            "kind": kind, "venue": event.venue, "symbol": event.symbol,
            "price": str(event.price), "size": str(event.size),
            "side": event.side.value if event.side is not None else None,
            "trade_id": event.trade_id, "timestamp_ns": event.timestamp_ns,
            "received_ns": event.received_ns, "is_snapshot": event.is_snapshot,
        }
    elif isinstance(event, Book):
        fields = {
            "kind": kind, "venue": event.venue, "symbol": event.symbol,
            "bids": [[str(p), str(s), c] for p, s, c in event.bids],
            "asks": [[str(p), str(s), c] for p, s, c in event.asks],
            "timestamp_ns": event.timestamp_ns, "received_ns": event.received_ns,
            "sequence": event.sequence, "is_snapshot": event.is_snapshot,
        }
    elif isinstance(event, Message):
        fields = {
            "kind": kind, "venue": event.venue, "channel": event.channel,
            "data": _pack(event.data), "received_ns": event.received_ns,
            "is_snapshot": event.is_snapshot, "symbol": event.symbol,
        }
    elif isinstance(event, Status):
        fields = {
            "kind": kind, "venue": event.venue, "state": event.state.value, "url": event.url,
            "received_ns": event.received_ns, "attempt": event.attempt, "delay": event.delay,
            "code": event.code, "reason": event.reason,
        }
    elif isinstance(event, ErrorEvent):
        fields = {
            "kind": kind, "venue": event.venue, "message": event.message,
            "received_ns": event.received_ns, "code": event.code, "fatal": event.fatal,
        }
    else:
        raise TypeError(f"not an event: {type(event).__name__}")
    raw = getattr(event, "raw", None)  # Status has none
    if include_raw and raw is not None:
        fields["raw"] = _pack(raw, lossy=True)
    return json.dumps(fields)


def decode_event(data: Union[str, bytes, bytearray, memoryview]) -> Event:
    """The event ``encode_event`` wrote (``raw`` too when it was included).

    Raises:
        ProtocolViolation: not JSON, an unknown ``kind``, or a field missing or malformed.
    """
    try:
        fields = json.loads(data)
    except ValueError as exc:
        shown = data if isinstance(data, str) else bytes(data)
        raise ProtocolViolation("event is not JSON", raw=shown) from exc
    if not isinstance(fields, dict):
        raise ProtocolViolation("event is not a JSON object", raw=fields)
    decoder = _DECODERS.get(fields.get("kind"))  # type: ignore[arg-type]
    if decoder is None:
        raise ProtocolViolation("unknown event kind", raw=fields.get("kind"))
    try:
        return decoder(fields)
    except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
        raise ProtocolViolation(f"malformed {fields['kind']} event ({exc!r})", raw=fields) from exc


def _raw(fields: Mapping[str, Any]) -> Any:
    return _unpack(fields["raw"]) if "raw" in fields else None


def _levels(rows: Any) -> tuple[BookLevel, ...]:
    return tuple(BookLevel(Decimal(p), Decimal(s), c) for p, s, c in rows)


def _decode_trade(f: Mapping[str, Any]) -> Trade:
    side = f["side"]
    return Trade(
        venue=f["venue"], symbol=f["symbol"], price=Decimal(f["price"]),
        size=Decimal(f["size"]), side=Side(side) if side is not None else None,
        trade_id=f["trade_id"], timestamp_ns=f["timestamp_ns"], received_ns=f["received_ns"],
        is_snapshot=bool(f.get("is_snapshot", False)), raw=_raw(f),
    )


def _decode_book(f: Mapping[str, Any]) -> Book:
    return Book(
        venue=f["venue"], symbol=f["symbol"], bids=_levels(f["bids"]), asks=_levels(f["asks"]),
        timestamp_ns=f["timestamp_ns"], received_ns=f["received_ns"], sequence=f["sequence"],
        is_snapshot=f["is_snapshot"], raw=_raw(f),
    )


def _decode_message(f: Mapping[str, Any]) -> Message:
    return Message(
        venue=f["venue"], channel=f["channel"], data=_unpack(f["data"]),
        received_ns=f["received_ns"], is_snapshot=f["is_snapshot"], symbol=f["symbol"],
        raw=_raw(f),
    )


def _decode_status(f: Mapping[str, Any]) -> Status:
    return Status(
        venue=f["venue"], state=ConnectionState(f["state"]), url=f["url"],
        received_ns=f["received_ns"], attempt=f["attempt"], delay=f["delay"], code=f["code"],
        reason=f["reason"],
    )


def _decode_error(f: Mapping[str, Any]) -> ErrorEvent:
    return ErrorEvent(
        venue=f["venue"], message=f["message"], received_ns=f["received_ns"], code=f["code"],
        fatal=f["fatal"], raw=_raw(f),
    )


_DECODERS: dict[str, Callable[[Mapping[str, Any]], Event]] = {
    "trade": _decode_trade,
    "book": _decode_book,
    "message": _decode_message,
    "status": _decode_status,
    "error": _decode_error,
}


def _pack(value: Any, *, lossy: bool = False) -> Any:
    """A JSON-ready copy that ``_unpack`` turns back into an equal value."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, list):
        return [_pack(v, lossy=lossy) for v in value]
    if isinstance(value, tuple):
        return {_TUPLE: [_pack(v, lossy=lossy) for v in value]}
    if isinstance(value, Decimal):
        return {_DECIMAL: str(value)}
    if isinstance(value, Mapping):
        packed = {str(k): _pack(v, lossy=lossy) for k, v in value.items()}
        if len(packed) == 1 and next(iter(packed)) in _TAGS:
            return {_DICT: packed}
        return packed
    if lossy:
        return str(value)
    raise TypeError(f"cannot encode {type(value).__name__} in a message's data")


def _unpack(value: Any) -> Any:
    if isinstance(value, list):
        return [_unpack(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        tag: Optional[str] = next(iter(value))
        inner = value[tag]
        if tag == _TUPLE:
            return tuple(_unpack(v) for v in inner)
        if tag == _DECIMAL:
            return Decimal(inner)
        if tag == _DICT:
            return {k: _unpack(v) for k, v in inner.items()}
    return {k: _unpack(v) for k, v in value.items()}
