"""A tiny venue for testing the core: JSON objects in, events out, nothing venue-specific.

Frames the fake sends: ``{"type":"trade","symbol":…,"px":"1.5","sz":"2","id":"7"}`` → Trade,
``{"type":"pong"}`` → nothing (liveness only), ``{"type":"fatal"}`` → fatal close,
``{"type":"close"}`` → non-fatal close request, anything else that is JSON → Message,
anything that is not → a non-fatal ErrorEvent.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Optional, Union

from wsclients.core import codec
from wsclients.core.client import SubscribingClient
from wsclients.core.protocol import CloseRequest, ProtocolBuffers
from wsclients.errors import ProtocolViolation
from wsclients.models import ErrorEvent, Message, Side, Trade
from wsclients.testing.server import FakeConnection, FakeServer


class EchoProtocol(ProtocolBuffers):
    def __init__(self, *, app_ping: bool = True) -> None:
        super().__init__()
        self._app_ping = app_ping
        self.opens = 0
        self.channels: dict[str, None] = {}  # the one registry, in subscription order

    def on_open(self) -> None:
        self.opens += 1
        self._outgoing.append('{"op":"hello"}')
        self._outgoing.extend(self.subscribe_message(channel) for channel in self.channels)

    def subscribe(self, channel: str) -> bool:
        if channel in self.channels:
            return False
        self.channels[channel] = None
        if self.session_up:
            self._outgoing.append(self.subscribe_message(channel))
        return True

    def unsubscribe(self, channel: str) -> bool:
        if self.channels.pop(channel, 0) == 0:
            return False
        if self.session_up:
            self._outgoing.append(self.unsubscribe_message(channel))
        return True

    def receive_text(self, data: Union[str, bytes], *, received_ns: int) -> None:
        try:
            item = codec.loads(data)
            if not isinstance(item, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            error = ProtocolViolation("cannot decode frame", raw=data)
            error.__cause__ = exc
            self._events.append(ErrorEvent.from_exception(
                error, venue="echo", received_ns=received_ns, raw=data))
            return
        kind = item.get("type")
        if kind == "trade":
            self._events.append(Trade(
                venue="echo", symbol=item["symbol"], price=Decimal(item["px"]),
                size=Decimal(item["sz"]), side=Side.BUY, trade_id=str(item["id"]),
                timestamp_ns=received_ns, received_ns=received_ns, raw=item))
        elif kind == "pong":
            return
        elif kind == "fatal":
            self.close_request = CloseRequest("venue said fatal", fatal=True)
        elif kind == "close":
            self.close_request = CloseRequest("venue asked to reconnect")
        else:
            self._events.append(Message(venue="echo", channel=str(kind), data=item,
                                        received_ns=received_ns, raw=item))

    def ping_message(self) -> Optional[str]:
        return '{"op":"ping"}' if self._app_ping else None

    def is_fatal(self, code: Optional[int], exc: Optional[BaseException]) -> bool:
        if code == 4002:  # the venue explains itself
            self._events.append(ErrorEvent(venue="echo", message="account closed by the venue",
                                           received_ns=0, fatal=True))
        return code in (4001, 4002)

    def subscribe_message(self, subscription: Any) -> str:
        return json.dumps({"op": "subscribe", "channel": subscription})

    def unsubscribe_message(self, subscription: Any) -> Optional[str]:
        return json.dumps({"op": "unsubscribe", "channel": subscription})


class EchoClient(SubscribingClient):
    venue = "echo"
    default_url = "ws://127.0.0.1:9/"

    def __init__(self, *, app_ping: bool = True, **options: Any) -> None:
        self.protocol = EchoProtocol(app_ping=app_ping)
        super().__init__(self.protocol, **options)

    def subscribe(self, channel: str) -> bool:
        added: bool = self._command(lambda protocol: protocol.subscribe(channel))
        return added

    def unsubscribe(self, channel: str) -> bool:
        removed: bool = self._command(lambda protocol: protocol.unsubscribe(channel))
        return removed

    @property
    def subscriptions(self) -> list[str]:
        return list(self.protocol.channels)

    def send(self, text: str) -> None:
        self._connection.send(text)

    def reconnect(self, reason: str) -> None:
        self._reconnect(reason)


class EchoServer(FakeServer):
    """Answers app-level pings; records everything."""

    def on_message(self, conn: FakeConnection, message: Union[str, bytes]) -> None:
        if message == '{"op":"ping"}':
            conn.send('{"type":"pong"}')


def trade(i: int, symbol: str = "X") -> str:
    return json.dumps({"type": "trade", "symbol": symbol, "px": f"{100 + i}.5", "sz": "1",
                       "id": str(i)})


def subscribes(conn: FakeConnection) -> list[str]:
    return [json.loads(m)["channel"] for m in conn.received
            if isinstance(m, str) and '"subscribe"' in m]
