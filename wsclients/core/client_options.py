"""The options every client takes, in one table: their defaults, types, meaning and checks.

The table drives three things, so that they cannot drift apart: the base client's up-front
checks (a wrong type or value fails in the constructor with a message naming the option,
instead of deep inside a thread minutes later), the ``__signature__`` of every client class
(so ``help()``, ``inspect.signature`` and a notebook's popup show ``url``, ``on_trade`` … next
to the venue's own parameters, not ``**options``), and the "Other Parameters" section appended
to every client's docstring. A venue client only writes its own parameters and ``**options``.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Mapping
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

import attrs

from wsclients.core.hub import OVERFLOW_POLICIES
from wsclients.errors import InvalidOption

__all__ = [
    "COMMON_OPTIONS",
    "Option",
    "check_count",
    "check_like",
    "check_options",
    "check_seconds",
    "check_timeout",
    "check_url",
    "document_client",
    "options_doc",
]

Check = Callable[[str, Any], None]


def _fail(name: str, expected: str, value: Any) -> InvalidOption:
    return InvalidOption(name, expected, value)


def _callable_or_none(name: str, value: Any) -> None:
    if value is not None and not callable(value):
        raise _fail(name, "a callable taking one event, or None", value)


def _bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise _fail(name, "True or False", value)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _seconds(
    minimum: float, *, strict: bool = False, none_ok: bool = False,
    none_means: str = "to turn it off",
) -> Check:
    expected = ("positive" if strict else "non-negative") + " seconds"
    if none_ok:
        expected += f", or None {none_means}"

    def check(name: str, value: Any) -> None:
        if value is None and none_ok:
            return
        if not _is_number(value) or value < minimum or (strict and value <= minimum):
            raise _fail(name, expected, value)

    return check


def _count(
    minimum: int, *, none_ok: bool = False, what: str = "", none_means: str = "for no limit",
) -> Check:
    expected = f"an int >= {minimum}" + (f" ({what})" if what else "")
    if none_ok:
        expected += f", or None {none_means}"

    def check(name: str, value: Any) -> None:
        if value is None and none_ok:
            return
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise _fail(name, expected, value)

    return check


def _choice(*allowed: str) -> Check:
    def check(name: str, value: Any) -> None:
        if value not in allowed:
            raise _fail(name, "one of " + ", ".join(repr(a) for a in allowed), value)

    return check


def _text_or_none(name: str, value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise _fail(name, "a string, or None", value)


def _mapping_or_none(name: str, value: Any) -> None:
    if value is not None and not isinstance(value, Mapping):
        raise _fail(name, "a dict, or None", value)


def _headers(name: str, value: Any) -> None:
    if value is None or callable(value):
        return
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise _fail(name, "a dict of str to str, a callable returning one, or None", value)


def _url(name: str, value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise _fail(name, "a URL string, or None for the venue's default", value)


@attrs.frozen
class Option:
    """One common constructor option."""

    name: str
    default: Any
    annotation: str
    """The type as shown in signatures and docs."""
    meaning: str
    check: Check = attrs.field(eq=False, repr=False)


_CALLBACK = "Optional[Callable[[Event], Any]]"

COMMON_OPTIONS: tuple[Option, ...] = (
    Option("url", None, "Optional[str]",
           "The venue's WebSocket URL; None means the venue's default.", _url),
    Option("on_trade", None, _CALLBACK, "Called with every ``Trade``.", _callable_or_none),
    Option("on_book", None, _CALLBACK, "Called with every ``Book``.", _callable_or_none),
    Option("on_message", None, _CALLBACK,
           "Called with every ``Message`` (whatever is not a trade or a book).",
           _callable_or_none),
    Option("on_error", None, _CALLBACK,
           "Called with every ``ErrorEvent``. Without it (and without logging configured) "
           "the first failure of each kind of a callback is printed to stderr.",
           _callable_or_none),
    Option("on_status", None, _CALLBACK,
           "Called with every ``Status`` (connecting, connected, reconnecting, closed), "
           "including each failed attempt of the first connect.", _callable_or_none),
    Option("dispatch", "thread", "str",
           "``'thread'``: callbacks run on one dispatcher thread; ``'inline'``: on the "
           "socket's reader thread (faster, but a slow callback stalls the socket).",
           _choice("thread", "inline")),
    Option("reconnect", True, "bool", "Reconnect after an unexpected close.", _bool),
    Option("backoff_min", 0.5, "float",
           "Seconds: the first reconnect delay's upper bound (full jitter).", _seconds(0)),
    Option("backoff_max", 30.0, "float", "Seconds: no reconnect delay is longer.",
           _seconds(0)),
    Option("max_attempts", None, "Optional[int]",
           "Failed attempts in a row before giving up; None retries forever.",
           _count(1, none_ok=True)),
    Option("healthy_after", 10.0, "float",
           "Seconds a socket must stay up before the backoff starts over.", _seconds(0)),
    Option("ping_interval", "venue default", "Optional[float]",
           "Seconds between heartbeats (the venue's ping, or a WebSocket ping); None: off.",
           _seconds(0, strict=True, none_ok=True)),
    Option("stale_timeout", "venue default", "Optional[float]",
           "Seconds of silence before a socket is declared dead and replaced; None: off.",
           _seconds(0, strict=True, none_ok=True)),
    Option("queue_size", 100_000, "int",
           "Events the default queue (``get()``/``events()``) holds.", _count(1)),
    Option("overflow", "drop_oldest", "str",
           "What a full queue does: ``'drop_oldest'``, ``'drop_newest'`` or ``'block'``.",
           _choice(*OVERFLOW_POLICIES)),
    Option("headers", None, "Optional[HeaderSource]",
           "Extra upgrade headers: a dict, or a callable asked on every (re)connect.",
           _headers),
    Option("sslopt", None, "Optional[Mapping[str, Any]]",
           "TLS options for websocket-client (e.g. ``{'ca_certs': path}``).",
           _mapping_or_none),
    Option("http_proxy_host", None, "Optional[str]", "Proxy host.", _text_or_none),
    Option("http_proxy_port", None, "Optional[int]", "Proxy port.",
           _count(1, none_ok=True)),
    Option("proxy_type", None, "Optional[str]",
           "``'http'``, ``'socks4'``, ``'socks4a'``, ``'socks5'`` or ``'socks5h'``.",
           _text_or_none),
    Option("connect_timeout", 10.0, "float",
           "Seconds for TCP connect, TLS and the upgrade handshake together.",
           _seconds(0, strict=True)),
    Option("max_message_size", 64 * 1024 * 1024, "Optional[int]",
           "Largest message accepted, bytes; a larger one is skipped and reported.",
           _count(1, none_ok=True)),
)
"""Every option every client takes, in the order signatures show them."""

_BY_NAME = {option.name: option for option in COMMON_OPTIONS}


def check_options(values: Mapping[str, Any]) -> None:
    """Check each common option in ``values`` against the table.

    Raises:
        InvalidOption: (a ``TypeError`` and a ``ValueError``) naming the first bad option.
    """
    for name, value in values.items():
        option = _BY_NAME.get(name)
        if option is not None:
            option.check(name, value)


def check_like(option: str, name: str, value: Any) -> None:
    """Check ``value`` as the common option ``option`` is checked, under another ``name``
    (``queue(maxsize=…)`` takes what ``queue_size`` takes).

    Raises:
        InvalidOption: naming ``name``.
    """
    _BY_NAME[option].check(name, value)


def check_url(url: Any, schemes: tuple[str, ...]) -> str:
    """``url`` if it is a string with one of ``schemes`` and a host (``file://`` needs none:
    a replay reads a recording).

    A URL that cannot work would otherwise be retried with backoff until ``start()`` gives
    up, long after the typo was made.

    Raises:
        InvalidOption: not a string, another scheme, or no host.
    """
    expected = " or ".join(f"{scheme}://" for scheme in schemes) + " URL"
    if not isinstance(url, str):
        raise InvalidOption("url", f"a {expected} string", url)
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        raise InvalidOption("url", f"a {expected}", url) from None
    scheme = parts.scheme.lower()
    if scheme not in schemes or (not host and scheme != "file"):
        raise InvalidOption("url", f"a {expected} with a host", url)
    return url


def check_count(
    name: str, value: Any, minimum: int, *, none_ok: bool = False,
    none_means: str = "for no limit",
) -> None:
    """A count: an ``int`` (not a ``bool``) of at least ``minimum``; with ``none_ok``, None
    too (``none_means`` says what None does, in the message).

    For a venue's own constructor options, checked as the common ones are.

    Raises:
        InvalidOption: naming ``name``.
    """
    _count(minimum, none_ok=none_ok, none_means=none_means)(name, value)


def check_seconds(
    name: str, value: Any, *, strict: bool = False, none_ok: bool = False,
    none_means: str = "to turn it off",
) -> None:
    """A duration in seconds: a real number (not a ``bool``) ``>= 0``, or ``> 0`` when
    ``strict``; with ``none_ok``, None too (``none_means`` says what None does, in the
    message).

    For a venue's own constructor options, checked as the common ones are.

    Raises:
        InvalidOption: naming ``name``.
    """
    _seconds(0, strict=strict, none_ok=none_ok, none_means=none_means)(name, value)


def check_timeout(name: str, value: Any, *, strict: bool = False) -> None:
    """A wait in seconds: a non-negative number (positive when ``strict``: a request that
    may not wait at all), or None for no limit.

    Raises:
        InvalidOption: anything else (``"1"`` included).
    """
    check_seconds(name, value, strict=strict, none_ok=True, none_means="to wait without limit")


def options_doc(defaults: Optional[Mapping[str, Any]] = None) -> str:
    """The "Other Parameters" docstring section listing every common option.

    Args:
        defaults: per-class defaults shown instead of the table's (a venue's URL and
            heartbeat).
    """
    lines = ["Other Parameters:"]
    for option in COMMON_OPTIONS:
        default = (defaults or {}).get(option.name, option.default)
        lines.append(
            f"    {option.name} ({option.annotation}): {option.meaning} "
            f"Default: ``{default!r}``."
        )
    return "\n".join(lines)


def _class_defaults(cls: type) -> dict[str, Any]:
    """What this class's options default to where the venue picks (URL, heartbeat)."""
    defaults: dict[str, Any] = {}
    url = getattr(cls, "default_url", "")
    if url:
        defaults["url"] = url
    for name in ("ping_interval", "stale_timeout"):
        defaults[name] = getattr(cls, f"default_{name}", None)
    return defaults


def document_client(cls: type) -> None:
    """Give ``cls`` a signature and docstring that show every common option.

    The signature is the class's own ``__init__`` parameters with ``**options`` replaced by
    the common options (keyword-only) it does not name itself; the docstring gets the
    "Other Parameters" section. Classes whose ``__init__`` takes no ``**options`` keep their
    signature.
    """
    init = cls.__init__  # type: ignore[misc]
    try:
        own = inspect.signature(init)
    except (TypeError, ValueError):
        return
    params = list(own.parameters.values())[1:]  # without self
    var_keyword = [p for p in params if p.kind is inspect.Parameter.VAR_KEYWORD]
    named = {p.name for p in params}
    defaults = _class_defaults(cls)
    if var_keyword or not params or named >= set(_BY_NAME):
        kept = [p for p in params if p.kind is not inspect.Parameter.VAR_KEYWORD]
        common = [
            inspect.Parameter(
                option.name, inspect.Parameter.KEYWORD_ONLY,
                default=defaults.get(option.name, option.default),
                annotation=option.annotation,
            )
            for option in COMMON_OPTIONS
            if option.name not in named
        ]
        positional = [p for p in kept if p.kind is not inspect.Parameter.KEYWORD_ONLY]
        keyword = [p for p in kept if p.kind is inspect.Parameter.KEYWORD_ONLY]
        signature = own.replace(parameters=positional + keyword + common,
                                return_annotation=inspect.Signature.empty)
        cls.__signature__ = signature  # type: ignore[attr-defined]
        own_init = cls.__dict__.get("__init__")
        if own_init is not None and var_keyword:
            # help() also lists __init__ itself: show the options there too.
            self_param = list(own.parameters.values())[:1]
            own_init.__signature__ = signature.replace(
                parameters=self_param + list(signature.parameters.values()),
                return_annotation=None,
            )
    doc = inspect.cleandoc(cls.__dict__.get("__doc__") or "")
    if "Other Parameters:" not in doc:
        cls.__doc__ = (doc + "\n\n" if doc else "") + options_doc(defaults)
