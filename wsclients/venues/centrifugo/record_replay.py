"""Record and replay for Centrifugo, and for venues built on its protocol (Cadenza).

A socket's description (``wsclients.recording.registry``) is the registry of channels in its
order, with the options that decide what the client sends and how it reads the replies
(``recover``, ``recoverable``, ``positioned``, ``join_leave``; whether the channel had a fixed
token or a token source), plus how many user requests (``rpc``, ``publish``, ``history``,
``presence``…) had been queued and the method of the last one. Centrifugo matches replies to
commands by id, counting from 1 on each socket
(https://centrifugal.dev/docs/transports/client_protocol): a replayed protocol sends the same
commands in the same order, so the recorded subscribe replies — with their recovered
publications, ``recovered`` flags and stream positions — find the subscriptions they answer,
and every publication is delivered (or dropped as a duplicate) by offset as it was live.

Tokens never reach the file. The client sends them and the server never echoes them, so no
received frame holds one; the description and the header say only *whether* a token or a
token source was given; a fetched token (the answers to the ``token`` and ``sub_token`` jobs)
is written as ``"<redacted>"`` and a failed fetch by its class alone. The custom ``data`` of
``connect`` and ``subscribe`` is not written either: nothing received depends on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional

from wsclients.core.protocol import Job
from wsclients.venues.centrifugo.protocol import CentrifugoProtocol

if TYPE_CHECKING:  # the recording package imports venues lazily, never the other way at load
    from wsclients.recording.registry import ReplayContext, VenueRecording

__all__ = [
    "REDACTED",
    "ProtocolFactory",
    "SubscribeOne",
    "centrifugo_recording",
    "describe_channels",
    "recording",
]

REDACTED = "<redacted>"
"""What a token is written as, and what a replayed protocol holds in its place."""

_TOKEN_JOBS = frozenset(["token", "sub_token"])

ProtocolFactory = Callable[["ReplayContext", dict[str, Any]], CentrifugoProtocol]
"""Builds a venue's protocol on replay from the header's config and the token options."""

SubscribeOne = Callable[[CentrifugoProtocol, dict[str, Any], dict[str, Any]], None]
"""Subscribes one described channel on replay, given ``subscribe``'s options."""


def recording() -> VenueRecording:
    """How Centrifugo sockets are recorded and rebuilt (see the module docstring)."""
    return centrifugo_recording(
        "centrifugo",
        make=lambda context, options: CentrifugoProtocol(**options),
        client_config=client_config,
    )


def centrifugo_recording(
    venue: str,
    *,
    make: ProtocolFactory,
    client_config: Callable[[Any], dict[str, Any]],
    describe_channel: Callable[[CentrifugoProtocol, str], dict[str, Any]] = (
        lambda protocol, channel: {}),
    subscribe_one: Optional[SubscribeOne] = None,
) -> VenueRecording:
    """The recording support of a venue on Centrifugo's protocol: ``make`` builds its
    protocol, ``describe_channel`` adds what the venue keeps per channel (Cadenza: a book,
    trades or an account) and ``subscribe_one`` subscribes it again from that."""
    from wsclients.recording.registry import VenueRecording

    subscribe = subscribe_one or _subscribe_plain

    def build(description: Any, context: ReplayContext) -> CentrifugoProtocol:
        config = context.config if isinstance(context.config, dict) else {}
        protocol = make(context, {
            "token": REDACTED if config.get("token") else None,
            "get_token": bool(config.get("get_token")),
        })
        # Requests queued before the recording began took their ids on an earlier socket
        # (or one not in the file): only the ones recorded from here on are replayed.
        protocol.requests_made = _requests(description)
        restore(protocol, description)
        return protocol

    def restore(protocol: CentrifugoProtocol, description: Any) -> None:
        """Bring the registry to the described channels (in their order) and queue the
        requests queued live since, so that every command takes the id it took live."""
        described = description if isinstance(description, dict) else {}
        channels = [c for c in described.get("channels") or [] if isinstance(c, dict)]
        wanted = {str(c["channel"]) for c in channels}
        for name in list(protocol.subscriptions()):
            if name not in wanted:
                protocol.unsubscribe(name)
        current = protocol.subscriptions()
        for channel in channels:
            if channel["channel"] not in current:
                subscribe(protocol, channel, _subscribe_options(channel))
        method = str(described.get("request") or "rpc")
        while protocol.requests_made < _requests(described):
            protocol.request(("replayed", protocol.requests_made), method, {})

    return VenueRecording(
        venue=venue,
        describe=lambda protocol: describe_channels(protocol, describe_channel),
        build=build,
        resubscribe=restore,
        client_config=client_config,
        encode_result=_encode_result,
        private_jobs=_TOKEN_JOBS,
    )


def client_config(client: Any) -> dict[str, Any]:
    """What the header keeps of a Centrifugo client: whether it had a token, and a source."""
    protocol: CentrifugoProtocol = client.protocol
    return {"token": protocol._token is not None, "get_token": protocol._can_fetch_token}


def describe_channels(
    protocol: CentrifugoProtocol,
    describe_channel: Callable[[CentrifugoProtocol, str], dict[str, Any]],
) -> dict[str, Any]:
    """The description of a Centrifugo socket (module docstring); no token, no custom data."""
    channels = []
    for sub in protocol._subs.values():
        channels.append({
            "channel": sub.channel, "token": sub.token is not None,
            "get_token": sub.get_token is not None, "recover": sub.recover,
            "recoverable": sub.recoverable, "positioned": sub.positioned,
            "join_leave": sub.join_leave, **describe_channel(protocol, sub.channel),
        })
    return {"channels": channels, "requests": protocol.requests_made,
            "request": protocol.last_request}


def _requests(description: Any) -> int:
    count = description.get("requests") if isinstance(description, dict) else None
    return count if isinstance(count, int) and not isinstance(count, bool) else 0


def _subscribe_options(channel: dict[str, Any]) -> dict[str, Any]:
    return {
        "token": REDACTED if channel.get("token") else None,
        "get_token": _token_from_the_file if channel.get("get_token") else None,
        "recover": channel.get("recover", True) is not False,
        "recoverable": channel.get("recoverable") is True,
        "positioned": channel.get("positioned") is True,
        "join_leave": channel.get("join_leave") is True,
    }


def _subscribe_plain(
    protocol: CentrifugoProtocol, channel: dict[str, Any], options: dict[str, Any]
) -> None:
    protocol.subscribe(str(channel["channel"]), **options)


def _token_from_the_file(channel: str) -> str:
    """The token source of a replayed subscription. Never called: a replay runs no jobs,
    the answers the live client got are in the file."""
    return REDACTED


def _encode_result(job: Job, result: Any) -> Any:
    """A fetched token is a secret: only whether there was one is written."""
    if job.kind in _TOKEN_JOBS:
        return REDACTED if isinstance(result, str) and result else None
    return result
