"""Record and replay for Cadenza: Centrifugo's (``wsclients.venues.centrifugo.record_replay``)
plus what each channel is — an instrument's book or trades, or a trading account.

A replayed ``CadenzaProtocol`` keeps its books as the live one did: each SNAPSHOT and DIFF
publication comes from the file with its offset, in order, so the books are rebuilt level for
level, the same resyncs happen at the same publications (a failed recovery, an offset gap, a
crossed book) and the same fresh subscribes follow them. Tokens are never written (see the
Centrifugo module).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wsclients.venues.cadenza.book import BookKeeper
from wsclients.venues.cadenza.protocol import CadenzaProtocol, _Account, _Trades
from wsclients.venues.centrifugo.protocol import CentrifugoProtocol
from wsclients.venues.centrifugo.record_replay import centrifugo_recording
from wsclients.venues.centrifugo.record_replay import client_config as centrifugo_config

if TYPE_CHECKING:
    from wsclients.recording.registry import ReplayContext, VenueRecording

__all__ = ["recording"]


def recording() -> VenueRecording:
    """How Cadenza sockets are recorded and rebuilt (see the module docstring)."""
    return centrifugo_recording(
        "cadenza",
        make=_protocol,
        client_config=_client_config,
        describe_channel=_describe_channel,
        subscribe_one=_subscribe_one,
    )


def _client_config(client: Any) -> dict[str, Any]:
    protocol: CadenzaProtocol = client.protocol
    return {**centrifugo_config(client), "book_depth": protocol._book_depth}


def _protocol(context: ReplayContext, options: dict[str, Any]) -> CentrifugoProtocol:
    config = context.config if isinstance(context.config, dict) else {}
    depth = config.get("book_depth")
    return CadenzaProtocol(book_depth=depth if isinstance(depth, int) else None, **options)


def _describe_channel(protocol: CentrifugoProtocol, channel: str) -> dict[str, Any]:
    """What the channel carries: ``{"book": id}``, ``{"trades": id}``, ``{"account": id}``
    (nothing for a plain ``subscribe``)."""
    assert isinstance(protocol, CadenzaProtocol)
    stream = protocol._streams.get(channel)
    if isinstance(stream, BookKeeper):
        return {"book": stream.instrument_id}
    if isinstance(stream, _Trades):
        return {"trades": stream.instrument_id}
    if isinstance(stream, _Account):
        return {"account": stream.account_id}
    return {}


def _subscribe_one(
    protocol: CentrifugoProtocol, described: dict[str, Any], options: dict[str, Any]
) -> None:
    assert isinstance(protocol, CadenzaProtocol)
    channel = str(described["channel"])
    if "book" in described:
        protocol.subscribe_order_book(channel, str(described["book"]), **options)
    elif "trades" in described:
        protocol.subscribe_trades(channel, str(described["trades"]), **options)
    elif "account" in described:
        protocol.subscribe_trading_account(channel, str(described["account"]), **options)
    else:
        protocol.subscribe(channel, **options)
