"""``FakeHyperliquid`` in a process of its own, publishing BTC trades at a rate set on stdin.

The scale benchmark measures the CPU of the *client* process, so the fake must not share it.
Protocol (one command a line on stdin, one answer a line on stdout):

- start: prints ``port <n>`` once listening.
- ``rate <r>``: publish ``r`` trades per second from now on (0 = stop); prints ``ok``.
  Every trade goes to every socket subscribed to BTC trades (one frame each).
- ``count``: prints ``sent <trades published so far>``.
- end of stdin: stop and exit.
"""

from __future__ import annotations

import sys
import threading
import time

from wsclients.testing import FakeHyperliquid
from wsclients.testing.market import Market


def main() -> int:
    fake = FakeHyperliquid(idle_timeout=None, trades_backfill=1, max_subscriptions=100_000,
                           max_messages_per_minute=1_000_000)
    fake.start()
    market = Market(["BTC"], seed=4)
    rate = [0.0]
    published = [0]
    stop = threading.Event()
    changed = threading.Event()

    def publisher() -> None:
        while not stop.is_set():
            r = rate[0]
            if r <= 0:
                changed.wait(0.1)
                changed.clear()
                continue
            start = time.perf_counter()
            i = 0
            while rate[0] == r and not stop.is_set():
                due = start + i / r
                delay = due - time.perf_counter()
                if delay > 0:
                    changed.wait(delay)
                    if changed.is_set():
                        changed.clear()
                        break
                trade = market.next_trade("BTC")
                # users[0] carries the send time (perf_counter_ns: CLOCK_MONOTONIC, one clock
                # for every process) so the clients can take send -> callback latency.
                fake.publish_trade("BTC", trade.price, trade.size,
                                   side="B" if trade.side == "buy" else "A",
                                   users=[str(time.perf_counter_ns()), "0x" + "2" * 40])
                published[0] += 1
                i += 1

    thread = threading.Thread(target=publisher, name="publisher", daemon=True)
    thread.start()
    print(f"port {fake.port}", flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "rate":
            rate[0] = float(words[1])
            changed.set()
            print("ok", flush=True)
        elif words[0] == "count":
            print(f"sent {published[0]}", flush=True)
    stop.set()
    changed.set()
    thread.join(2)
    fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
