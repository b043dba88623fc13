"""How a Hyperliquid recording is replayed (the wsclients.recording registry looks it up here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wsclients.venues.hyperliquid.limits import (
    MessageBudget,
)
from wsclients.venues.hyperliquid.protocol import HyperliquidProtocol
from wsclients.venues.hyperliquid.subscriptions import (
    VENUE,
    subscription_key,
    validate_subscription,
)

if TYPE_CHECKING:
    from wsclients.recording.registry import ReplayContext, VenueRecording


# ----------------------------------------------------------------- record and replay


def recording() -> VenueRecording:
    """How Hyperliquid sockets are recorded and rebuilt (``wsclients.recording.registry``):
    the description is the list of registered subscription objects; a replayed protocol has
    them registered before ``on_open`` so acks and duplicate dropping behave as live."""
    from wsclients.recording.registry import VenueRecording

    return VenueRecording(
        venue=VENUE,
        describe=lambda protocol: [dict(s) for s in protocol.registered],
        build=_replay_protocol,
        resubscribe=_replay_resubscribe,
        client_config=lambda client: {"trade_memory": client.protocol._trade_memory},
    )


def _replay_protocol(subscriptions: Any, context: ReplayContext) -> HyperliquidProtocol:
    config = context.config if isinstance(context.config, dict) else {}
    protocol = HyperliquidProtocol(
        trade_memory=int(config.get("trade_memory", 2000)),
        # Nothing is sent on a replay: every subscribe counts as sent at once (so acks match
        # as they did live), and replayed sockets are not counted against the venue's limits.
        message_budget=MessageBudget(limit=2**62),
    )
    _replay_resubscribe(protocol, subscriptions)
    return protocol


def _replay_resubscribe(protocol: HyperliquidProtocol, subscriptions: Any) -> None:
    """Bring the registry to the recorded set, in the recorded order."""
    wanted = [validate_subscription(s) for s in subscriptions or []]
    keys = {subscription_key(s) for s in wanted}
    for subscription in protocol.registered:
        if subscription_key(subscription) not in keys:
            protocol.unsubscribe(subscription)
    for subscription in wanted:
        protocol.subscribe(subscription)
