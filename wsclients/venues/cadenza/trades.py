"""Cadenza trade publications → ``Trade`` events, leniently.

Cadenza publishes no schema for ``market:trade:…`` (cadenza-client-python ``docs/``); the
nearest model is ``TradeExecution`` (``executedPrice``, ``executedQuantity``, ``orderSide``,
``executionId``, ``executedAt``). A payload — one object, a list of them, or an object with a
``trades`` or ``data`` list — becomes ``Trade`` events when every item has a price and a size;
otherwise the client delivers it whole as a ``Message``, so no publication is ever dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Optional

from wsclients.models import Side, Trade, new_trade
from wsclients.venues.cadenza.book import timestamp_ns

__all__ = ["parse_trades"]

_PRICE = ("price", "executedPrice", "px", "p", "lastPrice")
_SIZE = ("size", "quantity", "executedQuantity", "qty", "amount", "sz", "q", "lastQuantity")
_SIDE = ("side", "orderSide", "takerSide", "aggressorSide", "S")
_ID = ("tradeId", "id", "executionId", "externalTradeId", "tid")
_TIME = ("timestamp", "executedAt", "time", "ts", "T")
_SIDES = {
    "buy": Side.BUY, "b": Side.BUY, "bid": Side.BUY,
    "sell": Side.SELL, "s": Side.SELL, "a": Side.SELL, "ask": Side.SELL, "offer": Side.SELL,
}


def _first(item: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        value = item.get(name)
        if value is not None:
            return value
    return None


def _decimal(value: Any) -> Optional[Decimal]:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    try:
        number = Decimal(value if not isinstance(value, float) else repr(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _items(payload: Any) -> Optional[list[Any]]:
    if isinstance(payload, list):
        return payload
    if isinstance(payload, Mapping):
        for key in ("trades", "data"):
            inner = payload.get(key)
            if isinstance(inner, list):
                return inner
            if isinstance(inner, Mapping) and key == "data" and _first(inner, _PRICE) is not None:
                return [inner]
        return [payload]
    return None


def parse_trades(
    payload: Any, *, instrument_id: str, venue: str, offset: Optional[int], received_ns: int
) -> Optional[list[Trade]]:
    """The trades in one publication, or None when it does not look like trades.

    ``trade_id`` is the venue's id when the item has one, else ``"{offset}:{index}"`` (unique
    per channel: offsets are); the side is None when it is missing or unknown.
    """
    items = _items(payload)
    if not items:
        return None
    trades: list[Trade] = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            return None
        price, size = _decimal(_first(item, _PRICE)), _decimal(_first(item, _SIZE))
        if price is None or size is None:
            return None
        side_text = _first(item, _SIDE)
        side = _SIDES.get(side_text.lower()) if isinstance(side_text, str) else None
        trade_id = _first(item, _ID)
        if trade_id is None:
            trade_id = f"{offset}:{index}" if offset is not None else str(index)
        # new_trade: Trade's fields in order (venue, symbol, price, size, side, trade_id,
        # timestamp_ns, received_ns, is_snapshot, raw), about half the cost of the keyword
        # constructor.
        trades.append(new_trade(
            venue, instrument_id, price, size, side, str(trade_id),
            timestamp_ns(_first(item, _TIME)) or received_ns, received_ns, False, item,
        ))
    return trades
