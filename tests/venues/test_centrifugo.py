"""CentrifugoProtocol: frames in, events, frames and replies out. No socket, thread or clock."""

from __future__ import annotations

import json
from typing import Any

import pytest

from wsclients.core.protocol import Job
from wsclients.errors import AuthenticationFailed, CentrifugoError, SubscriptionRejected
from wsclients.models import ErrorEvent, Event, Message
from wsclients.venues.centrifugo import (
    CentrifugoProtocol,
    Publication,
    RecoveryFailed,
    is_terminal_close,
    should_resubscribe,
)
from wsclients.venues.centrifugo.deadlines import Deadlines
from wsclients.venues.centrifugo.protocol import refresh_delay

SECRET = "eyJ.secret-token.sig"


def sent(protocol: CentrifugoProtocol) -> list[dict[str, Any]]:
    """The frames the protocol owes, decoded (each line of each frame)."""
    return [json.loads(line) for frame in protocol.take_frames() for line in frame.split("\n")]


def feed(protocol: CentrifugoProtocol, *lines: Any) -> list[Event]:
    """One frame made of ``lines`` (dicts are encoded), then the events it produced."""
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    protocol.receive_text(text, received_ns=7)
    return protocol.take_events()


def connected(*channels: str, result: Any = None, **options: Any) -> CentrifugoProtocol:
    """A protocol whose session is up (connect reply read) with ``channels`` subscribed."""
    protocol = CentrifugoProtocol(**options)
    for channel in channels:
        protocol.subscribe(channel)
    protocol.on_open()
    connect = sent(protocol)[0]
    feed(protocol, {"id": connect["id"], "connect": result or {"client": "c1", "version": "6"}})
    assert protocol.session_up
    return protocol


def pub(offset: int, value: Any = None) -> dict[str, Any]:
    return {"data": {"n": offset if value is None else value}, "offset": offset}


def push_pub(channel: str, offset: int) -> dict[str, Any]:
    return {"push": {"channel": channel, "pub": pub(offset)}}


def reconnect(protocol: CentrifugoProtocol, code: int | None = None) -> list[dict[str, Any]]:
    """Drop the socket, open a new one, answer its connect; the frames sent after that."""
    protocol.on_close(code, "")
    protocol.reset_socket_state()
    protocol.on_open()
    connect = sent(protocol)[0]
    assert connect["id"] == 1
    feed(protocol, {"id": 1, "connect": {"client": "c2"}})
    return sent(protocol)


class TestConnect:
    def test_connect_is_the_first_command_with_id_1(self) -> None:
        """The first frame is connect, id 1, with token, name and version."""
        protocol = CentrifugoProtocol(token=SECRET, name="py", version="1.0")
        protocol.subscribe("chat")
        protocol.on_open()
        frames = sent(protocol)
        assert frames == [{"id": 1, "connect": {"token": SECRET, "name": "py", "version": "1.0"}}]

    def test_nothing_else_is_sent_before_the_connect_reply(self) -> None:
        """Subscribes and pings wait: only the connect reply opens the session."""
        protocol = CentrifugoProtocol()
        protocol.on_open()
        sent(protocol)
        protocol.subscribe("a")
        assert feed(protocol, {}) == []
        assert sent(protocol) == []
        assert not protocol.session_up

    def test_the_reply_opens_the_session_and_restores_subscriptions(self) -> None:
        """After the connect reply every registered channel is subscribed, ids counting up."""
        protocol = CentrifugoProtocol()
        protocol.subscribe("a")
        protocol.subscribe("b")
        protocol.on_open()
        sent(protocol)
        feed(protocol, {"id": 1, "connect": {"client": "c1", "version": "6.1"}})
        assert protocol.session_up and protocol.client_id == "c1"
        assert sent(protocol) == [
            {"id": 2, "subscribe": {"channel": "a"}},
            {"id": 3, "subscribe": {"channel": "b"}},
        ]

    def test_ids_start_again_at_1_on_every_socket(self) -> None:
        """A reconnect restarts the id count: connect is id 1 again."""
        protocol = connected("a")
        sent(protocol)
        frames = reconnect(protocol)
        assert frames == [{"id": 2, "subscribe": {"channel": "a"}}]

    def test_a_token_is_fetched_first_when_only_get_token_is_given(self) -> None:
        """With get_token and no token, connect waits for the token job's answer."""
        protocol = CentrifugoProtocol(get_token=True)
        protocol.on_open()
        assert sent(protocol) == []
        [job] = protocol.take_jobs()
        assert job.kind == "token"
        protocol.job_done(job, SECRET, None)
        assert sent(protocol) == [{"id": 1, "connect": {"token": SECRET, "name": "wsclients"}}]

    def test_a_slow_token_serves_the_next_socket(self) -> None:
        """One fetch at a time; its token, arriving after its socket died, connects the next."""
        protocol = CentrifugoProtocol(get_token=True)
        protocol.on_open()
        [job] = protocol.take_jobs()
        protocol.on_close(3502, "stale")
        assert not protocol.is_fatal(3502, None)  # our own get_token was the hold-up
        protocol.reset_socket_state()
        protocol.on_open()
        assert protocol.take_jobs() == []
        protocol.job_done(job, SECRET, None)
        assert sent(protocol) == [{"id": 1, "connect": {"token": SECRET, "name": "wsclients"}}]
        protocol.on_close(3502, "stale")
        assert protocol.is_fatal(3502, None)  # connect was sent: stale is the server's verdict

    def test_connect_error_109_asks_for_a_new_token_on_the_next_socket(self) -> None:
        """109 on connect: the socket is closed for a retry and the next one fetches a token."""
        protocol = CentrifugoProtocol(token="old", get_token=True)
        protocol.on_open()
        sent(protocol)
        feed(protocol, {"id": 1, "error": {"code": 109, "message": "token expired"}})
        assert protocol.close_request is not None and not protocol.close_request.fatal
        protocol.on_close(1000, "")
        protocol.reset_socket_state()
        protocol.on_open()
        assert [job.kind for job in protocol.take_jobs()] == ["token"]

    def test_connect_error_109_without_get_token_is_fatal(self) -> None:
        """An expired fixed token cannot be renewed: the client stops with an error."""
        protocol = CentrifugoProtocol(token=SECRET)
        protocol.on_open()
        sent(protocol)
        [error] = feed(protocol, {"id": 1, "error": {"code": 109, "message": "token expired"}})
        assert isinstance(error, ErrorEvent) and error.fatal
        assert isinstance(error.exception, AuthenticationFailed)
        assert protocol.close_request is not None and protocol.close_request.fatal

    def test_a_temporary_connect_error_retries(self) -> None:
        """temporary: true → reconnect with backoff, a non-fatal error event."""
        protocol = CentrifugoProtocol()
        protocol.on_open()
        sent(protocol)
        [error] = feed(protocol, {"id": 1, "error": {
            "code": 100, "message": "internal server error", "temporary": True}})
        assert not error.fatal  # type: ignore[union-attr]
        assert protocol.close_request is not None and not protocol.close_request.fatal

    def test_other_connect_errors_are_terminal(self) -> None:
        """A permanent connect error stops the client, code and message in the event."""
        protocol = CentrifugoProtocol()
        protocol.on_open()
        sent(protocol)
        [error] = feed(protocol, {"id": 1, "error": {"code": 103, "message": "permission denied"}})
        assert isinstance(error, ErrorEvent) and error.fatal and error.code == 103
        assert isinstance(error.exception, CentrifugoError)
        assert error.exception.message == "permission denied"
        assert protocol.close_request is not None and protocol.close_request.fatal

    def test_no_connect_reply_in_time_reconnects(self) -> None:
        """The connect reply is awaited for ``timeout`` seconds, then the socket is closed."""
        protocol = CentrifugoProtocol(timeout=5)
        protocol.on_open()
        protocol.on_tick(100.0)
        protocol.on_tick(104.0)
        assert protocol.close_request is None
        protocol.on_tick(105.5)
        assert protocol.close_request is not None and not protocol.close_request.fatal


class TestCloseCodes:
    @pytest.mark.parametrize("code", [3500, 3501, 3502, 3999, 4500, 4999])
    def test_terminal_codes(self, code: int) -> None:
        """3500–3999 and 4500–4999 stop the client."""
        assert is_terminal_close(code) and CentrifugoProtocol().is_fatal(code, None)

    @pytest.mark.parametrize("code", [None, 1000, 1006, 3000, 3005, 3012, 3499, 4000, 4499, 5000])
    def test_other_codes_reconnect(self, code: int | None) -> None:
        """3000–3499, 4000–4499, ≥ 5000, transport codes and a bare drop reconnect."""
        assert not is_terminal_close(code) and not CentrifugoProtocol().is_fatal(code, None)

    def test_3005_drops_the_token_when_it_can_be_fetched_again(self) -> None:
        """Connection expired: the next connect fetches a new token first."""
        protocol = connected(token="old", get_token=True)
        protocol.on_close(3005, "connection expired")
        protocol.reset_socket_state()
        protocol.on_open()
        assert sent(protocol) == []
        assert [job.kind for job in protocol.take_jobs()] == ["token"]


class TestPingPong:
    def test_each_ping_gets_exactly_one_pong_when_asked(self) -> None:
        """``{}`` → ``{}``, one per ping, even with several pings batched in one frame."""
        protocol = connected(result={"client": "c", "ping": 25, "pong": True})
        feed(protocol, {}, {}, "{}")
        assert protocol.take_frames() == ["{}", "{}", "{}"]

    def test_no_pong_unless_the_connect_reply_said_pong_true(self) -> None:
        """An unrequested pong would close the socket with 3501."""
        protocol = connected(result={"client": "c", "ping": 25})
        feed(protocol, {})
        assert protocol.take_frames() == []

    def test_a_silent_server_is_caught_by_the_ping_watchdog(self) -> None:
        """No ping for ping + max_server_ping_delay seconds → close and reconnect."""
        protocol = connected(result={"ping": 2, "pong": True}, max_server_ping_delay=1)
        protocol.on_tick(10.0)
        protocol.on_tick(12.5)
        feed(protocol, {})  # a ping re-arms the watchdog
        protocol.on_tick(13.0)
        protocol.on_tick(15.9)
        assert protocol.close_request is None
        protocol.on_tick(16.1)
        assert protocol.close_request is not None and "no ping" in protocol.close_request.reason

    def test_no_watchdog_without_server_pings(self) -> None:
        """ping 0 or absent: nothing to watch."""
        protocol = connected()
        protocol.on_tick(0.0)
        protocol.on_tick(1e6)
        assert protocol.close_request is None

    def test_the_protocol_never_sends_a_ping_command(self) -> None:
        """Current servers close a ping command with 3501: no app-level ping message."""
        assert CentrifugoProtocol().ping_message() is None


class TestPublications:
    def test_a_publication_is_a_message_with_its_offset(self) -> None:
        """pub push → Publication (a Message): channel, decoded data, offset, tags."""
        protocol = connected("chat")
        feed(protocol, {"id": 2, "subscribe": {"recoverable": True, "epoch": "e1", "offset": 4}})
        [event] = feed(protocol, {"push": {"channel": "chat", "pub": {
            "data": {"text": "hi"}, "offset": 5, "tags": {"k": "v"}}}})
        assert isinstance(event, Publication) and isinstance(event, Message)
        assert (event.channel, event.data, event.offset, event.epoch, event.tags) == (
            "chat", {"text": "hi"}, 5, "e1", {"k": "v"})

    def test_batched_frames_are_split_on_newlines(self) -> None:
        """200 publications in a few frames arrive in order, none lost."""
        protocol = connected("chat")
        feed(protocol, {"id": 2, "subscribe": {"recoverable": True, "epoch": "e", "offset": 0}})
        events: list[Event] = []
        for start in range(1, 201, 50):
            events += feed(protocol, *[push_pub("chat", n) for n in range(start, start + 50)])
        assert [e.offset for e in events] == list(range(1, 201))  # type: ignore[union-attr]

    def test_a_publication_seen_before_is_dropped(self) -> None:
        """Offsets at or below the last delivered one are duplicates."""
        protocol = connected("chat")
        feed(protocol, {"id": 2, "subscribe": {"recoverable": True, "epoch": "e", "offset": 0}})
        events = feed(protocol, push_pub("chat", 1), push_pub("chat", 2), push_pub("chat", 2),
                      push_pub("chat", 1), push_pub("chat", 3))
        assert [e.offset for e in events] == [1, 2, 3]  # type: ignore[union-attr]
        assert protocol.duplicates == 2

    def test_join_leave_and_messages_are_messages(self) -> None:
        """join/leave pushes and async messages become Message events."""
        protocol = connected("chat")
        events = feed(
            protocol,
            {"push": {"channel": "chat", "join": {"info": {"user": "u1", "client": "c9"}}}},
            {"push": {"channel": "chat", "leave": {"info": {"user": "u1"}}}},
            {"push": {"message": {"data": {"hello": 1}}}},
        )
        assert [(e.channel, e.data) for e in events] == [  # type: ignore[union-attr]
            ("chat", {"type": "join", "info": {"user": "u1", "client": "c9"}}),
            ("chat", {"type": "leave", "info": {"user": "u1"}}),
            ("", {"hello": 1}),
        ]
        assert all(type(e) is Message for e in events)

    def test_publications_in_a_first_subscribe_reply_are_delivered(self) -> None:
        """A reply carrying publications (not recovering) delivers them, then the position."""
        protocol = connected("chat")
        events = feed(protocol, {"id": 2, "subscribe": {
            "recoverable": True, "epoch": "e", "offset": 2, "publications": [pub(1), pub(2)]}})
        assert [e.offset for e in events] == [1, 2]  # type: ignore[union-attr]
        assert protocol.position("chat") == ("e", 2)

    def test_no_subscribe_reply_in_time_reconnects(self) -> None:
        """The server may have subscribed us already, so a retry would get 105: reconnect."""
        protocol = connected("chat", timeout=3)
        protocol.on_tick(0.0)
        protocol.on_tick(3.1)
        assert protocol.close_request is not None and "chat" in protocol.close_request.reason

    def test_a_disconnect_push_applies_the_close_code_rules(self) -> None:
        """disconnect push: terminal codes stop with an error event, others reconnect."""
        protocol = connected()
        [error] = feed(protocol, {"push": {"disconnect": {"code": 3503, "reason": "force"}}})
        assert isinstance(error, ErrorEvent) and error.fatal
        assert protocol.close_request is not None and protocol.close_request.fatal
        other = connected()
        assert feed(other, {"push": {"disconnect": {"code": 3001, "reason": "shutdown"}}}) == []
        assert other.close_request is not None and not other.close_request.fatal

    def test_a_bad_line_is_an_error_event_and_the_rest_goes_on(self) -> None:
        """Junk in a batch costs that line only."""
        protocol = connected("chat")
        events = feed(protocol, "not json", push_pub("chat", 1))
        assert isinstance(events[0], ErrorEvent) and not events[0].fatal
        assert isinstance(events[1], Publication)

    def test_bytes_frames_are_read(self) -> None:
        """A frame may come as bytes."""
        protocol = connected("chat")
        protocol.receive_text(json.dumps(push_pub("chat", 1)).encode(), received_ns=1)
        [event] = protocol.take_events()
        assert isinstance(event, Publication)


class TestRecovery:
    def subscribed(self) -> CentrifugoProtocol:
        protocol = connected("chat")
        sent(protocol)
        feed(protocol, {"id": 2, "subscribe": {"recoverable": True, "epoch": "e1", "offset": 10}})
        feed(protocol, push_pub("chat", 11), push_pub("chat", 12))
        return protocol

    def test_resubscribe_asks_to_recover_from_the_last_offset(self) -> None:
        """After a drop the subscribe carries recover, epoch and the last offset delivered."""
        protocol = self.subscribed()
        assert reconnect(protocol) == [{"id": 2, "subscribe": {
            "channel": "chat", "recover": True, "epoch": "e1", "offset": 12}}]

    def test_missed_publications_arrive_first_in_order_exactly_once(self) -> None:
        """Recovered publications are delivered in order; repeats of them are dropped."""
        protocol = self.subscribed()
        reconnect(protocol)
        events = feed(
            protocol,
            {"id": 2, "subscribe": {"recoverable": True, "epoch": "e1", "offset": 12,
                                    "was_recovering": True, "recovered": True,
                                    "publications": [pub(13), pub(14), pub(15)]}},
            push_pub("chat", 15), push_pub("chat", 16),
        )
        assert [e.offset for e in events] == [13, 14, 15, 16]  # type: ignore[union-attr]
        assert protocol.position("chat") == ("e1", 16)

    def test_a_failed_recovery_is_announced(self) -> None:
        """recovered: false → RecoveryFailed with the new position, before newer data."""
        protocol = self.subscribed()
        reconnect(protocol)
        events = feed(
            protocol,
            {"id": 2, "subscribe": {"recoverable": True, "epoch": "e2", "offset": 90,
                                    "was_recovering": True, "recovered": False}},
            push_pub("chat", 91),
        )
        assert isinstance(events[0], RecoveryFailed)
        assert (events[0].channel, events[0].epoch, events[0].offset) == ("chat", "e2", 90)
        assert isinstance(events[1], Publication) and events[1].offset == 91

    def test_recover_false_never_asks_for_recovery(self) -> None:
        """subscribe(recover=False) resubscribes from the live stream."""
        protocol = CentrifugoProtocol()
        protocol.subscribe("chat", recover=False)
        protocol.on_open()
        sent(protocol)
        feed(protocol, {"id": 1, "connect": {}})
        feed(protocol, {"id": 2, "subscribe": {"recoverable": True, "epoch": "e", "offset": 3}})
        sent(protocol)
        assert reconnect(protocol) == [{"id": 2, "subscribe": {"channel": "chat"}}]

    def test_close_3014_forgets_positions(self) -> None:
        """State invalidated: resubscribe without recovery."""
        protocol = self.subscribed()
        assert reconnect(protocol, 3014) == [{"id": 2, "subscribe": {"channel": "chat"}}]


class TestSubscriptions:
    def test_a_refused_subscription_ends_alone(self) -> None:
        """A permanent subscribe error ends that channel only, with an event naming it."""
        protocol = connected("a", "b")
        sent(protocol)
        [error] = feed(protocol, {"id": 2, "error": {"code": 103, "message": "permission denied"}})
        assert isinstance(error, ErrorEvent) and error.code == 103 and "a" in error.message
        assert isinstance(error.exception, SubscriptionRejected)
        assert protocol.subscriptions() == {"b": "subscribing"}
        assert protocol.close_request is None

    def test_a_temporary_subscribe_error_retries_after_a_backoff(self) -> None:
        """temporary: true → the subscribe is sent again once the backoff has passed."""
        protocol = connected("a", resubscribe_min=1.0)
        sent(protocol)
        feed(protocol, {"id": 2, "error": {"code": 111, "message": "too many", "temporary": True}})
        protocol.on_tick(0.0)
        assert sent(protocol) == []
        protocol.on_tick(1.1)
        assert sent(protocol) == [{"id": 3, "subscribe": {"channel": "a"}}]

    @pytest.mark.parametrize("code", [2500, 2501, 2502])
    def test_unsubscribe_push_at_or_above_2500_resubscribes(self, code: int) -> None:
        """Codes ≥ 2500: subscribe again (2502 also drops the position)."""
        protocol = connected("a")
        sent(protocol)
        feed(protocol, {"id": 2, "subscribe": {"recoverable": True, "epoch": "e", "offset": 1}})
        feed(protocol, {"push": {"channel": "a", "unsubscribe": {"code": code, "reason": "x"}}})
        expected: dict[str, Any] = {"channel": "a"}
        if code != 2502:
            expected.update(recover=True, epoch="e", offset=1)
        assert sent(protocol) == [{"id": 3, "subscribe": expected}]
        assert should_resubscribe(code)

    def test_unsubscribe_push_below_2500_ends_the_subscription(self) -> None:
        """Code 2000: the channel is gone, an event says so, nothing is sent."""
        protocol = connected("a")
        sent(protocol)
        feed(protocol, {"id": 2, "subscribe": {}})
        [error] = feed(protocol, {"push": {"channel": "a", "unsubscribe": {
            "code": 2000, "reason": "server unsubscribe"}}})
        assert isinstance(error, ErrorEvent) and error.code == 2000
        assert protocol.subscriptions() == {} and sent(protocol) == []
        assert feed(protocol, push_pub("a", 5)) == []

    def test_unsubscribe_sends_the_command_and_forgets(self) -> None:
        """unsubscribe() while subscribed sends it and drops the channel."""
        protocol = connected("a")
        sent(protocol)
        feed(protocol, {"id": 2, "subscribe": {}})
        assert protocol.unsubscribe("a") and not protocol.unsubscribe("a")
        assert sent(protocol) == [{"id": 3, "unsubscribe": {"channel": "a"}}]

    def test_subscription_tokens_come_from_get_token(self) -> None:
        """A subscription with get_token asks for its token before subscribing."""
        protocol = connected()
        protocol.subscribe("secret:1", get_token=lambda channel: "sub-" + channel)
        [job] = protocol.take_jobs()
        assert job.kind == "sub_token" and job.args[1] == "secret:1"
        protocol.job_done(job, job.args[0](job.args[1]), None)
        assert sent(protocol) == [{"id": 2, "subscribe": {
            "channel": "secret:1", "token": "sub-secret:1"}}]

    def test_sub_refresh_before_the_subscription_token_expires(self) -> None:
        """expires/ttl in the subscribe reply → a new token and sub_refresh before ttl ends."""
        protocol = connected()
        protocol.subscribe("s", token="t1", get_token=lambda channel: "t2")
        sent(protocol)
        feed(protocol, {"id": 2, "subscribe": {"expires": True, "ttl": 10}})
        protocol.on_tick(0.0)
        protocol.on_tick(4.0)
        assert protocol.take_jobs() == []
        protocol.on_tick(5.1)
        [job] = protocol.take_jobs()
        protocol.job_done(job, "t2", None)
        assert sent(protocol) == [{"id": 3, "sub_refresh": {"channel": "s", "token": "t2"}}]
        feed(protocol, {"id": 3, "sub_refresh": {"expires": True, "ttl": 10}})
        protocol.on_tick(6.0)
        protocol.on_tick(11.1)
        assert [j.kind for j in protocol.take_jobs()] == ["sub_token"]

    def test_subscribe_error_109_fetches_a_new_subscription_token(self) -> None:
        """109 on subscribe: the token is fetched again and the subscribe resent."""
        protocol = connected()
        protocol.subscribe("s", token="old", get_token=lambda channel: "new")
        sent(protocol)
        feed(protocol, {"id": 2, "error": {"code": 109, "message": "token expired"}})
        [job] = protocol.take_jobs()
        protocol.job_done(job, "new", None)
        assert sent(protocol) == [{"id": 3, "subscribe": {"channel": "s", "token": "new"}}]


class TestTokens:
    def test_refresh_before_the_connection_token_expires(self) -> None:
        """expires/ttl on connect → get_token and a refresh command before ttl runs out."""
        protocol = CentrifugoProtocol(token="t1", get_token=True)
        protocol.on_open()
        sent(protocol)
        feed(protocol, {"id": 1, "connect": {"expires": True, "ttl": 4}})
        protocol.on_tick(0.0)
        protocol.on_tick(1.9)
        assert protocol.take_jobs() == []
        protocol.on_tick(2.1)
        [job] = protocol.take_jobs()
        assert job.kind == "token"
        protocol.job_done(job, "t2", None)
        assert sent(protocol) == [{"id": 2, "refresh": {"token": "t2"}}]
        feed(protocol, {"id": 2, "refresh": {"expires": True, "ttl": 4}})
        protocol.on_tick(3.0)
        protocol.on_tick(5.1)
        assert [j.kind for j in protocol.take_jobs()] == ["token"]

    def test_a_raising_get_token_retries_and_hides_its_text(self) -> None:
        """get_token raising: a non-fatal error naming only the exception type, then retry."""
        protocol = CentrifugoProtocol(get_token=True)
        protocol.on_open()
        [job] = protocol.take_jobs()
        protocol.job_done(job, None, RuntimeError(SECRET))
        [error] = protocol.take_events()
        assert isinstance(error, ErrorEvent) and not error.fatal
        assert SECRET not in error.message and SECRET not in str(error.exception)
        assert protocol.close_request is not None and not protocol.close_request.fatal

    def test_an_empty_token_is_fatal(self) -> None:
        """get_token returning nothing: no way to authenticate, stop."""
        protocol = CentrifugoProtocol(get_token=True)
        protocol.on_open()
        [job] = protocol.take_jobs()
        protocol.job_done(job, "", None)
        [error] = protocol.take_events()
        assert isinstance(error, ErrorEvent) and error.fatal
        assert protocol.close_request is not None and protocol.close_request.fatal

    def test_the_token_is_in_no_repr_or_event(self) -> None:
        """The secret goes in the connect frame only."""
        protocol = CentrifugoProtocol(token=SECRET)
        protocol.subscribe("c", token=SECRET)
        protocol.on_open()
        sent(protocol)
        events = feed(protocol, {"id": 1, "connect": {}}, {"id": 2, "error": {"code": 103,
                                                                               "message": "no"}})
        assert SECRET not in repr(protocol)
        assert all(SECRET not in repr(e) and SECRET not in str(e) for e in events)
        assert all(SECRET not in str(getattr(e, "exception", "")) for e in events)


class TestRequests:
    def test_rpc_reply_answers_the_request(self) -> None:
        """A request gets the next wire id; its reply resolves it with the rpc data."""
        protocol = connected()
        protocol.request("r1", "rpc", {"method": "m", "data": {"x": 1}})
        assert sent(protocol) == [{"id": 2, "rpc": {"method": "m", "data": {"x": 1}}}]
        feed(protocol, {"id": 2, "rpc": {"data": {"ok": True}}})
        [reply] = protocol.take_replies()
        assert (reply.request_id, reply.result, reply.error) == ("r1", {"ok": True}, None)

    def test_an_error_reply_is_a_typed_exception(self) -> None:
        """error → CentrifugoError with code, message, temporary."""
        protocol = connected()
        protocol.request(5, "history", {"channel": "c"})
        sent(protocol)
        feed(protocol, {"id": 2, "error": {"code": 108, "message": "not available"}})
        [reply] = protocol.take_replies()
        assert isinstance(reply.error, CentrifugoError)
        assert (reply.error.code, reply.error.message, reply.error.temporary) == (
            108, "not available", False)

    def test_results_are_shaped_per_method(self) -> None:
        """publish → None, presence → the client map, presence_stats/history → as sent."""
        protocol = connected()
        for n, method in enumerate(["publish", "presence", "presence_stats", "history"]):
            protocol.request(n, method, {"channel": "c"})
        sent(protocol)
        feed(
            protocol,
            {"id": 2, "publish": {}},
            {"id": 3, "presence": {"presence": {"c1": {"user": "u"}}}},
            {"id": 4, "presence_stats": {"num_clients": 2, "num_users": 1}},
            {"id": 5, "history": {"publications": [pub(1)], "epoch": "e", "offset": 1}},
        )
        results = [r.result for r in protocol.take_replies()]
        assert results == [None, {"c1": {"user": "u"}}, {"num_clients": 2, "num_users": 1},
                           {"publications": [pub(1)], "epoch": "e", "offset": 1}]

    def test_a_request_before_the_connect_reply_waits_for_it(self) -> None:
        """Nothing but connect may precede the connect reply: the request goes after it."""
        protocol = CentrifugoProtocol()
        protocol.on_open()
        sent(protocol)
        protocol.request("r", "presence", {"channel": "c"})
        assert sent(protocol) == []
        feed(protocol, {"id": 1, "connect": {}})
        assert sent(protocol) == [{"id": 2, "presence": {"channel": "c"}}]

    def test_unknown_methods_are_refused(self) -> None:
        """Only the documented request commands go through request()."""
        with pytest.raises(ValueError):
            connected().request(1, "connect", {})

    def test_send_has_no_id(self) -> None:
        """send is fire and forget: no id, no reply expected."""
        protocol = connected()
        assert protocol.send({"x": 1})
        assert sent(protocol) == [{"send": {"data": {"x": 1}}}]
        assert not CentrifugoProtocol().send({"x": 1})


def test_deadlines_anchor_at_the_next_tick() -> None:
    """A deadline counts from the first clock reading after it was armed, fires once."""
    deadlines = Deadlines()
    deadlines.arm("a", 2.0)
    assert deadlines.expired(10.0) == [] and "a" in deadlines
    assert deadlines.expired(11.9) == []
    assert deadlines.expired(12.0) == ["a"] and "a" not in deadlines
    deadlines.arm("b", 1.0)
    deadlines.cancel("b")
    assert deadlines.expired(20.0) == []


def test_refresh_delay_leaves_a_margin() -> None:
    """Tokens are renewed at half their ttl, or a minute before expiry for long ones."""
    assert refresh_delay(4) == 2 and refresh_delay(3600) == 3540 and refresh_delay(0) == 0


def test_job_equality_ignores_args() -> None:
    """Jobs are matched by kind and key (args carry callables)."""
    assert Job("token", ("connect", 1)) == Job("token", ("connect", 1), args=object())
