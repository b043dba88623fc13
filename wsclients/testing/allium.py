"""FakeAllium: Allium's API over WebSocket and its data streams, on one local port.

Both services follow https://docs.allium.so/datastreams/websockets:

- ``/api/v1/developer/ws/api`` (``api_url``): request frames ``{"id", "method", "path",
  "body"}``, replies ``{"id", "status": "success" | "error", "data"}``, at most
  ``max_inflight`` (1,000) requests in flight per connection; over that, the documented reply
  ``{"id", "status": "error", "data": "max inflight requests reached, please wait for
  requests to finish"}``. The docs match replies to requests by ``id`` ("track async
  responses"), so replies may come out of order: here after a ``latency`` drawn per request.
- ``/api/v1/developer/ws/stream?topic=<topic>`` (``stream_url(topic)``): nothing flows until
  ``{"action": "start"}``; ``{"action": "stop"}`` pauses without closing;
  ``{"action": "setFilter", "data": <filter>}`` filters on the server
  (``wsclients.testing.allium_match``). Records come from ``allium_records`` at ``rate`` per
  topic, or from ``publish``.
- Both need the ``X-API-KEY`` header on the upgrade; the APIs need the feature enabled on the
  account, the streams the feature and access to the topic.
- WebSocket streams may lose messages (the docs recommend Kafka or Pub/Sub for delivery
  guarantees): the kit's faults (``drop``, ``go_silent``, ``close(code)``,
  ``reject_handshake``, ``handshake_delay``) stand for that. The docs name no close code.

Assumed, because the venue does not document it (each one can be changed by an option):

- A missing or wrong key is refused with HTTP 401, a key without the feature (``api_enabled``,
  ``streams_enabled``) or without access to the topic (``topics``) with 403; bodies are
  ``{"detail": "..."}``. A stream URL without ``topic`` gets 400, any other path 404.
- ``start``, ``stop`` and ``setFilter`` get no answer (none is documented; public clients
  expect none). A later ``setFilter`` replaces the filter at once; ``data`` null or ``{}``
  clears it. A malformed action is ignored (``invalid_action="ignore"``), answered with
  ``{"status": "error", "data": "<why>"}`` (``"error"``), or closes with 1008 (``"close"``).
- Records are not kept while a stream is stopped (WebSocket streams are best effort, the
  docs say). Each record is its own frame unless ``records_per_frame`` makes frames JSON
  arrays of up to that many records.
- Permessage-deflate (which the venue negotiates) is not offered; websocket-client does not
  ask for it.
- A malformed request gets an error reply at once (``id`` echoed, ``null`` when there is
  none); an unknown route gets ``data: "not found: <METHOD> <path>"``; a handler that fails
  unexpectedly, ``"internal server error"``.

Use::

    with FakeAllium(rate=50) as fake:
        ws = websocket.create_connection(fake.stream_url("ethereum.transactions"),
                                         header={"X-API-KEY": fake.api_key})
        ws.send('{"action": "start"}')
"""

from __future__ import annotations

import heapq
import itertools
import json
import math
import random
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Callable, Optional, Union, overload
from urllib.parse import quote

import attrs

from wsclients.testing.allium_api import (
    API_METHODS,
    ApiError,
    ApiRequest,
    Handler,
)
from wsclients.testing.allium_api import default_routes as _default_routes
from wsclients.testing.allium_match import check_filter, matches
from wsclients.testing.allium_records import RecordGenerator
from wsclients.testing.market import Market
from wsclients.testing.server import FakeConnection, FakeRequest, FakeServer, Message

__all__ = [
    "API_PATH",
    "INFLIGHT_LIMIT_TEXT",
    "STREAM_PATH",
    "Latency",
    "ApiError",
    "ApiRequest",
    "FakeAllium",
    "Handler",
    "StreamAction",
    "StreamState",
]

API_PATH = "/api/v1/developer/ws/api"
"""Path of the API over WebSocket (the docs' ``wss://api.allium.so`` + this)."""

STREAM_PATH = "/api/v1/developer/ws/stream"
"""Path of the data streams; the topic goes in the ``topic`` query parameter."""

INFLIGHT_LIMIT_TEXT = "max inflight requests reached, please wait for requests to finish"
"""The documented ``data`` of the reply to a request over the in-flight limit."""

_INVALID_ACTIONS = ("ignore", "error", "close")
Latency = Union[float, "tuple[float, float]", Callable[[ApiRequest], float]]
"""Seconds before a reply: fixed, uniform in ``(low, high)``, or chosen per request."""


@attrs.frozen(kw_only=True)
class StreamAction:
    """One message a stream client sent, as the fake understood it."""

    connection: int
    """Index of the connection in ``FakeAllium.connections``."""
    action: Optional[str]
    """``"start"``, ``"stop"``, ``"setFilter"``, anything else sent, or None if unreadable."""
    data: Any
    """``data`` as sent (None when absent)."""
    error: Optional[str]
    """Why the fake refused it; None when it was applied."""


@attrs.frozen(kw_only=True)
class StreamState:
    """A stream connection's state at one moment."""

    topic: str
    started: bool
    filter: Optional[Mapping[str, Any]]
    """The filter in force (as sent), None when there is none."""


class _ApiSession:
    """One API connection; ``inflight`` is guarded by the server's ``_cond``."""

    def __init__(self, conn: FakeConnection) -> None:
        self.conn = conn
        self.inflight = 0


class _StreamSession:
    """One stream connection."""

    def __init__(self, conn: FakeConnection, topic: str) -> None:
        self.conn = conn
        self.topic = topic
        # Guards started and filter, and is held while records are sent, so that once a
        # `stop` is processed no record follows it.
        self.lock = threading.Lock()
        self.started = False
        self.filter: Optional[Mapping[str, Any]] = None


class FakeAllium(FakeServer):
    """The fake. All options are keyword-only and may be changed while it runs.

    Args:
        api_key: the key ``X-API-KEY`` must carry; None accepts any request, key or not.
        api_enabled: False: the API path answers 403 (the feature is off for the key).
        streams_enabled: False: the stream path answers 403.
        topics: the topics the key may read (403 for others); None: every topic.
        latency: seconds before a reply is sent: a number, ``(low, high)`` for a uniform
            draw per request (replies then come out of order), or a function of the
            ``ApiRequest``; ``math.inf`` never answers (the request stays in flight).
        max_inflight: requests in flight per API connection before the documented error.
        routes: handlers by ``(method, path)``, on top of (or instead of) the defaults.
        default_routes: serve the few documented paths of ``allium_api.default_routes``.
        rate: records per second per topic while any client on it is started; None: only
            ``publish`` sends records.
        records_per_frame: None: one JSON object per frame; n: JSON arrays of up to n records.
        invalid_action: what a malformed stream message gets: ``"ignore"``, ``"error"`` or
            ``"close"`` (see the module docstring).
        seed: seeds the market, the records and the latency draws.
        name, path, options: passed to ``FakeServer`` (``path`` makes ``url``; default: the
            API path).
    """

    def __init__(
        self,
        *,
        api_key: Optional[str] = "test-key",
        api_enabled: bool = True,
        streams_enabled: bool = True,
        topics: Optional[Iterable[str]] = None,
        latency: Latency = 0.0,
        max_inflight: int = 1000,
        routes: Optional[Mapping[tuple[str, str], Handler]] = None,
        default_routes: bool = True,
        rate: Optional[float] = 10.0,
        records_per_frame: Optional[int] = None,
        invalid_action: str = "ignore",
        seed: int = 0,
        name: str = "allium",
        path: str = API_PATH,
        **options: Any,
    ) -> None:
        super().__init__(name, path=path, **options)
        if invalid_action not in _INVALID_ACTIONS:
            raise ValueError(f"invalid_action is one of {_INVALID_ACTIONS}")
        if records_per_frame is not None and records_per_frame < 1:
            raise ValueError("records_per_frame must be >= 1 or None")
        self.api_key = api_key
        self.api_enabled = api_enabled
        self.streams_enabled = streams_enabled
        self.topics: Optional[frozenset[str]] = None if topics is None else frozenset(topics)
        self.latency: Latency = latency
        self.max_inflight = max_inflight
        self.rate = rate
        self.records_per_frame = records_per_frame
        self.invalid_action = invalid_action
        self._market = Market(("BTC", "ETH", "SOL"), seed=seed)
        self._market_lock = threading.Lock()  # Market and RecordGenerator are not thread-safe
        self._generator = RecordGenerator(self._market, seed=seed)
        self._rng = random.Random(f"wsclients-allium:{seed}:latency")
        self._routes: dict[tuple[str, str], Handler] = {}
        if default_routes:
            self._routes.update(_default_routes(self._market, self._market_lock))
        self._routes.update(routes or {})
        # Guarded by the base class's _cond, like every other record.
        self._api_sessions: dict[FakeConnection, _ApiSession] = {}
        self._stream_sessions: dict[FakeConnection, _StreamSession] = {}
        self._api_requests: list[ApiRequest] = []
        self._api_replies: list[dict[str, Any]] = []
        self._inflight_rejections = 0
        self._due: list[tuple[float, int, _ApiSession, dict[str, Any]]] = []  # a heap
        self._held: Optional[list[tuple[_ApiSession, ApiRequest, dict[str, Any]]]] = None
        self._order = itertools.count()
        self._actions: list[StreamAction] = []
        self._records_sent = 0
        self._frames_sent = 0
        self._threads_running = False

    # Lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeAllium:
        """Serve (see ``FakeServer.start``), plus the reply and record threads."""
        super().start()
        with self._cond:
            if self._threads_running:
                return self
            self._threads_running = True
        self.start_thread(self._reply_loop, name="replies")
        self.start_thread(self._stream_loop, name="records")
        return self

    def stop(self, timeout: float = 5.0) -> None:
        super().stop(timeout)
        with self._cond:
            self._threads_running = False
            self._due.clear()

    # Addresses ------------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """``ws://127.0.0.1:<port>/api/v1/developer/ws/api``."""
        return self._ws_base + API_PATH

    def stream_url(self, topic: str) -> str:
        """``ws://127.0.0.1:<port>/api/v1/developer/ws/stream?topic=<topic>``."""
        return f"{self._ws_base}{STREAM_PATH}?topic={quote(topic, safe='.')}"

    @property
    def _ws_base(self) -> str:
        return "ws" + self.http_url[len("http"):]  # http → ws, https → wss

    # API: routes and records ----------------------------------------------------------------

    @overload
    def route(self, method: str, path: str) -> Callable[[Handler], Handler]: ...

    @overload
    def route(self, method: str, path: str, handler: Handler) -> Handler: ...

    def route(
        self, method: str, path: str, handler: Optional[Handler] = None
    ) -> Union[Handler, Callable[[Handler], Handler]]:
        """Answer ``method path`` with ``handler`` (replacing any earlier one).

        The handler runs in the connection's thread when the request arrives; it returns the
        reply's ``data`` or raises ``ApiError(data)`` for an error reply. Without ``handler``
        this is a decorator.
        """
        method = method.upper()
        if method not in API_METHODS:
            raise ValueError(f"method is one of {API_METHODS}")

        def register(function: Handler) -> Handler:
            with self._cond:
                self._routes[(method, path)] = function
            return function

        return register if handler is None else register(handler)

    @property
    def api_requests(self) -> list[ApiRequest]:
        """Every request accepted (routed to a handler), in arrival order."""
        with self._cond:
            return list(self._api_requests)

    def request_count(self, method: Optional[str] = None, path: Optional[str] = None) -> int:
        """How many accepted requests had this method and/or path."""
        return sum(
            1 for r in self.api_requests
            if (method is None or r.method == method) and (path is None or r.path == path)
        )

    @property
    def api_replies(self) -> list[dict[str, Any]]:
        """Every reply sent on the API path, in the order sent (error replies included)."""
        with self._cond:
            return list(self._api_replies)

    @property
    def inflight_rejections(self) -> int:
        """Requests refused with ``INFLIGHT_LIMIT_TEXT`` so far."""
        with self._cond:
            return self._inflight_rejections

    def inflight(self, conn: Optional[FakeConnection] = None) -> int:
        """Requests accepted and not yet answered, on ``conn`` or on every connection."""
        with self._cond:
            sessions = [self._api_sessions[conn]] if conn is not None else list(
                self._api_sessions.values())
            return sum(session.inflight for session in sessions)

    def wait_for_api_requests(self, n: int, *, timeout: float = 5.0) -> list[ApiRequest]:
        """Wait until ``n`` requests were accepted in total; return the first ``n``.

        Raises:
            TimeoutError: fewer within ``timeout``.
        """
        self._wait(lambda: len(self._api_requests) >= n, timeout,
                   lambda: f"{len(self._api_requests)} of {n} API requests")
        with self._cond:
            return self._api_requests[:n]

    def wait_for_replies(self, n: int, *, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait until ``n`` API replies were sent in total; return the first ``n``.

        Raises:
            TimeoutError: fewer within ``timeout``.
        """
        self._wait(lambda: len(self._api_replies) >= n, timeout,
                   lambda: f"{len(self._api_replies)} of {n} API replies")
        with self._cond:
            return self._api_replies[:n]

    def hold_replies(self) -> None:
        """Keep every reply in flight until ``release_replies()`` (to fill the in-flight window)."""
        with self._cond:
            if self._held is None:
                self._held = []

    def release_replies(self) -> int:
        """Send the held replies (each after its latency); returns how many there were."""
        with self._cond:
            held, self._held = self._held or [], None
        for session, request, reply in held:
            self._schedule(session, request, reply)
        return len(held)

    # Streams: records and scripting ---------------------------------------------------------

    def stream_state(self, conn: FakeConnection) -> StreamState:
        """Topic, started flag and filter of the stream connection ``conn``.

        Raises:
            KeyError: ``conn`` is not an open stream connection.
        """
        with self._cond:
            session = self._stream_sessions[conn]
        with session.lock:
            return StreamState(topic=session.topic, started=session.started,
                               filter=session.filter)

    def stream_connections(self, topic: Optional[str] = None) -> list[FakeConnection]:
        """Open stream connections (on ``topic``, if given), oldest first."""
        with self._cond:
            return [conn for conn, session in self._stream_sessions.items()
                    if topic is None or session.topic == topic]

    def api_connections(self) -> list[FakeConnection]:
        """Open API connections, oldest first."""
        with self._cond:
            return list(self._api_sessions)

    @property
    def actions(self) -> list[StreamAction]:
        """Every stream message received and how it was taken, in order."""
        with self._cond:
            return list(self._actions)

    def wait_for_actions(
        self,
        n: int,
        predicate: Optional[Callable[[StreamAction], bool]] = None,
        *,
        timeout: float = 5.0,
    ) -> list[StreamAction]:
        """Wait until ``n`` stream messages (matching ``predicate``) were processed.

        A test waits on this before ``publish`` so that its ``start`` or ``setFilter`` is in
        force. Raises ``TimeoutError`` if fewer arrive within ``timeout``.
        """

        def matching() -> list[StreamAction]:
            return [a for a in self._actions if predicate is None or predicate(a)]

        self._wait(lambda: len(matching()) >= n, timeout,
                   lambda: f"{len(matching())} of {n} stream actions")
        with self._cond:
            return matching()[:n]

    @property
    def records_sent(self) -> int:
        """Records sent on every stream connection so far (after filtering)."""
        with self._cond:
            return self._records_sent

    @property
    def frames_sent(self) -> int:
        """Record frames sent so far (equal to ``records_sent`` without batching)."""
        with self._cond:
            return self._frames_sent

    def next_record(self, topic: str) -> dict[str, Any]:
        """A fresh generated record of ``topic`` (advances that topic's stream), not sent."""
        with self._market_lock:
            return self._generator.next_record(topic)

    def publish(self, topic: str, records: Union[Mapping[str, Any], Sequence[Any]]) -> int:
        """Send ``records`` (one record or a list) on ``topic`` to every started connection
        whose filter they pass, batched as ``records_per_frame`` says.

        Returns how many records went out, over all connections.
        """
        batch = [records] if isinstance(records, Mapping) else list(records)
        with self._cond:
            sessions = [s for s in self._stream_sessions.values() if s.topic == topic]
        return sum(self._deliver(session, batch) for session in sessions)

    # Hooks ----------------------------------------------------------------------------------

    def check_handshake(self, request: FakeRequest) -> Optional[tuple[int, str]]:
        if request.path not in (API_PATH, STREAM_PATH):
            return 404, _detail("Not Found")
        if self.api_key is not None and request.headers.get("X-API-KEY") != self.api_key:
            return 401, _detail("Invalid or missing API key")
        if request.path == API_PATH:
            return None if self.api_enabled else (
                403, _detail("APIs over websockets are not enabled for this key"))
        if not self.streams_enabled:
            return 403, _detail("Streams over websockets are not enabled for this key")
        topic = request.query.get("topic", [""])
        if len(topic) != 1 or not topic[0]:
            return 400, _detail("Exactly one topic query parameter is required")
        if self.topics is not None and topic[0] not in self.topics:
            return 403, _detail(f"No access to topic {topic[0]}")
        return None

    def handle(self, conn: FakeConnection) -> None:
        if conn.path == API_PATH:
            self._serve_api(conn)
        else:
            self._serve_stream(conn)

    # API internals --------------------------------------------------------------------------

    def _serve_api(self, conn: FakeConnection) -> None:
        session = _ApiSession(conn)
        with self._cond:
            self._api_sessions[conn] = session
        try:
            while True:
                message = conn.recv()
                if message is None:
                    return
                self._api_message(session, message)
        finally:
            with self._cond:
                del self._api_sessions[conn]

    def _api_message(self, session: _ApiSession, message: Message) -> None:
        try:
            request = json.loads(message)
        except ValueError:
            self._send_reply(session, _reply(None, "error", "invalid request: not JSON"))
            return
        if not isinstance(request, dict):
            self._send_reply(session, _reply(None, "error", "invalid request: not an object"))
            return
        problem = _request_problem(request)
        if problem is not None:
            self._send_reply(session, _reply(request.get("id"), "error",
                                             f"invalid request: {problem}"))
            return
        accepted = ApiRequest(
            id=request["id"], method=request["method"], path=request["path"],
            body=request.get("body", {}), connection=session.conn.index,
        )
        with self._cond:
            over = session.inflight >= self.max_inflight
            if over:
                self._inflight_rejections += 1
            else:
                session.inflight += 1
                self._api_requests.append(accepted)
            handler = self._routes.get((accepted.method, accepted.path))
            self._cond.notify_all()
        if over:
            self._send_reply(session, _reply(accepted.id, "error", INFLIGHT_LIMIT_TEXT))
            return
        self._schedule(session, accepted, self._run_handler(accepted, handler))

    def _run_handler(self, request: ApiRequest, handler: Optional[Handler]) -> dict[str, Any]:
        if handler is None:
            return _reply(request.id, "error", f"not found: {request.method} {request.path}")
        try:
            return _reply(request.id, "success", handler(request))
        except ApiError as exc:
            return _reply(request.id, "error", exc.data)
        except Exception as exc:
            self._record_error(exc, f"route {request.method} {request.path}")
            return _reply(request.id, "error", "internal server error")

    def _schedule(self, session: _ApiSession, request: ApiRequest, reply: dict[str, Any]) -> None:
        with self._cond:
            if self._held is not None:
                self._held.append((session, request, reply))
                return
        delay = self._draw_latency(request)  # may be user code: not under the lock
        if math.isinf(delay):
            return  # never answered: it stays in flight until the connection ends
        with self._cond:
            due = time.monotonic() + delay
            heapq.heappush(self._due, (due, next(self._order), session, reply))
            self._cond.notify_all()

    def _draw_latency(self, request: ApiRequest) -> float:
        latency = self.latency
        if isinstance(latency, tuple):
            return self._rng.uniform(latency[0], latency[1])
        if callable(latency):
            return float(latency(request))
        return float(latency)

    def _reply_loop(self) -> None:
        """Send each reply when its latency is over; runs until the server stops."""
        while True:
            with self._cond:
                while True:
                    if self.stopping.is_set():
                        return
                    now = time.monotonic()
                    if self._due and self._due[0][0] <= now:
                        break
                    self._cond.wait(self._due[0][0] - now if self._due else None)
                ready = []
                while self._due and self._due[0][0] <= now:
                    _, _, session, reply = heapq.heappop(self._due)
                    # Out of flight before the client can see the reply and send again.
                    session.inflight -= 1
                    ready.append((session, reply))
            for session, reply in ready:
                self._send_reply(session, reply)

    def _send_reply(self, session: _ApiSession, reply: dict[str, Any]) -> None:
        session.conn.send(json.dumps(reply, separators=(",", ":")))
        with self._cond:
            self._api_replies.append(reply)
            self._cond.notify_all()

    # Stream internals -----------------------------------------------------------------------

    def _serve_stream(self, conn: FakeConnection) -> None:
        session = _StreamSession(conn, conn.query["topic"][0])
        with self._cond:
            self._stream_sessions[conn] = session
        try:
            while True:
                message = conn.recv()
                if message is None:
                    return
                self._stream_message(session, message)
        finally:
            with self._cond:
                del self._stream_sessions[conn]

    def _stream_message(self, session: _StreamSession, message: Message) -> None:
        action: Optional[str] = None
        data: Any = None
        error: Optional[str] = None
        try:
            request = json.loads(message)
        except ValueError:
            error = "not JSON"
        else:
            if not isinstance(request, dict) or not isinstance(request.get("action"), str):
                error = "expected an object with an action"
            else:
                action = request["action"]
                data = request.get("data")
                error = self._apply(session, action, data)
        with self._cond:
            self._actions.append(StreamAction(
                connection=session.conn.index, action=action, data=data, error=error))
            self._cond.notify_all()
        if error is None or self.invalid_action == "ignore":
            return
        if self.invalid_action == "error":
            session.conn.send(json.dumps({"status": "error", "data": error}))
        else:
            session.conn.close(1008, error[:120])

    def _apply(self, session: _StreamSession, action: str, data: Any) -> Optional[str]:
        """Apply one action; returns why it was refused, None when applied."""
        if action in ("start", "stop"):
            with session.lock:
                session.started = action == "start"
            return None
        if action != "setFilter":
            return f"unknown action {action!r}"
        if data is None or data == {}:
            new_filter = None
        else:
            try:
                check_filter(data)
            except ValueError as exc:
                return f"invalid filter: {exc}"
            new_filter = data
        with session.lock:
            session.filter = new_filter
        return None

    def _deliver(self, session: _StreamSession, records: list[Any]) -> int:
        """Send the records ``session`` wants; returns how many were sent."""
        conn = session.conn
        per_frame = self.records_per_frame
        with session.lock:
            if not session.started or not conn.is_open or conn.is_silent:
                return 0
            wanted = [r for r in records if matches(session.filter, r)]
            if not wanted:
                return 0
            if per_frame is None:
                frames = [json.dumps(r, separators=(",", ":")) for r in wanted]
            else:
                frames = [json.dumps(wanted[i:i + per_frame], separators=(",", ":"))
                          for i in range(0, len(wanted), per_frame)]
            conn.send_batch(frames)
        with self._cond:
            self._records_sent += len(wanted)
            self._frames_sent += len(frames)
            self._cond.notify_all()
        return len(wanted)

    def _stream_loop(self) -> None:
        """Generate ``rate`` records per second for each topic someone is started on."""
        credit = 0.0
        last = time.monotonic()
        while True:
            rate = self.rate
            tick = 0.05 if not rate else max(0.01, min(0.05, 1.0 / rate))
            if self.stopping.wait(tick):
                return
            now = time.monotonic()
            elapsed, last = now - last, now
            if not rate:
                credit = 0.0
                continue
            # Capped so that a stall (or a pause with nobody started) does not burst.
            credit = min(credit + elapsed * rate, max(1.0, rate * 0.25))
            count = int(credit)
            credit -= count
            if count == 0:
                continue
            with self._cond:
                sessions = list(self._stream_sessions.values())
            topics = sorted({s.topic for s in sessions if s.started})
            for topic in topics:
                with self._market_lock:
                    records = self._generator.records(topic, count)
                for session in sessions:
                    if session.topic == topic:
                        self._deliver(session, records)


def _reply(request_id: Any, status: str, data: Any) -> dict[str, Any]:
    return {"id": request_id, "status": status, "data": data}


def _detail(text: str) -> str:
    return json.dumps({"detail": text})


def _request_problem(request: Mapping[str, Any]) -> Optional[str]:
    """What makes a request frame unusable, or None."""
    if not isinstance(request.get("id"), str) or not request["id"]:
        return "id must be a non-empty string"
    method = request.get("method")
    if method not in API_METHODS:
        return f"method must be one of {', '.join(API_METHODS)}"
    path = request.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        return "path must be a string starting with /"
    body = request.get("body", {})
    if method == "GET" and not isinstance(body, dict):
        return "body of a GET request must be an object (its query parameters)"
    if not isinstance(body, (dict, list)):
        return "body must be an object or an array"
    return None
