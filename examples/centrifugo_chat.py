"""A chat on any Centrifugo server: subscribe, publish, read history and presence, call RPC.

    CENTRIFUGO_TOKEN=<jwt> python examples/centrifugo_chat.py wss://host/connection/websocket
    python examples/centrifugo_chat.py --fake          # a local FakeCentrifugo

Publications arrive as ``Publication`` messages carrying their offset. If the connection
drops, the client reconnects, subscribes again and the server replays what was missed —
each publication is printed once, in order. When it cannot (``RecoveryFailed``), the script
reloads the channel's history instead, as an application would reload its state.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
from typing import Any, Optional

from wsclients import CentrifugoClient, CentrifugoError, ErrorEvent, Publication, RecoveryFailed


@contextlib.contextmanager
def fake_centrifugo() -> Iterator[tuple[str, str]]:
    """A local FakeCentrifugo that answers the ``echo`` RPC: (url, token)."""
    from wsclients.testing.centrifugo import FakeCentrifugo  # needs the "testing" extra

    with FakeCentrifugo() as fake:
        fake.on_rpc("echo", lambda data, info: {"echo": data, "user": info.user})
        yield fake.url, fake.make_token("example-user")


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?", help="the server's …/connection/websocket URL")
    parser.add_argument("--channel", default="chat", help="channel to join (default: chat)")
    parser.add_argument("--messages", type=int, default=3, help="messages to publish")
    parser.add_argument("--fake", action="store_true", help="run against a local fake")
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        url, token = args.url, os.environ.get("CENTRIFUGO_TOKEN")
        if args.fake:
            url, token = stack.enter_context(fake_centrifugo())
        if not url:
            parser.error("a server URL is needed (or --fake)")
        client = CentrifugoClient(url=url, token=token, name="chat-example")
        client.subscribe(args.channel)
        with client:
            for n in range(args.messages):
                client.publish(args.channel, {"text": f"hello {n}"})
            seen = 0
            for event in client.events(kinds={"message", "error"}, timeout=5):
                if isinstance(event, RecoveryFailed):
                    history: dict[str, Any] = client.history(args.channel, limit=10)
                    print(f"recovery failed; reloaded {len(history['publications'])} messages")
                elif isinstance(event, Publication):
                    print(f"[{event.channel} #{event.offset}] {event.data}")
                    seen += 1
                    if seen >= args.messages:
                        break
                elif isinstance(event, ErrorEvent):
                    print(f"!! {event.message}")
            print("presence:", sorted(info.get("user", "") for info in
                                      client.presence(args.channel).values()))
            try:
                print("rpc echo:", client.rpc("echo", {"ping": 1}, timeout=5))
            except CentrifugoError as exc:
                print(f"rpc failed: {exc.code} {exc.message}")


if __name__ == "__main__":
    main()
