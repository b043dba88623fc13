"""Found by the soak: a frame whose parsing makes the protocol owe the venue a frame (a held
subscription released by an ack, say) must deliver its events even when that send fails
because the socket has just died.

Hyperliquid showed it: a socket cut right after the restore burst delivered the trades
backfill that came with an ack, the protocol remembered those trades (to drop them when the
backfill comes again), the send of the next held subscription failed on the dead socket, and
the backfill's events were dropped with the exception, so the trades were lost for good.
"""

from __future__ import annotations

from typing import Any, Union

import pytest
import websocket

from tests.conftest import T
from tests.core.echo import EchoClient, EchoProtocol, EchoServer, trade
from tests.helpers import next_of
from wsclients.models import ConnectionState, Status, Trade

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(30)]

OWED = '{"op":"owed"}'


class OwingProtocol(EchoProtocol):
    """Echo, but every trade also makes it owe the venue a frame."""

    def receive_text(self, data: Union[str, bytes], *, received_ns: int) -> None:
        super().receive_text(data, received_ns=received_ns)
        if '"trade"' in str(data):
            self._outgoing.append(OWED)


class OwingClient(EchoClient):
    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.protocol.__class__ = OwingProtocol


def test_events_of_a_frame_survive_a_failed_send_of_what_it_owed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The trade arrives although sending the frame it made the protocol owe fails."""
    real_send = websocket.WebSocket.send

    def send(self: websocket.WebSocket, payload: Any, *args: Any, **kwargs: Any) -> Any:
        if payload == OWED:
            raise websocket.WebSocketConnectionClosedException("socket is already closed.")
        return real_send(self, payload, *args, **kwargs)

    monkeypatch.setattr(websocket.WebSocket, "send", send)
    with EchoServer("echo") as server:
        client = OwingClient(
            url=server.url, backoff_min=0.01, backoff_max=0.05, ping_interval=None,
            stale_timeout=None,
        )
        with client:
            server.wait_for_connections(1)[0].send(trade(7))
            event = next_of(client, Trade, timeout=3 * T)
            assert event.trade_id == "7"
            next_of(client, Status, timeout=3 * T, state=ConnectionState.RECONNECTING)
