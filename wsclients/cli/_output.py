"""How the ``wsclients`` command prints events, and the loop that runs a client for it."""

from __future__ import annotations

import argparse
import json
import queue
import signal
import sys
import threading
import time
from decimal import Decimal
from typing import IO, Any, Optional, Protocol

import attrs

from wsclients.errors import WSClientError
from wsclients.models import Book, ConnectionState, ErrorEvent, Event, Message, Status, Trade

__all__ = ["EventSource", "add_output_options", "event_to_json", "format_event", "run_client_loop"]


class EventSource(Protocol):
    """What ``run_client_loop`` drives: any client, or a ``RedisStreamSource``."""

    def start(self, wait: bool = ..., timeout: Optional[float] = ...) -> None: ...

    def get(self, timeout: Optional[float] = ...) -> Event: ...

    def stop(self, timeout: float = ...) -> None: ...

    @property
    def state(self) -> ConnectionState: ...


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


def _clock(ns: int) -> str:
    seconds, rest = divmod(ns, 1_000_000_000)
    return time.strftime("%H:%M:%S", time.gmtime(seconds)) + f".{rest // 1_000_000:03d}"


def _short(symbol: str) -> str:
    """Long ids (Vega's 64-hex market ids) cut to a readable prefix; --json keeps them whole."""
    return symbol if len(symbol) <= 16 else symbol[:8] + "…"


def format_event(event: Event) -> str:
    """One readable line per event."""
    if isinstance(event, Trade):
        side = f"{event.side.value:<4}" if event.side else "?   "
        return (f"{_clock(event.timestamp_ns)} {event.venue} TRADE "
                f"{_short(event.symbol):<10} {side} {event.size} @ {event.price}")
    if isinstance(event, Book):
        bid, ask = event.best_bid, event.best_ask
        bid_s = f"{bid.size} @ {bid.price}" if bid else "-"
        ask_s = f"{ask.price} x {ask.size}" if ask else "-"
        spread = f" spread {event.spread}" if event.spread is not None else ""
        return (f"{_clock(event.timestamp_ns)} {event.venue} BOOK  {_short(event.symbol):<10} "
                f"{bid_s}  |  {ask_s}{spread}")
    if isinstance(event, Message):
        data = json.dumps(_plain(event.data), separators=(",", ":"), default=str)
        if len(data) > 160:
            data = data[:160] + "…"
        snap = " (snapshot)" if event.is_snapshot else ""
        return f"{_clock(event.received_ns)} {event.venue} {event.channel}{snap} {data}"
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
        return f"{_clock(event.received_ns)} {event.venue} status {event.state.value}{tail}"
    if isinstance(event, ErrorEvent):
        level = "FATAL" if event.fatal else "error"
        return f"{_clock(event.received_ns)} {event.venue} {level}: {event.message}"
    return repr(event)


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """The options every streaming command shares."""
    parser.add_argument("--json", action="store_true",
                        help="print one JSON line per event (decimals as strings)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="stop after this many seconds (default: until Ctrl-C)")
    parser.add_argument("--status", action="store_true",
                        help="also print connection status events")


def run_client_loop(
    client: EventSource,
    args: argparse.Namespace,
    *,
    out: Optional[IO[str]] = None,
    kinds: Optional[set[str]] = None,
) -> int:
    """Start ``client``, print its events until Ctrl-C or ``--seconds``, stop it.

    Returns the process exit code: 0, or 1 when the client could not start or stopped on a
    fatal error (the reason goes to stderr, one line, no traceback).
    """
    out = out or sys.stdout
    show = set(kinds or {"trade", "book", "message", "error"})
    if getattr(args, "status", False):
        show.add("status")
    as_json = getattr(args, "json", False)
    seconds = getattr(args, "seconds", None)
    deadline = None if seconds is None else time.monotonic() + seconds
    fatal = False
    stop_requested = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: stop_requested.set())
    try:
        try:
            client.start()
        except WSClientError as exc:
            print(f"wsclients: {exc}", file=sys.stderr)
            return 1
        while not stop_requested.is_set():
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            try:
                event = client.get(timeout=min(0.5, remaining) if remaining else 0.5)
            except queue.Empty:
                if client.state is ConnectionState.CLOSED:
                    break
                continue
            if isinstance(event, ErrorEvent) and event.fatal:
                fatal = True
            if event.kind in show:
                print(event_to_json(event) if as_json else format_event(event), file=out,
                      flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        client.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 1 if fatal else 0
