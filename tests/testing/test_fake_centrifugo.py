"""FakeCentrifugo against a bare websocket-client socket: exact frames and close codes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import websocket

from tests.conftest import T
from wsclients.testing.centrifugo import (
    ChannelOptions,
    ClientInfo,
    FakeCentrifugo,
    ForceDisconnect,
    ReplyError,
)

pytestmark = pytest.mark.timeout(30)

HISTORY = {"history_size": 10, "history_ttl": 60.0}


class Raw:
    """A plain socket to the fake: send commands (several = one frame), read decoded frames."""

    def __init__(self, fake: FakeCentrifugo) -> None:
        self.fake = fake
        self.ws = websocket.create_connection(fake.url, timeout=3 * T)

    def send(self, *commands: Any) -> None:
        self.ws.send("\n".join(c if isinstance(c, str) else json.dumps(c) for c in commands))

    def frame(self) -> list[Any]:
        """The next frame, split into its messages."""
        opcode, frame = self.ws.recv_data_frame(True)
        assert opcode == websocket.ABNF.OPCODE_TEXT, f"opcode {opcode}: {frame.data!r}"
        text: str = frame.data.decode()
        assert "\n\n" not in text and not text.endswith("\n")
        return [json.loads(line) for line in text.split("\n")]

    def one(self) -> Any:
        messages = self.frame()
        assert len(messages) == 1, messages
        return messages[0]

    def connect(self, user: str = "alice", **claims: Any) -> dict[str, Any]:
        self.send({"id": 1, "connect": {"token": self.fake.make_token(user, **claims)}})
        reply = self.one()
        assert "connect" in reply, reply
        return dict(reply["connect"])

    def command(self, command_id: int, **request: Any) -> Any:
        self.send({"id": command_id, **request})
        return self.one()

    def subscribe(self, command_id: int, channel: str, **fields: Any) -> Any:
        return self.command(command_id, subscribe={"channel": channel, **fields})

    def closed_with(self) -> tuple[int, str]:
        """Read until the close frame; its code and reason."""
        while True:
            opcode, frame = self.ws.recv_data_frame(True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return int.from_bytes(frame.data[:2], "big"), frame.data[2:].decode()

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def fake() -> Iterator[FakeCentrifugo]:
    with FakeCentrifugo() as server:
        yield server


@pytest.fixture
def raw(fake: FakeCentrifugo) -> Iterator[Raw]:
    client = Raw(fake)
    yield client
    client.close()


def serve(**options: Any) -> FakeCentrifugo:
    return FakeCentrifugo(**options).start()


# --------------------------------------------------------------------------- connect and ids


def test_connect_reply_shape(raw: Raw) -> None:
    """The connect reply: client id, version, ping seconds and pong, nothing else."""
    result = raw.connect()
    assert set(result) == {"client", "version", "ping", "pong"}
    assert result["ping"] == 25 and result["pong"] is True


@pytest.mark.parametrize("command", [
    {"id": 1, "subscribe": {"channel": "news"}},
    {"id": 1, "rpc": {"method": "x"}},
    {},
    {"send": {"data": 1}},
])
def test_anything_before_connect_is_3501(raw: Raw, command: dict[str, Any]) -> None:
    """Connect first: any other command (a pong too) closes with 3501 bad request."""
    raw.send(command)
    assert raw.closed_with() == (3501, "bad request")


def test_connect_with_id_zero_is_taken_for_a_pong(raw: Raw, fake: FakeCentrifugo) -> None:
    """id 0 + connect is a pong with no ping outstanding: 3501."""
    raw.send({"id": 0, "connect": {"token": fake.make_token("alice")}})
    assert raw.closed_with() == (3501, "bad request")


@pytest.mark.parametrize("command", [
    {},  # an unrequested pong
    {"id": 2, "ping": {}},  # the legacy ping command
    {"id": 2},  # no method
    {"id": 2, "connect": {}},  # already authenticated
    {"id": -1, "subscribe": {"channel": "x"}},  # not a uint32
    "not json",
    {"id": 2, "subscribe": {"channel": ""}},  # channel required
    {"id": 2, "subscribe": {"channel": 5}},  # not a string
    {"id": 2, "subscribe": {"channel": "news", "recover": "yes"}},  # not a bool
    {"id": 2, "publish": {"channel": "news"}},  # data required
])
def test_bad_requests_after_connect_are_3501(raw: Raw, command: Any) -> None:
    """Unrequested pong, ping command, no method, bad id or JSON: close 3501."""
    raw.connect()
    raw.send(command)
    assert raw.closed_with() == (3501, "bad request")


def test_batched_commands_get_one_batched_frame(raw: Raw, fake: FakeCentrifugo) -> None:
    """Commands in one frame (\\n-joined) are answered in one frame, in order."""
    raw.send({"id": 1, "connect": {"token": fake.make_token("alice")}},
             {"id": 2, "subscribe": {"channel": "a"}},
             {"id": 3, "subscribe": {"channel": "b"}})
    frame = raw.frame()
    assert [m["id"] for m in frame] == [1, 2, 3]
    assert "connect" in frame[0] and "subscribe" in frame[1] and "subscribe" in frame[2]


def test_batched_pushes_share_a_frame(raw: Raw, fake: FakeCentrifugo) -> None:
    """Pushes inside batched() arrive in one frame; outside, one frame each."""
    raw.connect()
    raw.subscribe(2, "news")
    fake.publish("news", {"n": 0})
    assert raw.one() == {"push": {"channel": "news", "pub": {"data": {"n": 0}, "offset": 1}}}
    with fake.batched():
        fake.publish("news", {"n": 1})
        fake.ping_all()
        fake.publish("news", {"n": 2})
    frame = raw.frame()
    assert frame[1] == {} and [m["push"]["pub"]["offset"] for m in (frame[0], frame[2])] == [2, 3]


def test_command_after_an_error_close_is_not_handled(raw: Raw, fake: FakeCentrifugo) -> None:
    """The server stops reading a frame at the disconnect; earlier replies still go out."""
    raw.connect()
    raw.send({"id": 2, "subscribe": {"channel": "a"}}, {"id": 3, "ping": {}},
             {"id": 4, "subscribe": {"channel": "b"}})
    assert raw.one()["id"] == 2
    assert raw.closed_with() == (3501, "bad request")
    assert [c["subscribe"]["channel"] for c in fake.commands("subscribe")] == ["a"]
    assert fake.subscribers("b") == []


# --------------------------------------------------------------------------- ping/pong


def test_ping_pong_and_no_pong_3012() -> None:
    """{} pings; a pong {} each; a second pong for one ping is 3501; no pong is 3012."""
    with serve(ping_interval=0.2, pong_timeout=0.15) as fake:
        raw = Raw(fake)
        result = raw.connect()
        assert "ping" not in result and result["pong"] is True  # 0.2 s is 0 whole seconds
        assert raw.one() == {}
        raw.send({})
        assert raw.one() == {}
        started = time.monotonic()
        assert raw.closed_with() == (3012, "no pong")
        assert time.monotonic() - started < 1.0
        assert len(fake.commands("pong")) == 1
        raw.close()
        raw = Raw(fake)
        raw.connect()
        assert raw.one() == {}
        raw.send({})
        raw.send({})
        assert raw.closed_with() == (3501, "bad request")
        raw.close()


def test_silent_connection_is_a_black_hole() -> None:
    """go_silent(): no pings reach the client and no pong timeout closes it; resume() ends it."""
    with serve(ping_interval=0.05, pong_timeout=0.05) as fake:
        raw = Raw(fake)
        raw.connect()
        fake.go_silent()
        raw.ws.settimeout(0.4)
        with pytest.raises(websocket.WebSocketTimeoutException):
            raw.ws.recv_data_frame(True)
        assert fake.connections[0].is_open
        fake.resume()
        raw.ws.settimeout(3 * T)
        assert raw.one() == {}
        raw.close()


def test_no_pings_when_disabled() -> None:
    """ping_interval=None: no ping field, no pong field, no pings."""
    with serve(ping_interval=None) as fake:
        raw = Raw(fake)
        assert set(raw.connect()) == {"client", "version"}
        raw.close()


def test_stale_socket_is_3502() -> None:
    """No connect within stale_close_delay: close 3502 stale."""
    with serve(stale_close_delay=0.1) as fake:
        raw = Raw(fake)
        assert raw.closed_with() == (3502, "stale")
        raw.close()


# --------------------------------------------------------------------------- tokens


def test_connect_without_token_is_3501(raw: Raw) -> None:
    """No token and no anonymous access: close 3501 (credentials not found)."""
    raw.send({"id": 1, "connect": {"name": "py"}})
    assert raw.closed_with() == (3501, "bad request")


def test_anonymous_connect_when_allowed() -> None:
    """allow_anonymous_connect_without_token: connect without a token."""
    with serve(allow_anonymous_connect_without_token=True) as fake:
        raw = Raw(fake)
        assert "connect" in raw.command(1, connect={})
        raw.close()


def test_invalid_token_is_3500(raw: Raw, fake: FakeCentrifugo) -> None:
    """A token signed with another secret: close 3500 invalid token."""
    token = fake.make_token("alice", secret="another-secret-of-32-bytes-at-least")
    raw.send({"id": 1, "connect": {"token": token}})
    assert raw.closed_with() == (3500, "invalid token")


def test_expired_token_is_109_then_unusable(raw: Raw, fake: FakeCentrifugo) -> None:
    """An expired token: reply error 109, the socket stays open but the next command is 3501."""
    raw.send({"id": 1, "connect": {"token": fake.make_token("alice", ttl=-10)}})
    assert raw.one() == {"id": 1, "error": {"code": 109, "message": "token expired"}}
    raw.send({"id": 2, "connect": {"token": fake.make_token("alice")}})
    assert raw.closed_with() == (3501, "bad request")


def test_connection_expiry_is_3005_after_grace() -> None:
    """A token with exp: expires/ttl in the reply, then 3005 once exp + grace passed."""
    with serve(expired_close_delay=0.1) as fake:
        raw = Raw(fake)
        result = raw.connect(ttl=1.5)
        assert result["expires"] is True and result["ttl"] in (1, 2)
        assert raw.closed_with() == (3005, "connection expired")
        raw.close()


def test_refresh_extends_the_connection(raw: Raw, fake: FakeCentrifugo) -> None:
    """refresh with a fresh token: {expires, ttl}."""
    raw.connect(ttl=30)
    reply = raw.command(2, refresh={"token": fake.make_token("alice", ttl=120)})
    assert reply["refresh"]["expires"] is True and 119 <= reply["refresh"]["ttl"] <= 120


@pytest.mark.parametrize("token_args, closed", [
    ({"sub": "alice", "ttl": -5}, (3005, "connection expired")),
    ({"sub": "bob", "ttl": 60}, (3500, "invalid token")),
    ({"sub": "alice", "secret": "x" * 32}, (3500, "invalid token")),
    (None, (3501, "bad request")),
])
def test_refresh_failures_close(
    raw: Raw, fake: FakeCentrifugo, token_args: dict[str, Any] | None, closed: tuple[int, str],
) -> None:
    """refresh: expired → 3005, another user or bad signature → 3500, empty → 3501."""
    raw.connect(ttl=30)
    token = "" if token_args is None else fake.make_token(**token_args)
    raw.send({"id": 2, "refresh": {"token": token}})
    assert raw.closed_with() == closed


def test_private_channel_needs_a_subscription_token(raw: Raw, fake: FakeCentrifugo) -> None:
    """$channel: none → 103, expired → 109, bad → 103, valid → expires/ttl; sub_refresh."""
    raw.connect()
    assert raw.subscribe(2, "$vip")["error"]["code"] == 103
    expired = fake.make_token("alice", channel="$vip", ttl=-5)
    assert raw.subscribe(3, "$vip", token=expired)["error"] == {
        "code": 109, "message": "token expired"}
    bad = fake.make_token("alice", channel="$vip", secret="y" * 32)
    assert raw.subscribe(4, "$vip", token=bad)["error"]["code"] == 103
    good = fake.make_token("alice", channel="$vip", ttl=60)
    result = raw.subscribe(5, "$vip", token=good)["subscribe"]
    assert result["expires"] is True and 59 <= result["ttl"] <= 60
    refreshed = raw.command(6, sub_refresh={
        "channel": "$vip", "token": fake.make_token("alice", channel="$vip", ttl=90)})
    assert 89 <= refreshed["sub_refresh"]["ttl"] <= 90
    assert raw.command(7, sub_refresh={"channel": "other", "token": good})["error"]["code"] == 103


@pytest.mark.parametrize("claims", [{"sub": "bob"}, {"sub": "alice", "channel": "$other"}])
def test_subscription_token_of_someone_else_is_3500(
    raw: Raw, fake: FakeCentrifugo, claims: dict[str, Any],
) -> None:
    """A subscription token for another user or channel: close 3500."""
    raw.connect()
    token = fake.make_token(**{"channel": "$vip", **claims})
    raw.send({"id": 2, "subscribe": {"channel": "$vip", "token": token}})
    assert raw.closed_with() == (3500, "invalid token")


def test_expired_subscription_gets_unsubscribe_2501() -> None:
    """A subscription token that expires unrefreshed: unsubscribe push 2501."""
    with serve(expired_sub_close_delay=0.05) as fake:
        raw = Raw(fake)
        raw.connect()
        raw.subscribe(2, "$vip", token=fake.make_token("alice", channel="$vip", ttl=1))
        assert raw.one() == {"push": {"channel": "$vip", "unsubscribe": {
            "code": 2501, "reason": "subscription expired"}}}
        assert fake.subscribers("$vip") == []
        raw.close()


# --------------------------------------------------------------------------- channels


def test_unknown_namespace_and_duplicate(raw: Raw) -> None:
    """Unknown namespace → 102; subscribing twice → 105."""
    raw.connect()
    assert raw.subscribe(2, "chat:1")["error"] == {"code": 102, "message": "unknown channel"}
    assert raw.subscribe(3, "news") == {"id": 3, "subscribe": {
        "recoverable": True, "epoch": raw.fake.stream_position("news")[0], "positioned": True}}
    assert raw.subscribe(4, "news")["error"] == {"code": 105, "message": "already subscribed"}
    assert raw.command(5, unsubscribe={"channel": "news"}) == {"id": 5, "unsubscribe": {}}


def test_publication_time_and_utf8() -> None:
    """include_publication_time adds time (ms); non-ASCII data goes out as raw UTF-8."""
    with serve(include_publication_time=True, include_server_time=True) as fake:
        raw = Raw(fake)
        result = raw.connect()
        assert abs(result["time"] - time.time() * 1000) < 60_000
        raw.subscribe(2, "news")
        fake.publish("news", {"text": "привет"})
        opcode, frame = raw.ws.recv_data_frame(True)
        assert "привет".encode() in frame.data
        pub = json.loads(frame.data)["push"]["pub"]
        assert list(pub) == ["data", "offset", "time"]
        raw.close()


def test_plain_channel_has_no_position() -> None:
    """A namespace without history: subscribe {} and publications without offset."""
    with serve(namespaces={"": ChannelOptions(allow_subscribe_for_client=True)}) as fake:
        raw = Raw(fake)
        raw.connect()
        assert raw.subscribe(2, "news") == {"id": 2, "subscribe": {}}
        assert raw.subscribe(3, "news", recoverable=True, recover=True) == {
            "id": 3, "error": {"code": 105, "message": "already subscribed"}}
        assert fake.publish("news", "hi") == 0
        assert raw.one() == {"push": {"channel": "news", "pub": {"data": "hi"}}}
        raw.close()


def test_recovery_returns_missed_publications(fake: FakeCentrifugo) -> None:
    """Resubscribe with recover: recovered, the missed publications in order, own position."""
    raw = Raw(fake)
    raw.connect()
    result = raw.subscribe(2, "news")["subscribe"]
    epoch = result["epoch"]
    fake.publish("news", 1)
    assert raw.one()["push"]["pub"]["offset"] == 1
    raw.ws.close()
    for n in (2, 3, 4):
        fake.publish("news", n)
    raw = Raw(fake)
    raw.connect()
    result = raw.subscribe(2, "news", recover=True, epoch=epoch, offset=1)["subscribe"]
    assert result == {
        "recoverable": True, "epoch": epoch,
        "publications": [{"data": n, "offset": n} for n in (2, 3, 4)],
        "recovered": True, "offset": 1, "positioned": True, "was_recovering": True}
    fake.publish("news", 5)
    assert raw.one()["push"]["pub"] == {"data": 5, "offset": 5}
    raw.close()


def test_recovery_with_nothing_missed(raw: Raw, fake: FakeCentrifugo) -> None:
    """Recover from the top: recovered true, no publications."""
    fake.publish("news", 1)
    raw.connect()
    epoch, offset = fake.stream_position("news")
    result = raw.subscribe(2, "news", recover=True, epoch=epoch, offset=offset)["subscribe"]
    assert result["recovered"] is True and "publications" not in result


@pytest.mark.parametrize("loss", ["epoch", "history"])
def test_failed_recovery(raw: Raw, fake: FakeCentrifugo, loss: str) -> None:
    """After an epoch change or trimmed history: recovered false, current top, no pubs."""
    fake.publish("news", 1)
    old_epoch, _ = fake.stream_position("news")
    if loss == "epoch":
        fake.set_epoch("news", "e2")
    else:
        fake.publish("news", 2)
        fake.reset_history("news")
    epoch, offset = fake.stream_position("news")
    raw.connect()
    result = raw.subscribe(2, "news", recover=True, epoch=old_epoch, offset=0)["subscribe"]
    expected: dict[str, Any] = {"recoverable": True, "epoch": epoch, "positioned": True,
                                "was_recovering": True}
    if offset:
        expected["offset"] = offset
    assert result == expected


def test_reject_unrecovered_flag_is_112(raw: Raw, fake: FakeCentrifugo) -> None:
    """flag bit 2 asks for error 112 instead of recovered: false."""
    fake.publish("news", 1)
    raw.connect()
    reply = raw.subscribe(2, "news", recover=True, epoch="gone", offset=1, flag=3)
    assert reply["error"] == {"code": 112, "message": "unrecoverable position"}


def test_epoch_change_unsubscribes_positioned_subscribers_2500(
    raw: Raw, fake: FakeCentrifugo,
) -> None:
    """A publication in a new epoch reaches a positioned subscriber as unsubscribe 2500."""
    raw.connect()
    raw.subscribe(2, "news")
    fake.set_epoch("news")
    fake.publish("news", 1)
    assert raw.one() == {"push": {"channel": "news", "unsubscribe": {
        "code": 2500, "reason": "insufficient state"}}}


@pytest.mark.parametrize("code, reason", [(2000, "server unsubscribe"),
                                          (2500, "insufficient state"),
                                          (2502, "state invalidated")])
def test_unsubscribe_client_push(raw: Raw, fake: FakeCentrifugo, code: int, reason: str) -> None:
    """unsubscribe_client sends the unsubscribe push with the code and the server's reason."""
    raw.connect()
    raw.subscribe(2, "news")
    assert fake.unsubscribe_client("news", code) == 1
    assert raw.one() == {"push": {"channel": "news",
                                  "unsubscribe": {"code": code, "reason": reason}}}
    assert fake.subscribers("news") == []


@pytest.mark.parametrize("code, reason", [(3000, "connection closed"), (3001, "shutdown"),
                                          (3004, "internal server error"),
                                          (3011, "force reconnect"), (3503, "force disconnect"),
                                          (3504, "connection limit"),
                                          (3507, "permission denied")])
def test_disconnect_all_close_codes(raw: Raw, fake: FakeCentrifugo, code: int,
                                    reason: str) -> None:
    """disconnect_all closes with the code and the server's reason in the close frame."""
    raw.connect()
    fake.disconnect_all(code)
    assert raw.closed_with() == (code, reason)


def test_disconnect_one_client(fake: FakeCentrifugo) -> None:
    """disconnect(client) closes only that connection."""
    first, second = Raw(fake), Raw(fake)
    client = first.connect()["client"]
    other = second.connect(user="bob")["client"]
    assert fake.disconnect(client, 3011, "move")
    assert first.closed_with() == (3011, "move")
    assert fake.clients() == [other]
    first.close()
    second.close()


# --------------------------------------------------------------------------- other commands


def test_rpc(raw: Raw, fake: FakeCentrifugo) -> None:
    """No handlers → 108; handler data; unknown method → 104; ReplyError; ForceDisconnect."""
    raw.connect()
    assert raw.command(2, rpc={"method": "echo"})["error"]["code"] == 108
    seen: list[ClientInfo] = []

    def echo(data: Any, info: ClientInfo) -> Any:
        seen.append(info)
        return {"echo": data}

    def busy(data: Any, info: ClientInfo) -> Any:
        raise ReplyError(111)

    def kick(data: Any, info: ClientInfo) -> Any:
        raise ForceDisconnect(3503)

    fake.on_rpc("echo", echo)
    fake.on_rpc("busy", busy)
    fake.on_rpc("kick", kick)
    assert raw.command(3, rpc={"method": "echo", "data": [1]}) == {
        "id": 3, "rpc": {"data": {"echo": [1]}}}
    assert seen[0].user == "alice"
    assert raw.command(4, rpc={"method": "nope"})["error"] == {
        "code": 104, "message": "method not found"}
    assert raw.command(5, rpc={"method": "busy"})["error"] == {
        "code": 111, "message": "too many requests", "temporary": True}
    raw.send({"id": 6, "rpc": {"method": "kick"}})
    assert raw.closed_with() == (3503, "force disconnect")


def test_client_publish_and_join_leave(fake: FakeCentrifugo) -> None:
    """Publish needs a subscription here; publications carry info; join/leave pushes."""
    alice, bob = Raw(fake), Raw(fake)
    alice.connect(info={"name": "A"})
    bob_id = bob.connect(user="bob")["client"]
    assert alice.command(2, publish={"channel": "news", "data": 1})["error"]["code"] == 103
    alice.send({"id": 3, "subscribe": {"channel": "news", "join_leave": True}})
    reply, own_join = alice.frame()  # its own join follows the reply, in the same frame
    assert "subscribe" in reply
    assert own_join["push"]["join"]["info"] == {
        "user": "alice", "client": fake.clients()[0], "conn_info": {"name": "A"}}
    bob.subscribe(2, "news")
    assert alice.one() == {"push": {"channel": "news",
                                    "join": {"info": {"user": "bob", "client": bob_id}}}}
    bob.send({"id": 3, "publish": {"channel": "news", "data": {"x": 1}}})
    frame = bob.frame()
    assert frame[0] == {"push": {"channel": "news", "pub": {
        "data": {"x": 1}, "info": {"user": "bob", "client": bob_id}, "offset": 1}}}
    assert frame[1] == {"id": 3, "publish": {}}
    assert alice.one()["push"]["pub"]["data"] == {"x": 1}
    bob.command(4, unsubscribe={"channel": "news"})
    assert alice.one()["push"]["leave"]["info"]["client"] == bob_id
    alice.close()
    bob.close()


def test_client_publish_frame(raw: Raw, fake: FakeCentrifugo) -> None:
    """A subscriber's own publication arrives before the publish reply, in one frame."""
    client = raw.connect()["client"]
    raw.subscribe(2, "news")
    raw.send({"id": 3, "publish": {"channel": "news", "data": {"x": 1}}})
    assert raw.frame() == [
        {"push": {"channel": "news", "pub": {
            "data": {"x": 1}, "info": {"user": "alice", "client": client}, "offset": 1}}},
        {"id": 3, "publish": {}},
    ]


def test_history(raw: Raw, fake: FakeCentrifugo) -> None:
    """history: 103 unsubscribed, limit, since, reverse, 112 on another epoch."""
    for n in range(1, 6):
        fake.publish("news", n)
    epoch, _ = fake.stream_position("news")
    raw.connect()
    assert raw.command(2, history={"channel": "news", "limit": -1})["error"]["code"] == 103
    raw.subscribe(3, "news")
    full = raw.command(4, history={"channel": "news", "limit": -1})["history"]
    assert full == {"publications": [{"data": n, "offset": n} for n in range(1, 6)],
                    "epoch": epoch, "offset": 5}
    assert raw.command(5, history={"channel": "news"})["history"] == {"epoch": epoch, "offset": 5}
    since = raw.command(6, history={"channel": "news", "limit": 2,
                                    "since": {"offset": 2, "epoch": epoch}})["history"]
    assert [p["offset"] for p in since["publications"]] == [3, 4]
    newest = raw.command(7, history={"channel": "news", "limit": 2, "reverse": True})["history"]
    assert [p["offset"] for p in newest["publications"]] == [5, 4]
    assert raw.command(8, history={"channel": "news", "limit": 1, "since": {
        "offset": 1, "epoch": "old"}})["error"]["code"] == 112


def test_history_and_presence_not_available() -> None:
    """Without history or presence in the namespace: 108."""
    with serve(namespaces={"": ChannelOptions(allow_subscribe_for_client=True)}) as fake:
        raw = Raw(fake)
        raw.connect()
        raw.subscribe(2, "news")
        assert raw.command(3, history={"channel": "news"})["error"]["code"] == 108
        assert raw.command(4, presence={"channel": "news"})["error"]["code"] == 108
        assert raw.command(5, presence_stats={"channel": "news"})["error"] == {
            "code": 108, "message": "not available"}
        raw.close()


def test_presence(fake: FakeCentrifugo) -> None:
    """presence lists the subscribers with their info; presence_stats counts them."""
    alice, bob = Raw(fake), Raw(fake)
    alice_id = alice.connect()["client"]
    bob_id = bob.connect(user="bob")["client"]
    alice.subscribe(2, "news")
    bob.subscribe(2, "news")
    presence = alice.command(3, presence={"channel": "news"})["presence"]["presence"]
    assert presence == {alice_id: {"user": "alice", "client": alice_id},
                        bob_id: {"user": "bob", "client": bob_id}}
    assert alice.command(4, presence_stats={"channel": "news"}) == {
        "id": 4, "presence_stats": {"num_clients": 2, "num_users": 2}}
    alice.close()
    bob.close()


def test_message_push_and_send(raw: Raw, fake: FakeCentrifugo) -> None:
    """send_message pushes {message:{data}}; send without a handler closes 3508."""
    raw.connect()
    assert fake.send_message({"hello": 1}) == 1
    assert raw.one() == {"push": {"message": {"data": {"hello": 1}}}}
    raw.send({"send": {"data": {"up": 1}}})
    assert raw.closed_with() == (3508, "not available")


def test_send_with_a_handler(raw: Raw, fake: FakeCentrifugo) -> None:
    """With on_send, send is delivered and nothing is answered."""
    got: list[Any] = []
    fake.on_send(lambda data, info: got.append((data, info.user)))
    raw.connect()
    raw.send({"send": {"data": {"up": 1}}})
    fake.wait_for_command("send")
    assert raw.command(2, unsubscribe={"channel": "x"}) == {"id": 2, "unsubscribe": {}}
    assert got == [({"up": 1}, "alice")]


def test_injected_errors(raw: Raw, fake: FakeCentrifugo) -> None:
    """inject_error answers the next matching command; inject_disconnect closes."""
    fake.inject_error("subscribe", 100, channel="news")
    fake.inject_disconnect("rpc", 3013)
    raw.connect()
    assert raw.subscribe(2, "other")["subscribe"]["positioned"] is True
    assert raw.subscribe(3, "news")["error"] == {
        "code": 100, "message": "internal server error", "temporary": True}
    assert "subscribe" in raw.subscribe(4, "news")
    raw.send({"id": 5, "rpc": {"method": "x"}})
    assert raw.closed_with() == (3013, "too many requests")


def test_records(fake: FakeCentrifugo) -> None:
    """commands(), connected_count and clients() follow what happened."""
    raw = Raw(fake)
    raw.connect()
    raw.subscribe(2, "news")
    assert fake.connected_count == 1 and len(fake.clients()) == 1
    assert [c["id"] for c in fake.commands()] == [1, 2]
    assert fake.commands("connect")[0]["connect"]["token"]
    raw.close()
    again = Raw(fake)
    again.connect()
    fake.wait_for_connected(2)
    assert fake.connected_count == 2
    again.close()
