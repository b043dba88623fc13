"""CentrifugoClient: a synchronous client for any Centrifugo server (protocol v2, JSON).

One socket carries the session: ``connect`` first, then every subscription, restored (with
recovery) after each reconnect. Requests (``rpc``, ``publish``, ``history``, ``presence``,
``presence_stats``) block for their reply or return a Future. Tokens come from ``token=`` or
from ``get_token=`` (called on the client's worker thread, so it may do HTTP).

JSON only: no protobuf, and no permessage-deflate (websocket-client does not negotiate it).
https://centrifugal.dev/docs/transports/client_protocol
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any, Callable, ClassVar, Optional

from wsclients._version import __version__
from wsclients.core.client import DEFAULT, Seconds, SubscribingClient
from wsclients.core.client_options import check_count, check_seconds, check_timeout
from wsclients.core.connection import Connection
from wsclients.core.pending import wait_result
from wsclients.core.protocol import Job
from wsclients.errors import ClientStopped, NotConnected
from wsclients.venues.centrifugo.protocol import CentrifugoProtocol, TokenSource

__all__ = ["CentrifugoClient"]

logger = logging.getLogger(__name__)

ConnectionTokenSource = Callable[[], str]
"""``get_token=``: returns a connection JWT; may block (it runs on the worker thread)."""


class CentrifugoClient(SubscribingClient):
    """A Centrifugo client: channels, recovery, tokens, requests.

    ::

        client = CentrifugoClient(url="wss://example.com/connection/websocket",
                                  get_token=fetch_jwt, on_message=print)
        client.subscribe("chat:index")
        client.start()                      # returns once the connect reply arrived
        client.publish("chat:index", {"text": "hi"})
        answer = client.rpc("getUser", {"id": 42}, timeout=5)
        client.stop()

    Events: every publication is a ``Publication`` (a ``Message`` with ``offset``), in
    offset order per channel and never twice, also across reconnects; join/leave pushes are
    ``Message``s with ``data={"type": "join"|"leave", "info": …}``; async server messages
    are ``Message``s with ``channel=""``. After a reconnect whose recovery failed a
    ``RecoveryFailed`` message (channel, new epoch/offset) says that publications were lost.
    A subscription the server refuses or ends (unsubscribe push below 2500) is reported as
    an ``ErrorEvent`` naming the channel; the client goes on.

    Args:
        url: the server's WebSocket endpoint (``…/connection/websocket``).
        token: a connection JWT (never shown in a repr, log line, event or exception).
        get_token: a callable returning a fresh connection JWT: asked before the first
            connect when ``token`` is None, after the server said the token expired (109),
            and before ``ttl`` runs out (then sent with ``refresh``). It may do HTTP.
        name, version: how the client introduces itself in ``connect``.
        connect_data: custom JSON sent with ``connect``.
        request_timeout: default seconds for requests, and for connect and subscribe replies.
        max_server_ping_delay: how late a server ping may be, beyond the period the server
            announced, before the socket counts as dead and is replaced.
        request_limit: requests in flight at once (None: no limit).
        **options: the common client options (``on_message``, ``reconnect``, ``backoff_min``
            …). ``ping_interval`` and ``stale_timeout`` default to None: the server pings,
            the client answers and watches for those pings.
    """

    venue: ClassVar[str] = "centrifugo"
    default_ping_interval: ClassVar[Optional[float]] = None
    default_stale_timeout: ClassVar[Optional[float]] = None

    def __init__(
        self,
        *,
        url: Optional[str] = None,
        token: Optional[str] = None,
        get_token: Optional[ConnectionTokenSource] = None,
        name: str = "wsclients",
        version: str = __version__,
        connect_data: Any = None,
        request_timeout: Optional[float] = 10.0,
        max_server_ping_delay: float = 10.0,
        request_limit: Optional[int] = None,
        **options: Any,
    ) -> None:
        check_timeout("request_timeout", request_timeout, strict=True)
        check_seconds("max_server_ping_delay", max_server_ping_delay)
        check_count("request_limit", request_limit, 1, none_ok=True)
        url = url or options.pop("url", None) or self.default_url
        if not url:
            raise ValueError("CentrifugoClient needs the server's url (…/connection/websocket)")
        if token is not None and not isinstance(token, str):
            raise TypeError("token must be a string")
        if get_token is not None and not callable(get_token):
            raise TypeError("get_token must be a callable returning a token string")
        self._get_token = get_token
        self._request_timeout = request_timeout
        self._max_in_flight = request_limit
        self.protocol = self._make_protocol(
            token=token,
            get_token=get_token is not None,
            name=name,
            version=version,
            connect_data=connect_data,
            timeout=request_timeout if request_timeout is not None else 10.0,
            max_server_ping_delay=max_server_ping_delay,
        )
        """The sans-I/O protocol (owned by the connection: read it through the client)."""
        super().__init__(self.protocol, url=url, **options)

    def _request_limit(self) -> Optional[int]:
        return self._max_in_flight

    def _make_protocol(self, **options: Any) -> CentrifugoProtocol:
        """The protocol this client drives (venues built on Centrifugo return their own)."""
        return CentrifugoProtocol(**options)

    # ----------------------------------------------------------------- subscriptions

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
        """Subscribe to ``channel`` now (when connected) or at connect; restored after every
        reconnect, with recovery of what was missed when the channel is recoverable.

        Args:
            token: a subscription JWT (channels that need one, e.g. ``$``-prefixed).
            get_token: ``get_token(channel) -> str`` for subscription tokens: asked when
                there is none, after 109, and before the token's ttl runs out (then sent
                with ``sub_refresh``). Runs on the worker thread.
            recover: after a reconnect, ask the server for the publications missed (only
                where it reports the channel recoverable).
            recoverable, positioned, join_leave: ask for these stream options (the server
                grants them only where the channel's namespace allows).
            data: custom JSON sent with the subscribe.

        Returns:
            False when the channel was already subscribed.

        Raises:
            SubscriptionRejected: the channel is not a non-empty string.
        """
        return bool(self._command(lambda protocol: protocol.subscribe(
            channel, token=token, get_token=get_token, recover=recover,
            recoverable=recoverable, positioned=positioned, join_leave=join_leave, data=data,
        )))

    def unsubscribe(self, channel: str) -> bool:
        """Leave ``channel``; False when it was not subscribed."""
        return bool(self._command(lambda protocol: protocol.unsubscribe(channel)))

    @property
    def subscriptions(self) -> dict[str, str]:
        """Every channel subscribed and its state on the current socket (``subscribed``,
        ``subscribing``, ``waiting``, ``token``)."""
        result: dict[str, str] = self._command(
            lambda protocol: protocol.subscriptions())
        return result

    def position(self, channel: str) -> Optional[tuple[Optional[str], Optional[int]]]:
        """``(epoch, offset)`` of the last publication delivered on ``channel``."""
        result: Optional[tuple[Optional[str], Optional[int]]] = self._command(
            lambda protocol: protocol.position(channel))
        return result

    # ----------------------------------------------------------------- requests

    def _request(
        self, method: str, params: Mapping[str, Any], timeout: Seconds, block: bool
    ) -> Future[Any]:
        wait = self._request_timeout if timeout is DEFAULT else timeout
        if self._stopped.is_set():
            raise ClientStopped(f"{method}: the client is stopped")
        return self._connection.request(
            lambda protocol, request_id: protocol.request(request_id, method, params),
            timeout=wait, block=block, what=method,
        )

    def _wait(self, future: Future[Any], what: str, timeout: Seconds) -> Any:
        wait = self._request_timeout if timeout is DEFAULT else timeout
        return wait_result(future, what, None if wait is None else wait + 1.0)

    def rpc_async(
        self, method: str, data: Any = None, *, timeout: Seconds = DEFAULT, block: bool = True
    ) -> Future[Any]:
        """Send an ``rpc``; a Future of the reply's ``data``.

        The Future fails with ``CentrifugoError`` (the server's error code and message),
        ``RequestTimeout``, or ``ConnectionLost`` when the socket drops before the reply.
        """
        params: dict[str, Any] = {"method": method}
        if data is not None:
            params["data"] = data
        return self._request("rpc", params, timeout, block)

    def rpc(self, method: str, data: Any = None, *, timeout: Seconds = DEFAULT) -> Any:
        """Send an ``rpc`` and wait for the reply's ``data``.

        Raises:
            CentrifugoError: the server answered with an error (``code``, ``message``).
            RequestTimeout: no reply within ``timeout``.
            ConnectionLost: the socket dropped before the reply.
        """
        return self._wait(self.rpc_async(method, data, timeout=timeout), "rpc", timeout)

    def publish(self, channel: str, data: Any, *, timeout: Seconds = DEFAULT) -> None:
        """Publish ``data`` into ``channel`` and wait for the server's acknowledgement.

        Raises:
            CentrifugoError, RequestTimeout, ConnectionLost: as ``rpc``.
        """
        future = self._request("publish", {"channel": channel, "data": data}, timeout, True)
        self._wait(future, "publish", timeout)

    def history(
        self,
        channel: str,
        *,
        limit: Optional[int] = None,
        since: Optional[tuple[str, int]] = None,
        reverse: bool = False,
        timeout: Seconds = DEFAULT,
    ) -> dict[str, Any]:
        """The channel's history: ``{"publications": [...], "epoch": …, "offset": …}``.

        Args:
            limit: at most this many publications (None: the server's default, 0: only the
                stream position).
            since: ``(epoch, offset)``: only publications after this position.
            reverse: newest first.

        Raises:
            CentrifugoError, RequestTimeout, ConnectionLost: as ``rpc``.
        """
        params: dict[str, Any] = {"channel": channel}
        if limit is not None:
            params["limit"] = limit
        if since is not None:
            params["since"] = {"epoch": since[0], "offset": since[1]}
        if reverse:
            params["reverse"] = True
        result: dict[str, Any] = self._wait(
            self._request("history", params, timeout, True), "history", timeout)
        return result

    def presence(self, channel: str, *, timeout: Seconds = DEFAULT) -> dict[str, Any]:
        """Who is in ``channel``: client id → ``{"user", "client", "conn_info", …}``."""
        result: dict[str, Any] = self._wait(
            self._request("presence", {"channel": channel}, timeout, True), "presence", timeout)
        return result

    def presence_stats(self, channel: str, *, timeout: Seconds = DEFAULT) -> dict[str, Any]:
        """``{"num_clients": …, "num_users": …}`` of ``channel``."""
        result: dict[str, Any] = self._wait(
            self._request("presence_stats", {"channel": channel}, timeout, True),
            "presence_stats", timeout)
        return result

    def send(self, data: Any) -> None:
        """Send an async message to the server (``send``): no reply, no delivery guarantee.

        Raises:
            NotConnected: no session is up right now.
        """
        if not self._command(lambda protocol: protocol.send(data)):
            raise NotConnected(self._display_url(), reason="no session")

    # ----------------------------------------------------------------- worker jobs

    def _run_job(self, connection: Connection, job: Job) -> Any:
        """Token fetches, on the worker thread (never the reader or the timer)."""
        if job.kind == "token":
            if self._get_token is None:
                raise ValueError("no get_token to fetch a connection token with")
            return self._get_token()
        if job.kind == "sub_token":
            get_token, channel = job.args
            return get_token(channel)
        raise ValueError(f"unknown job {job.kind!r}")
