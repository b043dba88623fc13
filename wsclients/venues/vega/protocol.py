"""The sans-I/O protocol of one Vega stream socket: trades (waiting for their market's
decimals when needed), snapshot pages then updates, and every other route as messages.
"""

from __future__ import annotations

import abc
import collections
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Optional, Union

from wsclients.core.protocol import CloseRequest, Job, ProtocolBuffers
from wsclients.errors import (
    ProtocolViolation,
    RequestFailed,
    SubscriptionRejected,
    WSClientError,
    shorten,
)
from wsclients.models import ErrorEvent, Message, Trade, new_trade
from wsclients.venues.vega.decimals import (
    _DECIMALS_RETRY_AFTER,
    _MAX_HELD_TRADES,
    _MAX_HELD_UPDATES,
    SNAPSHOT_TIMEOUT,
    DecimalsLookup,
    _wire_int,
)
from wsclients.venues.vega.frames import StreamError, _decode_frame, _error_status
from wsclients.venues.vega.streams import (
    _SIDES,
    _STREAM_LIMIT_CODE,
    _STREAM_LIMIT_DELAY,
    VENUE,
    VegaStream,
)

if TYPE_CHECKING:
    pass


# --------------------------------------------------------------------------------------------
# Protocols


class _Base(ProtocolBuffers, abc.ABC):
    """What both protocols share: the event and frame lists (the only frame owed to the node
    is the event bus request), errors, and the close request."""

    def __init__(self, stream: VegaStream, *, decimals: DecimalsLookup) -> None:
        super().__init__()
        self.stream = stream
        self._decimals = decimals

    def ping_message(self) -> Optional[str]:
        """None: the node answers WebSocket pings, and a text frame would block the proxy's
        reader (docs/venues/vega.rst#vega-keepalive)."""
        return None

    def is_fatal(self, code: Optional[int], exc: Optional[BaseException]) -> bool:
        """Closes are never fatal by themselves: the node drops TCP after every error, and a
        fatal error has already set ``close_request`` (docs/venues/vega.rst#vega-framing)."""
        return False

    def receive_text(self, data: Union[str, bytes], *, received_ns: int) -> None:
        """Parse one frame. Never raises: a bad frame becomes a non-fatal ``ErrorEvent`` and
        the next frame parses normally."""
        try:
            obj = _decode_frame(data)
            status = _error_status(obj)
            if status is not None:
                self._receive_error(StreamError.from_status(status), obj, received_ns)
                return
            result = obj.get("result")
            if not isinstance(result, dict):
                raise ProtocolViolation("frame has neither result nor error", raw=data)
            self._receive_result(result, obj, received_ns)
        except Exception as exc:  # noqa: BLE001 - the contract: a frame never kills the reader
            self._report(exc, received_ns, raw=data)

    @abc.abstractmethod
    def _receive_result(self, result: dict[str, Any], frame: Any, received_ns: int) -> None:
        """Turn one ``result`` object into events."""

    def _receive_error(self, error: StreamError, frame: Any, received_ns: int) -> None:
        """The node closes the socket after any error (docs/venues/vega.rst#vega-envelopes). A
        fatal one ends
        this stream for good so the connection does not hammer the node with a request it will
        always refuse; others reconnect with backoff."""
        reason = f"{self.stream.path}: {error.message}"
        exc: WSClientError
        if error.is_fatal:
            exc = SubscriptionRejected(self.stream.path, error.message, code=error.code)
        else:
            exc = RequestFailed(error.message, request=self.stream.path)
        self._events.append(
            ErrorEvent.from_exception(
                exc, venue=VENUE, received_ns=received_ns, fatal=error.is_fatal, raw=frame,
                code=error.code,
            )
        )
        delay = _STREAM_LIMIT_DELAY if error.code == _STREAM_LIMIT_CODE else None
        self.close_request = CloseRequest(reason, fatal=error.is_fatal, delay=delay)

    def _report(self, exc: BaseException, received_ns: int, raw: Any) -> None:
        """A non-fatal ``ErrorEvent`` for something we could not parse; ours is kept, anything
        else is wrapped in ``ProtocolViolation`` with the original as cause."""
        if not isinstance(exc, WSClientError):
            wrapped = ProtocolViolation(f"{self.stream.path}: cannot parse ({exc!r})", raw=raw)
            wrapped.__cause__ = exc
            exc = wrapped
        if isinstance(raw, (str, bytes)):
            raw = shorten(raw)
        self._events.append(
            ErrorEvent.from_exception(exc, venue=VENUE, received_ns=received_ns, raw=raw)
        )


class VegaStreamProtocol(_Base):
    """Sans-I/O parser for one stream socket (any route but the managed order book).

    - ``trades`` → one ``Trade`` per trade, prices and sizes scaled by the market's decimals.
    - ``orders``/``positions``/``accounts`` → the snapshot pages are gathered until
      ``lastPage`` and delivered as one ``Message(is_snapshot=True, data=(item, …))``; each
      ``updates`` frame then becomes one ``Message(is_snapshot=False, data=(item, …))``.
      Updates that arrive while the snapshot is incomplete are held until it is delivered.
    - every other stream → one ``Message`` per list item (or per object), channel = route,
      ``symbol`` = the item's market id where it has one. Payloads are kept as the node sent
      them (integer strings, int enums).
    """

    def __init__(
        self, stream: VegaStream, *, decimals: DecimalsLookup,
        snapshot_timeout: float = SNAPSHOT_TIMEOUT,
    ) -> None:
        super().__init__(stream, decimals=decimals)
        self._snapshot_items: list[Any] = []
        self._snapshot_frames: list[Any] = []
        self._in_snapshot = False
        self._snapshot_timeout = snapshot_timeout
        self._snapshot_since = 0.0  # monotonic time of the first page of the snapshot
        self._abandoned = False  # this socket's snapshot was given up: ignore its pages
        self._held_updates: list[Message] = []
        # Trades waiting for their market's decimals, per market in arrival order (kept
        # across sockets: they were received, so they are delivered).
        self._held: dict[str, collections.deque[tuple[Mapping[str, Any], int]]] = {}
        self._asked: set[str] = set()  # markets whose decimals are being fetched
        self._retry_at: dict[str, float] = {}  # market → when to ask again after a failure
        self.dropped_trades = 0
        """Trades dropped because too many waited for decimals (each drop is reported)."""

    def on_open(self) -> None:
        """A fresh socket: forget any half-read snapshot; queue the event-bus request; ask for
        the decimals the trades will need now, not on the first trade."""
        super().on_open()
        if self.stream.path == "trades":
            for market_id in self.stream.market_ids:
                if self._decimals(market_id) is None:
                    self._ask_decimals(market_id)
        self._snapshot_items = []
        self._snapshot_frames = []
        self._in_snapshot = False
        self._abandoned = False
        self._held_updates = []
        if self.stream.request is not None:
            self._outgoing.append(self.stream.request)

    def _receive_result(self, result: dict[str, Any], frame: Any, received_ns: int) -> None:
        path = self.stream.path
        if "snapshot" in result or "updates" in result:
            self._receive_paged(result, frame, received_ns)
        elif path == "trades" and "trades" in result:
            self._receive_trades(result["trades"], received_ns)
        else:
            for value in result.values():
                items = value if isinstance(value, list) else [value]
                for item in items:
                    self._events.append(
                        Message(
                            venue=VENUE, channel=path, data=item, received_ns=received_ns,
                            symbol=_market_of(item), raw=frame,
                        )
                    )
        if path == "event/bus" and self.stream.batch_size > 0 and self.stream.request:
            # docs/venues/vega.rst#vega-event-bus: with a batch size every batch must be asked for.
            self._outgoing.append(self.stream.request)

    def _receive_trades(self, trades: Any, received_ns: int) -> None:
        if not isinstance(trades, list):
            raise ProtocolViolation("trades is not a list", raw=trades)
        for item in trades:
            if not isinstance(item, Mapping) or not isinstance(item.get("marketId"), str):
                self._report(ProtocolViolation("trade without a marketId"), received_ns, raw=item)
                continue
            market_id = item["marketId"]
            if self._decimals(market_id) is None:
                # Trades of one market keep their order: they wait together for its decimals
                # while other markets' trades go on.
                self._hold(market_id, item, received_ns)
                self._ask_decimals(market_id)
                continue
            self._emit_trade(item, received_ns)

    def _emit_trade(self, item: Mapping[str, Any], received_ns: int) -> None:
        try:
            self._events.append(self._trade(item, received_ns))
        except Exception as exc:  # noqa: BLE001 - one bad trade must not lose the batch
            self._report(exc, received_ns, raw=item)

    def _hold(self, market_id: str, item: Mapping[str, Any], received_ns: int) -> None:
        held = self._held.setdefault(market_id, collections.deque())
        if len(held) >= _MAX_HELD_TRADES:
            oldest, oldest_ns = held.popleft()
            self.dropped_trades += 1
            self._report(
                ProtocolViolation(
                    f"trade dropped: more than {_MAX_HELD_TRADES} trades of {market_id} wait "
                    "for the market's decimals"
                ),
                oldest_ns, raw=oldest,
            )
        held.append((item, received_ns))

    def _ask_decimals(self, market_id: str) -> None:
        if market_id not in self._asked and market_id not in self._retry_at:
            self._asked.add(market_id)
            self.ask(Job("decimals", ("decimals", market_id), market_id))

    def job_done(self, job: Job, result: Any, error: Optional[BaseException]) -> None:
        """Decimals arrived (or could not be had): release the trades that waited. A market
        the node does not know will never have decimals: its trades are reported and
        dropped; any other failure is asked again after a pause."""
        self.job_done_at(job, result, error, received_ns=time.time_ns())

    def job_done_at(
        self, job: Job, result: Any, error: Optional[BaseException], *, received_ns: int
    ) -> None:
        """``job_done``, a failure reported at ``received_ns``."""
        if job.kind != "decimals":
            return
        market_id = job.args
        self._asked.discard(market_id)
        if error is None:
            self._release(market_id)
            return
        if _is_unknown_market(error):
            dropped = self._held.pop(market_id, collections.deque())
            self.dropped_trades += len(dropped)
            self._report(
                ProtocolViolation(
                    f"{len(dropped)} trade(s) of market {market_id} dropped: its decimals "
                    f"cannot be had ({error})"
                ),
                received_ns, raw=None,
            )
            return
        self._retry_at[market_id] = _now() + _DECIMALS_RETRY_AFTER
        self._report(error, received_ns, raw=None)

    def on_tick(self, now: float) -> None:
        """Ask again for decimals whose fetch failed a while ago; give up on a snapshot whose
        last page does not come."""
        if self._in_snapshot and now - self._snapshot_since > self._snapshot_timeout:
            self._resnapshot(
                f"no lastPage within {self._snapshot_timeout:g} s of the first snapshot page"
            )
        for market_id, when in list(self._retry_at.items()):
            if now >= when:
                del self._retry_at[market_id]
                if self._decimals(market_id) is None:
                    self._ask_decimals(market_id)

    def _release(self, market_id: str) -> None:
        for item, received_ns in self._held.pop(market_id, ()):
            self._emit_trade(item, received_ns)

    def _trade(self, item: Mapping[str, Any], received_ns: int) -> Trade:
        market_id = item["marketId"]
        decimals = self._decimals(market_id)
        if decimals is None:
            raise ProtocolViolation(f"no decimals known for market {market_id}")
        aggressor = item.get("aggressor", 0)
        # new_trade: Trade's fields in order (venue, symbol, price, size, side, trade_id,
        # timestamp_ns, received_ns, is_snapshot, raw), about half the cost of the keyword
        # constructor.
        return new_trade(
            VENUE,
            market_id,
            decimals.price_of(item["price"]),
            decimals.size_of(item.get("size", "0")),
            _SIDES.get(aggressor) if isinstance(aggressor, int) else None,
            str(item["id"]),
            _wire_int(item.get("timestamp", "0"), "timestamp"),
            received_ns,
            False,  # is_snapshot
            item,
        )

    def _receive_paged(self, result: dict[str, Any], frame: Any, received_ns: int) -> None:
        """docs/venues/vega.rst#vega-snapshots: pages of up to 50, ``lastPage`` only on the last;
        an empty
        snapshot is ``{"snapshot":{"lastPage":true}}``."""
        path = self.stream.path
        if self._abandoned:  # closing for a new snapshot: nothing here can be delivered
            return
        if "snapshot" in result:
            page = result["snapshot"]
            if not isinstance(page, Mapping):
                raise ProtocolViolation("snapshot is not an object", raw=page)
            if not self._in_snapshot:
                self._in_snapshot = True
                self._snapshot_since = _now()
            self._snapshot_items.extend(_page_items(page))
            self._snapshot_frames.append(frame)
            if page.get("lastPage"):
                self._events.append(
                    Message(
                        venue=VENUE, channel=path, data=tuple(self._snapshot_items),
                        received_ns=received_ns, is_snapshot=True,
                        raw=tuple(self._snapshot_frames),
                    )
                )
                self._events.extend(self._held_updates)
                self._snapshot_items, self._snapshot_frames, self._held_updates = [], [], []
                self._in_snapshot = False
        if "updates" in result:
            page = result["updates"]
            if not isinstance(page, Mapping):
                raise ProtocolViolation("updates is not an object", raw=page)
            message = Message(
                venue=VENUE, channel=path, data=tuple(_page_items(page)),
                received_ns=received_ns, raw=frame,
            )
            # The snapshot is complete before the first update is delivered.
            if not self._in_snapshot:
                self._events.append(message)
            elif len(self._held_updates) < _MAX_HELD_UPDATES:
                self._held_updates.append(message)
            else:
                self._resnapshot(f"more than {_MAX_HELD_UPDATES} updates wait for lastPage")

    def _resnapshot(self, why: str) -> None:
        """An incomplete snapshot: drop it and what waited on it, say so, and take a new
        one on a fresh socket (the node sends the snapshot when a stream opens)."""
        if self.close_request is not None:
            return
        held = len(self._held_updates)
        self._snapshot_items, self._snapshot_frames, self._held_updates = [], [], []
        self._in_snapshot = False
        self._abandoned = True
        reason = f"{self.stream.path} snapshot incomplete ({why}); taking it again"
        self._report(
            ProtocolViolation(f"{reason}; {held} held update(s) dropped"), time.time_ns(),
            raw=None,
        )
        self.close_request = CloseRequest(reason, quiet=True)


def _page_items(page: Mapping[str, Any]) -> list[Any]:
    """The items of a snapshot or updates page, whatever the list is called (orders, …)."""
    items: list[Any] = []
    for key, value in page.items():
        if key == "lastPage":
            continue
        if not isinstance(value, list):
            raise ProtocolViolation(f"page field {key} is not a list", raw=value)
        items.extend(value)
    return items


def _market_of(item: Any) -> Optional[str]:
    """The market an item concerns: ``marketId``, or ``market`` on MarketData
    (docs/venues/vega.rst#vega-samples)."""
    if isinstance(item, Mapping):
        for key in ("marketId", "market"):
            value = item.get(key)
            if isinstance(value, str):
                return value
    return None



def _now() -> float:
    return time.monotonic()


def _is_unknown_market(error: BaseException) -> bool:
    """A REST answer that says the market does not exist (HTTP 404, or no market object)."""
    return (isinstance(error, RequestFailed) and error.status in (400, 404)) or isinstance(
        error, ProtocolViolation
    )
