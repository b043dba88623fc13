"""FakeCentrifugo: a local server that speaks the Centrifugo client protocol v2 (JSON) as a real
Centrifugo v6 does, not kinder.

What it reproduces (protocol: https://centrifugal.dev/docs/transports/client_protocol, codes:
https://centrifugal.dev/docs/server/codes):

- **Framing.** Commands and replies are compact JSON objects, several per frame joined by one
  ``\\n``. Every command of a client frame is answered in one reply frame; pushes that a test
  groups with ``batched()`` travel in one frame too.
- **Connect first.** Any command before a successful ``connect`` closes the socket with 3501;
  no connect within ``stale_close_delay`` closes it with 3502. A connect answered with an error
  (109, 110, an injected one) leaves the connection unusable: the next command gets 3501.
- **Ids.** A command with ``id`` 0 (absent) that is not ``send`` is a pong; a pong without an
  outstanding ping, a second pong, a command with no known method (``ping`` included, as since
  centrifuge v0.33) or bad JSON close the socket with 3501.
- **Ping/pong.** ``{}`` every ``ping_interval`` (the first at a random point of the first
  interval), ``ping``/``pong: true`` in the connect reply (``ping`` is whole seconds, as the
  server's uint32 is), close 3012 "no pong" when a ping is not answered within ``pong_timeout``.
- **JWT (HS256/384/512).** Invalid connection token → close 3500, expired → error 109; the
  connection closes with 3005 ``expired_close_delay`` after ``exp`` unless a ``refresh``
  extended it; ``refresh`` with an expired token → 3005, invalid or another user → 3500.
  Subscription tokens (required on ``$`` channels): expired → 109, invalid → 103, another
  channel or user → 3500; ``sub_refresh``; an expired subscription gets the unsubscribe push
  2501 after ``expired_sub_close_delay``.
  (https://centrifugal.dev/docs/server/authentication,
  https://centrifugal.dev/docs/server/channel_token_auth)
- **Channels** by namespace (the part before the first ``:``), with the options of Centrifugo's
  namespaces (``ChannelOptions``); unknown namespace → 102, duplicate subscribe → 105.
- **History and recovery** (https://centrifugal.dev/docs/server/history_and_recovery): an
  ``epoch`` and increasing ``offset`` per channel, history of ``history_size`` publications that
  expires ``history_ttl`` seconds after the last publication, ``recover`` answered with
  ``recovered: true`` and the missed publications (position in the reply = the client's own),
  or ``recovered: false`` with the current position when the epoch changed or the history no
  longer reaches back; a positioned subscriber that would see a gap or an epoch change gets the
  unsubscribe push 2500 "insufficient state".
- **Server API for tests**: ``publish``, ``set_epoch``, ``reset_history``, ``unsubscribe_client``,
  ``disconnect``/``disconnect_all``, ``send_message``, ``on_rpc``, ``on_send``,
  ``inject_error``/``inject_disconnect``, ``make_token``; records: ``commands()``,
  ``connected_count``, ``subscribers()``; and FakeServer's faults (``drop_all``, ``go_silent``,
  ``close_all``, ``reject_handshake``, ``handshake_delay``).

Not modelled: protobuf, server-side subscriptions (``subs`` in tokens and in the connect reply),
proxies, delta compression, channel compaction, tag filters, user-limited (``#``) channels, the
periodic position check. Choices: a ``refresh`` with a token without ``exp`` ends the
connection's expiry; a ``sub_refresh`` with an expired token gets error 110; a connection made
silent with ``go_silent()`` is a black hole (no pings go out, no pong or expiry timeout closes
it); ``stop()`` closes with FakeServer's 1001 (call ``disconnect_all(3001)`` first for the
server's "shutdown").

Every hook runs under one server lock, so a subscribe reply always precedes the publications
that follow it and pushes reach each client in publication order.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any, Callable, Optional

import attrs
import jwt

from wsclients.testing.server import FakeConnection, FakeServer, Message

__all__ = [
    "DISCONNECT_REASONS",
    "ERROR_MESSAGES",
    "ChannelOptions",
    "ClientInfo",
    "FakeCentrifugo",
    "ForceDisconnect",
    "ReplyError",
]

logger = logging.getLogger(__name__)

ERROR_MESSAGES: Mapping[int, str] = {
    100: "internal server error",
    101: "unauthorized",
    102: "unknown channel",
    103: "permission denied",
    104: "method not found",
    105: "already subscribed",
    106: "limit exceeded",
    107: "bad request",
    108: "not available",
    109: "token expired",
    110: "expired",
    111: "too many requests",
    112: "unrecoverable position",
    113: "concurrent pagination",
}
"""Reply error codes and their messages (https://centrifugal.dev/docs/server/codes)."""

_TEMPORARY_ERRORS = frozenset({100, 111, 113})

DISCONNECT_REASONS: Mapping[int, str] = {
    3000: "connection closed",
    3001: "shutdown",
    3004: "internal server error",
    3005: "connection expired",
    3006: "subscription expired",
    3008: "slow",
    3009: "write error",
    3010: "insufficient state",
    3011: "force reconnect",
    3012: "no pong",
    3013: "too many requests",
    3014: "state invalidated",
    3500: "invalid token",
    3501: "bad request",
    3502: "stale",
    3503: "force disconnect",
    3504: "connection limit",
    3505: "channel limit",
    3506: "inappropriate protocol",
    3507: "permission denied",
    3508: "not available",
    3509: "too many errors",
}
"""Close codes and the reasons the server puts in the close frame."""

_UNSUBSCRIBE_REASONS: Mapping[int, str] = {
    2000: "server unsubscribe",
    2500: "insufficient state",
    2501: "subscription expired",
    2502: "state invalidated",
}

_COMMANDS = (
    "connect", "subscribe", "unsubscribe", "publish", "presence", "presence_stats", "history",
    "rpc", "send", "refresh", "sub_refresh",
)
"""The request fields a v2 server accepts, in the order it looks for them (``ping`` is not one
of them since centrifuge v0.33: it is answered with 3501)."""

_FLAG_REJECT_UNRECOVERED = 2  # SubscribeRequest.flag bit: answer 112 instead of recovered=false
_CHANNEL_MAX_LENGTH = 255  # Centrifugo's channel_max_length default
_CHANNEL_LIMIT = 128  # Centrifugo's client.channel_limit default
_RECOVERY_MAX_PUBLICATIONS = 300  # client.recovery_max_publication_limit default
_HISTORY_MAX_PUBLICATIONS = 300  # client.history_max_publication_limit default
_PRIVATE_PREFIX = "$"
_JWT_ALGORITHMS = ["HS256", "HS384", "HS512"]
_TICK = 0.01  # how often the timer thread looks at pings, pongs, expiries and stale sockets


class ReplyError(Exception):
    """Raised by an ``on_rpc``/``on_send`` handler: the command gets this error reply.

    ``temporary`` defaults to what the server uses for the code (true for 100, 111 and 113).
    """

    def __init__(self, code: int, message: str | None = None, *,
                 temporary: bool | None = None) -> None:
        self.code = code
        self.message = ERROR_MESSAGES.get(code, "error") if message is None else message
        self.temporary = code in _TEMPORARY_ERRORS if temporary is None else temporary
        super().__init__(code, self.message)


class ForceDisconnect(Exception):
    """Raised by an ``on_rpc``/``on_send`` handler: the connection is closed with this code."""

    def __init__(self, code: int, reason: str | None = None) -> None:
        self.code = code
        self.reason = DISCONNECT_REASONS.get(code, "") if reason is None else reason
        super().__init__(code, self.reason)


@attrs.frozen(kw_only=True)
class ChannelOptions:
    """The options of one channel namespace, named as in Centrifugo's configuration
    (https://centrifugal.dev/docs/server/channels#channel-options); every one is off by
    default, as there.

    History exists when both ``history_size`` and ``history_ttl`` (seconds) are positive;
    positioning and recovery need it.
    """

    presence: bool = False
    join_leave: bool = False
    force_push_join_leave: bool = False
    history_size: int = 0
    history_ttl: float = 0.0
    force_positioning: bool = False
    allow_positioning: bool = False
    force_recovery: bool = False
    allow_recovery: bool = False
    allow_subscribe_for_client: bool = False
    allow_subscribe_for_anonymous: bool = False
    allow_publish_for_subscriber: bool = False
    allow_publish_for_client: bool = False
    allow_publish_for_anonymous: bool = False
    allow_history_for_subscriber: bool = False
    allow_history_for_client: bool = False
    allow_history_for_anonymous: bool = False
    allow_presence_for_subscriber: bool = False
    allow_presence_for_client: bool = False
    allow_presence_for_anonymous: bool = False

    def __attrs_post_init__(self) -> None:
        needs_history = (self.force_positioning or self.allow_positioning
                         or self.force_recovery or self.allow_recovery)
        if needs_history and not self.has_history:
            raise ValueError("positioning and recovery need history_size and history_ttl")

    @property
    def has_history(self) -> bool:
        """Whether publications are kept (and numbered with offsets)."""
        return self.history_size > 0 and self.history_ttl > 0


DEFAULT_NAMESPACES: Mapping[str, ChannelOptions] = {
    "": ChannelOptions(
        presence=True, join_leave=True, history_size=100, history_ttl=300.0,
        force_recovery=True, allow_subscribe_for_client=True,
        allow_publish_for_subscriber=True, allow_history_for_subscriber=True,
        allow_presence_for_subscriber=True,
    ),
}
"""What ``FakeCentrifugo()`` serves without ``namespaces``: channels without a namespace, with
history, recovery, presence and join/leave; any other namespace is unknown (102)."""


@attrs.frozen(kw_only=True)
class ClientInfo:
    """Who sent an RPC or a message: the connection's user, client id and token ``info``."""

    user: str
    client: str
    conn_info: Any = None
    chan_info: Any = None


class _Stream:
    """One channel's stream: epoch, top offset and the publications kept."""

    __slots__ = ("epoch", "last_publish", "offset", "publications")

    def __init__(self, epoch: str) -> None:
        self.epoch = epoch
        self.offset = 0
        self.publications: deque[dict[str, Any]] = deque()
        self.last_publish = 0.0


@attrs.define(eq=False)
class _Subscription:
    """One channel a session is subscribed to, with what the server tracks for it."""

    options: ChannelOptions
    positioned: bool
    recoverable: bool
    push_join_leave: bool
    epoch: str = ""
    offset: int = 0
    expire_at: float = 0.0
    chan_info: Any = None


class _Session:
    """The server side of one WebSocket: authentication, subscriptions, timers, outbox."""

    def __init__(self, conn: FakeConnection, now: float) -> None:
        self.conn = conn
        self.opened_at = now
        self.client_id = ""
        self.user = ""
        self.conn_info: Any = None
        self.authenticated = False
        self.unusable = False
        self.closed = False
        self.expire_at = 0.0  # connection token exp (unix seconds); 0: never
        self.subs: dict[str, _Subscription] = {}
        self.next_ping = 0.0  # monotonic; 0: none scheduled
        self.last_ping = 0.0  # monotonic time of the last ping; negated once answered
        self.pong_deadline = 0.0
        self.holding = False  # replies and pushes wait in outbox until the frame is handled
        self.outbox: list[str] = []


class FakeCentrifugo(FakeServer):
    """The fake server; its URL ends in ``/connection/websocket``. Options are keyword-only.

    Args:
        secret: HMAC secret of connection (and subscription) tokens.
        subscription_secret: a separate secret for subscription tokens (default: ``secret``).
        namespaces: channel options by namespace (``""``: channels without a namespace); a
            namespace not listed is unknown (102). Default: ``DEFAULT_NAMESPACES``.
        allow_anonymous_connect_without_token: accept a connect without a token (user ``""``);
            otherwise such a connect is closed with 3501.
        ping_interval: seconds between server pings; ``None`` disables them.
        pong_timeout: seconds a ping may go unanswered before close 3012; ``None``: no pongs
            are asked for (``pong`` is absent from the connect reply).
        stale_close_delay: seconds a socket may stay without a valid connect (close 3502).
        expired_close_delay: grace after the connection token's ``exp`` before close 3005.
        expired_sub_close_delay: grace after a subscription token's ``exp`` before the
            unsubscribe push 2501.
        version: the ``version`` of the connect reply.
        include_server_time: add ``time`` (ms) to the connect reply.
        include_publication_time: add ``time`` (ms) to every publication.
        token_audience, token_issuer: check ``aud`` / ``iss`` when set (ignored otherwise).
        seed: seeds epochs and first-ping times.
    """

    def __init__(
        self,
        *,
        secret: str = "wsclients-fake-centrifugo-hmac-secret",
        subscription_secret: str | None = None,
        namespaces: Mapping[str, ChannelOptions] | None = None,
        allow_anonymous_connect_without_token: bool = False,
        # Heartbeat
        ping_interval: float | None = 25.0,
        pong_timeout: float | None = 8.0,
        # Timeouts
        stale_close_delay: float = 10.0,
        expired_close_delay: float = 25.0,
        expired_sub_close_delay: float = 25.0,
        # Replies
        version: str = "6.0.0",
        include_server_time: bool = False,
        include_publication_time: bool = False,
        token_audience: str | None = None,
        token_issuer: str | None = None,
        seed: int = 0,
        name: str = "centrifugo",
        path: str = "/connection/websocket",
    ) -> None:
        super().__init__(name, path=path)
        self.secret = secret
        self.subscription_secret = secret if subscription_secret is None else subscription_secret
        self.namespaces: dict[str, ChannelOptions] = dict(
            DEFAULT_NAMESPACES if namespaces is None else namespaces)
        self.allow_anonymous_connect_without_token = allow_anonymous_connect_without_token
        self.ping_interval = ping_interval
        self.pong_timeout = pong_timeout
        self.stale_close_delay = stale_close_delay
        self.expired_close_delay = expired_close_delay
        self.expired_sub_close_delay = expired_sub_close_delay
        self.version = version
        self.include_server_time = include_server_time
        self.include_publication_time = include_publication_time
        self.token_audience = token_audience
        self.token_issuer = token_issuer
        self._rng = random.Random(f"wsclients-fake-centrifugo:{seed}")
        # Guards everything below and every send (see the module docstring).
        self._lock = threading.RLock()
        self._sessions: dict[FakeConnection, _Session] = {}
        self._streams: dict[str, _Stream] = {}
        self._commands: list[tuple[FakeConnection, dict[str, Any]]] = []
        self._connected = 0
        self._holding_all = 0
        self._rpc_handlers: dict[str, Callable[[Any, ClientInfo], Any]] = {}
        self._send_handler: Callable[[Any, ClientInfo], None] | None = None
        # command name -> list of (channel or None, error reply or close code+reason, times)
        self._injected: dict[str, list[list[Any]]] = {}
        self._timer_running = False

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> FakeCentrifugo:
        """Serve (see ``FakeServer.start``) and start the timer thread (pings, expiries)."""
        super().start()
        with self._lock:
            if self._timer_running:
                return self
            self._timer_running = True
        self.start_thread(self._timer_loop, name="timer")
        return self

    def stop(self, timeout: float = 5.0) -> None:
        super().stop(timeout)
        with self._lock:
            self._timer_running = False

    # ----------------------------------------------------------------- tokens

    def make_token(
        self,
        sub: str = "",
        *,
        exp: float | None = None,
        ttl: float | None = None,
        channel: str | None = None,
        info: Any = None,
        secret: str | None = None,
        algorithm: str = "HS256",
        **claims: Any,
    ) -> str:
        """A JWT for this server: a connection token, or a subscription token with ``channel``.

        Args:
            sub: the user id (``""``: anonymous).
            exp: expiry, unix seconds; ``ttl``: expiry as seconds from now (either, or none).
            channel: makes it a subscription token for this channel.
            info: goes to ``conn_info`` (connection) or ``chan_info`` (subscription).
            secret: sign with another secret (to make an invalid token).
            claims: any other claim (``client``, ``expire_at``, ``aud``, ``nbf``, ...).
        """
        payload: dict[str, Any] = {"sub": sub}
        if ttl is not None:
            exp = time.time() + ttl
        if exp is not None:
            payload["exp"] = int(exp)
        if channel is not None:
            payload["channel"] = channel
        if info is not None:
            payload["info"] = info
        payload.update(claims)
        if secret is None:
            secret = self.secret if channel is None else self.subscription_secret
        return jwt.encode(payload, secret, algorithm=algorithm)

    # ----------------------------------------------------------------- server API

    def publish(
        self, channel: str, data: Any, *, tags: Mapping[str, str] | None = None,
        info: ClientInfo | None = None,
    ) -> int:
        """Publish ``data`` into ``channel`` as the server API does; returns its offset
        (0 when the namespace keeps no history). Subscribers get it at once (or at the end of
        ``batched()``); a positioned subscriber that would see a gap gets the push 2500."""
        with self._lock:
            options = self._options(channel)
            if options is None:
                raise ValueError(f"{channel!r} is in no configured namespace")
            pub: dict[str, Any] = {"data": data}
            if info is not None:
                pub["info"] = _client_info_json(info.user, info.client, info.conn_info,
                                                info.chan_info)
            stream: _Stream | None = None
            if options.has_history:
                stream = self._stream(channel)
                self._expire_history(stream, options)
                stream.offset += 1
                pub["offset"] = stream.offset
                stream.publications.append(pub)
                while len(stream.publications) > options.history_size:
                    stream.publications.popleft()
                stream.last_publish = time.monotonic()
            if tags:
                pub["tags"] = dict(tags)
            if self.include_publication_time:
                pub["time"] = time.time_ns() // 1_000_000
            frame = _dumps({"push": {"channel": channel, "pub": pub}})
            for session in list(self._sessions.values()):
                sub = session.subs.get(channel)
                if sub is None or session.closed:
                    continue
                if sub.positioned and stream is not None:
                    if stream.epoch != sub.epoch or pub["offset"] != sub.offset + 1:
                        self._unsubscribe(session, channel, 2500)
                        continue
                    sub.offset = pub["offset"]
                self._emit(session, frame)
            return int(pub.get("offset", 0))

    def set_epoch(self, channel: str, epoch: str | None = None) -> str:
        """Lose the channel's stream, as when the broker's state is lost: a new epoch, the
        offset back to 0, no history. Returns the new epoch. Recovery from the old epoch
        then fails, and positioned subscribers get the push 2500 at the next publication."""
        with self._lock:
            stream = _Stream(self._new_epoch() if epoch is None else epoch)
            self._streams[channel] = stream
            return stream.epoch

    def reset_history(self, channel: str) -> None:
        """Remove the kept publications but keep epoch and offset (the server API's
        ``history_remove``): recovery from an older offset then fails."""
        with self._lock:
            stream = self._streams.get(channel)
            if stream is not None:
                stream.publications.clear()

    def stream_position(self, channel: str) -> tuple[str, int]:
        """``(epoch, offset)`` of the channel's stream (created if new, as the server does)."""
        with self._lock:
            stream = self._stream(channel)
            return stream.epoch, stream.offset

    def history(self, channel: str) -> list[dict[str, Any]]:
        """The publications kept for ``channel``, oldest first (as sent: data, offset, ...)."""
        with self._lock:
            options = self._options(channel)
            stream = self._streams.get(channel)
            if stream is None or options is None:
                return []
            self._expire_history(stream, options)
            return [dict(pub) for pub in stream.publications]

    def unsubscribe_client(
        self, channel: str, code: int = 2000, reason: str | None = None, *,
        client: str | None = None,
    ) -> int:
        """Unsubscribe every subscriber of ``channel`` (or only ``client``) with the unsubscribe
        push ``{code, reason}``. Codes < 2500 end the subscription on the client; codes >= 2500
        make it resubscribe. Returns how many subscriptions ended."""
        with self._lock:
            count = 0
            for session in list(self._sessions.values()):
                if channel in session.subs and (client is None or session.client_id == client):
                    self._unsubscribe(session, channel, code, reason)
                    count += 1
            return count

    def disconnect(self, client: str, code: int = 3503, reason: str | None = None) -> bool:
        """Close the connection of client id ``client`` with ``code``; False if not found."""
        with self._lock:
            for session in self._sessions.values():
                if session.client_id == client and not session.closed:
                    self._close(session, code, reason)
                    return True
            return False

    def disconnect_all(self, code: int = 3503, reason: str | None = None) -> None:
        """Close every open connection with ``code`` and the server's reason for it."""
        with self._lock:
            for session in list(self._sessions.values()):
                if not session.closed:
                    self._close(session, code, reason)

    def send_message(self, data: Any, *, client: str | None = None) -> int:
        """The ``message`` push (async message) to ``client``, or to every connected client.
        Returns how many got it."""
        frame = _dumps({"push": {"message": {"data": data}}})
        with self._lock:
            count = 0
            for session in self._sessions.values():
                if session.authenticated and not session.closed and (
                        client is None or session.client_id == client):
                    self._emit(session, frame)
                    count += 1
            return count

    def ping_all(self) -> None:
        """Send a ping now to every connected client (and expect its pong)."""
        with self._lock:
            for session in self._sessions.values():
                if session.authenticated and not session.closed:
                    self._ping(session, time.monotonic())

    @contextlib.contextmanager
    def batched(self) -> Iterator[None]:
        """Hold every push sent inside the block and send each client's in ONE frame at the
        end, joined by ``\\n``, as the server's writer does under load."""
        with self._lock:
            self._holding_all += 1
        try:
            yield
        finally:
            with self._lock:
                self._holding_all -= 1
                if not self._holding_all:
                    for session in list(self._sessions.values()):
                        if not session.holding:
                            self._flush(session)

    def on_rpc(self, method: str, handler: Callable[[Any, ClientInfo], Any]) -> None:
        """Answer ``rpc`` calls of ``method``: ``handler(data, client_info)`` returns the reply
        ``data`` (None: no data) or raises ``ReplyError`` / ``ForceDisconnect``. With no
        handler at all an rpc gets 108; with handlers, an unknown method gets 104."""
        with self._lock:
            self._rpc_handlers[method] = handler

    def on_send(self, handler: Callable[[Any, ClientInfo], None] | None) -> None:
        """Receive ``send`` commands: ``handler(data, client_info)``. Without one, as in a
        stock Centrifugo, a ``send`` closes the connection with 3508."""
        with self._lock:
            self._send_handler = handler

    def inject_error(
        self, command: str, code: int, message: str | None = None, *,
        temporary: bool | None = None, channel: str | None = None, times: int = 1,
    ) -> None:
        """Answer the next ``times`` commands ``command`` (on ``channel``, if given) with this
        reply error instead of handling them. A failed connect leaves the socket unusable."""
        error: dict[str, Any] = {"code": code,
                                 "message": ERROR_MESSAGES.get(code, "error")
                                 if message is None else message}
        if code in _TEMPORARY_ERRORS if temporary is None else temporary:
            error["temporary"] = True
        with self._lock:
            self._injected.setdefault(command, []).append([channel, error, times])

    def inject_disconnect(
        self, command: str, code: int, reason: str | None = None, *,
        channel: str | None = None, times: int = 1,
    ) -> None:
        """Close the connection with ``code`` on the next ``times`` commands ``command``."""
        with self._lock:
            self._injected.setdefault(command, []).append(
                [channel, ForceDisconnect(code, reason), times])

    # ----------------------------------------------------------------- records

    def commands(
        self, kind: str | None = None, *, conn: FakeConnection | None = None,
    ) -> list[dict[str, Any]]:
        """Every command received (decoded), in order; only ``kind`` (``"connect"``,
        ``"subscribe"``, ``"pong"``, ...) and only on ``conn`` if given."""
        with self._lock:
            return [cmd for c, cmd in self._commands
                    if (conn is None or c is conn) and (kind is None or _kind(cmd) == kind)]

    def wait_for_command(
        self, kind: str, predicate: Callable[[dict[str, Any]], bool] | None = None, *,
        timeout: float = 5.0, start: int = 0,
    ) -> dict[str, Any]:
        """Wait until a command of ``kind`` (matching ``predicate``) has been received,
        counting from the ``start``-th command of that kind; return it."""
        found: list[dict[str, Any]] = []

        def ready() -> bool:
            matching = [cmd for _, cmd in self._commands if _kind(cmd) == kind]
            for cmd in matching[start:]:
                if predicate is None or predicate(cmd):
                    found.append(cmd)
                    return True
            return False

        self._wait_locked(ready, timeout, f"no {kind} command")
        return found[0]

    @property
    def connected_count(self) -> int:
        """How many connects succeeded so far (reconnects included)."""
        with self._lock:
            return self._connected

    def wait_for_connected(self, n: int, *, timeout: float = 5.0) -> None:
        """Wait until ``n`` connects have succeeded in total."""
        self._wait_locked(lambda: self._connected >= n, timeout, f"fewer than {n} connects")

    def clients(self) -> list[str]:
        """Client ids of the connections that are connected now."""
        with self._lock:
            return [s.client_id for s in self._sessions.values()
                    if s.authenticated and not s.closed]

    def subscribers(self, channel: str) -> list[str]:
        """Client ids subscribed to ``channel`` now."""
        with self._lock:
            return [s.client_id for s in self._sessions.values()
                    if channel in s.subs and not s.closed]

    def wait_for_subscribers(self, channel: str, n: int = 1, *, timeout: float = 5.0) -> None:
        """Wait until ``channel`` has at least ``n`` subscribers."""
        self._wait_locked(lambda: len(self.subscribers(channel)) >= n, timeout,
                          f"fewer than {n} subscribers of {channel}")

    def client_id(self, conn: FakeConnection) -> str:
        """The client id given to ``conn`` at connect (``""`` before)."""
        with self._lock:
            session = self._sessions.get(conn)
            return "" if session is None else session.client_id

    # ----------------------------------------------------------------- FakeServer hooks

    def on_connect(self, conn: FakeConnection) -> None:
        with self._lock:
            self._sessions[conn] = _Session(conn, time.monotonic())

    def on_disconnect(self, conn: FakeConnection) -> None:
        with self._lock:
            session = self._sessions.pop(conn, None)
            if session is None:
                return
            session.closed = True
            for channel in list(session.subs):
                self._remove_subscription(session, channel)
            self._cond_notify()

    def on_message(self, conn: FakeConnection, message: Message) -> None:
        with self._lock:
            session = self._sessions.get(conn)
            if session is None or session.closed:
                return
            session.holding = True
            try:
                self._handle_frame(session, message)
            finally:
                session.holding = False
                if not session.closed and not self._holding_all:
                    self._flush(session)

    # ----------------------------------------------------------------- command dispatch

    def _handle_frame(self, session: _Session, message: Message) -> None:
        try:
            text = message.decode() if isinstance(message, bytes) else message
        except UnicodeDecodeError:
            self._close(session, 3501)
            return
        if text.endswith("\n"):
            text = text[:-1]
        if not text:
            self._close(session, 3501)  # an empty request
            return
        for line in text.split("\n"):
            try:
                command = json.loads(line)
            except ValueError:
                self._close(session, 3501)
                return
            if not isinstance(command, dict):
                self._close(session, 3501)
                return
            self._commands.append((session.conn, command))
            self._cond_notify()
            self._dispatch(session, command)
            if session.closed:
                return  # the server stops reading the frame once it disconnects

    def _dispatch(self, session: _Session, command: dict[str, Any]) -> None:
        if session.unusable:
            self._close(session, 3501)
            return
        command_id = command.get("id", 0)
        if not isinstance(command_id, int) or isinstance(command_id, bool) or command_id < 0:
            self._close(session, 3501)  # id is a uint32: anything else fails to decode
            return
        kind = _method(command)
        if not session.authenticated and kind != "connect":
            self._close(session, 3501)
            return
        if command_id == 0 and kind != "send":
            self._pong(session)
            return
        if kind is None:
            self._close(session, 3501)  # no known method (``ping`` included)
            return
        request = command[kind]
        if not isinstance(request, dict) or not _well_typed(request):
            self._close(session, 3501)  # the server's decoder rejects the command
            return
        injected = self._take_injected(kind, request)
        if isinstance(injected, ForceDisconnect):
            self._close(session, injected.code, injected.reason)
            return
        if injected is not None:
            if kind == "connect":
                session.unusable = True
            self._reply(session, command_id, {"error": injected})
            return
        handler = getattr(self, f"_handle_{kind}")
        handler(session, command_id, request)

    def _take_injected(self, kind: str, request: dict[str, Any]) -> Any:
        entries = self._injected.get(kind)
        if not entries:
            return None
        for entry in entries:
            channel, outcome, _times = entry
            if channel is None or channel == request.get("channel"):
                entry[2] -= 1
                if entry[2] <= 0:
                    entries.remove(entry)
                return outcome
        return None

    # ----------------------------------------------------------------- connect and refresh

    def _handle_connect(self, session: _Session, command_id: int, req: dict[str, Any]) -> None:
        if session.authenticated:
            self._close(session, 3501)  # client already authenticated
            return
        token = req.get("token") or ""
        user, conn_info, exp = "", None, 0.0
        if token:
            try:
                claims = self._verify(token, self.secret)
            except jwt.ExpiredSignatureError:
                self._connect_error(session, command_id, 109)
                return
            except jwt.InvalidTokenError:
                self._close(session, 3500)
                return
            user = str(claims.get("sub", ""))
            conn_info = claims.get("info")
            exp = float(claims.get("expire_at") or claims.get("exp") or 0)
        elif not self.allow_anonymous_connect_without_token:
            self._close(session, 3501)  # client credentials not found
            return
        now = time.time()
        if exp and exp < now:
            self._connect_error(session, command_id, 110)
            return
        session.authenticated = True
        session.client_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        session.user = user
        session.conn_info = conn_info
        session.expire_at = exp
        result: dict[str, Any] = {"client": session.client_id, "version": self.version}
        if exp:
            result["expires"] = True
            result["ttl"] = _ttl(exp, now)
        if self.ping_interval:
            if int(self.ping_interval):
                result["ping"] = int(self.ping_interval)
            if self.pong_timeout:
                result["pong"] = True
            # The first ping goes out at a random point of the first interval.
            session.next_ping = time.monotonic() + self._rng.random() * self.ping_interval
        if self.include_server_time:
            result["time"] = int(now * 1000)
        self._connected += 1
        self._reply(session, command_id, {"connect": _drop_empty(result)})
        self._cond_notify()

    def _connect_error(self, session: _Session, command_id: int, code: int) -> None:
        session.unusable = True
        self._reply(session, command_id, {"error": _error(code)})

    def _handle_refresh(self, session: _Session, command_id: int, req: dict[str, Any]) -> None:
        token = req.get("token") or ""
        if not token:
            self._close(session, 3501)  # client token required to refresh
            return
        try:
            claims = self._verify(token, self.secret)
        except jwt.ExpiredSignatureError:
            self._close(session, 3005)
            return
        except jwt.InvalidTokenError:
            self._close(session, 3500)
            return
        if str(claims.get("sub", "")) != session.user:
            self._close(session, 3500)  # refresh token user mismatch
            return
        exp = float(claims.get("expire_at") or claims.get("exp") or 0)
        now = time.time()
        result: dict[str, Any] = {}
        if exp:
            if exp <= now:
                self._reply(session, command_id, {"error": _error(110)})
                return
            result = _drop_empty({"expires": True, "ttl": _ttl(exp, now)})
        session.expire_at = exp
        if claims.get("info") is not None:
            session.conn_info = claims["info"]
        self._reply(session, command_id, {"refresh": result})

    # ----------------------------------------------------------------- subscriptions

    def _handle_subscribe(self, session: _Session, command_id: int,
                          req: dict[str, Any]) -> None:
        channel = req.get("channel") or ""
        if not isinstance(channel, str) or not channel:
            self._close(session, 3501)  # channel required for subscribe
            return
        if len(channel) > _CHANNEL_MAX_LENGTH:
            self._reply_error(session, command_id, 107)
            return
        if channel in session.subs:
            self._reply_error(session, command_id, 105)
            return
        if len(session.subs) >= _CHANNEL_LIMIT:
            self._reply_error(session, command_id, 106)
            return
        options = self._options(channel)
        if options is None:
            self._reply_error(session, command_id, 102)
            return
        if not channel.isascii():
            self._reply_error(session, command_id, 107)
            return
        token = req.get("token") or ""
        expire_at, chan_info = 0.0, None
        if channel.startswith(_PRIVATE_PREFIX) and not token:
            self._reply_error(session, command_id, 103)
            return
        if token:
            try:
                claims = self._verify(token, self.subscription_secret)
            except jwt.ExpiredSignatureError:
                self._reply_error(session, command_id, 109)
                return
            except jwt.InvalidTokenError:
                self._reply_error(session, command_id, 103)
                return
            if (claims.get("channel") != channel
                    or str(claims.get("sub", "")) != session.user
                    or claims.get("client", session.client_id) != session.client_id):
                self._close(session, 3500)  # token channel, user or client mismatch
                return
            expire_at = float(claims.get("expire_at") or claims.get("exp") or 0)
            chan_info = claims.get("info")
        elif not (options.allow_subscribe_for_client
                  and (session.user or options.allow_subscribe_for_anonymous)):
            self._reply_error(session, command_id, 103)
            return
        refusal = self.authorize_subscribe(channel, session.user)
        if refusal is not None:
            self._reply_error(session, command_id, refusal)
            return
        history_access = self._has_access(options, "history", session.user, subscribed=True)
        recoverable = options.force_recovery or bool(req.get("recoverable")) and (
            options.allow_recovery or history_access)
        positioned = recoverable or options.force_positioning or bool(req.get("positioned")) and (
            options.allow_positioning or history_access)
        push_join_leave = options.force_push_join_leave or bool(req.get("join_leave")) and (
            options.join_leave
            and self._has_access(options, "presence", session.user, subscribed=True))
        now = time.time()
        result: dict[str, Any] = {}
        if expire_at:
            if expire_at <= now:
                self._reply_error(session, command_id, 110)
                return
            result["expires"] = True
            result["ttl"] = _ttl(expire_at, now)
        sub = _Subscription(options=options, positioned=positioned, recoverable=recoverable,
                            push_join_leave=push_join_leave, expire_at=expire_at,
                            chan_info=chan_info)
        recovering = bool(req.get("recover"))
        if positioned:
            stream = self._stream(channel)
            self._expire_history(stream, options)
            sub.epoch, sub.offset = stream.epoch, stream.offset
            recovered, publications = False, list[dict[str, Any]]()
            if recoverable and recovering:
                recovered, publications = _recover(stream, req)
                if not recovered and int(req.get("flag") or 0) & _FLAG_REJECT_UNRECOVERED:
                    self._reply_error(session, command_id, 112)
                    return
            if recoverable:
                result["recoverable"] = True
            if recovered:
                # The reply carries the client's own position; the publications advance it.
                result["epoch"] = str(req.get("epoch") or "")
                if publications:
                    result["publications"] = publications
                result["recovered"] = True
                if req.get("offset"):
                    result["offset"] = int(req["offset"])
            else:
                result["epoch"] = stream.epoch
                if stream.offset:
                    result["offset"] = stream.offset
            result["positioned"] = True
        if recovering:
            result["was_recovering"] = True
        session.subs[channel] = sub
        self._reply(session, command_id, {"subscribe": _drop_empty(result)})
        if options.join_leave:
            self._broadcast_presence(channel, "join", session)
        self.after_subscribe(channel, session.client_id)
        self._cond_notify()

    def authorize_subscribe(self, channel: str, user: str) -> int | None:
        """Hook for venue fakes: a reply error code to refuse ``user`` on ``channel`` after the
        namespace allowed it (None: allowed). Runs under the server lock."""
        return None

    def after_subscribe(self, channel: str, client: str) -> None:
        """Hook for venue fakes: ``client`` has just been subscribed to ``channel`` and its
        reply queued; what is published here follows the reply. Runs under the server lock."""

    def _handle_unsubscribe(self, session: _Session, command_id: int,
                            req: dict[str, Any]) -> None:
        channel = req.get("channel") or ""
        if not channel:
            self._close(session, 3501)
            return
        if channel in session.subs:
            self._remove_subscription(session, channel)
        self._reply(session, command_id, {"unsubscribe": {}})

    def _handle_sub_refresh(self, session: _Session, command_id: int,
                            req: dict[str, Any]) -> None:
        channel = req.get("channel") or ""
        if not channel:
            self._close(session, 3501)
            return
        sub = session.subs.get(channel)
        if sub is None:
            self._reply_error(session, command_id, 103)  # must be subscribed to refresh
            return
        token = req.get("token") or ""
        if not token:
            self._reply_error(session, command_id, 107)
            return
        try:
            claims = self._verify(token, self.subscription_secret)
        except jwt.ExpiredSignatureError:
            self._reply_error(session, command_id, 110)
            return
        except jwt.InvalidTokenError:
            self._close(session, 3500)
            return
        if (claims.get("channel") != channel or str(claims.get("sub", "")) != session.user
                or claims.get("client", session.client_id) != session.client_id):
            self._close(session, 3500)
            return
        expire_at = float(claims.get("expire_at") or claims.get("exp") or 0)
        now = time.time()
        result: dict[str, Any] = {}
        if expire_at:
            if expire_at < now:
                self._reply_error(session, command_id, 110)
                return
            result = _drop_empty({"expires": True, "ttl": _ttl(expire_at, now)})
        sub.expire_at = expire_at
        sub.chan_info = claims.get("info")
        self._reply(session, command_id, {"sub_refresh": result})

    # ----------------------------------------------------------------- other commands

    def _handle_publish(self, session: _Session, command_id: int, req: dict[str, Any]) -> None:
        channel = req.get("channel") or ""
        if not channel or "data" not in req:
            self._close(session, 3501)  # channel and data required for publish
            return
        options = self._checked_options(session, command_id, channel)
        if options is None:
            return
        user = session.user
        allowed = (
            options.allow_publish_for_client and (user or options.allow_publish_for_anonymous)
        ) or (
            options.allow_publish_for_subscriber and channel in session.subs
            and (user or options.allow_publish_for_anonymous)
        )
        if not allowed:
            self._reply_error(session, command_id, 103)
            return
        sub = session.subs.get(channel)
        info = ClientInfo(user=user, client=session.client_id, conn_info=session.conn_info,
                          chan_info=None if sub is None else sub.chan_info)
        self.publish(channel, req["data"], info=info)
        self._reply(session, command_id, {"publish": {}})

    def _handle_history(self, session: _Session, command_id: int, req: dict[str, Any]) -> None:
        channel = req.get("channel") or ""
        if not channel:
            self._close(session, 3501)
            return
        options = self._checked_options(session, command_id, channel)
        if options is None:
            return
        if not options.has_history:
            self._reply_error(session, command_id, 108)
            return
        if not self._has_access(options, "history", session.user,
                                subscribed=channel in session.subs):
            self._reply_error(session, command_id, 103)
            return
        stream = self._stream(channel)
        self._expire_history(stream, options)
        limit = int(req.get("limit") or 0)
        if limit < 0 or limit > _HISTORY_MAX_PUBLICATIONS:
            limit = _HISTORY_MAX_PUBLICATIONS
        pubs = list(stream.publications)
        since = req.get("since")
        reverse = bool(req.get("reverse"))
        if isinstance(since, dict):
            epoch = since.get("epoch") or ""
            if epoch and epoch != stream.epoch:
                self._reply_error(session, command_id, 112)
                return
            offset = int(since.get("offset") or 0)
            if reverse:
                pubs = [p for p in pubs if p["offset"] < offset]
            else:
                pubs = [p for p in pubs if p["offset"] > offset]
        if reverse:
            pubs.reverse()
        result: dict[str, Any] = {}
        if limit and pubs:
            result["publications"] = [dict(p) for p in pubs[:limit]]
        result["epoch"] = stream.epoch
        if stream.offset:
            result["offset"] = stream.offset
        self._reply(session, command_id, {"history": result})

    def _handle_presence(self, session: _Session, command_id: int,
                         req: dict[str, Any]) -> None:
        channel = self._presence_channel(session, command_id, req)
        if channel is None:
            return
        presence = {
            s.client_id: _client_info_json(s.user, s.client_id, s.conn_info,
                                           s.subs[channel].chan_info)
            for s in self._present(channel)
        }
        self._reply(session, command_id,
                    {"presence": {"presence": presence} if presence else {}})

    def _handle_presence_stats(self, session: _Session, command_id: int,
                               req: dict[str, Any]) -> None:
        channel = self._presence_channel(session, command_id, req)
        if channel is None:
            return
        present = self._present(channel)
        result = {"num_clients": len(present), "num_users": len({s.user for s in present})}
        self._reply(session, command_id, {"presence_stats": _drop_empty(result)})

    def _presence_channel(self, session: _Session, command_id: int,
                          req: dict[str, Any]) -> str | None:
        channel = req.get("channel") or ""
        if not channel:
            self._close(session, 3501)
            return None
        options = self._checked_options(session, command_id, channel)
        if options is None:
            return None
        if not options.presence:
            self._reply_error(session, command_id, 108)
            return None
        if not self._has_access(options, "presence", session.user,
                                subscribed=channel in session.subs):
            self._reply_error(session, command_id, 103)
            return None
        return str(channel)

    def _handle_rpc(self, session: _Session, command_id: int, req: dict[str, Any]) -> None:
        if not self._rpc_handlers:
            self._reply_error(session, command_id, 108)
            return
        handler = self._rpc_handlers.get(str(req.get("method", "")))
        if handler is None:
            self._reply_error(session, command_id, 104)
            return
        info = ClientInfo(user=session.user, client=session.client_id,
                          conn_info=session.conn_info)
        try:
            data = handler(req.get("data"), info)
        except ReplyError as exc:
            error = {"code": exc.code, "message": exc.message}
            if exc.temporary:
                error["temporary"] = True
            self._reply(session, command_id, {"error": error})
            return
        except ForceDisconnect as exc:
            self._close(session, exc.code, exc.reason)
            return
        self._reply(session, command_id, {"rpc": {} if data is None else {"data": data}})

    def _handle_send(self, session: _Session, command_id: int, req: dict[str, Any]) -> None:
        if self._send_handler is None:
            self._close(session, 3508)  # no message handler: the client must learn it
            return
        info = ClientInfo(user=session.user, client=session.client_id,
                          conn_info=session.conn_info)
        try:
            self._send_handler(req.get("data"), info)
        except ForceDisconnect as exc:
            self._close(session, exc.code, exc.reason)

    # ----------------------------------------------------------------- ping/pong, timers

    def _pong(self, session: _Session) -> None:
        if session.last_ping <= 0:
            self._close(session, 3501)  # no ping outstanding: unnecessary pong
            return
        session.last_ping = -session.last_ping
        session.pong_deadline = 0.0

    def _ping(self, session: _Session, now: float) -> None:
        session.last_ping = now
        if self.pong_timeout:
            session.pong_deadline = now + self.pong_timeout
        self._emit(session, "{}")

    def _timer_loop(self) -> None:
        while not self.stopping.wait(_TICK):
            with self._lock:
                now = time.monotonic()
                wall = time.time()
                for session in list(self._sessions.values()):
                    if not session.closed:
                        self._check_timers(session, now, wall)

    def _check_timers(self, session: _Session, now: float, wall: float) -> None:
        if session.conn.is_silent:
            return  # a black hole: nothing goes out, and nothing is decided
        if not session.authenticated or session.unusable:
            if now - session.opened_at >= self.stale_close_delay:
                self._close(session, 3502)
            return
        if session.pong_deadline and now >= session.pong_deadline:
            self._close(session, 3012)
            return
        if session.expire_at and wall >= session.expire_at + self.expired_close_delay:
            self._close(session, 3005)
            return
        for channel, sub in list(session.subs.items()):
            if sub.expire_at and wall > sub.expire_at + self.expired_sub_close_delay:
                self._unsubscribe(session, channel, 2501)
        if session.next_ping and now >= session.next_ping and self.ping_interval:
            self._ping(session, now)
            session.next_ping = now + self.ping_interval

    # ----------------------------------------------------------------- helpers

    def _verify(self, token: str, secret: str) -> dict[str, Any]:
        options: Any = {"verify_aud": self.token_audience is not None,
                   "verify_iss": self.token_issuer is not None}
        claims: dict[str, Any] = jwt.decode(
            token, secret, algorithms=_JWT_ALGORITHMS, options=options,
            audience=self.token_audience, issuer=self.token_issuer)
        return claims

    def _options(self, channel: str) -> ChannelOptions | None:
        name = channel[len(_PRIVATE_PREFIX):] if channel.startswith(_PRIVATE_PREFIX) else channel
        namespace = name.split(":", 1)[0] if ":" in name else ""
        return self.namespaces.get(namespace)

    def _checked_options(self, session: _Session, command_id: int,
                         channel: str) -> ChannelOptions | None:
        options = self._options(channel)
        if options is None:
            self._reply_error(session, command_id, 102)
            return None
        if not channel.isascii():
            self._reply_error(session, command_id, 107)
            return None
        return options

    @staticmethod
    def _has_access(options: ChannelOptions, what: str, user: str, *, subscribed: bool) -> bool:
        anonymous_ok = bool(user) or getattr(options, f"allow_{what}_for_anonymous")
        if getattr(options, f"allow_{what}_for_client") and anonymous_ok:
            return True
        return bool(getattr(options, f"allow_{what}_for_subscriber") and subscribed
                    and anonymous_ok)

    def _stream(self, channel: str) -> _Stream:
        stream = self._streams.get(channel)
        if stream is None:
            stream = self._streams[channel] = _Stream(self._new_epoch())
        return stream

    def _new_epoch(self) -> str:
        return "".join(self._rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(8))

    @staticmethod
    def _expire_history(stream: _Stream, options: ChannelOptions) -> None:
        # The whole history expires history_ttl after the last publication; epoch and offset
        # stay (https://centrifugal.dev/docs/server/history_and_recovery).
        if stream.publications and time.monotonic() - stream.last_publish > options.history_ttl:
            stream.publications.clear()

    def _present(self, channel: str) -> list[_Session]:
        return [s for s in self._sessions.values()
                if channel in s.subs and s.subs[channel].options.presence and not s.closed]

    def _broadcast_presence(self, channel: str, kind: str, who: _Session) -> None:
        sub = who.subs.get(channel)
        info = _client_info_json(who.user, who.client_id, who.conn_info,
                                 None if sub is None else sub.chan_info)
        frame = _dumps({"push": {"channel": channel, kind: {"info": info}}})
        for session in list(self._sessions.values()):
            other = session.subs.get(channel)
            if other is not None and other.push_join_leave and not session.closed:
                self._emit(session, frame)

    def _remove_subscription(self, session: _Session, channel: str) -> None:
        sub = session.subs.get(channel)
        if sub is None:
            return
        if sub.options.join_leave:
            # Leave goes to the others; the leaving client is no longer subscribed.
            info = _client_info_json(session.user, session.client_id, session.conn_info,
                                     sub.chan_info)
            del session.subs[channel]
            frame = _dumps({"push": {"channel": channel, "leave": {"info": info}}})
            for other in list(self._sessions.values()):
                other_sub = other.subs.get(channel)
                if other_sub is not None and other_sub.push_join_leave and not other.closed:
                    self._emit(other, frame)
        else:
            del session.subs[channel]
        self._cond_notify()

    def _unsubscribe(self, session: _Session, channel: str, code: int,
                     reason: str | None = None) -> None:
        self._remove_subscription(session, channel)
        if reason is None:
            reason = _UNSUBSCRIBE_REASONS.get(code, "")
        self._emit(session, _dumps(
            {"push": {"channel": channel, "unsubscribe": {"code": code, "reason": reason}}}))

    def _reply(self, session: _Session, command_id: int, body: dict[str, Any]) -> None:
        self._emit(session, _dumps({"id": command_id, **body}))

    def _reply_error(self, session: _Session, command_id: int, code: int) -> None:
        self._reply(session, command_id, {"error": _error(code)})

    def _emit(self, session: _Session, frame: str) -> None:
        if session.closed:
            return
        session.outbox.append(frame)
        if not session.holding and not self._holding_all:
            self._flush(session)

    def _flush(self, session: _Session) -> None:
        if session.outbox:
            frames, session.outbox = session.outbox, []
            session.conn.send("\n".join(frames))

    def _close(self, session: _Session, code: int, reason: str | None = None) -> None:
        """Flush what is queued, then the close frame; nothing more is sent or handled."""
        if session.closed:
            return
        self._flush(session)
        session.closed = True
        for channel in list(session.subs):
            self._remove_subscription(session, channel)
        if reason is None:
            reason = DISCONNECT_REASONS.get(code, "")
        logger.debug("fake centrifugo: closing %s with %d %s", session.conn, code, reason)
        session.conn.close(code, reason)
        self._cond_notify()

    def _cond_notify(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _wait_locked(self, ready: Callable[[], bool], timeout: float, describe: str) -> None:
        def check() -> bool:
            with self._lock:
                return ready()

        # Never hold the condition while taking the server lock: notifiers hold the lock
        # first. A notification missed between check and wait costs one short wait.
        deadline = time.monotonic() + timeout
        while not check():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"fake {self.name}: after {timeout} s, {describe}")
            with self._cond:
                self._cond.wait(min(remaining, 0.02))


def _recover(stream: _Stream, req: dict[str, Any]) -> tuple[bool, list[dict[str, Any]]]:
    """Whether the stream still holds everything after the client's position, and what."""
    epoch = str(req.get("epoch") or "")
    offset = int(req.get("offset") or 0)
    if epoch and epoch != stream.epoch:
        return False, []
    missed = [dict(p) for p in stream.publications if p["offset"] > offset]
    if len(missed) > _RECOVERY_MAX_PUBLICATIONS:
        return False, []
    if not missed:
        return stream.offset == offset, []
    return missed[0]["offset"] == offset + 1 and missed[-1]["offset"] == stream.offset, missed


_STRING_FIELDS = ("token", "channel", "method", "epoch", "name", "version")
_INTEGER_FIELDS = ("offset", "limit", "flag")
_BOOLEAN_FIELDS = ("recover", "positioned", "recoverable", "join_leave", "reverse")


def _well_typed(request: dict[str, Any]) -> bool:
    """Whether the request's known fields have their protocol types (a JSON null counts as
    absent); a mismatch fails the server's decoding of the whole command."""
    for name in _STRING_FIELDS:
        if request.get(name) is not None and not isinstance(request[name], str):
            return False
    for name in _INTEGER_FIELDS:
        value = request.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            return False
    for name in _BOOLEAN_FIELDS:
        if request.get(name) is not None and not isinstance(request[name], bool):
            return False
    return True


def _method(command: dict[str, Any]) -> Optional[str]:
    for kind in _COMMANDS:
        if command.get(kind) is not None:
            return kind
    return None


def _kind(command: dict[str, Any]) -> str:
    """What a recorded command was: its method, ``"pong"`` or ``"unknown"``."""
    kind = _method(command)
    if kind is None:
        return "pong" if not command.get("id") else "unknown"
    return kind


def _ttl(expire_at: float, now: float) -> int:
    """Seconds left, counted in whole unix seconds as the server does."""
    return int(expire_at) - int(now)


def _error(code: int) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": ERROR_MESSAGES.get(code, "error")}
    if code in _TEMPORARY_ERRORS:
        error["temporary"] = True
    return error


def _client_info_json(user: str, client: str, conn_info: Any, chan_info: Any) -> dict[str, Any]:
    info: dict[str, Any] = {}
    if user:
        info["user"] = user
    info["client"] = client
    if conn_info is not None:
        info["conn_info"] = conn_info
    if chan_info is not None:
        info["chan_info"] = chan_info
    return info


def _drop_empty(result: dict[str, Any]) -> dict[str, Any]:
    """Omit zero values, as the server's JSON encoder does (``omitempty``)."""
    return {key: value for key, value in result.items() if value not in (0, "", False, None)}


def _dumps(value: Any) -> str:
    # Compact, one line: a raw newline would break the frame's message boundaries.
    # Non-ASCII goes out as UTF-8, as the server's encoder writes it.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
