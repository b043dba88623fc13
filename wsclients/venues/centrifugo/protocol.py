"""Centrifugo's client protocol v2 (JSON) with no socket, thread or clock.

The wire format, from https://centrifugal.dev/docs/transports/client_protocol: every command
is one compact JSON object ``{"id": N, "<method>": {…}}`` with ids counting up from 1 on each
socket; the server answers ``{"id": N, "<method>": result}`` or ``{"id": N, "error": {…}}``,
sends pushes as ``{"push": {"channel": …, "pub"|"join"|"leave"|"unsubscribe"|…: …}}`` and
pings as an empty object ``{}``, and batches several of these in one frame, one per line.

A session starts with ``connect`` (nothing else may be sent before its reply). The protocol
owns the one registry of subscriptions: it restores them after every connect reply, keeps
each recoverable channel's ``epoch``/``offset`` and asks for recovery when resubscribing,
delivers each publication once and in order, and keeps connection and subscription tokens
fresh (``refresh``, ``sub_refresh``). Tokens come from the client's worker through ``Job``s
(``kind="token"`` and ``kind="sub_token"``); they are kept in one attribute each and are
never part of an event, a log line or an exception.

Deadlines (connect reply, server pings, token refresh, resubscribe backoff) are armed with a
duration and anchored at the next ``on_tick`` — the only place a clock reading comes in.

The rules this follows, with their sources: docs/venues/centrifugo.rst (batching, ping/pong,
codes, tokens, recovery; what users see: docs/venues/centrifugo.rst#centrifugo-client).
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping
from typing import Any, Callable, Optional, Union

from wsclients.core import codec
from wsclients.core.protocol import CloseRequest, Job, ProtocolBuffers, guarded_parse
from wsclients.errors import (
    AuthenticationFailed,
    CentrifugoError,
    ProtocolViolation,
    RequestFailed,
    SubscriptionRejected,
    WSClientError,
    shorten,
)
from wsclients.models import ErrorEvent, Message
from wsclients.venues.centrifugo.codes import (
    CONNECTION_EXPIRED,
    POSITION_INVALIDATED,
    STALE,
    STATE_INVALIDATED,
    TOKEN_EXPIRED,
    is_terminal_close,
    should_resubscribe,
)
from wsclients.venues.centrifugo.deadlines import Deadlines
from wsclients.venues.centrifugo.events import Publication, RecoveryFailed

__all__ = ["REQUEST_METHODS", "CentrifugoProtocol", "TokenSource", "refresh_delay"]

logger = logging.getLogger(__name__)

TokenSource = Callable[[str], str]
"""A subscription token source: called with the channel, returns a JWT for it."""

REQUEST_METHODS = frozenset(["rpc", "publish", "history", "presence", "presence_stats"])
"""Commands a user may send and wait for (``Connection.request``)."""

_PONG = "{}"

# Subscription states on the current socket.
_WAITING = "waiting"  # not sent on this socket yet (no session, or a backoff running)
_TOKEN = "token"  # a subscription token was asked for
_SUBSCRIBING = "subscribing"  # subscribe sent, reply awaited
_SUBSCRIBED = "subscribed"



def refresh_delay(ttl: float) -> float:
    """When to renew a token that expires in ``ttl`` seconds: well before it does.

    Half the time left for short-lived tokens, a minute before expiry for long ones; the SDKs
    wait for the full ttl and rely on the server's grace period, which a slow ``get_token``
    can overrun (https://centrifugal.dev/docs/server/authentication).
    """
    return max(0.0, ttl - min(ttl / 2.0, 60.0))


class _Subscription:
    """One channel the user subscribed to, and where it stands on the current socket."""

    __slots__ = (
        "attempt", "channel", "data", "epoch", "get_token", "join_leave", "offset",
        "positioned", "recover", "recoverable", "serial", "state", "token",
    )

    def __init__(
        self,
        channel: str,
        *,
        token: Optional[str],
        get_token: Optional[TokenSource],
        recover: bool,
        recoverable: bool,
        positioned: bool,
        join_leave: bool,
        data: Any,
        serial: int,
    ) -> None:
        self.channel = channel
        # Which subscribe of this protocol made it: names it in token jobs (plain data, so
        # that a recorded job's key still finds it on replay).
        self.serial = serial
        self.token = token
        self.get_token = get_token
        self.recover = recover
        self.recoverable = recoverable
        self.positioned = positioned
        self.join_leave = join_leave
        self.data = data
        self.state = _WAITING
        self.attempt = 0
        # The stream position: set from a recoverable subscribe reply, advanced by every
        # publication delivered.
        self.epoch: Optional[str] = None
        self.offset: Optional[int] = None

    def __repr__(self) -> str:  # never shows the token
        return f"<subscription {self.channel} {self.state} epoch={self.epoch} offset={self.offset}>"


class _Call:
    """A command sent on this socket and waiting for its reply."""

    __slots__ = ("kind", "request_id", "subscription")

    def __init__(
        self, kind: str, *, request_id: Hashable = None,
        subscription: Optional[_Subscription] = None,
    ) -> None:
        self.kind = kind
        self.request_id = request_id
        self.subscription = subscription


class CentrifugoProtocol(ProtocolBuffers):
    """The client side of Centrifugo's protocol v2 over JSON, driven by strings alone.

    Args:
        venue: the name events carry (``"centrifugo"``, or a venue built on it).
        token: the connection JWT, when it is fixed.
        get_token: whether the client can fetch tokens (``Job(kind="token")``): asked before
            the first connect when ``token`` is None, after a 109 reply, and before the
            token's ``ttl`` runs out.
        name, version: what the client calls itself in ``connect``.
        connect_data: custom JSON sent in ``connect.data``.
        timeout: seconds to wait for the connect and subscribe replies before reconnecting.
        max_server_ping_delay: how late a server ping may be (beyond the period announced in
            the connect reply) before the socket is declared dead.
        resubscribe_min, resubscribe_max: the backoff after temporary subscribe errors.

    Every method runs under the connection's lock (single-threaded code).
    """

    needs_session = True

    def __init__(
        self,
        *,
        venue: str = "centrifugo",
        token: Optional[str] = None,
        get_token: bool = False,
        name: str = "wsclients",
        version: str = "",
        connect_data: Any = None,
        timeout: float = 10.0,
        max_server_ping_delay: float = 10.0,
        resubscribe_min: float = 0.5,
        resubscribe_max: float = 10.0,
    ) -> None:
        super().__init__()
        self.venue = venue
        self._token = token or None
        self._can_fetch_token = get_token
        self._name = name
        self._version = version
        self._connect_data = connect_data
        self._timeout = timeout
        self._ping_delay = max_server_ping_delay
        self._resubscribe_min = resubscribe_min
        self._resubscribe_max = resubscribe_max
        self._subs: dict[str, _Subscription] = {}
        self._server_channels: set[str] = set()
        self._deadlines = Deadlines()
        self._generation = 0
        self._socket_open = False
        self._connect_sent = False
        self._token_fetch: Optional[str] = None  # "connect" while a connection token is fetched
        self._stale_while_fetching = False
        self._next_id = 1
        self._calls: dict[int, _Call] = {}
        self._deferred: list[tuple[str, dict[str, Any], _Call]] = []
        self._pong = False
        self._ping_period: Optional[float] = None
        self._last_received_ns = 0
        self._subscriptions_made = 0
        self.requests_made = 0
        """User requests queued so far (``request``): each takes a command id."""
        self.last_request: Optional[str] = None
        """The method of the last of them."""
        self.client_id: Optional[str] = None
        """The id the server gave this connection (from the last connect reply)."""
        self.server_version: Optional[str] = None
        """The server's version string, from the connect reply."""
        self.duplicates = 0
        """Publications dropped because they were delivered already (replays after recovery)."""

    def __repr__(self) -> str:
        return f"<CentrifugoProtocol {self.venue} subscriptions={list(self._subs)}>"

    # ----------------------------------------------------------------- socket life

    def on_open(self) -> None:
        """A fresh socket: forget what belonged to the old one and send ``connect`` first
        (after fetching a token when one is needed)."""
        self._generation += 1
        self._next_id = 1
        self._calls.clear()
        self._deadlines.clear()
        self._pong = False
        self._ping_period = None
        for sub in self._subs.values():
            sub.state = _WAITING
        self._socket_open = True
        self._connect_sent = False
        if self._token is None and self._can_fetch_token:
            # One fetch at a time: a slow get_token still running from the last socket
            # answers for this one.
            if self._token_fetch is None:
                self._token_fetch = "connect"
                self.ask(Job(kind="token", key=("connect",)))
        else:
            self._send_connect()

    def on_close(self, code: Optional[int], reason: str) -> None:
        """The socket is gone: calls on it will never be answered; subscriptions wait for
        the next connect reply. 3005 means our token expired; 3014 invalidates positions."""
        self._socket_open = False
        # 3502 "stale": the server gave up waiting for a connect we could not send while our
        # own get_token was still running — not a verdict on us, so it is retried.
        self._stale_while_fetching = code == STALE and not self._connect_sent
        self._calls.clear()
        self._deferred.clear()
        self._deadlines.clear()
        for sub in self._subs.values():
            sub.state = _WAITING
        if code == CONNECTION_EXPIRED and self._can_fetch_token:
            self._token = None
        elif code == STATE_INVALIDATED:
            if self._can_fetch_token:
                self._token = None
            for sub in self._subs.values():
                sub.epoch = sub.offset = None
                if sub.get_token is not None:
                    sub.token = None

    def is_fatal(self, code: Optional[int], exc: Optional[BaseException]) -> bool:
        """Close codes 3500–3999 and 4500–4999 stop the client; every other close (and a
        drop without a code) is followed by a reconnect."""
        if code == STALE and self._stale_while_fetching:
            return False
        return is_terminal_close(code)

    def ping_message(self) -> Optional[str]:
        """Never used: the server pings and we answer; a ping command gets 3501 on current
        servers (https://centrifugal.dev/docs/transports/client_protocol#ping-pong)."""
        return None

    # ----------------------------------------------------------------- user commands

    def subscribe(
        self,
        channel: str,
        *,
        token: Optional[str] = None,
        get_token: Optional[TokenSource] = None,
        recover: bool = True,
        recoverable: bool = False,
        positioned: bool = False,
        join_leave: bool = False,
        data: Any = None,
    ) -> bool:
        """Add a channel to the registry and subscribe now if the session is up.

        Returns:
            False when the channel was subscribed already (nothing changes).

        Raises:
            SubscriptionRejected: the channel name is empty or not a string.
        """
        if not isinstance(channel, str) or not channel:
            raise SubscriptionRejected(channel, "a channel is a non-empty string")
        if channel in self._subs:
            return False
        sub = _Subscription(
            channel, token=token or None, get_token=get_token, recover=recover,
            recoverable=recoverable, positioned=positioned, join_leave=join_leave, data=data,
            serial=self._next_serial(),
        )
        self._subs[channel] = sub
        self._start_subscribe(sub)
        return True

    def unsubscribe(self, channel: str) -> bool:
        """Forget a channel; tell the server when it knows of it. False if not subscribed."""
        sub = self._subs.pop(channel, None)
        if sub is None:
            return False
        self._cancel_sub_deadlines(channel)
        if self.session_up and sub.state in (_SUBSCRIBING, _SUBSCRIBED):
            self._command("unsubscribe", {"channel": channel}, _Call("unsubscribe"))
        return True

    def resubscribe(self, channel: str) -> bool:
        """Subscribe ``channel`` afresh, from the live stream and without recovery (its
        position is forgotten): e.g. to get a new snapshot after data was missed. False when
        the channel is not subscribed."""
        sub = self._subs.get(channel)
        if sub is None:
            return False
        sub.epoch = sub.offset = None
        if self.session_up and sub.state in (_SUBSCRIBING, _SUBSCRIBED):
            self._cancel_sub_deadlines(channel)
            # Replies to the old subscribe are ignored: its call names the old object.
            fresh = _Subscription(
                channel, token=sub.token, get_token=sub.get_token, recover=sub.recover,
                recoverable=sub.recoverable, positioned=sub.positioned,
                join_leave=sub.join_leave, data=sub.data, serial=self._next_serial(),
            )
            self._subs[channel] = fresh
            self._command("unsubscribe", {"channel": channel}, _Call("unsubscribe"))
            self._start_subscribe(fresh)
        return True

    def _next_serial(self) -> int:
        self._subscriptions_made += 1
        return self._subscriptions_made

    def subscriptions(self) -> dict[str, str]:
        """Every channel in the registry and its state on the current socket."""
        return {channel: sub.state for channel, sub in self._subs.items()}

    def position(self, channel: str) -> Optional[tuple[Optional[str], Optional[int]]]:
        """``(epoch, offset)`` of a subscribed channel (None when not subscribed)."""
        sub = self._subs.get(channel)
        return None if sub is None else (sub.epoch, sub.offset)

    def request(self, request_id: Hashable, method: str, params: Mapping[str, Any]) -> None:
        """Queue a user command (``rpc``, ``publish``, ``history``, ``presence``,
        ``presence_stats``) answered through ``reply(request_id, …)``.

        Raises:
            ValueError: ``method`` is not one of ``REQUEST_METHODS``.
        """
        if method not in REQUEST_METHODS:
            raise ValueError(f"unknown Centrifugo request {method!r}")
        call = _Call(method, request_id=request_id)
        self.requests_made += 1
        self.last_request = method
        if self.session_up:
            self._command(method, dict(params), call)
        else:
            # A new socket whose connect reply has not come yet: nothing but connect may be
            # sent before it (3501), so the request waits for the session.
            self._deferred.append((method, dict(params), call))

    def send(self, data: Any) -> bool:
        """Queue a fire-and-forget ``send`` (no id, no reply). False when no session is up."""
        if not self.session_up:
            return False
        self._outgoing.append(codec.dumps({"send": {"data": data}}))
        return True

    # ----------------------------------------------------------------- jobs

    def job_done(self, job: Job, result: Any, error: Optional[BaseException]) -> None:
        """A token fetched on the worker (or the error ``get_token`` raised)."""
        key = job.key
        if job.kind == "token" and key == ("connect",):
            self._token_fetch = None
            self._connect_token_done(result, error)
            return
        if not isinstance(key, tuple) or not key or key[-1] != self._generation:
            return  # asked for a socket that is gone
        if job.kind == "token":
            self._token_done(key[0], result, error)
        elif job.kind == "sub_token" and len(key) == 4:
            self._sub_token_done(key[0], key[1], key[2], result, error)

    def _connect_token_done(self, result: Any, error: Optional[BaseException]) -> None:
        """The token for ``connect``: kept even when its socket is gone (it is fresh), sent
        when a socket waits for it."""
        if isinstance(result, str) and result and error is None:
            self._token = result
            if self._socket_open and not self._connect_sent:
                self._send_connect()
            return
        if self._socket_open and not self._connect_sent:
            self._token_done("connect", result, error)

    def _token_done(self, purpose: str, result: Any, error: Optional[BaseException]) -> None:
        if error is not None or not isinstance(result, str) or not result:
            fatal = (error is None) or (isinstance(error, WSClientError) and error.fatal)
            what = "get_token raised" if error is not None else "get_token returned no token"
            exc: WSClientError = (
                AuthenticationFailed(self.venue, reason=what) if fatal
                else _token_error(error, f"{what}; retrying")
            )
            if error is not None:
                exc.__cause__ = error
            if purpose == "refresh" and not fatal:
                self._error(exc, fatal=False)
                self._deadlines.arm("refresh", min(5.0, self._resubscribe_max))
                return
            self._error(exc, fatal=fatal)
            self.close_request = CloseRequest(what, fatal=fatal, quiet=True)
            return
        self._token = result
        if purpose == "connect":
            self._send_connect()
        else:
            self._command("refresh", {"token": result}, _Call("refresh"))

    def _sub_token_done(
        self, purpose: str, channel: Any, serial: Any, result: Any,
        error: Optional[BaseException],
    ) -> None:
        sub = self._subs.get(channel) if isinstance(channel, str) else None
        if sub is None or sub.serial != serial:
            return  # unsubscribed (or subscribed afresh) meanwhile
        if error is not None or not isinstance(result, str) or not result:
            if error is not None and not (isinstance(error, WSClientError) and error.fatal):
                self._error(_token_error(error, f"subscription token for {sub.channel}: retrying"))
                if purpose == "subscribe":
                    sub.state = _WAITING
                    self._arm_resubscribe(sub)
                else:
                    self._deadlines.arm(("sub_refresh", sub.channel), 5.0)
                return
            reason = "get_token raised" if error is not None else "get_token returned no token"
            self._end_subscription(sub, reason, code=None, cause=error)
            return
        sub.token = result
        if purpose == "subscribe":
            if sub.state == _TOKEN:
                self._send_subscribe(sub)
        elif sub.state == _SUBSCRIBED:
            self._command(
                "sub_refresh", {"channel": sub.channel, "token": result},
                _Call("sub_refresh", subscription=sub),
            )

    # ----------------------------------------------------------------- timer

    def on_tick(self, now: float) -> None:
        """Deadlines: connect/subscribe replies, server pings, token renewals, backoffs."""
        if self.reader_held_up and "ping" in self._deadlines and self._ping_period:
            # The server's pings may wait unread behind the user's backlog (overflow="block").
            self._deadlines.arm("ping", self._ping_period + self._ping_delay)
        for key in self._deadlines.expired(now):
            if self.close_request is not None:
                return
            if key == "connect":
                self.close_request = CloseRequest(
                    f"no connect reply within {self._timeout:g} s")
            elif key == "ping":
                late = (self._ping_period or 0.0) + self._ping_delay
                self.close_request = CloseRequest(f"no ping from the server for {late:g} s")
            elif key == "refresh":
                self.ask(Job(kind="token", key=("refresh", self._generation)))
            elif isinstance(key, tuple):
                self._sub_deadline(key[0], key[1])

    def _sub_deadline(self, what: str, channel: str) -> None:
        sub = self._subs.get(channel)
        if sub is None:
            return
        if what == "subscribe_timeout" and sub.state == _SUBSCRIBING:
            # The server may have subscribed us already: retrying would get 105, so the
            # SDKs reconnect instead (centrifuge-js, centrifuge-python).
            self.close_request = CloseRequest(
                f"no subscribe reply for {channel} within {self._timeout:g} s")
        elif what == "resubscribe" and sub.state == _WAITING:
            self._start_subscribe(sub)
        elif what == "sub_refresh" and sub.state == _SUBSCRIBED and sub.get_token is not None:
            self.ask(Job(kind="sub_token",
                         key=("refresh", channel, sub.serial, self._generation),
                         args=(sub.get_token, channel)))

    # ----------------------------------------------------------------- frames in

    def receive_text(self, data: Union[str, bytes], *, received_ns: int) -> None:
        """One frame: one or more JSON replies, one per line. Never raises."""
        self._last_received_ns = received_ns
        try:
            text = data.decode() if isinstance(data, (bytes, bytearray)) else data
        except UnicodeDecodeError as exc:
            self._report(exc, received_ns, data)
            return
        for line in text.split("\n"):
            line = line.strip()
            if not line:
                continue
            guarded_parse(self._receive_line, self._report, line, received_ns)

    def _receive_line(self, line: str, received_ns: int) -> None:
        try:
            reply = codec.loads(line)
        except ValueError as exc:
            raise ProtocolViolation("not valid JSON", raw=line) from exc
        if not isinstance(reply, dict):
            raise ProtocolViolation("a reply must be a JSON object", raw=line)
        reply_id = reply.get("id")
        if reply_id:
            if not isinstance(reply_id, int) or isinstance(reply_id, bool):
                raise ProtocolViolation("reply id must be an integer", raw=line)
            self._reply(reply_id, reply, received_ns)
        elif "push" in reply:
            push = reply["push"]
            if not isinstance(push, dict):
                raise ProtocolViolation("push must be an object", raw=line)
            self._push(push, received_ns)
        else:
            self._ping()

    def _ping(self) -> None:
        """``{}``: answer with exactly one ``{}`` when the connect reply asked for pongs (an
        unrequested pong closes the socket with 3501)."""
        if not self.session_up:
            return
        if self._pong:
            self._outgoing.append(_PONG)
        if self._ping_period:
            self._deadlines.arm("ping", self._ping_period + self._ping_delay)

    # ----------------------------------------------------------------- replies

    def _reply(self, reply_id: int, reply: dict[str, Any], received_ns: int) -> None:
        call = self._calls.pop(reply_id, None)
        if call is None:
            logger.debug("%s: reply to unknown id %s", self.venue, reply_id)
            return
        error = reply.get("error")
        failure: Optional[CentrifugoError] = None
        if error is not None:
            if not isinstance(error, dict):
                raise ProtocolViolation("error must be an object", raw=reply)
            failure = CentrifugoError(
                int(error.get("code") or 0), str(error.get("message") or ""),
                temporary=error.get("temporary") is True, request=call.kind,
            )
        result = reply.get(call.kind)
        if failure is None and result is None:
            result = {}
        if failure is None and not isinstance(result, dict):
            raise ProtocolViolation(f"{call.kind} result must be an object", raw=reply)
        if call.kind == "connect":
            self._connect_reply(result, failure, received_ns)
        elif call.kind == "subscribe":
            assert call.subscription is not None
            self._subscribe_reply(call.subscription, result, failure, received_ns)
        elif call.kind == "refresh":
            self._refresh_reply(result, failure)
        elif call.kind == "sub_refresh":
            assert call.subscription is not None
            self._sub_refresh_reply(call.subscription, result, failure)
        elif call.kind == "unsubscribe":
            if failure is not None:
                self._error(failure)
        else:
            if failure is not None:
                self.reply(call.request_id, error=failure)
            elif isinstance(result, dict):
                self.reply(call.request_id, _request_result(call.kind, result))

    def _connect_reply(
        self, result: Any, failure: Optional[CentrifugoError], received_ns: int
    ) -> None:
        self._deadlines.cancel("connect")
        if failure is not None:
            self._connect_failed(failure)
            return
        self.client_id = _optional_str(result.get("client"))
        self.server_version = _optional_str(result.get("version"))
        ping = result.get("ping")
        self._ping_period = float(ping) if isinstance(ping, (int, float)) and ping > 0 else None
        self._pong = result.get("pong") is True
        if self._ping_period:
            self._deadlines.arm("ping", self._ping_period + self._ping_delay)
        if result.get("expires") is True and self._can_fetch_token:
            ttl = result.get("ttl")
            if isinstance(ttl, (int, float)):
                self._deadlines.arm("refresh", refresh_delay(float(ttl)))
        subs = result.get("subs")
        self._server_channels = set(subs) if isinstance(subs, dict) else set()
        self.open_session()
        for sub in list(self._subs.values()):
            self._start_subscribe(sub)
        deferred, self._deferred = self._deferred, []
        for method, params, call in deferred:
            self._command(method, params, call)

    def _connect_failed(self, failure: CentrifugoError) -> None:
        """Connect errors: 109 → a new token; temporary (or client-side, < 100) → retry with
        backoff; anything else ends the client (centrifuge-js ``_connectError``)."""
        if failure.code == TOKEN_EXPIRED:
            if self._can_fetch_token:
                self._token = None
                self.close_request = CloseRequest(
                    "connection token expired: fetching a new one", quiet=True)
                return
            exc = AuthenticationFailed(
                self.venue, code=failure.code, reason="token expired and no get_token to renew it")
            exc.__cause__ = failure
            self._error(exc, fatal=True)
            self.close_request = CloseRequest(str(exc), fatal=True)
        elif failure.temporary or failure.server_code < 100:
            self._error(failure)
            self.close_request = CloseRequest(f"connect failed: {failure}", quiet=True)
        else:
            self._error(failure, fatal=True)
            self.close_request = CloseRequest(f"connect refused: {failure}", fatal=True)

    def _subscribe_reply(
        self, sub: _Subscription, result: Any, failure: Optional[CentrifugoError],
        received_ns: int,
    ) -> None:
        if self._subs.get(sub.channel) is not sub:
            return  # unsubscribed while the reply was on its way
        self._deadlines.cancel(("subscribe_timeout", sub.channel))
        if failure is not None:
            self._subscribe_failed(sub, failure)
            return
        sub.state = _SUBSCRIBED
        sub.attempt = 0
        if result.get("expires") is True and sub.get_token is not None:
            ttl = result.get("ttl")
            if isinstance(ttl, (int, float)):
                self._deadlines.arm(("sub_refresh", sub.channel), refresh_delay(float(ttl)))
        epoch = _optional_str(result.get("epoch"))
        offset = result.get("offset")
        offset = offset if isinstance(offset, int) and not isinstance(offset, bool) else 0
        if result.get("was_recovering") is True:
            if result.get("recovered") is True:
                if epoch is not None:
                    sub.epoch = epoch
                self._subscribed(sub.channel, recovered=True)
                publications = result.get("publications") or []
                if not isinstance(publications, list):
                    raise ProtocolViolation("publications must be a list", raw=result)
                for pub in publications:
                    self._publication(sub.channel, pub, received_ns)
                if sub.offset is None or offset > sub.offset:
                    sub.offset = offset
                return
            sub.epoch, sub.offset = epoch, offset
            self._events.append(RecoveryFailed(
                venue=self.venue, channel=sub.channel, data={"epoch": epoch, "offset": offset},
                received_ns=received_ns, raw=result,
            ))
            self._subscribed(sub.channel, recovered=False)
            return
        sub.epoch = sub.offset = None
        self._subscribed(sub.channel, recovered=None)
        for pub in result.get("publications") or []:
            self._publication(sub.channel, pub, received_ns)
        if result.get("recoverable") is True or result.get("positioned") is True:
            sub.epoch = epoch
            sub.offset = max(offset, sub.offset or 0)

    def _subscribe_failed(self, sub: _Subscription, failure: CentrifugoError) -> None:
        """109 → a new subscription token; temporary → resubscribe after a backoff; anything
        else ends this subscription only."""
        if failure.code == TOKEN_EXPIRED and sub.get_token is not None:
            sub.token = None
            sub.state = _WAITING
            self._start_subscribe(sub)
        elif failure.temporary:
            self._error(failure)
            sub.state = _WAITING
            self._arm_resubscribe(sub)
        else:
            self._end_subscription(sub, failure.message or "refused", code=failure.code,
                                   cause=failure)

    def _refresh_reply(self, result: Any, failure: Optional[CentrifugoError]) -> None:
        if failure is not None:
            if failure.temporary:
                self._error(failure)
                self._deadlines.arm("refresh", 5.0)
            else:
                self._error(failure, fatal=True)
                self.close_request = CloseRequest(f"token refresh refused: {failure}", fatal=True)
            return
        ttl = result.get("ttl")
        if result.get("expires") is True and isinstance(ttl, (int, float)):
            self._deadlines.arm("refresh", refresh_delay(float(ttl)))

    def _sub_refresh_reply(
        self, sub: _Subscription, result: Any, failure: Optional[CentrifugoError]
    ) -> None:
        if self._subs.get(sub.channel) is not sub:
            return
        if failure is not None:
            if failure.temporary:
                self._error(failure)
                self._deadlines.arm(("sub_refresh", sub.channel), 5.0)
            else:
                self._end_subscription(sub, f"token refresh refused: {failure.message}",
                                       code=failure.code, cause=failure)
            return
        ttl = result.get("ttl")
        if result.get("expires") is True and isinstance(ttl, (int, float)):
            self._deadlines.arm(("sub_refresh", sub.channel), refresh_delay(float(ttl)))

    # ----------------------------------------------------------------- pushes

    def _push(self, push: dict[str, Any], received_ns: int) -> None:
        channel = push.get("channel") or ""
        if not isinstance(channel, str):
            raise ProtocolViolation("push channel must be a string", raw=push)
        if "pub" in push:
            self._publication(channel, push["pub"], received_ns)
        elif "join" in push or "leave" in push:
            kind = "join" if "join" in push else "leave"
            body = push[kind]
            info = body.get("info") if isinstance(body, dict) else None
            self._events.append(Message(
                venue=self.venue, channel=channel, data={"type": kind, "info": info},
                received_ns=received_ns, raw=push,
            ))
        elif "message" in push:
            body = push["message"]
            self._events.append(Message(
                venue=self.venue, channel=channel,
                data=body.get("data") if isinstance(body, dict) else None,
                received_ns=received_ns, raw=push,
            ))
        elif "unsubscribe" in push:
            self._unsubscribe_push(channel, push["unsubscribe"])
        elif "disconnect" in push:
            self._disconnect_push(push["disconnect"])
        elif "subscribe" in push:
            self._server_channels.add(channel)
        else:
            logger.debug("%s: push ignored: %s", self.venue, shorten(push))

    def _publication(self, channel: str, pub: Any, received_ns: int) -> None:
        """Deliver one publication unless this channel's stream has passed its offset."""
        if not isinstance(pub, dict):
            raise ProtocolViolation("a publication must be an object", raw=pub)
        sub = self._subs.get(channel)
        if sub is None and channel not in self._server_channels:
            logger.debug("%s: publication for a channel we left: %s", self.venue, channel)
            return
        offset = pub.get("offset")
        if not isinstance(offset, int) or isinstance(offset, bool) or offset <= 0:
            offset = None
        epoch = None
        if sub is not None:
            epoch = sub.epoch
            if offset is not None:
                if sub.offset is not None and offset <= sub.offset:
                    self.duplicates += 1
                    return
                sub.offset = offset
        tags = pub.get("tags")
        info = pub.get("info")
        self._deliver_publication(Publication(
            venue=self.venue, channel=channel, data=pub.get("data"), received_ns=received_ns,
            offset=offset, epoch=epoch,
            tags=tags if isinstance(tags, dict) else None,
            info=info if isinstance(info, dict) else None,
            raw=pub,
        ))

    def _unsubscribe_push(self, channel: str, body: Any) -> None:
        sub = self._subs.get(channel)
        if sub is None:
            self._server_channels.discard(channel)
            return
        code = body.get("code") if isinstance(body, dict) else None
        reason = body.get("reason") if isinstance(body, dict) else None
        code = code if isinstance(code, int) else 0
        if should_resubscribe(code):
            if code == POSITION_INVALIDATED:
                sub.epoch = sub.offset = None
                if sub.get_token is not None:
                    sub.token = None
            self._cancel_sub_deadlines(channel)
            sub.state = _WAITING
            self._start_subscribe(sub)
        else:
            self._end_subscription(sub, str(reason or "unsubscribed by the server"), code=code)

    def _disconnect_push(self, body: Any) -> None:
        """Not sent over WebSocket (close frames carry it), but handled as the SDKs do."""
        code = body.get("code") if isinstance(body, dict) else None
        reason = str(body.get("reason") or "") if isinstance(body, dict) else ""
        fatal = is_terminal_close(code if isinstance(code, int) else None)
        if fatal:
            self._error(CentrifugoError(code or 0, reason or "disconnected", request="disconnect"),
                        fatal=True)
        self.close_request = CloseRequest(f"server disconnect {code}: {reason}", fatal=fatal)

    # ----------------------------------------------------------------- hooks for venues

    def _deliver_publication(self, event: Publication) -> None:
        """A publication passed the offset check; venues built on Centrifugo turn it into
        their own events here."""
        self._events.append(event)

    def _subscribed(self, channel: str, *, recovered: Optional[bool]) -> None:
        """A subscribe succeeded: ``recovered`` True when nothing was missed since the last
        publication delivered, False when recovery failed, None for a subscribe that did
        not recover (first, fresh, or not recoverable). Runs before any publication the
        reply carries."""

    # ----------------------------------------------------------------- frames out

    def _command(self, method: str, params: Mapping[str, Any], call: _Call) -> int:
        command_id = self._next_id
        self._next_id += 1
        self._calls[command_id] = call
        self._outgoing.append(codec.dumps({"id": command_id, method: params}))
        return command_id

    def _send_connect(self) -> None:
        params: dict[str, Any] = {}
        if self._token:
            params["token"] = self._token
        if self._name:
            params["name"] = self._name
        if self._version:
            params["version"] = self._version
        if self._connect_data is not None:
            params["data"] = self._connect_data
        self._connect_sent = True
        self._command("connect", params, _Call("connect"))
        self._deadlines.arm("connect", self._timeout)

    def _start_subscribe(self, sub: _Subscription) -> None:
        if not self.session_up:
            sub.state = _WAITING
            return
        if sub.token is None and sub.get_token is not None:
            sub.state = _TOKEN
            self.ask(Job(kind="sub_token",
                         key=("subscribe", sub.channel, sub.serial, self._generation),
                         args=(sub.get_token, sub.channel)))
            return
        self._send_subscribe(sub)

    def _send_subscribe(self, sub: _Subscription) -> None:
        params: dict[str, Any] = {"channel": sub.channel}
        if sub.token:
            params["token"] = sub.token
        if sub.recoverable:
            params["recoverable"] = True
        if sub.positioned:
            params["positioned"] = True
        if sub.join_leave:
            params["join_leave"] = True
        if sub.data is not None:
            params["data"] = sub.data
        if sub.recover and sub.epoch is not None and sub.offset is not None:
            params["recover"] = True
            params["epoch"] = sub.epoch
            params["offset"] = sub.offset
        sub.state = _SUBSCRIBING
        self._command("subscribe", params, _Call("subscribe", subscription=sub))
        self._deadlines.arm(("subscribe_timeout", sub.channel), self._timeout)

    def _arm_resubscribe(self, sub: _Subscription) -> None:
        delay = min(self._resubscribe_max, self._resubscribe_min * 2 ** min(sub.attempt, 16))
        sub.attempt += 1
        self._deadlines.arm(("resubscribe", sub.channel), delay)

    def _cancel_sub_deadlines(self, channel: str) -> None:
        for what in ("subscribe_timeout", "resubscribe", "sub_refresh"):
            self._deadlines.cancel((what, channel))

    # ----------------------------------------------------------------- errors out

    def _end_subscription(
        self, sub: _Subscription, reason: str, *, code: Optional[int],
        cause: Optional[BaseException] = None,
    ) -> None:
        """This subscription is over (the client goes on): tell the user, naming it."""
        self._subs.pop(sub.channel, None)
        self._cancel_sub_deadlines(sub.channel)
        exc = SubscriptionRejected(sub.channel, reason, code=code)
        if cause is not None:
            exc.__cause__ = cause
        self._events.append(ErrorEvent(
            venue=self.venue, message=f"subscription {sub.channel} ended: {reason}",
            received_ns=self._last_received_ns, code=code, fatal=True, exception=exc,
        ))

    def _error(self, exc: BaseException, *, fatal: bool = False) -> None:
        self._events.append(ErrorEvent.from_exception(
            exc, venue=self.venue, received_ns=self._last_received_ns, fatal=fatal))

    def _report(self, exc: BaseException, received_ns: int, raw: Any) -> None:
        if not isinstance(exc, WSClientError):
            exc = _wrapped(exc, "cannot parse a reply")
        self._events.append(ErrorEvent.from_exception(
            exc, venue=self.venue, received_ns=received_ns, fatal=False,
            raw=shorten(raw) if isinstance(raw, (str, bytes, bytearray)) else raw,
            code="protocol_violation",
        ))


def _wrapped(exc: Optional[BaseException], what: str) -> WSClientError:
    """A foreign exception as one of ours, the original as ``__cause__``."""
    detail = f" ({type(exc).__name__}: {exc})" if exc is not None else ""
    wrapped = ProtocolViolation(what + detail)
    wrapped.__cause__ = exc
    return wrapped


def _token_error(exc: Optional[BaseException], what: str) -> WSClientError:
    """A failed token fetch, reported without the user's exception text (it might hold
    credentials): its type only, the exception itself as ``__cause__``."""
    detail = f" ({type(exc).__name__})" if exc is not None else ""
    failed = RequestFailed(what + detail, request="get_token")
    failed.__cause__ = exc
    return failed


def _request_result(method: str, result: dict[str, Any]) -> Any:
    """What a request's caller gets: the useful part of each result."""
    if method == "rpc":
        return result.get("data")
    if method == "publish":
        return None
    if method == "presence":
        presence = result.get("presence")
        return presence if isinstance(presence, dict) else {}
    return result


def _optional_str(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and value else None
