"""Errors a user can see: raising callbacks on stderr, first-connect failures, Ctrl-C."""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from tests.conftest import T
from tests.helpers import wait_until
from wsclients import HyperliquidClient
from wsclients.core.hub import Hub, logging_configured
from wsclients.errors import ConnectFailed
from wsclients.models import ConnectionState, ErrorEvent, Event, Status

_HUB_SCRIPT = """
import logging, sys
from wsclients.core.hub import Hub
from wsclients.models import Message

{setup}

def on_message(event):
    if event.channel == "value":
        raise ValueError("bad value " + str(event.data))
    raise KeyError(event.data)

hub = Hub(venue="t", callbacks={{"message": on_message, **EXTRA}}, dispatch="inline")
for channel, data in [("value", 1), ("value", 2), ("key", 3), ("value", 4)]:
    hub.publish([Message(venue="t", channel=channel, data=data, received_ns=1)])
print("errors", hub.errors)
"""


def _run_hub(setup: str = "EXTRA = {}") -> subprocess.CompletedProcess[str]:
    script = _HUB_SCRIPT.format(setup=textwrap.dedent(setup))
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=30)


def test_raising_callback_is_printed_once_per_kind_when_nothing_handles_it() -> None:
    """No on_error, no logging: the first ValueError and the first KeyError, with their
    tracebacks and the hint; the repeats only counted."""
    result = _run_hub()
    assert result.returncode == 0 and "errors 4" in result.stdout
    err = result.stderr
    assert err.count("wsclients: callback on_message raised on a message event") == 2
    assert err.count("Traceback (most recent call last)") == 2
    assert "ValueError: bad value 1" in err and "bad value 2" not in err
    assert "KeyError: 3" in err
    assert "pass on_error= to the client, or configure logging" in err


def test_nothing_printed_with_an_on_error_callback() -> None:
    """on_error handles the failures: stderr stays empty."""
    result = _run_hub("EXTRA = {'error': lambda event: None}")
    assert result.returncode == 0 and result.stderr == ""


def test_configured_logging_reports_instead_of_the_hint() -> None:
    """With logging.basicConfig() every failure is logged (with traceback) and no hint."""
    result = _run_hub("logging.basicConfig()\nEXTRA = {}")
    assert result.stderr.count("ERROR:wsclients.core.hub:t: callback on_message raised") == 4
    assert "pass on_error=" not in result.stderr


def test_a_raising_on_error_is_printed_too() -> None:
    """When on_error itself raises, nothing else can hear it: printed."""
    result = _run_hub(
        "def boom(event):\n    raise RuntimeError('on_error broke')\nEXTRA = {'error': boom}"
    )
    assert "RuntimeError: on_error broke" in result.stderr


def test_logging_configured_ignores_the_package_null_handler() -> None:
    """The NullHandler wsclients installs is not "configured"; a handler up the tree is."""
    import wsclients  # noqa: F401  (installs the NullHandler)

    logger = logging.getLogger("wsclients.core.hub")
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = []
    try:
        assert not logging_configured(logger)
        handler = logging.StreamHandler()
        root.addHandler(handler)
        assert logging_configured(logger)
    finally:
        root.handlers = saved


def test_error_events_without_a_time_are_stamped_now() -> None:
    """An ErrorEvent made off any frame (received_ns 0) is published with the current time."""
    seen: list[Event] = []
    hub = Hub(venue="t", callbacks={"error": seen.append}, dispatch="inline")
    before = time.time_ns()
    hub.publish([ErrorEvent(venue="t", message="timer", received_ns=0)])
    assert isinstance(seen[0], ErrorEvent) and seen[0].received_ns >= before


def _closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_first_connect_failures_reach_on_error_and_on_status() -> None:
    """Each refused attempt of the first connect is an ErrorEvent and a RECONNECTING status;
    start()'s ConnectFailed says the last cause and the attempts."""
    url = f"ws://127.0.0.1:{_closed_port()}/ws"
    errors: list[ErrorEvent] = []
    statuses: list[Status] = []
    client = HyperliquidClient(url=url, on_error=errors.append, on_status=statuses.append,
                               backoff_min=0.01, backoff_max=0.02)
    with pytest.raises(ConnectFailed) as info:
        client.start(timeout=0.5 * T)
    message = str(info.value)
    assert "last error: ConnectionRefusedError" in message
    assert f"could not connect to {url} after " in message and " attempts" in message
    assert isinstance(info.value.__cause__, ConnectionRefusedError)
    assert wait_until(lambda: len(errors) >= 2)
    assert all(isinstance(e.exception, ConnectFailed) and not e.fatal for e in errors[:2])
    assert "refused" in errors[0].message.lower()
    reconnecting = [s for s in statuses if s.state is ConnectionState.RECONNECTING]
    assert reconnecting and "refused" in reconnecting[0].reason.lower()


_CTRL_C_SCRIPT = """
import sys
from wsclients import HyperliquidClient
client = HyperliquidClient(url=sys.argv[1], backoff_min=5, backoff_max=5)
print("ready", flush=True)
client.run_forever()
print("returned", client.state, flush=True)
"""


def test_ctrl_c_during_the_first_connect_stops_cleanly() -> None:
    """run_forever() interrupted before it ever connected: no traceback, exit status 0."""
    url = f"ws://127.0.0.1:{_closed_port()}/ws"
    process = subprocess.Popen([sys.executable, "-c", _CTRL_C_SCRIPT, url],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        time.sleep(0.3)  # inside start(), waiting out the backoff after a refusal
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert "returned closed" in out
