"""TradevestProtocol: frames in, events and frames out. No socket, thread or clock."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wsclients.core.protocol import CloseRequest, VenueProtocol
from wsclients.errors import ProtocolViolation, SubscriptionRejected
from wsclients.models import Book, BookLevel, ErrorEvent, Event, Message
from wsclients.venues.tradevest import (
    TradevestError,
    TradevestMarket,
    TradevestProtocol,
    normalize_markets,
    parse_time_ns,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "tradevest"
NS = 1_000_000_000


def lines(name: str) -> list[str]:
    return [line for line in (FIXTURES / name).read_text().splitlines() if line.strip()]


def opened(markets: Any = None, **options: Any) -> TradevestProtocol:
    protocol = TradevestProtocol(markets, **options)
    protocol.on_open()
    protocol.take_frames()
    return protocol


def feed(protocol: TradevestProtocol, *frames: str | bytes, received_ns: int = 7) -> list[Event]:
    for frame in frames:
        protocol.receive_text(frame, received_ns=received_ns)
    return protocol.take_events()


def prices(*entries: dict[str, Any]) -> str:
    return json.dumps({"type": "PRICES", "prices": list(entries)})


def entry(
    crypto: str = "BTC",
    asks: list[tuple[str, str]] | None = None,
    bids: list[tuple[str, str]] | None = None,
    time: str = "2024-07-10T06:01:22.783Z",
) -> dict[str, Any]:
    return {
        "market": {"currency": "EUR", "cryptoSymbol": crypto},
        "time": time,
        "asks": [{"price": p, "quantity": q} for p, q in (asks or [])],
        "bids": [{"price": p, "quantity": q} for p, q in (bids or [])],
    }


def error(text: str = "Unknown market", connection_id: str = "abc") -> str:
    return json.dumps({"type": "ERROR", "error": text, "connectionId": connection_id})


class TestSubscription:
    def test_is_a_venue_protocol(self) -> None:
        """The class satisfies the connection's protocol interface."""
        protocol: VenueProtocol = TradevestProtocol()
        assert protocol.ping_message() is None

    def test_on_open_queues_one_subscription_matching_the_doc_sample(self) -> None:
        """A fresh socket owes exactly the documented PRICE_SUBSCRIPTION, once."""
        protocol = TradevestProtocol([("EUR", "BTC"), ("EUR", "ETH")])
        protocol.on_open()
        frames = protocol.take_frames()
        assert [json.loads(f) for f in frames] == [
            json.loads(line) for line in lines("price_subscription.jsonl")
        ]
        assert protocol.take_frames() == []

    @pytest.mark.parametrize("markets", [None, [], ()])
    def test_every_market_omits_the_markets_attribute(self, markets: Any) -> None:
        """None or empty means every market: `markets` is left out, as the doc says."""
        protocol = TradevestProtocol(markets)
        protocol.on_open()
        (frame,) = protocol.take_frames()
        assert json.loads(frame) == {"type": "PRICE_SUBSCRIPTION", "priceSubscription": {}}
        assert protocol.markets is None

    def test_each_socket_gets_its_own_subscription(self) -> None:
        """Every on_open queues the subscription again (one per socket)."""
        protocol = TradevestProtocol([("EUR", "BTC")])
        protocol.on_open()
        protocol.on_open()
        assert len(protocol.take_frames()) == 2

    def test_set_markets_applies_to_the_next_socket(self) -> None:
        """set_markets changes what the next on_open sends."""
        protocol = opened([("EUR", "BTC")])
        protocol.set_markets(["ETH-EUR"])
        protocol.on_open()
        (frame,) = protocol.take_frames()
        markets = json.loads(frame)["priceSubscription"]["markets"]
        assert markets == [{"currency": "EUR", "cryptoSymbol": "ETH"}]


class TestMarkets:
    def test_tuples_and_symbols_are_accepted_and_deduplicated(self) -> None:
        """(currency, crypto) tuples and 'CRYPTO-CURRENCY' strings mean the same market."""
        result = normalize_markets([("EUR", "BTC"), "BTC-EUR", TradevestMarket("EUR", "ETH")])
        assert result == (TradevestMarket("EUR", "BTC"), TradevestMarket("EUR", "ETH"))
        assert result is not None and result[0].symbol == "BTC-EUR"

    def test_a_single_market_is_not_split_into_letters(self) -> None:
        """A lone string or market is one market, not an iterable of characters."""
        assert normalize_markets("BTC-EUR") == (TradevestMarket("EUR", "BTC"),)
        assert normalize_markets(TradevestMarket("EUR", "BTC")) == (TradevestMarket("EUR", "BTC"),)

    @pytest.mark.parametrize(
        "bad",
        [
            ("eur", "BTC"),
            ("EUR", "btc"),
            ("EUR", ""),
            ("EUR", 5),
            ("EUR",),
            "BTCEUR",
            "BTC-EUR-X",
            "btc-eur",
            ("EUR", "BT C"),
            42,
        ],
    )
    def test_invalid_markets_are_refused_before_connecting(self, bad: Any) -> None:
        """Lower case, empty, non-string or mis-shaped markets raise SubscriptionRejected."""
        with pytest.raises(SubscriptionRejected):
            TradevestProtocol([bad])

    def test_lower_case_gets_a_hint(self) -> None:
        """The error suggests the upper-case spelling."""
        with pytest.raises(ValueError, match="'BTC'"):
            normalize_markets([("EUR", "btc")])

    def test_set_markets_with_a_bad_market_changes_nothing(self) -> None:
        """A refused set_markets keeps the old markets."""
        protocol = TradevestProtocol([("EUR", "BTC")])
        with pytest.raises(SubscriptionRejected):
            protocol.set_markets([("EUR", "x")])
        assert protocol.markets == (TradevestMarket("EUR", "BTC"),)

    def test_max_failures_must_be_positive(self) -> None:
        """max_failures=0 would stop before the first try."""
        with pytest.raises(ValueError):
            TradevestProtocol(max_failures=0)


class TestTime:
    def test_offset_is_applied(self) -> None:
        """The doc's local time with +02:00 is 06:01:22.783 UTC."""
        assert parse_time_ns("2024-07-10T08:01:22.783+02:00") == 1720591282783000000

    @pytest.mark.parametrize(
        "text, expected",
        [
            ("1970-01-01T00:00:00Z", 0),
            ("1970-01-01T00:00:00.000000001Z", 1),
            ("1970-01-01T01:00:00+0100", 0),
            ("1969-12-31T23:00:00-01:00", 0),
            ("1970-01-01T00:00:01", NS),
            ("1970-01-01 00:00:00.5+00:00", NS // 2),
        ],
    )
    def test_forms(self, text: str, expected: int) -> None:
        """Z, compact and negative offsets, no offset (UTC), nanosecond fractions."""
        assert parse_time_ns(text) == expected

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "2024-13-01T00:00:00Z",
            "2024-07-10T25:00:00Z",
            "2024-07-10",
            "yesterday",
            "2024-07-10T08:01:22+24:00",
            "2024-07-10T08:01:22.783+02:00 ",
        ],
    )
    def test_invalid_times_raise_value_error(self, text: str) -> None:
        """Anything else is a ValueError."""
        with pytest.raises(ValueError):
            parse_time_ns(text)


class TestPrices:
    def test_doc_sample_becomes_one_book(self) -> None:
        """The documented PRICES sample → one snapshot Book with decimals and UTC time."""
        protocol = opened([("EUR", "BTC")])
        (book,) = feed(protocol, *lines("prices.jsonl"), received_ns=99)
        assert book == Book(
            venue="tradevest",
            symbol="BTC-EUR",
            bids=(
                BookLevel(Decimal("54564.14"), Decimal("0.01832705")),
                BookLevel(Decimal("54559.06"), Decimal("0.07331504")),
            ),
            asks=(
                BookLevel(Decimal("54577.54"), Decimal("0.01832255")),
                BookLevel(Decimal("54578.84"), Decimal("0.07328847")),
            ),
            timestamp_ns=1720591282783000000,
            received_ns=99,
            is_snapshot=True,
        )
        assert book.raw["market"] == {"currency": "EUR", "cryptoSymbol": "BTC"}
        assert book.spread == Decimal("13.40")

    def test_bytes_frames_are_accepted(self) -> None:
        """Frames may arrive as undecoded bytes."""
        (book,) = feed(opened(), lines("prices.jsonl")[0].encode())
        assert isinstance(book, Book)

    def test_one_book_per_entry(self) -> None:
        """Several markets in one message → one Book each, in order."""
        frame = prices(entry("BTC", [("2", "1")], [("1", "1")]), entry("ETH", [("4", "1")], []))
        events = feed(opened(), frame)
        assert [(e.symbol, len(e.bids), len(e.asks)) for e in events if isinstance(e, Book)] == [
            ("BTC-EUR", 1, 1),
            ("ETH-EUR", 0, 1),
        ]

    def test_levels_come_out_best_first(self) -> None:
        """Bids descending and asks ascending even if the server sent them otherwise."""
        frame = prices(entry(asks=[("3", "1"), ("2", "1")], bids=[("0.5", "1"), ("1", "1")]))
        (book,) = feed(opened(), frame)
        assert isinstance(book, Book)
        assert [level.price for level in book.asks] == [Decimal(2), Decimal(3)]
        assert [level.price for level in book.bids] == [Decimal(1), Decimal("0.5")]

    def test_keep_alive_yields_no_book(self) -> None:
        """An entry with empty asks and bids is the keep-alive: no event at all."""
        assert feed(opened(), *lines("keepalive.jsonl")) == []

    def test_keep_alive_next_to_a_change(self) -> None:
        """In a mixed message only the changed market yields a Book."""
        events = feed(opened(), prices(entry("BTC"), entry("ETH", [("4", "1")], [("3", "1")])))
        assert [e.symbol for e in events if isinstance(e, Book)] == ["ETH-EUR"]
        assert len(events) == 1


class TestMalformed:
    @pytest.mark.parametrize(
        "frame",
        [
            "not json",
            b"\xff\xfe",
            "[1, 2]",
            '{"prices": []}',
            '{"type": "PRICES"}',
            '{"type": "PRICES", "prices": {}}',
        ],
    )
    def test_bad_frames_become_non_fatal_errors(self, frame: str | bytes) -> None:
        """Undecodable or shapeless frames → one non-fatal ErrorEvent, nothing closes."""
        protocol = opened()
        (event,) = feed(protocol, frame)
        assert isinstance(event, ErrorEvent)
        assert not event.fatal
        assert isinstance(event.exception, ProtocolViolation)
        assert protocol.close_request is None

    @pytest.mark.parametrize(
        "bad",
        [
            {"time": "2024-07-10T06:01:22Z", "asks": [], "bids": []},
            {"market": {"currency": "EUR"}, "time": "2024-07-10T06:01:22Z", "asks": [], "bids": []},
            dict(entry(asks=[("1", "1")]), time="soon"),
            dict(entry(asks=[("1", "1")]), time=None),
            dict(entry(), asks=[{"price": 1.5, "quantity": "1"}]),
            dict(entry(), asks=[{"price": "NaN", "quantity": "1"}]),
            dict(entry(), asks=[{"price": "abc", "quantity": "1"}]),
            dict(entry(), bids=[{"price": "1"}]),
            dict(entry(), bids=["1"]),
            dict(entry(), bids=None),
            "entry",
        ],
    )
    def test_a_bad_entry_does_not_spoil_the_others(self, bad: Any) -> None:
        """A malformed entry → an ErrorEvent; the good entries around it still become Books."""
        good = entry("ETH", [("2", "1")], [("1", "1")])
        events = feed(opened(), prices(good, bad, good))
        assert [type(e) for e in events] == [Book, ErrorEvent, Book]
        error_event = events[1]
        assert isinstance(error_event, ErrorEvent) and not error_event.fatal
        assert "bad PRICES entry" in error_event.message

    def test_stream_goes_on_after_a_bad_frame(self) -> None:
        """The frame after a malformed one is parsed normally."""
        protocol = opened()
        events = feed(protocol, "{", *lines("prices.jsonl"))
        assert [type(e) for e in events] == [ErrorEvent, Book]

    def test_integer_decimals_are_exact(self) -> None:
        """JSON integers are accepted (exact); only floats are refused."""
        frame = json.dumps(
            {"type": "PRICES", "prices": [dict(entry(), asks=[{"price": 5, "quantity": "1"}])]}
        )
        (book,) = feed(opened(), frame)
        assert isinstance(book, Book) and book.asks[0].price == Decimal(5)

    def test_unknown_message_types_pass_through_as_messages(self) -> None:
        """A future message type is delivered as a Message, not an error."""
        (event,) = feed(opened(), '{"type": "NEWS", "text": "hi"}')
        assert isinstance(event, Message)
        assert event.channel == "NEWS" and event.data["text"] == "hi"


class TestError:
    def test_doc_sample_becomes_an_error_event_and_a_close(self) -> None:
        """ERROR → non-fatal ErrorEvent with the text and connectionId, and a close request."""
        protocol = opened()
        (event,) = feed(protocol, *lines("error.jsonl"))
        assert isinstance(event, ErrorEvent)
        assert not event.fatal
        assert "Error message" in event.message
        assert "0116ec3f-6237-4c13-97b0-c3de46c5f6f1" in event.message
        assert isinstance(event.exception, TradevestError)
        assert event.exception.connection_id == "0116ec3f-6237-4c13-97b0-c3de46c5f6f1"
        assert event.exception.error == "Error message"
        assert protocol.close_request is not None and not protocol.close_request.fatal

    def test_error_without_fields_still_reports(self) -> None:
        """A bare ERROR still yields an event (no connectionId to show)."""
        (event,) = feed(opened(), '{"type": "ERROR"}')
        assert isinstance(event, ErrorEvent) and isinstance(event.exception, TradevestError)
        assert event.exception.connection_id is None

    def test_on_open_clears_the_close_request(self) -> None:
        """A fresh socket starts without the previous socket's close request."""
        protocol = opened()
        feed(protocol, error())
        protocol.reset_socket_state()  # the connection does this before on_open
        protocol.on_open()
        assert protocol.close_request is None


class TestGivingUp:
    def test_repeated_errors_without_prices_become_fatal(self) -> None:
        """After max_failures sockets in a row end in ERROR with no PRICES: fatal stop."""
        protocol = TradevestProtocol([("EUR", "XYZ")], max_failures=3)
        fatal = []
        for _ in range(3):
            protocol.on_open()
            (event,) = feed(protocol, error())
            assert isinstance(event, ErrorEvent)
            fatal.append(event.fatal)
            assert protocol.close_request is not None
            assert protocol.close_request.fatal == event.fatal
            assert protocol.is_fatal(1000, None) == event.fatal
        assert fatal == [False, False, True]
        assert "giving up after 3" in (protocol.close_request or CloseRequest("")).reason

    def test_sockets_ending_silently_count_too(self) -> None:
        """A socket that closes without any PRICES counts; is_fatal says when to stop."""
        protocol = TradevestProtocol(max_failures=2)
        protocol.on_open()
        assert protocol.is_fatal(1006, None) is False
        assert protocol.is_fatal(1006, None) is False  # same socket: counted once
        protocol.on_open()
        assert protocol.is_fatal(None, OSError("reset")) is True

    def test_connect_errors_before_open_do_not_count(self) -> None:
        """Failures to connect at all are left to the connection's max_attempts."""
        protocol = TradevestProtocol(max_failures=1)
        for _ in range(5):
            assert protocol.is_fatal(None, ConnectionRefusedError()) is False

    def test_prices_reset_the_count(self) -> None:
        """One PRICES message (a keep-alive is enough) resets the count."""
        protocol = TradevestProtocol(max_failures=2)
        protocol.on_open()
        assert protocol.is_fatal(1006, None) is False
        protocol.on_open()
        feed(protocol, *lines("keepalive.jsonl"))
        assert protocol.failures == 0
        feed(protocol, error())
        assert protocol.is_fatal(1000, None) is False
        protocol.on_open()
        assert protocol.is_fatal(1006, None) is False
        assert protocol.failures == 1

    def test_a_malformed_prices_frame_is_no_proof_of_life(self) -> None:
        """Only a PRICES entry we could read counts as success."""
        protocol = TradevestProtocol(max_failures=1)
        protocol.on_open()
        feed(protocol, prices("junk"))  # type: ignore[arg-type]
        assert protocol.is_fatal(1006, None) is True

    def test_set_markets_resets_and_spares_the_current_socket(self) -> None:
        """set_markets clears the count and its own close is not a failure."""
        protocol = TradevestProtocol(max_failures=2)
        protocol.on_open()
        assert protocol.is_fatal(1006, None) is False
        protocol.on_open()
        protocol.set_markets([("EUR", "ETH")])
        assert protocol.is_fatal(1000, None) is False
        assert protocol.failures == 0

    def test_no_limit(self) -> None:
        """max_failures=None never gives up."""
        protocol = TradevestProtocol(max_failures=None)
        for _ in range(50):
            protocol.on_open()
            (event,) = feed(protocol, error())
            assert isinstance(event, ErrorEvent) and not event.fatal
            assert not protocol.is_fatal(1000, None)


class TestSetMarketsDecision:
    def test_reconnect_needed_only_when_a_live_socket_differs(self) -> None:
        """set_markets says True only while a socket carries a different subscription."""
        protocol = TradevestProtocol([("EUR", "BTC")])
        assert protocol.set_markets([("EUR", "ETH")]) is False  # no socket yet
        protocol.on_open()
        assert protocol.set_markets(["ETH-EUR"]) is False  # same set as sent
        assert protocol.set_markets(None) is True
        protocol.on_close(None, "")
        assert protocol.set_markets([("EUR", "BTC")]) is False  # between sockets
        protocol.on_open()
        (frame,) = protocol.take_frames()[-1:]
        assert json.loads(frame)["priceSubscription"]["markets"] == [
            {"currency": "EUR", "cryptoSymbol": "BTC"}
        ]

    def test_closed_socket_still_counts_as_a_failure(self) -> None:
        """on_close does not hide a socket without prices from is_fatal."""
        protocol = TradevestProtocol(max_failures=1)
        protocol.on_open()
        protocol.on_close(None, "")
        assert protocol.is_fatal(1006, None) is True


@given(
    moment=st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2200, 1, 1)),
    offset_minutes=st.integers(min_value=-14 * 60, max_value=14 * 60),
    spec=st.sampled_from(["milliseconds", "microseconds", "seconds"]),
)
def test_parse_time_matches_datetime(moment: dt.datetime, offset_minutes: int, spec: str) -> None:
    """Any isoformat() time with an offset parses to the instant datetime itself computes."""
    aware = moment.replace(tzinfo=dt.timezone(dt.timedelta(minutes=offset_minutes)))
    text = aware.isoformat(timespec=spec)
    shown = dt.datetime.fromisoformat(text)  # what the text really says (fraction cut)
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    delta = shown - epoch
    expected = (delta.days * 86_400 + delta.seconds) * NS + delta.microseconds * 1_000
    assert parse_time_ns(text) == expected
