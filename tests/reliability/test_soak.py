"""The fault soak, short form: every venue through every kind of fault, nothing lost.

One fault of each kind per venue in the normal run (about two seconds per venue); 50 of each
under ``WSCLIENTS_SOAK=full`` (``python -m tests.reliability.soak --full`` prints the
figures). What "lost", "duplicated", "reordered" and "restore errors" mean exactly is in the
docstring of ``tests/reliability/soak.py``.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from tests.reliability.soak import (
    _AL_FILTER,
    FAULT_KINDS,
    VENUES,
    SoakFigures,
    VenueSoak,
    _al_stream_subscriptions,
    count_losses,
    faults_per_kind,
    figures_table,
    recovery_table,
    run_venue,
)
from wsclients.venues.allium import filter_json
from wsclients.venues.allium.stream_protocol import START, STOP

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(900)]


def explain(figures: SoakFigures) -> str:
    """The figures as the assertion message: the tables and any error met."""
    return "\n".join([figures_table([figures]), recovery_table([figures]), *figures.errors])


@pytest.mark.parametrize("venue", VENUES, ids=lambda venue: venue.name)
def test_faults_lose_nothing_and_restore_every_subscription(venue: VenueSoak) -> None:
    """Drops, resets, close codes, silence, hung, refused and redirected handshakes, sockets
    cut mid-restore: every item a socket delivered a later item after arrives once and in
    order, every socket carries each subscription exactly once, no redirect is followed (a
    3xx is an error and a retry), and nothing leaks."""
    faults = faults_per_kind()
    figures = run_venue(venue, faults)
    message = explain(figures)
    assert not figures.errors, message
    assert figures.faults == faults * len(FAULT_KINDS), message
    assert (figures.lost, figures.duplicated, figures.reordered) == (0, 0, 0), message
    assert figures.restore_errors == 0, message
    assert figures.redirects_followed == 0, message
    if venue.recovers:
        assert figures.delivered == figures.sent, message
    assert figures.sockets >= figures.expected_sockets, message  # a new socket per fault
    assert (figures.thread_leak, max(figures.fd_leak, 0)) == (0, 0), message
    assert all(len(times) == faults for times in figures.recovery.values()), message


@pytest.mark.parametrize(
    ("written", "received", "expected"),
    [
        ({0: [1, 2, 3]}, set(), (0, 3)),  # nothing read from it: all in flight
        ({0: [1, 2, 3]}, {1, 3}, (1, 0)),  # 2 came before 3 on the socket that delivered 3
        ({0: [1, 2, 3]}, {1, 2}, (0, 1)),  # 3 was in flight when the socket died
        # 3 was written again on socket 1 (a backfill) so it proves nothing about socket 0;
        # 4 is only on socket 1, so socket 1 was read through 2 and 3.
        ({0: [1, 2, 3], 1: [2, 3, 4]}, {1, 3, 4}, (1, 0)),
        ({0: [1, 2, 3], 1: [3, 4]}, {1, 3, 4}, (0, 1)),
    ],
)
def test_loss_counts_only_what_a_read_socket_carried_before(
    written: dict[int, list[int]], received: set[int], expected: tuple[int, int]
) -> None:
    """(lost, in flight): an item is lost only when a later item proven to come from the same
    socket arrived; what followed the last proven read is in flight."""
    assert count_losses(written, received) == expected


@pytest.mark.parametrize(
    ("sent", "keys"),
    [
        (["setFilter", "start"], ["setFilter", "start"]),
        (["start", "setFilter"], ["start before setFilter", "setFilter"]),
        (
            ["setFilter", "start", "stop"],
            ["setFilter", "start", f"unexpected {STOP!r}"],
        ),
    ],
)
def test_an_allium_socket_restores_its_filter_before_start(
    sent: list[str], keys: list[str]
) -> None:
    """A stream socket's restore is the soak's filter, then ``start``: a ``start`` before the
    filter, or any other action, is a key of its own (a restore error)."""
    frames = {
        "setFilter": json.dumps({"action": "setFilter", "data": filter_json(_AL_FILTER)}),
        "start": START,
        "stop": STOP,
    }
    conn = SimpleNamespace(received=[frames[action] for action in sent])
    assert _al_stream_subscriptions(conn) == keys  # type: ignore[arg-type]
