"""``wsclients publish …`` (a feed process writing to Redis Streams) and ``tail redis``.

``publish hyperliquid trades BTC ETH --redis redis://host:6379/0`` holds the venue socket
and writes every event to its stream (``wsclients:hyperliquid:trade:BTC`` …) until Ctrl-C;
``tail redis wsclients:hyperliquid:trade:BTC --redis …`` prints a stream back, alone or as a
worker of a consumer group. Both need the ``redis`` extra; this module imports redis-py only
when one of them runs, so the rest of the command works without it.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from typing import IO, Any, Callable, Optional

from wsclients.cli._output import add_output_options, format_event, run_client_loop
from wsclients.errors import WSClientError
from wsclients.models import ErrorEvent, Event
from wsclients.venues.hyperliquid import HyperliquidClient

__all__ = ["add_publish_parser", "add_tail_parser"]

DEFAULT_URL = "redis://127.0.0.1:6379/0"
INSTALL_HINT = "this command needs redis-py: pip install 'wsclients[redis]'"
STATS_INTERVAL = 5.0
"""Seconds between the sink's counters on stderr, with ``--status``."""

Subscribe = Callable[[HyperliquidClient, argparse.Namespace], object]


def _have_redis() -> bool:
    try:
        import redis  # noqa: F401
    except ImportError:
        print(f"wsclients: {INSTALL_HINT}", file=sys.stderr)
        return False
    return True


def _add_redis_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--redis", default=DEFAULT_URL, metavar="URL",
                        help="Redis or Valkey URL (default: %(default)s)")
    parser.add_argument("--cluster", action="store_true",
                        help="the URL names a node of a Redis Cluster")


# -- publish -------------------------------------------------------------------------------


def add_publish_parser(commands: Any) -> None:
    """``wsclients publish VENUE STREAM …``."""
    publish = commands.add_parser(
        "publish", help="run a feed process: a venue's stream into Redis Streams",
        description="Hold the venue socket in this one process and write every event to a "
                    "Redis stream, for any number of consumers (wsclients tail redis, "
                    "RedisStreamSource).",
    )
    venues = publish.add_subparsers(dest="venue", metavar="VENUE", required=True)
    venue = venues.add_parser("hyperliquid", help="Hyperliquid streams")
    streams = venue.add_subparsers(dest="stream", metavar="STREAM", required=True)
    choices: dict[str, tuple[str, Subscribe]] = {
        "trades": ("trades of one or more coins", _each("subscribe_trades")),
        "book": ("l2 books of one or more coins", _each("subscribe_l2_book")),
        "bbo": ("best bid and offer of one or more coins", _each("subscribe_bbo")),
    }
    for name, (help_text, subscribe) in choices.items():
        parser = streams.add_parser(name, help=help_text)
        parser.add_argument("coins", nargs="+", metavar="COIN", help="e.g. BTC ETH SOL")
        where = parser.add_mutually_exclusive_group()
        where.add_argument("--testnet", action="store_true", help="connect to testnet")
        where.add_argument("--url", default=None, help="any WebSocket URL (e.g. a local fake)")
        _add_redis_option(parser)
        parser.add_argument("--key", default=None, metavar="TEMPLATE",
                            help="stream key template "
                                 "(default: wsclients:{venue}:{kind}:{symbol})")
        parser.add_argument("--maxlen", type=int, default=100_000,
                            help="trim each stream to about this many entries "
                                 "(default: %(default)s)")
        parser.add_argument("--seconds", type=float, default=None,
                            help="stop after this many seconds (default: until Ctrl-C)")
        parser.add_argument("--status", action="store_true",
                            help="print connection statuses, and the sink's counters every "
                                 f"{STATS_INTERVAL:g} s, to stderr")
        parser.set_defaults(func=_publish(subscribe))


def _each(method: str) -> Subscribe:
    def subscribe(client: HyperliquidClient, args: argparse.Namespace) -> None:
        for coin in args.coins:
            getattr(client, method)(coin)

    return subscribe


def _publish(subscribe: Subscribe) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        if not _have_redis():
            return 2
        return run_publish(args, subscribe)

    return run


def run_publish(
    args: argparse.Namespace, subscribe: Subscribe, *, err: Optional[IO[str]] = None
) -> int:
    """Feed process: the venue client with a ``RedisStreamSink`` attached, until Ctrl-C,
    SIGTERM or ``--seconds``. Returns 1 when the client cannot start or stops on a fatal
    error, else 0; the sink flushes what it holds on the way out."""
    from wsclients.sinks import DEFAULT_STREAM_KEY, RedisStreamSink

    err = err or sys.stderr
    fatal = threading.Event()

    def on_error(event: ErrorEvent) -> None:
        if event.fatal:
            fatal.set()
        print(format_event(event), file=err, flush=True)

    def on_status(event: Event) -> None:
        print(format_event(event), file=err, flush=True)

    sink = RedisStreamSink(args.redis, key=args.key or DEFAULT_STREAM_KEY, maxlen=args.maxlen,
                           cluster=args.cluster)
    # Nobody reads the client's default queue here (callbacks take errors and statuses,
    # the sink everything): keep it small. It also bounds the callbacks' queue.
    client = HyperliquidClient(url=args.url, testnet=args.testnet, queue_size=1000,
                               on_error=on_error, on_status=on_status if args.status else None)
    client.add_sink(sink)
    subscribe(client, args)
    stop_requested = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: stop_requested.set())
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    try:
        try:
            client.start()
        except WSClientError as exc:
            print(f"wsclients: {exc}", file=err)
            return 1
        print(f"publishing {client.url} to {sink.url}", file=err, flush=True)
        next_stats = time.monotonic() + STATS_INTERVAL
        while not (stop_requested.wait(0.2) or fatal.is_set()):
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            if args.status and now >= next_stats:
                next_stats = now + STATS_INTERVAL
                print(_sink_line(sink.stats), file=err, flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        client.stop()  # stops the sink too, after a last flush
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if args.status:
        stats = sink.stats
        print(f"sink stopped: written {stats.written:,}, dropped {stats.dropped:,}, "
              f"unwritten {stats.pending:,}", file=err, flush=True)
    return 1 if fatal.is_set() else 0


def _sink_line(stats: Any) -> str:
    return (f"sink: written {stats.written:,}, dropped {stats.dropped:,}, pending "
            f"{stats.pending:,}, lag {stats.lag:.3f} s, "
            f"{'connected' if stats.connected else 'NOT connected'}")


# -- tail redis ----------------------------------------------------------------------------


def add_tail_parser(subparsers: Any) -> None:
    """``wsclients tail redis STREAM … --redis URL``."""
    tail = subparsers.add_parser(
        "redis", help="streams a feed process writes to Redis",
        description="Print events from Redis streams written by `wsclients publish` or a "
                    "RedisStreamSink.",
    )
    tail.add_argument("streams", nargs="+", metavar="STREAM",
                      help="stream keys, e.g. wsclients:hyperliquid:trade:BTC")
    _add_redis_option(tail)
    tail.add_argument("--from", dest="start_id", default="$", metavar="ID",
                      help="where to start: $ (new entries, the default), 0 (the whole "
                           "stream) or an entry id")
    tail.add_argument("--group", default=None,
                      help="read as a worker of this consumer group (entries are shared)")
    tail.add_argument("--consumer", default=None,
                      help="this worker's name in the group (default: host-pid)")
    add_output_options(tail)
    tail.set_defaults(func=_tail)


def _tail(args: argparse.Namespace) -> int:
    if not _have_redis():
        return 2
    from wsclients.sinks import RedisStreamSource

    source = RedisStreamSource(
        args.redis, streams=args.streams, start_id=args.start_id, group=args.group,
        consumer=args.consumer, cluster=args.cluster,
    )
    return run_client_loop(source, args)
