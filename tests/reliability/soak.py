"""The fault soak: each venue client against its fake while the fake publishes numbered data
and the soak breaks the socket over and over, in every way a network or a server can.

Run the full soak (50 faults of each kind per venue, then the 1,000 start/stop cycles of
``cycles.py``) and print the figures in RST; the exit status is 1 unless all is clean::

    python -m tests.reliability.soak --full

``tests/reliability/test_soak.py`` runs a short form (1 of each kind) in the normal pytest
run, and the full one under ``WSCLIENTS_SOAK=full pytest -m reliability``.

How it works. The fake of each venue is wrapped so that every text frame it writes to a socket
is scanned for the soak's sequence numbers and recorded against that socket, in write order.
A publisher thread numbers items 1, 2, 3 … and publishes one every ``PUBLISH_INTERVAL`` on
whichever socket carries the subscribed stream (Hyperliquid: ``publish_trade`` with
``tid=n``, so its trades backfill after a resubscribe carries the same numbers; Allium's
API: the client requests an echo of ``n``, delivered when answered right). Before each
fault the soak waits for a healthy state: exactly one open data socket, every subscription of
the client recorded on it, and the last number published so far received by the client. Then
it injects one fault on that socket and waits until a number published *after* the fault
reaches the client's callback: that wait is the recovery time.

What the figures mean:

lost
    A socket delivers a prefix of what was written into it: whatever the kernel handed the
    client, in order, up to the moment the socket died. So a numbered item counts as lost when
    it was written to a socket *before another item that the client received from that same
    socket* and yet never reached the client (on any socket). "Received from that socket" is
    proven only by an item written to no other socket: one the venue wrote again on a later
    socket (Hyperliquid's trades backfill, Centrifugo's recovery) may have arrived from there.
    Items written after the last one the client read from a dying socket were in flight when
    it died: the client could not read them, they are not counted as lost but shown as "in
    flight" (Hyperliquid's backfill of the last 30 trades and Centrifugo's recovery normally
    deliver them anyway; a socket cut mid-restore three times in a row can outrun the 30).
not delivered
    Items published and never delivered: the in-flight ones, and those published while a
    socket was silent or being replaced (never written to any socket). Zero for a venue that
    recovers what a client missed (Centrifugo's history), where it is checked.
duplicated
    Numbers the client delivered more than once.
reordered
    Deliveries of a number smaller than one delivered before it.
unprovoked reconnects
    Sockets opened beyond those the faults made (the first, one per fault, and the ones cut
    mid-restore by a flapping fault): reconnects no fault caused. Not a
    failure by itself: the soak's heartbeat (a ping every 0.1 s, two missed pongs and the
    socket is called dead) can misjudge a healthy socket on a busy machine.
restore errors
    Sockets on which the client's subscriptions were not each sent exactly once (a missing or a
    repeated subscription; a socket cut mid-restore may lack some, never repeat one), plus
    healthy states with more than one open data socket.
recovery
    Seconds from the fault to the first item published after the fault arriving at the
    client's callback (p50 and p99 over the faults of a kind).
leaks
    ``wsclients-*`` threads and open file descriptors (``/proc/self/fd``) after the client and
    the fakes stopped, compared with before they started.

The venues are rows of ``VENUES`` (a ``VenueSoak`` each); a new venue is one more entry.
"""

from __future__ import annotations

import argparse
import collections
import gc
import json
import math
import os
import random
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from decimal import Decimal
from typing import Any, Callable, Optional

import attrs

from tests.reliability.cycles import (
    FULL_CYCLES,
    MODES,
    cycles_per_mode,
    cycles_table,
    run_cycles,
)
from wsclients import (
    AlliumApiClient,
    AlliumStreamClient,
    CadenzaClient,
    CentrifugoClient,
    HyperliquidClient,
    TradevestClient,
    VegaClient,
)
from wsclients.core.client import Client
from wsclients.errors import ConnectionLost, RequestTimeout
from wsclients.models import Event
from wsclients.models import Message as EventMessage
from wsclients.testing import (
    ChannelOptions,
    FakeAllium,
    FakeCadenza,
    FakeCentrifugo,
    FakeHyperliquid,
    FakeTradevest,
    FakeVegaNode,
)
from wsclients.testing.allium import API_PATH, STREAM_PATH, ApiRequest
from wsclients.testing.server import FakeConnection, FakeRequest, FakeServer, Message
from wsclients.venues.allium import F, filter_json
from wsclients.venues.hyperliquid.limits import ConnectionBudget

__all__ = [
    "FAULT_KINDS",
    "VENUES",
    "FaultKind",
    "SoakFigures",
    "VenueSoak",
    "count_losses",
    "faults_per_kind",
    "figures_table",
    "recovery_table",
    "run_venue",
]

PUBLISH_INTERVAL = 0.002
"""Seconds between two numbered items (about 500 a second)."""
CONNECT_TIMEOUT = 0.3
"""The client's ``connect_timeout``: how long a hanging handshake holds it."""
STALE_TIMEOUT = 0.3
"""The client's ``stale_timeout``: how long a silent socket lives."""
FLAP_WAIT = 0.5
"""Seconds a flapping socket waits for the client's first frame before it is cut (a venue
whose subscription is the URL has its sockets cut right after the upgrade instead)."""
FLAPS = 3
"""Sockets cut mid-restore in a row by one "flapping" fault."""
RECOVERY_LIMIT = 10.0
"""Seconds a fault may take to recover before the soak calls it a failure."""
SHORT_FAULTS = 1
FULL_FAULTS = 50

CLIENT_OPTIONS: dict[str, Any] = {
    "backoff_min": 0.005,
    "backoff_max": 0.05,
    "connect_timeout": CONNECT_TIMEOUT,
    "ping_interval": 0.1,
    "stale_timeout": STALE_TIMEOUT,
}
"""What every soaked client runs with: quick reconnects, quick verdicts on silence."""


def faults_per_kind() -> int:
    """Faults of each kind per venue: 50 under ``WSCLIENTS_SOAK=full``, else 1."""
    return FULL_FAULTS if os.environ.get("WSCLIENTS_SOAK", "") == "full" else SHORT_FAULTS


# --------------------------------------------------------------------------------------------
# The fakes, wrapped: write records and hanging handshakes


class _SoakFake(FakeServer):
    """Mixin over a venue fake: records the numbered items each socket was given, and can
    make the next upgrades hang."""

    soak_scan: Callable[[str], list[int]] = staticmethod(lambda text: [])

    def soak_init(self, scan: Callable[[str], list[int]]) -> None:
        self.soak_scan = scan
        self.soak_written: dict[int, list[int]] = collections.defaultdict(list)
        self.soak_flap_wait = FLAP_WAIT
        self.soak_flapped: set[int] = set()
        """Sockets cut while the client was restoring its subscriptions."""
        self._soak_hangs = 0
        self._soak_flaps = 0

    def flap_next(self, n: int) -> None:
        """Cut each of the next ``n`` sockets as soon as the client has sent its first frame
        on it (or after ``FLAP_WAIT`` when it sends none): mid-restore, before the acks."""
        with self._cond:
            self._soak_flaps += n

    def flaps_pending(self) -> int:
        with self._cond:
            return self._soak_flaps

    def _flap(self, conn: FakeConnection) -> None:
        if self.soak_flap_wait > 0:
            try:
                conn.wait_for_message(timeout=self.soak_flap_wait)
            except TimeoutError:
                pass
        conn.drop()

    def hang_next_handshakes(self, n: int = 1) -> None:
        """The next ``n`` upgrades get no answer until long after the client gave up (then a
        503 to a closed socket, so that no connection is ever made of them)."""
        with self._cond:
            self._soak_hangs += n

    def check_handshake(self, request: FakeRequest) -> Optional[tuple[int, str]]:
        with self._cond:
            hang = self._soak_hangs > 0
            if hang:
                self._soak_hangs -= 1
        if hang:
            self.stopping.wait(CONNECT_TIMEOUT * 4)
            return 503, "the handshake hung"
        return super().check_handshake(request)

    def handle(self, conn: FakeConnection) -> None:
        send = conn.send
        written = self.soak_written[conn.index]
        scan = self.soak_scan

        def recording_send(message: Message) -> None:
            # A silent socket discards what is sent: nothing of it is ever written.
            silent = conn.is_silent
            send(message)
            if isinstance(message, str) and not silent:
                written.extend(scan(message))

        send_batch = conn.send_batch

        def recording_send_batch(messages: Iterable[Message]) -> None:
            batch = list(messages)
            silent = conn.is_silent
            send_batch(batch)
            if not silent:
                for message in batch:
                    if isinstance(message, str):
                        written.extend(scan(message))

        conn.send = recording_send  # type: ignore[method-assign]
        conn.send_batch = recording_send_batch  # type: ignore[method-assign]
        with self._cond:
            flap = self._soak_flaps > 0
            if flap:
                self._soak_flaps -= 1
                self.soak_flapped.add(conn.index)
        if flap:
            self.start_thread(self._flap, conn, name=f"flap-{conn.index}")
        super().handle(conn)


def _wrapped(base: type[FakeServer]) -> type[Any]:
    return type(f"Soak{base.__name__}", (_SoakFake, base), {})


# --------------------------------------------------------------------------------------------
# The venue table


@attrs.frozen(kw_only=True)
class VenueSoak:
    """One venue in the soak: how to make its fake and client, publish a numbered item, and
    read numbers and subscriptions back.

    ``publish(fake, n)`` must put item ``n`` on every open socket subscribed to the stream
    (through ``FakeConnection.send``, which the soak records). ``scan(text)`` finds the
    numbers in a frame the fake writes; ``number(event)`` in an event the client delivers
    (None for events that are not the soak's). ``subscriptions(conn)`` lists what the client
    subscribed to on a socket, one key per subscription it sent; ``expected`` is the set every
    socket must carry. ``carries_data(conn)`` picks the sockets of the numbered stream.
    """

    name: str
    make_fake: Callable[[], FakeServer]
    make_client: Callable[[FakeServer, Callable[[Event], None]], Client]
    publish: Callable[[Any, int], None]
    scan: Callable[[str], list[int]]
    number: Callable[[Event], Optional[int]]
    subscriptions: Callable[[FakeConnection], list[str]]
    expected: frozenset[str]
    carries_data: Callable[[FakeConnection], bool] = lambda conn: True
    sends_subscriptions: bool = True
    """The client sends its subscriptions as frames (False: they are the URL, as on Vega)."""
    recovers: bool = False
    """The venue re-sends what a client missed (Centrifugo's recovery from history): then
    every item published must arrive, even one written into a dying or silent socket."""
    redirect_path: str = "/"
    settle: Callable[[Any], tuple[list[str], list[str]]] = lambda fake: ([], [])
    """Checks of the venue's own promises, run with the fake once the last item arrived and
    before the client stops: (errors, notes). Errors make the soak fail; notes are figures
    printed beside the tables."""


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


# Hyperliquid: trades of BTC numbered by tid; three more subscriptions to restore.

_HL_SUBSCRIPTIONS = frozenset({"trades:BTC", "l2Book:ETH", "bbo:SOL", "allMids:"})


def _hl_fake() -> FakeServer:
    fake = _wrapped(FakeHyperliquid)(max_messages_per_minute=10**9, trades_backfill=30)
    fake.soak_init(_hl_scan)
    return fake  # type: ignore[no-any-return]


def _hl_client(fake: FakeServer, on_data: Callable[[Event], None]) -> Client:
    # The venue's per-IP pacing (30 new connections and 2000 frames a minute) would space
    # the soak's hundreds of reconnects a minute out; the soak is about faults, not pacing.
    client = HyperliquidClient(
        url=fake.url, on_trade=on_data, message_limit=10**9,
        connection_budget=ConnectionBudget(max_open=10**6, max_per_window=10**6),
        **CLIENT_OPTIONS,
    )
    client.subscribe_trades("BTC")
    client.subscribe_l2_book("ETH")
    client.subscribe_bbo("SOL")
    client.subscribe_all_mids()
    return client


def _hl_publish(fake: FakeHyperliquid, n: int) -> None:
    fake.publish_trade("BTC", "65000.5", "0.1", tid=n)


def _hl_scan(text: str) -> list[int]:
    frame = _json(text)
    if not isinstance(frame, dict) or frame.get("channel") != "trades":
        return []
    return [int(item["tid"]) for item in frame["data"] if item.get("coin") == "BTC"]


def _hl_number(event: Event) -> Optional[int]:
    if getattr(event, "symbol", None) != "BTC":
        return None
    return int(event.trade_id.rsplit(":", 1)[-1])  # type: ignore[attr-defined] # "time:tid"


def _hl_subscriptions(conn: FakeConnection) -> list[str]:
    keys = []
    for message in conn.received:
        frame = _json(message) if isinstance(message, str) else None
        if isinstance(frame, dict) and frame.get("method") == "subscribe":
            sub = frame["subscription"]
            keys.append(f"{sub['type']}:{sub.get('coin', '')}")
    return keys


# Vega: one trades stream socket; trades numbered by their (64-hex) id.


def _vega_fake() -> FakeServer:
    fake = _wrapped(FakeVegaNode)()
    fake.soak_init(_vega_scan)
    return fake  # type: ignore[no-any-return]


def _vega_client(fake: FakeServer, on_data: Callable[[Event], None]) -> Client:
    assert isinstance(fake, FakeVegaNode)
    client = VegaClient(url=fake.url, on_trade=on_data, **CLIENT_OPTIONS)
    client.subscribe_trades([fake.market_ids[0]])
    return client


def _vega_publish(fake: FakeVegaNode, n: int) -> None:
    market = fake.market_ids[0]
    parties = fake.parties
    trade = {
        "id": f"{n:064x}", "marketId": market, "price": "650000", "size": "1000",
        "buyer": parties[0], "seller": parties[1], "aggressor": 1 + n % 2,
        "timestamp": str(time.time_ns()), "type": 1,
    }
    text = json.dumps({"result": {"trades": [trade]}}, separators=(",", ":"))
    for conn in fake.live_connections:
        if _vega_trades(conn):
            conn.send(text)


def _vega_scan(text: str) -> list[int]:
    frame = _json(text)
    result = frame.get("result") if isinstance(frame, dict) else None
    trades = result.get("trades") if isinstance(result, dict) else None
    return [int(t["id"], 16) for t in trades or ()]


def _vega_number(event: Event) -> Optional[int]:
    trade_id = getattr(event, "trade_id", None)
    return int(trade_id, 16) if trade_id is not None else None


def _vega_trades(conn: FakeConnection) -> bool:
    return conn.path.endswith("/trades")


def _vega_subscriptions(conn: FakeConnection) -> list[str]:
    return [conn.path.rsplit("/", 1)[-1]]


# Tradevest: PRICES for EUR/BTC; the number rides in the size of a price level no market has.

_TV_PAIR = ("EUR", "BTC")
_TV_MARK = Decimal(7)


def _tv_fake() -> FakeServer:
    fake = _wrapped(FakeTradevest)(markets=[_TV_PAIR], price_interval=None)
    fake.soak_init(_tv_scan)
    return fake  # type: ignore[no-any-return]


def _tv_client(fake: FakeServer, on_data: Callable[[Event], None]) -> Client:
    return TradevestClient([_TV_PAIR], url=fake.url, on_book=on_data, **CLIENT_OPTIONS)


def _tv_publish(fake: FakeTradevest, n: int) -> None:
    text = fake.prices_message(
        [fake.entry(_TV_PAIR, asks=[(_TV_MARK, Decimal(n))], bids=[(_TV_MARK - 1, Decimal(n))])]
    )
    for conn in fake.live_connections:
        try:
            fake.subscription(conn)
        except KeyError:
            continue  # no subscription on it yet: the venue sends nothing before one
        conn.send(text)


def _tv_scan(text: str) -> list[int]:
    frame = _json(text)
    if not isinstance(frame, dict) or frame.get("type") != "PRICES":
        return []
    return [
        int(entry["asks"][0]["quantity"])
        for entry in frame["prices"]
        if entry["asks"] and Decimal(entry["asks"][0]["price"]) == _TV_MARK
    ]


def _tv_number(event: Event) -> Optional[int]:
    asks = getattr(event, "asks", ())
    return int(asks[0].size) if asks and asks[0].price == _TV_MARK else None


def _tv_subscriptions(conn: FakeConnection) -> list[str]:
    keys = []
    for message in conn.received:
        frame = _json(message) if isinstance(message, str) else None
        if isinstance(frame, dict) and frame.get("type") == "PRICE_SUBSCRIPTION":
            keys.append(json.dumps(frame.get("priceSubscription"), sort_keys=True))
    return keys


_TV_EXPECTED = json.dumps(
    {"markets": [{"currency": _TV_PAIR[0], "cryptoSymbol": _TV_PAIR[1]}]}, sort_keys=True
)

# Centrifugo: one recoverable channel; the number rides in each publication's data. The
# channel keeps a long history, so recovery after every reconnect must fill every gap.

_CF_CHANNEL = "soak"


def _cf_fake() -> FakeServer:
    namespaces = {"": ChannelOptions(
        history_size=100_000, history_ttl=600.0, force_recovery=True,
        allow_subscribe_for_client=True,
    )}
    fake = _wrapped(FakeCentrifugo)(namespaces=namespaces, ping_interval=0.25, pong_timeout=1.0)
    fake.soak_init(_cf_scan)
    return fake  # type: ignore[no-any-return]


def _cf_client(fake: FakeServer, on_data: Callable[[Event], None]) -> Client:
    assert isinstance(fake, FakeCentrifugo)
    options = {**CLIENT_OPTIONS, "ping_interval": None}  # the server pings; the client answers
    client = CentrifugoClient(
        url=fake.url, token=fake.make_token("soak"), on_message=on_data,
        max_server_ping_delay=0.25, **options,
    )
    client.subscribe(_CF_CHANNEL)
    return client


def _cf_publish(fake: FakeCentrifugo, n: int) -> None:
    fake.publish(_CF_CHANNEL, {"n": n})


def _cf_lines(text: str) -> Iterable[dict[str, Any]]:
    for line in text.split("\n"):
        obj = _json(line)
        if isinstance(obj, dict):
            yield obj


def _cf_scan(text: str) -> list[int]:
    numbers = []
    for obj in _cf_lines(text):
        push = obj.get("push")
        if isinstance(push, dict) and push.get("channel") == _CF_CHANNEL and "pub" in push:
            numbers.append(int(push["pub"]["data"]["n"]))
        reply = obj.get("subscribe")
        if isinstance(reply, dict):  # publications recovered on resubscribe
            numbers.extend(int(pub["data"]["n"]) for pub in reply.get("publications", ()))
    return numbers


def _cf_number(event: Event) -> Optional[int]:
    data = getattr(event, "data", None)
    if getattr(event, "channel", None) != _CF_CHANNEL or not isinstance(data, dict):
        return None
    number = data.get("n")
    return number if isinstance(number, int) else None


def _cf_subscriptions(conn: FakeConnection) -> list[str]:
    keys = []
    for message in conn.received:
        for obj in _cf_lines(message if isinstance(message, str) else ""):
            command = obj.get("subscribe")
            if isinstance(command, dict):
                keys.append(str(command.get("channel")))
    return keys


# Cadenza (Centrifugo underneath): trades of one instrument numbered by tradeId, with its
# order book subscribed too; the market namespace keeps a long history, so recovery must
# fill every gap.

_CZ_INSTRUMENT = "BINANCE:BTC/USDT"


def _cz_fake() -> FakeServer:
    namespaces = {"market": ChannelOptions(
        history_size=100_000, history_ttl=600.0, force_recovery=True,
        allow_subscribe_for_client=True,
    )}
    fake = _wrapped(FakeCadenza)(
        instruments=[_CZ_INSTRUMENT], namespaces=namespaces, ping_interval=0.25,
        pong_timeout=1.0,
    )
    fake.soak_init(_cz_scan)
    return fake  # type: ignore[no-any-return]


def _cz_client(fake: FakeServer, on_data: Callable[[Event], None]) -> Client:
    assert isinstance(fake, FakeCadenza)
    options = {**CLIENT_OPTIONS, "ping_interval": None}  # the server pings; the client answers
    client = CadenzaClient(
        token=fake.make_token("soak"), url=fake.url, on_trade=on_data,
        max_server_ping_delay=0.25, **options,
    )
    client.subscribe_trades(_CZ_INSTRUMENT)
    client.subscribe_order_book(_CZ_INSTRUMENT)
    return client


def _cz_publish(fake: FakeCadenza, n: int) -> None:
    fake.publish_trade(_CZ_INSTRUMENT, "65000.1", "0.003", trade_id=str(n))


def _cz_scan(text: str) -> list[int]:
    numbers = []
    for obj in _cf_lines(text):
        push = obj.get("push")
        if isinstance(push, dict) and "pub" in push and "tradeId" in push["pub"]["data"]:
            numbers.append(int(push["pub"]["data"]["tradeId"]))
        reply = obj.get("subscribe")
        if isinstance(reply, dict):  # publications recovered on resubscribe
            numbers.extend(
                int(pub["data"]["tradeId"]) for pub in reply.get("publications", ())
                if "tradeId" in pub["data"]
            )
    return numbers


def _cz_number(event: Event) -> Optional[int]:
    return int(event.trade_id) if event.kind == "trade" else None  # type: ignore[attr-defined]


# Allium data streams: one topic's socket, filtered; records numbered by "n". Every socket
# must get setFilter and then start, once each (the client's restore); nothing is replayed.

_AL_TOPIC = "soak.records"
_AL_FILTER = F("kind") == "soak"


def _al_stream_fake() -> FakeServer:
    fake = _wrapped(FakeAllium)(rate=None, path=STREAM_PATH)
    fake.soak_init(_al_stream_scan)
    return fake  # type: ignore[no-any-return]


def _al_stream_client(fake: FakeServer, on_data: Callable[[Event], None]) -> Client:
    assert isinstance(fake, FakeAllium)
    client = AlliumStreamClient(
        api_key=fake.api_key or "", url=fake.stream_url(_AL_TOPIC), on_message=on_data,
        **CLIENT_OPTIONS,
    )
    client.subscribe(_AL_TOPIC, filter=_AL_FILTER)
    return client


def _al_stream_publish(fake: FakeAllium, n: int) -> None:
    fake.publish(_AL_TOPIC, {"kind": "soak", "n": n})


def _al_stream_scan(text: str) -> list[int]:
    frame = _json(text)
    records = frame if isinstance(frame, list) else [frame]
    return [int(r["n"]) for r in records if isinstance(r, dict) and r.get("kind") == "soak"]


def _al_stream_number(event: Event) -> Optional[int]:
    data = getattr(event, "data", None)
    if getattr(event, "channel", None) != _AL_TOPIC or not isinstance(data, dict):
        return None
    number = data.get("n")
    return number if isinstance(number, int) and data.get("kind") == "soak" else None


def _al_stream_subscriptions(conn: FakeConnection) -> list[str]:
    """"setFilter" (the soak's filter) and "start" after it; anything else (a start before
    the filter, another filter, a stop) is a key of its own, so a restore error."""
    keys = []
    filtered = False
    for message in conn.received:
        frame = _json(message) if isinstance(message, str) else None
        action = frame.get("action") if isinstance(frame, dict) else None
        if action == "setFilter" and frame.get("data") == filter_json(_AL_FILTER):
            filtered = True
            keys.append("setFilter")
        elif action == "start":
            keys.append("start" if filtered else "start before setFilter")
        else:
            keys.append(f"unexpected {message!r}")
    return keys


# Allium API: "publishing" item n is the client requesting GET /soak/echo?n=n on its one
# socket; the fake's reply carries n back. An item is delivered when its request succeeds
# with the right answer; every request must end, either so or with ConnectionLost or
# RequestTimeout, and none may be sent twice.

_AL_ECHO = "/api/v1/soak/echo"
_AL_REQUEST_TIMEOUT = 2.0
"""Seconds a soak request may take: longer than any fault keeps the socket away."""


class _ApiRequests:
    """Issues the numbered requests and records how each one ended."""

    def __init__(self, client: AlliumApiClient, on_data: Callable[[Event], None]) -> None:
        self.client = client
        self.on_data = on_data
        self._lock = threading.Lock()
        self.futures: dict[int, Future[Any]] = {}
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.errors: list[str] = []

    def issue(self, n: int) -> None:
        try:
            future = self.client.request_async(
                "GET", _AL_ECHO, {"n": n}, timeout=_AL_REQUEST_TIMEOUT
            )
        except (ConnectionLost, RequestTimeout) as exc:
            self._count(type(exc).__name__)
            return
        except Exception as exc:  # noqa: BLE001 - any other error is the soak's finding
            self._error(f"request {n} raised {type(exc).__name__}: {exc}")
            return
        with self._lock:
            self.futures[n] = future
        future.add_done_callback(lambda done: self._done(n, done))

    def _done(self, n: int, future: Future[Any]) -> None:
        exc = future.exception()
        if exc is None:
            data = future.result()
            if data != {"n": n}:
                self._error(f"request {n} answered with {data!r}")
                return
            self._count("answered")
            self.on_data(EventMessage(
                venue="allium", channel="soak", data=data, received_ns=time.time_ns()
            ))
        elif isinstance(exc, (ConnectionLost, RequestTimeout)):
            self._count(type(exc).__name__)
        else:
            self._error(f"request {n} failed with {type(exc).__name__}: {exc}")

    def on_stray(self, event: Event) -> None:
        """A frame that answers no request: a second answer, or one after its timeout."""
        self._count("stray replies")

    def _count(self, outcome: str) -> None:
        with self._lock:
            self.outcomes[outcome] += 1

    def _error(self, text: str) -> None:
        with self._lock:
            self.errors.append(text)

    def settle(self, fake: FakeAllium) -> tuple[list[str], list[str]]:
        """Every request ended (no hang), none was sent twice; what became of them."""
        deadline = time.monotonic() + _AL_REQUEST_TIMEOUT + 1.0
        with self._lock:
            futures = dict(self.futures)
        for future in futures.values():
            if not future.done():
                try:
                    future.exception(max(0.0, deadline - time.monotonic()))
                except TimeoutError:
                    pass
        with self._lock:
            errors = list(self.errors)
            outcomes = dict(self.outcomes)
        hung = sorted(n for n, future in futures.items() if not future.done())
        if hung:
            errors.append(f"{len(hung)} request(s) never ended, e.g. {hung[:5]}")
        sent = collections.Counter(_al_echo_number(r) for r in fake.api_requests)
        twice = sorted(n for n, count in sent.items() if count > 1)
        if twice:
            errors.append(f"{len(twice)} request(s) sent more than once, e.g. {twice[:5]}")
        if outcomes.get("stray replies"):
            errors.append(f"{outcomes['stray replies']} reply(ies) answered no request")
        notes = [", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items()))]
        return errors, notes


def _al_echo_number(request: ApiRequest) -> int:
    body = request.body
    return int(body["n"]) if isinstance(body, dict) else -1


def _al_api_fake() -> FakeServer:
    fake = _wrapped(FakeAllium)(rate=None, default_routes=False)
    fake.route("GET", _AL_ECHO, lambda request: {"n": _al_echo_number(request)})
    fake.soak_init(_al_api_scan)
    return fake  # type: ignore[no-any-return]


def _al_api_client(fake: FakeServer, on_data: Callable[[Event], None]) -> Client:
    assert isinstance(fake, FakeAllium)
    requests: Optional[_ApiRequests] = None

    def on_stray(event: Event) -> None:
        if requests is not None:
            requests.on_stray(event)

    client = AlliumApiClient(
        api_key=fake.api_key or "", url=fake.api_url, request_timeout=_AL_REQUEST_TIMEOUT,
        on_message=on_stray, **CLIENT_OPTIONS,
    )
    requests = _ApiRequests(client, on_data)
    fake.soak_requests = requests  # type: ignore[attr-defined]
    return client


def _al_api_publish(fake: Any, n: int) -> None:
    fake.soak_requests.issue(n)


def _al_api_scan(text: str) -> list[int]:
    frame = _json(text)
    data = frame.get("data") if isinstance(frame, dict) else None
    if isinstance(data, dict) and frame.get("status") == "success" and "n" in data:
        return [int(data["n"])]
    return []


def _al_api_number(event: Event) -> Optional[int]:
    data = getattr(event, "data", None)
    if getattr(event, "channel", None) != "soak" or not isinstance(data, dict):
        return None
    return int(data["n"])


def _al_api_settle(fake: Any) -> tuple[list[str], list[str]]:
    requests: _ApiRequests = fake.soak_requests
    return requests.settle(fake)


VENUES: tuple[VenueSoak, ...] = (
    VenueSoak(
        name="hyperliquid", make_fake=_hl_fake, make_client=_hl_client, publish=_hl_publish,
        scan=_hl_scan, number=_hl_number, subscriptions=_hl_subscriptions,
        expected=_HL_SUBSCRIPTIONS, redirect_path="/ws",
    ),
    VenueSoak(
        name="vega", make_fake=_vega_fake, make_client=_vega_client, publish=_vega_publish,
        scan=_vega_scan, number=_vega_number, subscriptions=_vega_subscriptions,
        expected=frozenset({"trades"}), carries_data=_vega_trades, sends_subscriptions=False,
        redirect_path="/api/v2/stream/trades",
    ),
    VenueSoak(
        name="tradevest", make_fake=_tv_fake, make_client=_tv_client, publish=_tv_publish,
        scan=_tv_scan, number=_tv_number, subscriptions=_tv_subscriptions,
        expected=frozenset({_TV_EXPECTED}), redirect_path="/websocket/prices",
    ),
    VenueSoak(
        name="centrifugo", make_fake=_cf_fake, make_client=_cf_client, publish=_cf_publish,
        scan=_cf_scan, number=_cf_number, subscriptions=_cf_subscriptions,
        expected=frozenset({_CF_CHANNEL}), redirect_path="/connection/websocket",
        recovers=True,
    ),
    VenueSoak(
        name="cadenza", make_fake=_cz_fake, make_client=_cz_client, publish=_cz_publish,
        scan=_cz_scan, number=_cz_number, subscriptions=_cf_subscriptions,
        expected=frozenset({
            f"market:trade:{_CZ_INSTRUMENT}", f"market:orderBook:{_CZ_INSTRUMENT}",
        }),
        redirect_path="/connection/websocket", recovers=True,
    ),
    VenueSoak(
        name="allium-stream", make_fake=_al_stream_fake, make_client=_al_stream_client,
        publish=_al_stream_publish, scan=_al_stream_scan, number=_al_stream_number,
        subscriptions=_al_stream_subscriptions, expected=frozenset({"setFilter", "start"}),
        redirect_path=STREAM_PATH,
    ),
    VenueSoak(
        name="allium-api", make_fake=_al_api_fake, make_client=_al_api_client,
        publish=_al_api_publish, scan=_al_api_scan, number=_al_api_number,
        subscriptions=lambda conn: [], expected=frozenset(), redirect_path=API_PATH,
        settle=_al_api_settle,
    ),
)
"""Every venue the soak runs; one entry per venue."""


# --------------------------------------------------------------------------------------------
# Faults


class Soak:
    """One venue's soak in progress: the fake, the trap, the client and the records."""

    def __init__(self, venue: VenueSoak) -> None:
        self.venue = venue
        self.fake: Any = venue.make_fake()
        if not venue.sends_subscriptions:
            self.fake.soak_flap_wait = 0.0
        self.trap = FakeServer("soak-trap")
        """Where redirects point: the client must never reach it."""
        self.received: list[tuple[int, float]] = []
        self.published = 0
        self.faults: list[tuple[str, float, int]] = []
        self.extra_sockets = 0
        self._publish_lock = threading.Lock()  # numbers and their writes leave in order
        self._stop = threading.Event()
        self._publisher: Optional[threading.Thread] = None
        self.client: Optional[Client] = None

    def on_data(self, event: Event) -> None:
        """The client's data callback (its dispatcher thread)."""
        number = self.venue.number(event)
        if number is not None:
            self.received.append((number, time.monotonic()))

    def publish_next(self) -> int:
        with self._publish_lock:
            self.published += 1
            self.venue.publish(self.fake, self.published)
            return self.published

    def _publish_loop(self) -> None:
        while not self._stop.wait(PUBLISH_INTERVAL):
            self.publish_next()

    def start(self) -> None:
        self.trap.start()
        # A client that follows a redirect is sent back from the trap (a retryable status),
        # so the soak goes on and counts every request the trap received.
        self.trap.reject_handshake(410, "the redirect trap", times=None)
        self.fake.start()
        self.client = self.venue.make_client(self.fake, self.on_data)
        self.client.start(timeout=10.0)
        self._publisher = threading.Thread(
            target=self._publish_loop, name="soak-publisher", daemon=True
        )
        self._publisher.start()

    def stop_publishing(self) -> None:
        self._stop.set()
        if self._publisher is not None:
            self._publisher.join(5.0)

    def stop(self) -> None:
        self.stop_publishing()
        if self.client is not None:
            self.client.stop()
        self.fake.stop()
        self.trap.stop()

    def max_received(self) -> int:
        return max((n for n, _ in self.received[-64:]), default=0)

    def healthy(self, timeout: float = RECOVERY_LIMIT) -> FakeConnection:
        """Wait for one open data socket with every subscription on it and the last number
        published so far delivered; return that socket."""
        target = self.published
        deadline = time.monotonic() + timeout
        seen_extra = False
        while True:
            live = [c for c in self.fake.live_connections if self.venue.carries_data(c)]
            if len(live) > 1:
                seen_extra = True
            flapping = self.fake.flaps_pending() or any(
                c.index in self.fake.soak_flapped for c in live
            )
            if len(live) == 1 and not flapping:
                conn = live[0]
                complete = self.venue.expected <= set(self.venue.subscriptions(conn))
                if complete and self.max_received() >= target:
                    # A socket that briefly ran beside the live one: it may be closing
                    # (its reader not done yet); count it only if it is still open now.
                    if seen_extra and sum(
                        1 for c in self.fake.live_connections if self.venue.carries_data(c)
                    ) > 1:
                        self.extra_sockets += 1
                    return conn
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.venue.name}: no healthy state within {timeout} s "
                    f"({len(live)} data socket(s), received up to {self.max_received()} "
                    f"of {target})"
                )
            time.sleep(0.002)

    def inject(self, kind: FaultKind) -> float:
        """One fault of ``kind`` on the healthy socket; seconds until data flows again."""
        conn = self.healthy()
        if kind.burst:
            for _ in range(kind.burst):
                self.publish_next()
        with self._publish_lock:
            at = time.monotonic()
            kind.apply(self, conn)
            mark = self.published
        self.faults.append((kind.name, at, mark))
        deadline = at + RECOVERY_LIMIT
        while self.max_received() <= mark:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.venue.name}: no data {RECOVERY_LIMIT} s after {kind}")
            time.sleep(0.001)
        first = at
        for n, t in reversed(self.received):
            if t < at:
                break
            if n > mark:
                first = t
        return first - at


@attrs.frozen
class FaultKind:
    """A way to break the socket: ``apply(soak, conn)`` breaks ``conn`` (the healthy data
    socket); ``burst`` items are published right before (a drop in the middle of a burst)."""

    name: str
    apply: Callable[[Soak, FakeConnection], None]
    burst: int = 0

    def __str__(self) -> str:
        return self.name


def _refuse_next(status: int) -> Callable[[Soak, FakeConnection], None]:
    def apply(soak: Soak, conn: FakeConnection) -> None:
        headers = {}
        if 300 <= status < 400:
            headers["Location"] = f"ws://127.0.0.1:{soak.trap.port}{soak.venue.redirect_path}"
        soak.fake.reject_handshake(status, "refused by the soak", times=1, headers=headers)
        conn.drop()

    return apply


def _hang_next(soak: Soak, conn: FakeConnection) -> None:
    soak.fake.hang_next_handshakes(1)
    conn.drop()


def _flapping(soak: Soak, conn: FakeConnection) -> None:
    soak.fake.flap_next(FLAPS)
    conn.drop()


def _close(code: int) -> Callable[[Soak, FakeConnection], None]:
    return lambda soak, conn: conn.close(code, f"soak close {code}")


FAULT_KINDS: tuple[FaultKind, ...] = (
    FaultKind("TCP drop (FIN)", lambda soak, conn: conn.drop()),
    FaultKind("TCP reset (RST)", lambda soak, conn: conn.drop(reset=True)),
    FaultKind("close 1001", _close(1001)),
    FaultKind("drop mid-burst (1006)", lambda soak, conn: conn.drop(), burst=50),
    FaultKind("close 1011", _close(1011)),
    FaultKind("close 4000", _close(4000)),
    FaultKind("silence (stale)", lambda soak, conn: conn.go_silent()),
    FaultKind("hanging handshake", _hang_next),
    FaultKind(f"flapping ({FLAPS} cuts mid-restore)", _flapping),
    FaultKind("503 on upgrade", _refuse_next(503)),
    FaultKind("302 on upgrade", _refuse_next(302)),
)
"""Every kind of fault, in the order of the figures table."""


# --------------------------------------------------------------------------------------------
# Figures


@attrs.frozen(kw_only=True)
class SoakFigures:
    """What one venue's soak measured (see the module docstring for each definition)."""

    venue: str
    faults: int
    sent: int
    delivered: int
    lost: int
    in_flight: int
    duplicated: int
    reordered: int
    sockets: int
    expected_sockets: int
    """The first socket, one per fault, and ``FLAPS`` more per flapping fault."""
    restore_errors: int
    redirects_followed: int
    recovery: dict[str, list[float]]
    thread_leak: int
    fd_leak: int
    errors: list[str] = attrs.field(factory=list)
    notes: list[str] = attrs.field(factory=list)
    """What the venue's own checks (``VenueSoak.settle``) counted besides the tables."""

    @property
    def unprovoked(self) -> int:
        """Sockets beyond those the faults made: reconnects no fault asked for (the soak's
        0.1 s heartbeat may call a socket dead on a busy machine)."""
        return max(0, self.sockets - self.expected_sockets)

    @property
    def all_recoveries(self) -> list[float]:
        return [t for times in self.recovery.values() for t in times]

    @property
    def clean(self) -> bool:
        """No loss, duplicate, reordering, restore error, followed redirect or leak."""
        return not (
            self.lost or self.duplicated or self.reordered or self.restore_errors
            or self.redirects_followed or self.thread_leak > 0 or self.fd_leak > 0
            or self.errors
        )


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..1); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _our_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("wsclients-")}


def _open_fds() -> int:
    """Open file descriptors, once garbage (a stopped server's selector) is collected."""
    gc.collect()
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0


def _settle(before_threads: set[str], timeout: float = 3.0) -> set[str]:
    deadline = time.monotonic() + timeout
    while True:
        extra = _our_threads() - before_threads
        if not extra or time.monotonic() > deadline:
            return extra
        time.sleep(0.02)


def count_losses(written: dict[int, list[int]], received: set[int]) -> tuple[int, int]:
    """(lost, in flight): see the module docstring.

    Only an item written to no other socket proves that the client read a socket up to it:
    one a venue re-sent on a later socket (a backfill, a recovery) may have come from there.
    """
    sockets_per_item = collections.Counter(n for numbers in written.values() for n in numbers)
    lost: set[int] = set()
    unread: set[int] = set()
    for numbers in written.values():
        last = max(
            (i for i, n in enumerate(numbers) if n in received and sockets_per_item[n] == 1),
            default=-1,
        )
        lost.update(n for n in numbers[:max(last, 0)] if n not in received)
        unread.update(n for n in numbers[last + 1:] if n not in received)
    return len(lost), len(unread - lost)


def run_venue(
    venue: VenueSoak,
    faults: int,
    kinds: Iterable[FaultKind] = FAULT_KINDS,
    *,
    seed: int = 13,
) -> SoakFigures:
    """Soak one venue: ``faults`` faults of each kind, in a seeded random order."""
    schedule = [kind for kind in kinds for _ in range(faults)]
    random.Random(f"{seed}:{venue.name}").shuffle(schedule)
    threads_before = _our_threads()
    fds_before = _open_fds()
    soak = Soak(venue)
    recovery: dict[str, list[float]] = {kind.name: [] for kind in kinds}
    errors: list[str] = []
    notes: list[str] = []
    try:
        soak.start()
        for kind in schedule:
            recovery[kind.name].append(soak.inject(kind))
        soak.stop_publishing()
        soak.healthy()  # the last item published has arrived
        venue_errors, notes = venue.settle(soak.fake)
        errors.extend(venue_errors)
    except Exception as exc:  # noqa: BLE001 - reported in the figures, the soak goes on
        errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        soak.stop()
    leaked = _settle(threads_before)
    fd_leak = _open_fds() - fds_before
    numbers = [n for n, _ in soak.received]
    seen: set[int] = set()
    duplicated = reordered = 0
    highest = 0
    for n in numbers:
        if n in seen:
            duplicated += 1
            continue
        seen.add(n)
        if n < highest:
            reordered += 1
        highest = max(highest, n)
    lost, in_flight = count_losses(dict(soak.fake.soak_written), seen)
    data_sockets = [c for c in soak.fake.connections if venue.carries_data(c)]
    restore_errors = soak.extra_sockets
    flapped = soak.fake.soak_flapped
    for conn in data_sockets:
        counts = collections.Counter(venue.subscriptions(conn))
        if any(v != 1 for v in counts.values()) or not set(counts) <= venue.expected:
            restore_errors += 1  # a repeated or unknown subscription
        elif conn.index not in flapped and set(counts) != venue.expected:
            restore_errors += 1  # a missing one (a socket cut mid-restore may lack some)
    return SoakFigures(
        venue=venue.name,
        faults=len(soak.faults),
        sent=soak.published,
        delivered=len(seen),
        lost=lost,
        in_flight=in_flight,
        duplicated=duplicated,
        reordered=reordered,
        sockets=len(data_sockets),
        expected_sockets=1 + len(soak.faults) + FLAPS * sum(
            1 for name, _, _ in soak.faults if name.startswith("flapping")),
        restore_errors=restore_errors,
        redirects_followed=len(soak.trap.requests),
        recovery=recovery,
        thread_leak=len(leaked),
        fd_leak=fd_leak,
        errors=errors,
        notes=notes,
    )


def rst_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
    rule = "  ".join("=" * w for w in widths)

    def line(cells: Sequence[str]) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()

    return "\n".join([rule, line(header), rule, *(line(r) for r in rows), rule])


def _ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.0f} ms"


def figures_table(figures: Sequence[SoakFigures]) -> str:
    """One row per venue: faults, what was lost, duplicated, reordered, recovery, leaks."""
    header = ["venue", "faults", "items sent", "lost", "in flight", "not delivered",
              "duplicated", "reordered",
              "unprovoked reconnects", "restore errors", "redirects followed", "recovery p50",
              "recovery p99", "leaked threads/FDs"]
    rows = []
    for f in figures:
        times = f.all_recoveries
        rows.append([
            f.venue, str(f.faults), str(f.sent), str(f.lost), str(f.in_flight),
            str(f.sent - f.delivered),
            str(f.duplicated), str(f.reordered), str(f.unprovoked), str(f.restore_errors),
            str(f.redirects_followed), _ms(percentile(times, 0.5)), _ms(percentile(times, 0.99)),
            f"{f.thread_leak}/{max(f.fd_leak, 0)}",
        ])
    return rst_table(header, rows)


def recovery_table(figures: Sequence[SoakFigures]) -> str:
    """Recovery p50/p99 by fault kind (rows) and venue (columns)."""
    header = ["fault"] + [f"{f.venue} p50 / p99" for f in figures]
    rows = []
    for kind in FAULT_KINDS:
        if not any(f.recovery.get(kind.name) for f in figures):
            continue
        row = [kind.name]
        for f in figures:
            times = f.recovery.get(kind.name, [])
            row.append(f"{_ms(percentile(times, 0.5))} / {_ms(percentile(times, 0.99))}")
        rows.append(row)
    return rst_table(header, rows)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m tests.reliability.soak [--full | --faults N] [--venue NAME …]
    [--cycles N]``: the fault soak, then the start/stop cycles; exit status 1 unless clean."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--full", action="store_true",
        help=f"{FULL_FAULTS} faults of each kind, {FULL_CYCLES * len(MODES)} start/stop cycles",
    )
    parser.add_argument("--faults", type=int, help="faults of each kind per venue")
    parser.add_argument("--venue", action="append", choices=[v.name for v in VENUES])
    parser.add_argument("--cycles", type=int, help="start/stop cycles of each moment (0: none)")
    args = parser.parse_args(argv)
    count = args.faults or (FULL_FAULTS if args.full else faults_per_kind())
    cycles = args.cycles if args.cycles is not None else (
        FULL_CYCLES if args.full else cycles_per_mode())
    venues = [v for v in VENUES if not args.venue or v.name in args.venue]
    figures = []
    started = time.monotonic()
    for venue in venues:
        print(f"soaking {venue.name}: {count} faults of each kind …", file=sys.stderr, flush=True)
        figures.append(run_venue(venue, count))
    print(figures_table(figures))
    print()
    print(recovery_table(figures))
    for f in figures:
        for note in f.notes:
            print(f"\n{f.venue}: {note}")
    cycled = []
    if cycles:
        print(f"{cycles * len(MODES)} start/stop cycles …", file=sys.stderr, flush=True)
        cycled.append(run_cycles(cycles))
        print()
        print(cycles_table(cycled))
    print(f"\n{time.monotonic() - started:.0f} s in all", file=sys.stderr)
    for f in figures:
        for error in f.errors:
            print(f"{f.venue}: {error}", file=sys.stderr)
    for c in cycled:
        for error in c.errors:
            print(f"cycles: {error}", file=sys.stderr)
    return 0 if all(f.clean for f in figures) and all(c.clean for c in cycled) else 1


if __name__ == "__main__":
    sys.exit(main())
