"""``AlliumStreamClient``: Allium's blockchain data streams, one socket per topic.

::

    allium = AlliumStreamClient(api_key=KEY, on_message=print)
    allium.subscribe("ethereum.transactions",
                     filter=(F("value") > "1000000000000000000"))
    allium.start()
    allium.pause("ethereum.transactions")      # stop: the socket stays open
    allium.resume("ethereum.transactions")     # start again

Each record arrives as ``Message(channel=topic, data=record)``. Delivery is best-effort, as the
venue says (https://docs.allium.so/datastreams/websockets: "Websockets are best for real-time
monitoring where occasional message loss is acceptable"): the client reconnects with backoff
and puts the filter and the start back on the new socket, but records sent while it was
away are not replayed.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, ClassVar, Optional, Union

from wsclients.core.client import Client, StreamSet
from wsclients.core.client_options import check_count
from wsclients.core.connection import Connection
from wsclients.errors import AuthenticationFailed, SubscriptionRejected, WSClientError
from wsclients.models import ConnectionState
from wsclients.venues.allium._auth import UpgradeHeaders
from wsclients.venues.allium.filters import Filter, filter_json
from wsclients.venues.allium.stream_protocol import (
    STREAM_URL,
    VENUE,
    AlliumStreamProtocol,
    check_topic,
    stream_url,
)

__all__ = ["AlliumStreamClient", "FilterSpec"]

FilterSpec = Union[Filter, Mapping[str, Any]]
"""A filter: built with ``F`` (``F("blockchain") == "ethereum"``) or a dict in the venue's
JSON (checked before it is sent)."""


class AlliumStreamClient(Client):
    """Allium data streams (``…/ws/stream?topic=…``): a socket per subscribed topic.

    Args:
        api_key: the Allium API key, sent only as the ``X-API-KEY`` upgrade header; never
            shown in a repr, a log line, an event or an exception. A 401/403 on the upgrade
            ends that topic's socket with a fatal ``AuthenticationFailed`` (streams over
            WebSocket and each topic must be enabled on the account).
        max_streams: topics open at once, at most (None: no limit of ours).
        **options: the common client options (docs/options.rst); ``url`` is the stream endpoint
            (the topic is added to its query). ``headers`` may not carry ``X-API-KEY`` nor
            ``Sec-WebSocket-Extensions`` (websocket-client cannot decode compressed frames).

    Topics are free text (``"ethereum.blocks"``, ``"ethereum.transactions"``; the venue
    publishes no full list). Subscribing before ``start()`` queues the topic; ``start()``
    returns once every topic's socket is open, and raises ``AuthenticationFailed`` when the
    key is refused (401) or no topic could be opened. A topic whose socket ends for good (a
    403: the account may not read it) is reported with a fatal ``ErrorEvent`` and dropped
    from ``topics``, while the other topics go on streaming; ``subscribe`` it again to retry.
    """

    venue: ClassVar[str] = VENUE
    default_url: ClassVar[str] = STREAM_URL
    stop_when_all_closed: ClassVar[bool] = False

    def __init__(
        self, *, api_key: str, max_streams: Optional[int] = None, **options: Any
    ) -> None:
        check_count("max_streams", max_streams, 1, none_ok=True)
        options["headers"] = UpgradeHeaders(options.get("headers"), api_key)
        super().__init__(**options)
        self._streams = StreamSet(self, limit=max_streams, what="Allium stream")
        # Serialises changes of the topic → socket map (subscribe, unsubscribe, the swap in
        # set_filter(None), dropping a socket that ended for good), so that each sees whole.
        self._topics_lock = threading.Lock()

    # -- topics --------------------------------------------------------------------------

    def subscribe(
        self, topic: str, filter: Optional[FilterSpec] = None, *, paused: bool = False
    ) -> bool:
        """Open a socket for ``topic``; it sends ``setFilter`` (with a filter) and then
        ``start`` on every (re)connect.

        Args:
            topic: the stream, e.g. ``"ethereum.blocks"``.
            filter: only records matching it are sent (``F`` builder or the venue's JSON).
            paused: open without ``start``; ``resume(topic)`` starts it.

        Returns:
            False when ``topic`` is subscribed already (nothing changes; see ``set_filter``).

        Raises:
            ValueError, TypeError: a blank topic or a malformed filter (nothing is opened).
            SubscriptionRejected: ``max_streams`` topics are open already.
            ClientStopped: the client is stopped.
        """
        topic = check_topic(topic)
        filter_data = filter_json(filter) if filter is not None else None
        with self._topics_lock:
            return self._open(topic, filter_data, paused) is not None

    def unsubscribe(self, topic: str) -> bool:
        """Close ``topic``'s socket; False when it was not subscribed."""
        with self._topics_lock:
            return self._streams.close(topic)

    @property
    def topics(self) -> list[str]:
        """The subscribed topics, in the order they were subscribed."""
        return [str(key) for key in self._streams.keys()]  # noqa: SIM118 - not a dict

    def pause(self, topic: str) -> bool:
        """Send ``stop``: no records until ``resume``; the socket stays open and a reconnect
        keeps the stream paused. False when it was paused already.

        Raises:
            SubscriptionRejected: ``topic`` is not subscribed.
        """
        return bool(self._connection_of(topic).command(lambda p: p.pause()))

    def resume(self, topic: str) -> bool:
        """Send ``start`` after a ``pause``. False when it was not paused.

        Raises:
            SubscriptionRejected: ``topic`` is not subscribed.
        """
        return bool(self._connection_of(topic).command(lambda p: p.resume()))

    def is_paused(self, topic: str) -> bool:
        """Whether ``topic`` is paused (by ``pause`` or ``subscribe(paused=True)``)."""
        return bool(self._connection_of(topic).command(lambda p: p.paused))

    def filter_of(self, topic: str) -> Optional[dict[str, Any]]:
        """The filter JSON ``topic`` streams with, or None."""
        data = self._connection_of(topic).command(lambda p: p.filter_data)
        return dict(data) if data is not None else None

    def set_filter(self, topic: str, filter: Optional[FilterSpec]) -> None:
        """Stream ``topic`` with a new filter from now on.

        On an open socket that is streaming this sends ``stop`` → ``setFilter`` → ``start``
        (the venue documents filters as set before ``start``); paused, only ``setFilter``.
        The venue documents no way to clear a filter, so ``None`` replaces the topic's
        socket with a fresh, unfiltered one (records in between are lost).

        Raises:
            ValueError, TypeError: a malformed filter (nothing changes).
            SubscriptionRejected: ``topic`` is not subscribed.
        """
        if filter is not None:
            filter_data = filter_json(filter)
            self._connection_of(topic).command(lambda p: p.set_filter(filter_data))
            return
        with self._topics_lock:
            connection = self._connection_of(topic)
            paused = bool(connection.command(lambda p: p.paused))
            self._streams.close(topic)
            self._open(topic, None, paused)

    # -- helpers -------------------------------------------------------------------------

    def _open(
        self, topic: str, filter_data: Optional[dict[str, Any]], paused: bool
    ) -> Optional[Connection]:
        protocol = AlliumStreamProtocol(topic, filter_data=filter_data, paused=paused)
        url = stream_url(topic, self.url)
        return self._streams.open(
            topic, url, protocol, name=VENUE, display_url=url,
        )

    def _connection_of(self, topic: str) -> Connection:
        connection = self._streams.get(topic)
        if connection is None:
            raise SubscriptionRejected(topic, "not subscribed")
        return connection

    def _error_fails_start(self, error: WSClientError) -> bool:
        # A refused key (401) fails every topic alike; one topic the account may not read
        # (403) fails start() only when no other topic is still opening or open.
        if isinstance(error, AuthenticationFailed) and error.code == 401:
            return True
        with self._lock:
            return all(c.state is ConnectionState.CLOSED for c in self._connections)

    def _connection_finished(self, connection: Connection) -> None:
        """A topic's socket ended for good (reader thread): forget the topic, so that
        ``topics`` and ``state`` describe the streams that live, and a new ``subscribe``
        of it tries again. Its fatal ``ErrorEvent`` has been published already."""
        super()._connection_finished(connection)
        # Bounded: an unsubscribe holding the lock may be joining this very thread (it then
        # closes the topic itself); give way to it rather than stall its stop().
        if not self._topics_lock.acquire(timeout=1.0):
            return
        try:
            for topic in self._streams.keys():  # noqa: SIM118 - not a dict
                if self._streams.get(topic) is connection:
                    self._streams.close(topic)
        finally:
            self._topics_lock.release()
