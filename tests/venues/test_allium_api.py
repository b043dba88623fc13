"""AlliumApiProtocol: request frames out, replies matched by id in. No socket, thread or clock."""

from __future__ import annotations

import json
from typing import Any

import pytest

from wsclients.core.protocol import Reply
from wsclients.errors import (
    AlliumRequestFailed,
    AlliumTooManyInFlight,
    ProtocolViolation,
    RequestFailed,
    TooManyInFlight,
)
from wsclients.models import ErrorEvent, Message
from wsclients.venues.allium.api_protocol import (
    AlliumApiProtocol,
    check_request,
    request_frame,
)


def opened() -> AlliumApiProtocol:
    protocol = AlliumApiProtocol()
    protocol.reset_socket_state()
    protocol.on_open()
    return protocol


def sent(protocol: AlliumApiProtocol) -> list[dict[str, Any]]:
    return [json.loads(frame) for frame in protocol.take_frames()]


def answer(protocol: AlliumApiProtocol, **frame: Any) -> list[Reply]:
    protocol.receive_text(json.dumps(frame), received_ns=5)
    return protocol.take_replies()


def test_the_session_is_up_as_soon_as_the_socket_opens() -> None:
    """No handshake on the socket: the key went in the upgrade header."""
    protocol = opened()
    assert not AlliumApiProtocol.needs_session and not protocol.take_frames()


def test_a_get_request_carries_its_query_parameters_in_the_body() -> None:
    """The venue's GET example: parameters as key-value pairs in ``body``, id a string."""
    protocol = opened()
    protocol.queue_request(7, "GET", "/api/v1/developer/assets",
                           {"blockchain": "ethereum", "limit": "10"})
    assert sent(protocol) == [{
        "method": "GET", "id": "7", "path": "/api/v1/developer/assets",
        "body": {"blockchain": "ethereum", "limit": "10"},
    }]


def test_a_request_without_body_sends_no_body_key() -> None:
    """``body`` is optional on the wire; None leaves it out rather than sending null."""
    assert json.loads(request_frame("1", "GET", "/api/v1/supported-chains")) == {
        "method": "GET", "id": "1", "path": "/api/v1/supported-chains"}


def test_a_post_body_may_be_an_array() -> None:
    """``POST /prices`` takes a JSON array of tokens."""
    body = [{"token_address": "0xabc", "chain": "ethereum"}]
    assert json.loads(request_frame("2", "POST", "/api/v1/developer/prices", body))["body"] == body


def test_replies_are_matched_by_id_in_any_order() -> None:
    """Two requests answered in reverse order resolve their own ids with their own data."""
    protocol = opened()
    protocol.queue_request(1, "GET", "/a")
    protocol.queue_request(2, "POST", "/b", {"x": 1})
    assert protocol.in_flight == 2
    assert answer(protocol, id="2", status="success", data={"items": [2]}) == [
        Reply(2, {"items": [2]})]
    assert answer(protocol, id="1", status="success", data=[1]) == [Reply(1, [1])]
    assert protocol.in_flight == 0


def test_an_error_reply_names_the_method_path_and_server_message() -> None:
    """``status: "error"`` fails that request with AlliumRequestFailed (a RequestFailed)."""
    protocol = opened()
    protocol.queue_request(3, "POST", "/api/v1/developer/wallet/balances", [])
    [reply] = answer(protocol, id="3", status="error", data="422: validation failed")
    error = reply.error
    assert isinstance(error, AlliumRequestFailed) and isinstance(error, RequestFailed)
    assert (error.method, error.path, error.message) == (
        "POST", "/api/v1/developer/wallet/balances", "422: validation failed")
    assert str(error) == (
        "Allium POST /api/v1/developer/wallet/balances failed: 422: validation failed")


def test_an_error_object_is_kept_as_compact_json() -> None:
    """``data`` is documented as a message string; an object is kept readable, not lost."""
    protocol = opened()
    protocol.queue_request(4, "GET", "/x")
    [reply] = answer(protocol, id="4", status="error", data={"detail": "bad"})
    assert isinstance(reply.error, AlliumRequestFailed)
    assert reply.error.message == '{"detail":"bad"}'


def test_the_servers_in_flight_refusal_is_its_own_error() -> None:
    """The venue's "max inflight requests reached" is AlliumTooManyInFlight (a TooManyInFlight)."""
    protocol = opened()
    protocol.queue_request(5, "GET", "/x")
    [reply] = answer(protocol, id="5", status="error",
                     data="max inflight requests reached, please wait for requests to finish")
    assert isinstance(reply.error, AlliumTooManyInFlight)
    assert isinstance(reply.error, TooManyInFlight) and reply.error.limit == 1000


def test_an_unknown_status_fails_the_request_as_a_protocol_violation() -> None:
    """A reply that is neither success nor error cannot be trusted as a result."""
    protocol = opened()
    protocol.queue_request(6, "GET", "/x")
    [reply] = answer(protocol, id="6", status="pending", data=None)
    assert isinstance(reply.error, ProtocolViolation)


def test_a_numeric_id_is_matched_too() -> None:
    """A server that echoes the id as a number still answers the right request."""
    protocol = opened()
    protocol.queue_request(8, "GET", "/x")
    assert answer(protocol, id=8, status="success", data=1) == [Reply(8, 1)]


def test_a_reply_for_an_unknown_id_is_dropped_quietly() -> None:
    """A late reply (its caller gave up) resolves nothing and raises no error event."""
    protocol = opened()
    assert answer(protocol, id="99", status="success", data=1) == []
    assert protocol.take_events() == []


def test_an_error_without_id_becomes_an_error_event() -> None:
    """An error not tied to a request is reported, not lost."""
    protocol = opened()
    protocol.receive_text('{"status":"error","data":"malformed request"}', received_ns=9)
    [event] = protocol.take_events()
    assert isinstance(event, ErrorEvent) and not event.fatal
    assert "malformed request" in event.message and event.received_ns == 9


def test_a_frame_that_answers_nothing_is_delivered_as_a_message() -> None:
    """Unknown shapes are delivered on channel "api", never dropped."""
    protocol = opened()
    protocol.receive_text('{"notice":"maintenance"}', received_ns=9)
    [event] = protocol.take_events()
    assert isinstance(event, Message)
    assert (event.channel, event.data) == ("api", {"notice": "maintenance"})


@pytest.mark.parametrize("frame", ["not json", "[1,2]", b"\xff\xfe"])
def test_an_unreadable_frame_becomes_a_non_fatal_error_event(frame: str | bytes) -> None:
    """Bad JSON or a non-object never raises into the reader."""
    protocol = opened()
    protocol.receive_text(frame, received_ns=1)
    [event] = protocol.take_events()
    assert isinstance(event, ErrorEvent) and not event.fatal
    assert isinstance(event.exception, ProtocolViolation)


def test_a_new_socket_forgets_the_requests_of_the_last() -> None:
    """After a reconnect, a reply with an old id answers nothing (its Future already failed)."""
    protocol = opened()
    protocol.queue_request(1, "GET", "/x")
    protocol.on_close(1006, "gone")
    protocol.reset_socket_state()
    protocol.on_open()
    assert protocol.in_flight == 0
    assert answer(protocol, id="1", status="success", data=1) == []


def test_requests_are_forgotten_after_their_timeout() -> None:
    """A reply that never comes leaves nothing behind once its caller stopped waiting."""
    protocol = opened()
    protocol.on_tick(100.0)
    protocol.queue_request(1, "GET", "/x", timeout=2.0)
    protocol.queue_request(2, "GET", "/y", timeout=None)
    protocol.on_tick(105.0)
    assert protocol.in_flight == 2
    protocol.on_tick(107.5)
    assert protocol.in_flight == 1
    assert answer(protocol, id="2", status="success", data=0) == [Reply(2, 0)]


def test_a_request_queued_before_the_first_tick_gets_its_deadline_at_that_tick() -> None:
    """The protocol has no clock of its own; the timer's tick stamps the deadline."""
    protocol = opened()
    protocol.queue_request(1, "GET", "/x", timeout=1.0)
    protocol.on_tick(50.0)
    protocol.on_tick(55.0)
    assert protocol.in_flight == 1
    protocol.on_tick(56.5)
    assert protocol.in_flight == 0


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("FETCH", "/x", None),
        ("GET", "api/v1/x", None),
        ("GET", "/a b", None),
        ("GET", "/x", ["not", "params"]),
        ("POST", "/x", "text"),
        ("POST", "/x", 5),
    ],
)
def test_bad_requests_are_refused_before_sending(method: str, path: str, body: Any) -> None:
    """Unknown method, relative path, a GET body that is not an object, a scalar body."""
    with pytest.raises(ValueError):
        check_request(method, path, body)


def test_methods_are_upper_cased() -> None:
    """``get`` is ``GET``."""
    assert check_request("get", "/api/v1/x", {"a": 1}) == ("GET", "/api/v1/x")
