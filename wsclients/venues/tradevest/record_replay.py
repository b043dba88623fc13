"""How a Tradevest recording is replayed (the wsclients.recording registry looks it up here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from wsclients.venues.tradevest.markets import VENUE, TradevestMarket, normalize_markets
from wsclients.venues.tradevest.protocol import TradevestProtocol

if TYPE_CHECKING:
    from wsclients.recording.registry import ReplayContext, VenueRecording


# -- record and replay --------------------------------------------------------------------


def recording() -> VenueRecording:
    """How Tradevest sockets are recorded and rebuilt (``wsclients.recording.registry``):
    the description is the markets the socket subscribed to (None: every market)."""
    from wsclients.recording.registry import VenueRecording

    return VenueRecording(
        venue=VENUE,
        describe=_describe_for_recording,
        build=_replay_protocol,
        resubscribe=_replay_markets,
        client_config=lambda client: {"max_failures": client._prices.max_failures},
    )


def _describe_for_recording(protocol: TradevestProtocol) -> Optional[list[dict[str, str]]]:
    markets = protocol.markets
    return None if markets is None else [market.to_json() for market in markets]


def _from_description(description: Any) -> Optional[list[TradevestMarket]]:
    if description is None:
        return None
    return [TradevestMarket(m["currency"], m["cryptoSymbol"]) for m in description]


def _replay_protocol(description: Any, context: ReplayContext) -> TradevestProtocol:
    config = context.config if isinstance(context.config, dict) else {}
    return TradevestProtocol(
        _from_description(description), max_failures=config.get("max_failures", 5)
    )


def _replay_markets(protocol: TradevestProtocol, description: Any) -> None:
    markets = normalize_markets(_from_description(description))
    if markets != protocol.markets:
        protocol.set_markets(markets)
