"""Record and replay for Allium's data streams (``AlliumStreamClient``).

A stream socket's description is its topic, its filter (the venue's JSON, as sent with
``setFilter``) and whether it was paused; a replayed ``AlliumStreamProtocol`` turns the
recorded frames into the same ``Message`` events, one per record. The API key travels only
in the upgrade's ``X-API-KEY`` header, which is never recorded; socket URLs are written with
their query values masked (``topic=***``), the topic itself is in the description.

The API client (``AlliumApiClient``) is not recorded: what it receives are replies to the
requests its caller made, which reach the caller's Futures and are not events. A replay has
no caller to answer, so a recording would replay to nothing; ``AlliumApiClient.record``
raises ``NotRecordable`` saying so (https://docs.allium.so/datastreams/websockets, "APIs over
Websockets": every reply answers one request by id).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wsclients.venues.allium.stream_protocol import AlliumStreamProtocol

if TYPE_CHECKING:
    from wsclients.recording.registry import ReplayContext, VenueRecording

__all__ = ["API_NOT_RECORDABLE", "recording"]

API_NOT_RECORDABLE = (
    "its replies answer your own requests (they go to their Futures, not to events), and a "
    "replay has no requests to answer; record an AlliumStreamClient, or keep the replies "
    "you need yourself"
)
"""Why ``AlliumApiClient.record`` refuses."""


def recording() -> VenueRecording:
    """How Allium stream sockets are recorded and rebuilt (see the module docstring)."""
    from wsclients.recording.registry import VenueRecording

    return VenueRecording(
        venue="allium", describe=_describe, build=_build, resubscribe=_restore,
    )


def _describe(protocol: Any) -> dict[str, Any]:
    if not isinstance(protocol, AlliumStreamProtocol):
        raise TypeError(f"only Allium streams are recorded, not {type(protocol).__name__}")
    return {"topic": protocol.topic, "filter": protocol.filter_data, "paused": protocol.paused}


def _build(description: Any, context: ReplayContext) -> AlliumStreamProtocol:
    return AlliumStreamProtocol(
        str(description["topic"]), filter_data=description.get("filter"),
        paused=description.get("paused") is True,
    )


def _restore(protocol: AlliumStreamProtocol, description: Any) -> None:
    """A filter set, a pause or a resume on the open socket: the same change (the frames it
    queues go nowhere on a replay)."""
    wanted = description.get("filter")
    if wanted is not None and wanted != protocol.filter_data:
        protocol.set_filter(wanted)
    if description.get("paused") is True:
        protocol.pause()
    else:
        protocol.resume()
