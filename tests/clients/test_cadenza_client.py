"""CadenzaClient against FakeCadenza: books equal the fake's, trades, account events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import T
from tests.helpers import next_event, next_of, wait_until
from wsclients import (
    UNIFIED_CHANNELS,
    Book,
    CadenzaClient,
    ConnectionState,
    Message,
    RecoveryFailed,
    Side,
    Trade,
)
from wsclients.testing.cadenza import CURRENT_CHANNELS, FakeCadenza
from wsclients.venues.cadenza.client import PRODUCTION_URL, UAT_URL

pytestmark = pytest.mark.timeout(60)

FAST: dict[str, Any] = {"backoff_min": 0.01, "backoff_max": 0.05}
BTC = "BINANCE:BTC/USDT"


@pytest.fixture
def fake() -> Iterator[FakeCadenza]:
    with FakeCadenza(instruments=(BTC,), seed=7) as server:
        yield server


def make(fake: FakeCadenza, **options: Any) -> CadenzaClient:
    return CadenzaClient(token=fake.make_token("alice"), url=fake.url, **FAST, **options)


def caught_up(client: CadenzaClient, fake: FakeCadenza, instrument: str = BTC) -> bool:
    """The client has applied every publication the fake made into the book channel."""
    channel = fake.book_channel(instrument)
    position = client.position(channel)
    return position is not None and position[1] == fake.stream_position(channel)[1] and \
        client.order_book(instrument) is not None


def assert_same_book(client: CadenzaClient, fake: FakeCadenza, instrument: str = BTC) -> None:
    assert wait_until(lambda: caught_up(client, fake, instrument), timeout=5 * T)
    book = client.order_book(instrument)
    assert book is not None
    bids, asks = fake.book(instrument)
    assert [(level.price, level.size) for level in book.bids] == bids
    assert [(level.price, level.size) for level in book.asks] == asks


def test_urls_default_to_uat() -> None:
    """UAT unless production=True or a url is given; a token is required."""
    assert CadenzaClient(token="t").url == UAT_URL
    assert CadenzaClient(token="t", production=True).url == PRODUCTION_URL
    with pytest.raises(ValueError):
        CadenzaClient()


def test_the_book_equals_the_fakes_after_500_steps_and_after_a_drop(fake: FakeCadenza) -> None:
    """SNAPSHOT + DIFFs applied in order give the fake's own book, also across a drop."""
    with make(fake) as client:
        client.subscribe_order_book(BTC)
        fake.wait_for_subscribers(fake.book_channel(BTC))
        fake.step(500)
        assert_same_book(client, fake)
        fake.drop_all()
        fake.step(40)  # published while the client is away: recovered on reconnect
        fake.wait_for_connected(2, timeout=5 * T)
        fake.wait_for_subscribers(fake.book_channel(BTC))
        fake.step(20)
        assert_same_book(client, fake)
        assert client.resyncs == 0


def test_a_failed_recovery_takes_a_fresh_snapshot(fake: FakeCadenza) -> None:
    """The stream's history is lost while away: the book is rebuilt from a new snapshot."""
    with make(fake) as client:
        client.subscribe_order_book(BTC)
        fake.wait_for_subscribers(fake.book_channel(BTC))
        fake.step(30)
        assert_same_book(client, fake)
        fake.drop_all()
        fake.step(10)
        fake.reset_history(fake.book_channel(BTC))
        fake.wait_for_connected(2, timeout=5 * T)
        next_of(client, RecoveryFailed, channel=fake.book_channel(BTC))
        fake.step(10)
        assert_same_book(client, fake)
        assert client.resyncs == 1


def test_books_are_book_events(fake: FakeCadenza) -> None:
    """Book events carry the instrument id; the first is a snapshot."""
    with make(fake, book_depth=5) as client:
        client.subscribe_order_book(BTC)
        book = next_of(client, Book, symbol=BTC)
        assert book.is_snapshot and 0 < len(book.bids) <= 5 and book.venue == "cadenza"
        fake.step(3)
        later = next_event(client, lambda e: isinstance(e, Book) and not e.is_snapshot)
        assert later.symbol == BTC  # type: ignore[union-attr]


def test_trades_and_account_events(fake: FakeCadenza) -> None:
    """Trade channel → Trade; trading-account channel → Message with the account id."""
    with make(fake) as client:
        client.subscribe_trades(BTC)
        client.subscribe_trading_account("acc-1")
        fake.wait_for_subscribers(fake.trade_channel(BTC))
        fake.wait_for_subscribers(fake.account_channel("acc-1"))
        fake.step(1)
        trade = next_of(client, Trade, symbol=BTC)
        assert trade.side in (Side.BUY, Side.SELL) and trade.price > 0 and trade.size > 0
        fake.publish_order_update("acc-1", {"orderId": "o-1", "status": "FILLED"})
        message = next_event(client, lambda e: isinstance(e, Message) and e.symbol == "acc-1")
        assert message.data["order"]["orderId"] == "o-1"  # type: ignore[union-attr]


def test_unified_channel_names() -> None:
    """With the 2026-05 templates the client subscribes where such a server publishes."""
    with FakeCadenza(instruments=(BTC,), channels=CURRENT_CHANNELS) as unified, \
            CadenzaClient(token=unified.make_token("alice"), url=unified.url,
                          channels=UNIFIED_CHANNELS, **FAST) as client:
        client.subscribe_order_book(BTC)
        unified.wait_for_subscribers("market:orderbook:BINANCE:BTC/USDT")
        unified.step(20)
        assert_same_book(client, unified)


def test_get_token_is_used_and_hidden(fake: FakeCadenza) -> None:
    """get_token supplies the JWT; repr shows neither it nor anything like it."""
    token = fake.make_token("alice")
    with CadenzaClient(get_token=lambda: token, url=fake.url, **FAST) as client:
        assert client.state is ConnectionState.CONNECTED
        assert token not in repr(client)
