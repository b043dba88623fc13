"""Vega paged snapshots: a snapshot whose lastPage never comes cannot hold later updates
forever; the wait is bounded, then the stream reconnects for a new snapshot and says so."""

from __future__ import annotations

import json
import time
from typing import Any

from wsclients.core.protocol import CloseRequest
from wsclients.errors import ProtocolViolation
from wsclients.models import ErrorEvent, Event, Message
from wsclients.venues.vega import VegaStreamProtocol, decimals_from_mapping, make_stream
from wsclients.venues.vega import protocol as vega_protocol


def protocol(timeout: float = 5.0) -> VegaStreamProtocol:
    p = VegaStreamProtocol(make_stream("orders", party_ids="p"),
                           decimals=decimals_from_mapping({}), snapshot_timeout=timeout)
    p.on_open()
    p.take_frames()
    return p


def feed(p: VegaStreamProtocol, *results: dict[str, Any]) -> list[Event]:
    for result in results:
        p.receive_text(json.dumps({"result": result}), received_ns=1)
    events: list[Event] = p.take_events()
    return events


PAGE = {"snapshot": {"orders": [{"id": "o1"}]}}
UPDATE = {"updates": {"orders": [{"id": "o2"}]}}


def test_missing_last_page_times_out_into_a_resnapshot() -> None:
    """Updates wait while the snapshot is incomplete; past the timeout the protocol reports
    it and asks for a fresh socket (non-fatal), dropping the half snapshot."""
    p = protocol(timeout=5.0)
    assert feed(p, PAGE, UPDATE, UPDATE) == []
    p.on_tick(time.monotonic() + 1.0)
    assert p.close_request is None and p.take_events() == []
    p.on_tick(time.monotonic() + 6.0)
    request = p.close_request
    assert isinstance(request, CloseRequest) and not request.fatal and request.quiet
    (error,) = p.take_events()
    assert isinstance(error, ErrorEvent) and not error.fatal
    assert isinstance(error.exception, ProtocolViolation)
    assert "no lastPage within 5 s" in str(error.exception) and "2 held" in str(error.exception)
    assert feed(p, UPDATE) == []  # until the socket is gone, nothing more is delivered


def test_a_complete_snapshot_after_reconnect_flows_normally() -> None:
    """On the next socket a snapshot with lastPage comes first, then updates as they come."""
    p = protocol(timeout=5.0)
    feed(p, PAGE)
    p.on_tick(time.monotonic() + 6.0)
    p.take_events()
    p.reset_socket_state()
    p.on_open()
    events = feed(p, {"snapshot": {"orders": [{"id": "o1"}], "lastPage": True}}, UPDATE)
    assert [(type(e), e.is_snapshot) for e in events if isinstance(e, Message)] == [
        (Message, True), (Message, False)]


def test_too_many_held_updates_resnapshot_at_once(monkeypatch: Any) -> None:
    """Updates past the held limit do not pile up in memory: the snapshot is taken again."""
    monkeypatch.setattr(vega_protocol, "_MAX_HELD_UPDATES", 3)
    p = protocol(timeout=3600)
    assert feed(p, PAGE, UPDATE, UPDATE, UPDATE) == []
    (error,) = feed(p, UPDATE)
    assert isinstance(error, ErrorEvent) and "more than 3 updates" in str(error.exception)
    assert p.close_request is not None and not p.close_request.fatal
