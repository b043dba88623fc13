"""Secrets in URLs never reach what we print: repr, Status.url, error messages."""

from __future__ import annotations

import pytest

from tests.core.echo import EchoClient
from wsclients.core.redact import redact_url
from wsclients.errors import ConnectFailed
from wsclients.models import Status


@pytest.mark.parametrize(("url", "shown"), [
    ("wss://api.example.com/ws", "wss://api.example.com/ws"),
    ("wss://user:pw@api.example.com:8443/ws", "wss://***@api.example.com:8443/ws"),
    ("wss://api.example.com/ws?key=abc&x=1", "wss://api.example.com/ws?key=***&x=***"),
    ("ws://token@[::1]:9/?a=b#frag", "ws://***@[::1]:9/?a=***"),
    ("wss://u:p@host:notaport/?k=v", "wss://***@host:notaport/?***"),
])
def test_redact_url_hides_userinfo_and_query_values(url: str, shown: str) -> None:
    """Userinfo and every query value become ***; names, host and path stay."""
    assert redact_url(url) == shown


def test_client_repr_status_and_errors_hide_url_secrets() -> None:
    """A secret in the URL appears in no repr, Status.url or ConnectFailed message."""
    url = "ws://user:hunter2@127.0.0.1:9/?apikey=hunter2"
    statuses: list[Status] = []
    client = EchoClient(url=url, backoff_min=0.01, backoff_max=0.02, max_attempts=1,
                        ping_interval=None, stale_timeout=None, on_status=statuses.append)
    with pytest.raises(ConnectFailed) as caught:
        client.start(timeout=5)
    shown = [repr(client), str(caught.value), *(s.url for s in statuses),
             *(s.reason for s in statuses)]
    assert statuses and all("hunter2" not in text for text in shown)
