"""AlliumStreamProtocol: actions out, records in. No socket, thread or clock."""

from __future__ import annotations

import json
from typing import Any

import pytest

from wsclients.errors import ProtocolViolation
from wsclients.models import ErrorEvent, Message
from wsclients.venues.allium.stream_protocol import (
    AlliumStreamProtocol,
    check_topic,
    stream_url,
)

BIG = {"field": "value", "operator": ">", "value": "1000000000000000000"}


def actions(protocol: AlliumStreamProtocol) -> list[Any]:
    """The frames queued since the last call, as ``action`` names (setFilter with its data)."""
    result: list[Any] = []
    for frame in protocol.take_frames():
        message = json.loads(frame)
        result.append((message["action"], message["data"]) if "data" in message
                      else message["action"])
    return result


def open_socket(protocol: AlliumStreamProtocol) -> list[Any]:
    protocol.reset_socket_state()
    protocol.on_open()
    return actions(protocol)


def test_a_new_socket_is_started() -> None:
    """Without a filter, ``start`` alone; no session step (the key went in the upgrade)."""
    protocol = AlliumStreamProtocol("ethereum.blocks")
    assert open_socket(protocol) == ["start"]
    assert not AlliumStreamProtocol.needs_session


def test_the_filter_is_set_before_start_on_every_socket() -> None:
    """setFilter then start, on the first socket and again after a reconnect."""
    protocol = AlliumStreamProtocol("ethereum.transactions", filter_data=BIG)
    assert open_socket(protocol) == [("setFilter", BIG), "start"]
    protocol.on_close(1006, "")
    assert open_socket(protocol) == [("setFilter", BIG), "start"]


def test_pause_and_resume_send_stop_and_start_once() -> None:
    """A second pause or resume sends nothing and says so."""
    protocol = AlliumStreamProtocol("ethereum.blocks")
    open_socket(protocol)
    assert protocol.pause() and not protocol.pause()
    assert actions(protocol) == ["stop"]
    assert protocol.resume() and not protocol.resume()
    assert actions(protocol) == ["start"]


def test_a_paused_stream_stays_paused_after_a_reconnect() -> None:
    """The user's pause is kept: the new socket gets its filter but no start."""
    protocol = AlliumStreamProtocol("ethereum.blocks", filter_data=BIG)
    open_socket(protocol)
    protocol.pause()
    protocol.take_frames()
    assert open_socket(protocol) == [("setFilter", BIG)]
    protocol.resume()
    assert actions(protocol) == ["start"]


def test_a_new_filter_while_streaming_is_stop_set_filter_start() -> None:
    """The venue documents filters as set before start."""
    protocol = AlliumStreamProtocol("ethereum.blocks")
    open_socket(protocol)
    other = {"field": "miner", "operator": "exists", "value": True}
    protocol.set_filter(other)
    assert actions(protocol) == ["stop", ("setFilter", other), "start"]
    assert open_socket(protocol) == [("setFilter", other), "start"]


def test_a_new_filter_while_paused_does_not_start_the_stream() -> None:
    """Paused stays paused; only the filter is sent."""
    protocol = AlliumStreamProtocol("ethereum.blocks", paused=True)
    assert open_socket(protocol) == []
    protocol.set_filter(BIG)
    assert actions(protocol) == [("setFilter", BIG)]


def test_an_object_frame_is_one_record_on_the_topics_channel() -> None:
    """Message(channel=topic, data=record), stamped with the frame's time."""
    protocol = AlliumStreamProtocol("ethereum.blocks")
    protocol.receive_text('{"number": 18000000, "hash": "0xab"}', received_ns=42)
    [event] = protocol.take_events()
    assert isinstance(event, Message)
    assert (event.channel, event.data, event.received_ns, event.venue) == (
        "ethereum.blocks", {"number": 18000000, "hash": "0xab"}, 42, "allium")


def test_an_array_frame_is_one_record_per_element() -> None:
    """A batch of records is delivered in order, one event each."""
    protocol = AlliumStreamProtocol("base.dex_trades")
    protocol.receive_text(b'[{"a": 1}, {"a": 2}, {"a": 3}]', received_ns=1)
    assert [e.data for e in protocol.take_events()] == [{"a": 1}, {"a": 2}, {"a": 3}]


@pytest.mark.parametrize("frame", ['"hello"', "17", "null", '[1, "x"]'])
def test_unknown_shapes_are_delivered_not_dropped(frame: str) -> None:
    """Any JSON value reaches the user as it came."""
    protocol = AlliumStreamProtocol("ethereum.blocks")
    protocol.receive_text(frame, received_ns=1)
    events = protocol.take_events()
    expected = json.loads(frame)
    assert [e.data for e in events] == (expected if isinstance(expected, list) else [expected])
    assert all(isinstance(e, Message) for e in events)


def test_a_frame_that_is_not_json_becomes_a_non_fatal_error_event() -> None:
    """The reader never sees an exception; the next frame is parsed normally."""
    protocol = AlliumStreamProtocol("ethereum.blocks")
    protocol.receive_text("{oops", received_ns=1)
    protocol.receive_text('{"ok": true}', received_ns=2)
    error, record = protocol.take_events()
    assert isinstance(error, ErrorEvent) and not error.fatal
    assert isinstance(error.exception, ProtocolViolation)
    assert isinstance(record, Message) and record.data == {"ok": True}


def test_the_topic_goes_in_the_query_string() -> None:
    """``…/ws/stream?topic=ethereum.blocks``, other query parameters kept."""
    assert stream_url("ethereum.blocks") == (
        "wss://api.allium.so/api/v1/developer/ws/stream?topic=ethereum.blocks")
    assert stream_url("solana.transactions", "ws://127.0.0.1:9/ws/stream?x=1&topic=old") == (
        "ws://127.0.0.1:9/ws/stream?x=1&topic=solana.transactions")


def test_topics_are_free_text_but_never_blank() -> None:
    """Unconfirmed names pass; empty names and whitespace do not."""
    assert check_topic("hyperliquid.fills") == "hyperliquid.fills"
    for bad in ("", "ethereum blocks", None, 5):
        with pytest.raises(ValueError):
            check_topic(bad)
