"""The common options: one table drives the checks, every client's signature and docstring."""

from __future__ import annotations

import inspect
import pydoc
import queue
import warnings
from typing import Any, Optional

import pytest

import wsclients
from wsclients import HyperliquidClient, TradevestClient, VegaClient
from wsclients.core.client import Client, SubscribingClient
from wsclients.core.client_options import COMMON_OPTIONS, check_options
from wsclients.errors import ClientStopped, InvalidOption
from wsclients.models import Message

CLIENTS = [
    getattr(wsclients, name) for name in wsclients.__all__
    if inspect.isclass(getattr(wsclients, name)) and issubclass(getattr(wsclients, name), Client)
]
"""Every client class the package exports (venues added later are covered by themselves)."""

VENUE_CLIENTS = [HyperliquidClient, VegaClient, TradevestClient]


@pytest.mark.parametrize("cls", CLIENTS, ids=lambda c: c.__name__)
def test_signature_shows_every_common_option(cls: type) -> None:
    """inspect.signature (a notebook's popup) names url, on_trade … keyword-only, no **options."""
    parameters = inspect.signature(cls).parameters
    for option in COMMON_OPTIONS:
        assert option.name in parameters, option.name
        assert parameters[option.name].kind is inspect.Parameter.KEYWORD_ONLY, option.name
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


@pytest.mark.parametrize("cls", CLIENTS, ids=lambda c: c.__name__)
def test_help_lists_every_option_with_default_and_meaning(cls: type) -> None:
    """help(cls) shows each option in the signature and in the docstring's option section."""
    text = pydoc.render_doc(cls, renderer=pydoc.plaintext)
    assert "Other Parameters:" in text
    for option in COMMON_OPTIONS:
        assert f"{option.name} ({option.annotation}): {option.meaning.split()[0]}" in text
    assert "on_trade: 'Optional[Callable[[Event], Any]]' = None" in text
    assert "queue_size: 'int' = 100000" in text
    signature_lines = [line for line in text.splitlines()
                       if line.lstrip(" |").startswith((f"{cls.__name__}(", "__init__("))]
    assert signature_lines and not any("**options" in line for line in signature_lines)


def test_venue_defaults_show_in_signature_and_doc() -> None:
    """A venue's own URL and heartbeat defaults are the ones shown, not the table's."""
    parameters = inspect.signature(HyperliquidClient).parameters
    assert parameters["url"].default == HyperliquidClient.default_url
    assert parameters["ping_interval"].default == 20.0
    assert inspect.signature(TradevestClient).parameters["stale_timeout"].default == 5.0
    assert "Default: ``5.0``" in (TradevestClient.__doc__ or "")


def test_own_parameters_come_first() -> None:
    """The venue's parameters keep their place: Tradevest's markets stays positional."""
    parameters = list(inspect.signature(TradevestClient).parameters.values())
    assert parameters[0].name == "markets"
    assert parameters[0].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD


def test_a_new_client_gets_the_options_by_subclassing() -> None:
    """Any subclass (a venue not written yet) is documented without listing the options."""

    class NewVenueClient(SubscribingClient):
        """A venue."""

        venue = "new"
        default_url = "wss://new.example/ws"

        def __init__(self, channel: str, *, depth: int = 5, **options: Any) -> None:
            raise AssertionError("never built here")

    names = list(inspect.signature(NewVenueClient).parameters)
    assert names[:2] == ["channel", "depth"]
    assert names[2:] == [option.name for option in COMMON_OPTIONS]
    assert (NewVenueClient.__doc__ or "").startswith("A venue.\n\nOther Parameters:")


def test_table_defaults_match_the_constructor() -> None:
    """The table and Client.__init__ agree on every default (the venue picks ping/stale)."""
    parameters = inspect.signature(Client.__init__).parameters
    for option in COMMON_OPTIONS:
        if option.name in ("ping_interval", "stale_timeout"):
            continue
        assert parameters[option.name].default == option.default, option.name


@pytest.mark.parametrize("options, message", [
    ({"queue_size": "10"}, "queue_size must be an int >= 1; got '10'"),
    ({"queue_size": 0}, "queue_size must be an int >= 1; got 0"),
    ({"headers": 5}, "headers must be a dict of str to str, a callable returning one, or None"),
    ({"headers": {"X-Id": 5}}, "headers must be a dict of str to str"),
    ({"on_trade": "print"}, "on_trade must be a callable taking one event, or None; got 'print'"),
    ({"dispatch": "threads"}, "dispatch must be one of 'thread', 'inline'; got 'threads'"),
    ({"reconnect": "yes"}, "reconnect must be True or False"),
    ({"backoff_min": -1}, "backoff_min must be non-negative seconds"),
    ({"backoff_min": 5, "backoff_max": 1}, "backoff_max must be at least backoff_min (5)"),
    ({"max_attempts": 0}, "max_attempts must be an int >= 1, or None for no limit; got 0"),
    ({"ping_interval": 0}, "ping_interval must be positive seconds, or None to turn it off"),
    ({"stale_timeout": "60"}, "stale_timeout must be positive seconds"),
    ({"overflow": "drop"}, "overflow must be one of 'drop_oldest', 'drop_newest', 'block'"),
    ({"sslopt": "CERT_NONE"}, "sslopt must be a dict, or None"),
    ({"http_proxy_port": "8080"}, "http_proxy_port must be an int >= 1"),
    ({"connect_timeout": 0}, "connect_timeout must be positive seconds"),
    ({"max_message_size": 1.5}, "max_message_size must be an int >= 1"),
    ({"url": 123}, "url must be a URL string, or None for the venue's default; got 123"),
    ({"url": "not-a-url"}, "url must be a ws:// or wss:// URL with a host; got 'not-a-url'"),
    ({"url": "http://host/ws"}, "url must be a ws:// or wss:// URL with a host"),
    ({"url": "ftp://x/ws"}, "url must be a ws:// or wss:// URL with a host"),
    ({"url": "ws:///ws"}, "url must be a ws:// or wss:// URL with a host"),
])
@pytest.mark.parametrize("cls", VENUE_CLIENTS, ids=lambda c: c.__name__)
def test_bad_options_fail_in_the_constructor(
    cls: type, options: dict[str, Any], message: str
) -> None:
    """Each wrong type or value is refused at once, naming the option and what it takes."""
    if cls is VegaClient and str(options.get("url", "")).startswith("http://"):
        return  # a data node is named by its http(s) base URL
    if cls is VegaClient and "url" in options:
        message = message.replace("ws:// or wss://", "https:// or http:// or wss:// or ws://")
    with pytest.raises(InvalidOption) as info:
        cls(**options)
    assert message in str(info.value)
    assert isinstance(info.value, TypeError) and isinstance(info.value, ValueError)


def test_check_options_ignores_names_it_does_not_own() -> None:
    """Venue options are the venue's to check; a good value passes."""
    check_options({"queue_size": 5, "markets": "anything"})


@pytest.mark.parametrize("cls", VENUE_CLIENTS, ids=lambda c: c.__name__)
def test_url_is_keyword_only_on_every_client(cls: type) -> None:
    """Every client takes url= the same way (keyword), so a positional one is refused."""
    assert inspect.signature(cls).parameters["url"].kind is inspect.Parameter.KEYWORD_ONLY
    if cls is not TradevestClient:  # Tradevest's first positional is its markets
        with pytest.raises(TypeError):
            cls("wss://example.test/ws")


def test_vega_takes_its_base_url_schemes() -> None:
    """A data node is named by http(s) or ws(s) base URL."""
    for url in ("https://node.example", "http://127.0.0.1:1", "wss://node.example"):
        client = VegaClient(url=url)
        client.stop()


@pytest.mark.parametrize("timeout", ["1", [1], -1])
def test_get_timeout_is_checked(timeout: Any) -> None:
    """get(timeout="1") fails at once with the option's name, not deep in a Condition."""
    client = HyperliquidClient()
    try:
        with pytest.raises(InvalidOption, match="timeout must be non-negative seconds"):
            client.get(timeout=timeout)
    finally:
        client.stop()


@pytest.mark.parametrize("kinds, message", [
    ("trade", "kinds must be a collection of kinds, e.g. {'trade'}"),
    ({"trades"}, "unknown event kinds ['trades']; the kinds are book, error, message, status"),
])
def test_kinds_are_checked_by_events_and_queue(kinds: Any, message: str) -> None:
    """A bare string or a misspelt kind is refused where it is given, naming the kinds."""
    client = HyperliquidClient()
    try:
        with pytest.raises(ValueError) as info:
            client.events(kinds=kinds)
        assert message in str(info.value)
        with pytest.raises(ValueError) as info:
            client.queue(kinds=kinds)
        assert message in str(info.value)
    finally:
        client.stop()


def test_queue_empty_says_why_and_chains_nothing() -> None:
    """queue.Empty carries a message and no chained IndexError, on timeout and once stopped."""
    client = HyperliquidClient()
    with pytest.raises(queue.Empty) as info:
        client.get(timeout=0.01)
    assert "no event within 0.01 s" in str(info.value)
    assert info.value.__context__ is None and info.value.__cause__ is None
    client.stop()
    with pytest.raises(queue.Empty) as info:
        for _ in range(10):  # the final CLOSED status may still wait in the queue
            client.get()
    assert "stopped" in str(info.value) and info.value.__context__ is None


def test_get_without_timeout_on_a_never_started_client_warns() -> None:
    """The forgotten start(): a RuntimeWarning, once, pointing at the caller."""
    client = HyperliquidClient()
    try:
        for number in range(2):  # events waiting, so that get() returns after warning
            client._hub.publish_one(Message(venue="t", channel=str(number), data=None,
                                            received_ns=1))
        with pytest.warns(RuntimeWarning, match=r"never started .* call start\(\) first") as w:
            assert client.get().channel == "0"
        assert len(w) == 1 and w[0].filename == __file__
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert client.get().channel == "1"  # warned once per client
    finally:
        client.stop()


def _subscribe_all(client: Any) -> list[Any]:
    """One subscribe call per venue helper kind, for the stopped-client check."""
    if isinstance(client, HyperliquidClient):
        return [lambda: client.subscribe_trades("BTC"), lambda: client.subscribe_l2_book("BTC"),
                lambda: client.subscribe({"type": "allMids"})]
    if isinstance(client, VegaClient):
        return [lambda: client.subscribe_trades(), lambda: client.subscribe_book("a" * 64),
                lambda: client.subscribe("ledger/movements")]
    return [lambda: client.set_markets(["EUR/BTC"])]


@pytest.mark.parametrize("cls", VENUE_CLIENTS, ids=lambda c: c.__name__)
def test_subscribing_on_a_stopped_client_raises(cls: type) -> None:
    """A stopped client refuses new subscriptions with ClientStopped (no silent True)."""
    client = cls()
    client.stop()
    for subscribe in _subscribe_all(client):
        with pytest.raises(ClientStopped):
            subscribe()


def _public_methods(cls: type) -> list[tuple[str, Optional[str]]]:
    found = []
    for name, member in inspect.getmembers(cls):
        if name.startswith("_"):
            continue
        if inspect.isfunction(member) or isinstance(inspect.getattr_static(cls, name), property):
            found.append((name, inspect.getdoc(member)))
    return found


@pytest.mark.parametrize("cls", CLIENTS + [Client], ids=lambda c: c.__name__)
def test_every_public_method_has_a_docstring(cls: type) -> None:
    """help() says what each public method and property does (the helpers included)."""
    missing = [name for name, doc in _public_methods(cls) if not doc]
    assert not missing, f"{cls.__name__}: {missing}"


def test_queue_maxsize_is_checked_under_its_own_name() -> None:
    """queue(maxsize="5") names maxsize, with the rule queue_size follows."""
    client = HyperliquidClient()
    try:
        with pytest.raises(InvalidOption, match="maxsize must be an int >= 1; got '5'"):
            client.queue(maxsize="5")  # type: ignore[arg-type]
    finally:
        client.stop()
