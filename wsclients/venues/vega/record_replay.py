"""How a Vega recording is replayed: every socket's protocol rebuilt, with the REST answers
(decimals, snapshots) that were recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Union

from wsclients.core.protocol import Job
from wsclients.venues.vega.book import VegaBookProtocol
from wsclients.venues.vega.decimals import MarketDecimals, _encode_decimals
from wsclients.venues.vega.protocol import VegaStreamProtocol
from wsclients.venues.vega.streams import VENUE, VegaStream

if TYPE_CHECKING:
    from wsclients.recording.registry import ReplayContext, VenueRecording


# --------------------------------------------------------------------------------------------
# Record and replay


def recording() -> VenueRecording:
    """How Vega sockets are recorded and rebuilt (``wsclients.recording.registry``).

    A socket's description is its stream (route, query, event-bus request) or its managed
    book (market, depth). The REST answers the protocols asked for — market decimals and
    book snapshots — are recorded and handed back on replay, so a replayed book is rebuilt
    from the very snapshot the live one was, and the decimals the client was given are in
    the header.
    """
    from wsclients.recording.registry import VenueRecording

    return VenueRecording(
        venue=VENUE,
        describe=_describe_for_recording,
        build=_replay_protocol,
        client_config=_client_config,
        learned=_replay_learned,
        encode_result=_encode_result,
        decode_result=_decode_result,
    )


def _describe_for_recording(protocol: Any) -> dict[str, Any]:
    if isinstance(protocol, VegaBookProtocol):
        return {"book": {"market_id": protocol.market_id, "depth": protocol.depth}}
    stream = protocol.stream
    return {"stream": {"path": stream.path, "params": [list(p) for p in stream.params],
                       "request": stream.request, "batch_size": stream.batch_size}}


def _client_config(client: Any) -> dict[str, Any]:
    """The VegaClient's own configuration a replay needs (the decimals it was given)."""
    with client._decimals_lock:
        known = dict(client._decimals)
    return {"decimals": {m: [d.price, d.position] for m, d in known.items()}}


def _replay_decimals(context: ReplayContext) -> dict[str, MarketDecimals]:
    known: Optional[dict[str, MarketDecimals]] = context.state.get("decimals")
    if known is None:
        config = context.config if isinstance(context.config, dict) else {}
        given = config.get("decimals") or {}
        known = {m: MarketDecimals(int(p), int(q)) for m, (p, q) in given.items()}
        context.state["decimals"] = known
    return known


def _replay_learned(context: ReplayContext, learned: Any) -> None:
    """Decimals the client fetched (for any socket): every protocol's lookup sees them."""
    known = _replay_decimals(context)
    for market_id, (price, position) in (learned.get("decimals") or {}).items():
        known[market_id] = MarketDecimals(int(price), int(position))


def _replay_protocol(description: Any, context: ReplayContext) -> Union[
    VegaBookProtocol, VegaStreamProtocol
]:
    lookup = _replay_decimals(context).get
    book = description.get("book")
    if book is not None:
        return VegaBookProtocol(book["market_id"], decimals=lookup, depth=book.get("depth"))
    stream = description["stream"]
    return VegaStreamProtocol(
        VegaStream(stream["path"], tuple((str(k), str(v)) for k, v in stream["params"]),
                   stream.get("request"), int(stream.get("batch_size") or 0)),
        decimals=lookup,
    )


def _encode_result(job: Job, result: Any) -> Any:
    if job.kind == "decimals":
        return _encode_decimals(result)
    if job.kind == "snapshot":
        decimals, depth = result
        return {"decimals": _encode_decimals(decimals), "depth": depth}
    return result


def _decode_result(job: Job, value: Any, context: ReplayContext) -> Any:
    known = _replay_decimals(context)
    if job.kind == "decimals":
        decimals = MarketDecimals(*value)
        known[str(job.args)] = decimals
        return decimals
    if job.kind == "snapshot":
        decimals = MarketDecimals(*value["decimals"])
        known[str(job.args)] = decimals
        return decimals, value["depth"]
    return value
