"""Call Allium's REST API over one WebSocket from 16 threads at once.

    ALLIUM_API_KEY=… python examples/allium_requests.py
    python examples/allium_requests.py --fake            # a local FakeAllium

Every thread calls ``client.get(...)`` on the same client; the requests share the socket, go
out at once and are matched to their replies by id, whatever order the replies come in (the
fake answers after a random delay, so they come shuffled). The client keeps at most 1,000
requests in flight, as the venue allows; more would wait for a slot.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import threading
import time
from collections.abc import Iterator
from typing import Any, Optional

from wsclients import AlliumApiClient, AlliumRequestFailed
from wsclients.venues.allium.api_protocol import API_URL


@contextlib.contextmanager
def fake_server() -> Iterator[tuple[str, str]]:
    from wsclients.testing.allium import FakeAllium  # needs the "testing" extra

    with FakeAllium(latency=(0.01, 0.2), rate=None) as fake:
        yield fake.api_url, fake.api_key or ""


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=API_URL, help="the API WebSocket URL")
    parser.add_argument("--api-key", default=os.environ.get("ALLIUM_API_KEY"),
                        help="the API key (default: $ALLIUM_API_KEY)")
    parser.add_argument("--threads", type=int, default=16, help="threads calling at once")
    parser.add_argument("--fake", action="store_true", help="run against a local fake server")
    args = parser.parse_args(argv)

    with contextlib.ExitStack() as stack:
        url, key = stack.enter_context(fake_server()) if args.fake else (args.url, args.api_key)
        if not key:
            parser.error("an API key is needed: --api-key or $ALLIUM_API_KEY")
        client = stack.enter_context(AlliumApiClient(api_key=key, url=url))
        answers: dict[int, Any] = {}
        gate = threading.Barrier(args.threads)

        def work(n: int) -> None:
            gate.wait()  # every thread calls at the same moment
            try:
                # GET: the keyword arguments are the query parameters.
                answers[n] = client.get("/api/v1/developer/assets", limit=n + 1)
            except AlliumRequestFailed as exc:  # the venue's own error, with method and path
                answers[n] = exc

        started = time.monotonic()
        threads = [threading.Thread(target=work, args=(n,)) for n in range(args.threads)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        for n in sorted(answers):
            answer = answers[n]
            if isinstance(answer, Exception):
                print(f"thread {n:2}: {answer}")
            else:
                items = answer.get("items", []) if isinstance(answer, dict) else answer
                print(f"thread {n:2} (limit {n + 1:2}): {len(items)} assets, "
                      f"first {items[0].get('symbol') if items else None!r}")
        print(f"{len(answers)} requests from {args.threads} threads in {elapsed:.2f} s "
              f"on one socket ({client.stats.connections} open)")


if __name__ == "__main__":
    main()
