"""How the ``wsclients`` command prints events, and the loop that runs a client for it."""

from __future__ import annotations

import argparse
import json
import math
import queue
import signal
import sys
import threading
import time
from decimal import Decimal
from typing import IO, Any, Callable, Optional, Protocol

import attrs

from wsclients.core.client import Client
from wsclients.errors import ConnectFailed, WSClientError
from wsclients.models import Book, ConnectionState, ErrorEvent, Event, Message, Status, Trade

__all__ = [
    "EventSource", "LinePrinter", "add_output_options", "banner", "clock", "complain",
    "event_to_json", "format_event", "positive_int", "positive_seconds", "run_client_loop",
]


class EventSource(Protocol):
    """What ``run_client_loop`` drives: any client, or a ``RedisStreamSource``."""

    def start(self, wait: bool = ..., timeout: Optional[float] = ...) -> None: ...

    def get(self, timeout: Optional[float] = ...) -> Event: ...

    def stop(self, timeout: float = ...) -> None: ...

    @property
    def state(self) -> ConnectionState: ...


def _has_live_subscriptions(client: EventSource) -> bool:
    """Whether anything may still arrive (a client says; other sources are assumed live)."""
    check: Optional[Callable[[], bool]] = getattr(client, "_has_live_subscriptions", None)
    return True if check is None else check()


def _plain(value: Any) -> Any:
    """JSON-ready: Decimals as strings (never floats), enums by value, tuples as lists."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "value") and hasattr(type(value), "__members__"):
        return value.value
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    return value


def event_to_json(event: Event) -> str:
    """One JSON line for an event: its kind, its fields, decimals as strings; no ``raw``
    except for messages, whose ``data`` is the payload."""
    fields = {
        f.name: getattr(event, f.name)
        for f in attrs.fields(type(event))
        if f.name != "raw"
    }
    if isinstance(event, Book):
        for side in ("bids", "asks"):
            fields[side] = [[str(lv.price), str(lv.size), lv.count] for lv in fields[side]]
    return json.dumps({"kind": event.kind, **_plain(fields)}, separators=(",", ":"),
                      default=str)


def clock(ns: int) -> str:
    seconds, rest = divmod(ns, 1_000_000_000)
    return time.strftime("%H:%M:%S", time.gmtime(seconds)) + f".{rest // 1_000_000:03d}"


def _short(symbol: str) -> str:
    """Long ids (Vega's 64-hex market ids) cut to a readable prefix; --json keeps them whole."""
    return symbol if len(symbol) <= 16 else symbol[:8] + "…"


def format_event(event: Event) -> str:
    """One readable line per event."""
    if isinstance(event, Trade):
        side = f"{event.side.value:<4}" if event.side else "?   "
        backfill = " (backfill)" if event.is_snapshot else ""
        return (f"{clock(event.timestamp_ns)} {event.venue} TRADE "
                f"{_short(event.symbol):<10} {side} {event.size} @ {event.price}{backfill}")
    if isinstance(event, Book):
        bid, ask = event.best_bid, event.best_ask
        bid_s = f"{bid.size} @ {bid.price}" if bid else "-"
        ask_s = f"{ask.price} x {ask.size}" if ask else "-"
        spread = f" spread {event.spread}" if event.spread is not None else ""
        return (f"{clock(event.timestamp_ns)} {event.venue} BOOK  {_short(event.symbol):<10} "
                f"{bid_s}  |  {ask_s}{spread}")
    if isinstance(event, Message):
        data = json.dumps(_plain(event.data), separators=(",", ":"), default=str)
        if len(data) > 160:
            data = data[:160] + "…"
        snap = " (snapshot)" if event.is_snapshot else ""
        return f"{clock(event.received_ns)} {event.venue} {event.channel}{snap} {data}"
    if isinstance(event, Status):
        extra = []
        if event.attempt:
            extra.append(f"attempt {event.attempt}")
        if event.delay is not None:
            extra.append(f"retry in {event.delay:.2f} s")
        if event.code is not None:
            extra.append(f"code {event.code}")
        if event.reason:
            extra.append(event.reason)
        tail = f" ({', '.join(extra)})" if extra else ""
        return f"{clock(event.received_ns)} {event.venue} status {event.state.value}{tail}"
    if isinstance(event, ErrorEvent):
        level = "FATAL" if event.fatal else "error"
        return f"{clock(event.received_ns)} {event.venue} {level}: {event.message}"
    return repr(event)


def positive_seconds(text: str) -> float:
    """``--seconds``: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be positive seconds, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """A count that must be at least 1 (``--depth``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """The options every streaming command shares."""
    parser.add_argument("--json", action="store_true",
                        help="print one JSON line per event (decimals as strings)")
    parser.add_argument("--seconds", type=positive_seconds, default=None,
                        help="stop after this many seconds (default: until Ctrl-C)")
    parser.add_argument("--status", action="store_true",
                        help="also print connection status events")


def banner(text: str, args: argparse.Namespace) -> None:
    """A line about the command itself (where a demo's fake listens): on stdout with the
    events, but on stderr with ``--json``, so that stdout stays pure JSON lines."""
    print(text, file=sys.stderr if getattr(args, "json", False) else sys.stdout, flush=True)


def complain(text: str) -> None:
    """One line on stderr, as every command reports what stopped it."""
    print(f"wsclients: {text}", file=sys.stderr, flush=True)


class LinePrinter:
    """Prints each event as one line (or one JSON line) on ``out``."""

    def __init__(self, out: IO[str], *, as_json: bool = False) -> None:
        self.out = out
        self.as_json = as_json

    def show(self, event: Event) -> None:
        """Print ``event``."""
        print(event_to_json(event) if self.as_json else format_event(event), file=self.out,
              flush=True)


def _is_attempt_failure(event: Event) -> bool:
    """A failed connect attempt reported while the first connect is still going on."""
    return isinstance(event, ErrorEvent) and isinstance(event.exception, ConnectFailed)


def _first_connect(
    client: EventSource, printer: LinePrinter, show: set[str]
) -> Optional[BaseException]:
    """``client.start()``, while what happens meanwhile is shown: every failed attempt as a
    status line on stderr (on stdout with ``--status``), other events as usual.

    Returns what ``start()`` raised, or None once connected.
    """
    failure: list[BaseException] = []

    def start() -> None:
        try:
            client.start()
        except Exception as exc:  # handed to the main thread, which reports it
            failure.append(exc)

    starter = threading.Thread(target=start, name="cli-first-connect", daemon=True)
    starter.start()
    try:
        while starter.is_alive():
            try:
                event = client.get(timeout=0.05)
            except queue.Empty:
                continue
            if _is_attempt_failure(event):
                continue  # the RECONNECTING status right after it says the same
            if isinstance(event, Status) and "status" not in show:
                if event.state is ConnectionState.RECONNECTING:
                    print(format_event(event), file=sys.stderr, flush=True)
                continue
            if event.kind in show:
                printer.show(event)
    finally:
        if starter.is_alive():  # Ctrl-C: stopping the client ends start() at once
            client.stop()
        starter.join(5.0)
    return failure[0] if failure else None


def run_client_loop(
    client: EventSource,
    args: argparse.Namespace,
    *,
    subscribe: Optional[Callable[[], object]] = None,
    out: Optional[IO[str]] = None,
    kinds: Optional[set[str]] = None,
    printer: Optional[LinePrinter] = None,
) -> int:
    """Subscribe, start ``client``, print its events until Ctrl-C or ``--seconds``, stop it.

    With ``args.output`` (``wsclients record``) the stream goes to that recording and only
    errors are printed.

    Returns the process exit code (always after one line on stderr saying why, never a
    traceback): 0 when ``--seconds`` ran out or SIGTERM came; 2 when ``subscribe`` raised
    (a refused subscription, a bad argument); 1 when the client could not connect or record,
    stopped on a fatal error, or has no live subscription left; 130 on Ctrl-C.
    """
    out = out or sys.stdout
    show = set(kinds or {"trade", "book", "message", "error"})
    if getattr(args, "status", False):
        show.add("status")
    printer = printer or LinePrinter(out, as_json=getattr(args, "json", False))
    seconds = getattr(args, "seconds", None)
    stop_requested = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: stop_requested.set())
    output = getattr(args, "output", None)
    recorder: Any = None
    if output is not None:  # `wsclients record`: the file gets the stream, stdout the errors
        show = {"error"}
    try:
        if subscribe is not None:
            try:
                subscribe()
            except WSClientError as exc:
                complain(str(exc))
                return 2
        if output is not None:
            if not isinstance(client, Client):
                complain("only a venue client can record")
                return 2
            try:
                recorder = client.record(output)
            except (WSClientError, OSError) as exc:
                complain(str(exc))
                return 1
        failed = _first_connect(client, printer, show)
        if failed is not None:
            complain(str(failed))
            return 1
        deadline = None if seconds is None else time.monotonic() + seconds
        return _print_events(client, printer, show, deadline, stop_requested)
    except KeyboardInterrupt:
        return 130
    finally:
        client.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if recorder is not None:
            print(f"wsclients: recorded {recorder.records} records to {output}", file=sys.stderr)


def _print_events(
    client: EventSource,
    printer: LinePrinter,
    show: set[str],
    deadline: Optional[float],
    stop_requested: threading.Event,
) -> int:
    """The main loop: print events until the deadline, a stop, or nothing left to wait for.

    A fatal error of one stream (Vega's sockets are independent) lets the others go on, but
    the exit code says it happened.
    """
    fatal = False
    while not stop_requested.is_set():
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            break
        try:
            event: Optional[Event] = client.get(timeout=min(0.5, remaining) if remaining else 0.5)
        except queue.Empty:
            event = None
        if event is not None and event.kind in show:
            printer.show(event)
        if isinstance(event, ErrorEvent) and event.fatal:
            fatal = True
        if event is None and getattr(client, "ended_normally", False):
            return 1 if fatal else 0  # a replay read to its end
        if (event is None or event.kind == "error") and not _has_live_subscriptions(client):
            complain("no live subscription left (every one was refused or ended)")
            return 1
        if event is None and client.state is ConnectionState.CLOSED:
            complain("the client stopped" + (" on a fatal error" if fatal else ""))
            return 1
    return 1 if fatal else 0
